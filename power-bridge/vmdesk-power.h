/* vmdesk-power.h: the host side of the power bridge.
 *
 * Sources (UPower, logind) tell what the laptop does; a VmdGuestLink per VM carries it to
 * the guest agent over the protocol of docs/guest-protocol.md; the VmdSleepInhibitor and
 * the VmdSleepPlan quiesce the VMs around host sleep and a dying battery. Nothing here
 * knows libvirt or the daemon: VM operations go through VmdSleepOps, which the daemon
 * implements. Design: docs/power-bridge.md. */
#pragma once

#include <gio/gio.h>

#include "vmdesk-common.h"

G_BEGIN_DECLS

/* ---- the host's power state --------------------------------------------------------- */

#define VMD_POWER_MAX_BATTERIES 8
#define VMD_BATTERY_NAME_MAX    32   /* [A-Za-z0-9_-]{1,32} */

/* UPower's numbering, so a D-Bus value maps directly. */
typedef enum {
  VMD_BATTERY_UNKNOWN,
  VMD_BATTERY_CHARGING,
  VMD_BATTERY_DISCHARGING,
  VMD_BATTERY_EMPTY,
  VMD_BATTERY_FULL,
  VMD_BATTERY_PENDING_CHARGE,
  VMD_BATTERY_PENDING_DISCHARGE,
} VmdBatteryState;

/* UPower's numbering. ACTION: the host is about to hibernate or power off. */
typedef enum {
  VMD_WARNING_UNKNOWN,
  VMD_WARNING_NONE,
  VMD_WARNING_DISCHARGING,
  VMD_WARNING_LOW,
  VMD_WARNING_CRITICAL,
  VMD_WARNING_ACTION,
} VmdWarningLevel;

typedef struct {
  char            name[VMD_BATTERY_NAME_MAX + 1];
  double          percent;          /* 0..100 */
  VmdBatteryState state;
  double          energy_wh;
  double          energy_full_wh;
  double          energy_rate_w;
  gint64          time_to_empty_s;
  gint64          time_to_full_s;
} VmdBattery;

/* Plain data: copy it with `=`, compare it with vmd_power_state_differs(). */
typedef struct {
  gboolean        ac_online;
  VmdWarningLevel warning_level;
  gboolean        display_present;   /* UPower's DisplayDevice is a battery */
  VmdBattery      display;           /* the composite the desktop shows */
  guint           n_batteries;
  VmdBattery      batteries[VMD_POWER_MAX_BATTERIES];   /* sorted by name */
} VmdPowerState;

const char *vmd_battery_state_to_string (VmdBatteryState state);
gboolean    vmd_battery_name_is_valid (const char *name);
/* What consumers must hear about: AC, warning level, the set of batteries or a battery's
 * state changed, or a percentage moved by 1 or more since `before`. Energy and time
 * estimates alone never count; they ride along with the next change. */
gboolean    vmd_power_state_differs (const VmdPowerState *before, const VmdPowerState *now);

/* ---- the guest protocol (docs/guest-protocol.md) ------------------------------------ */

#define VMD_GUEST_PROTOCOL_VERSION 1
#define VMD_GUEST_CHANNEL_NAME     "org.vmdesk.power.0"
#define VMD_GUEST_LINE_MAX         4096   /* bytes per line, the "\n" included */

typedef enum {
  VMD_BUTTON_POWER,
  VMD_BUTTON_SLEEP,
} VmdButton;

typedef enum {
  VMD_SLEEP_PHASE_PREPARE,
  VMD_SLEEP_PHASE_RESUME,
} VmdSleepPhase;

/* Host -> guest. Each returns one "\n"-terminated line, always shorter than
 * VMD_GUEST_LINE_MAX: out-of-range numbers are clamped, invalid battery names replaced. */
char *vmd_guest_encode_hello (guint32 seq, const char *host);
char *vmd_guest_encode_power (guint32 seq, const VmdPowerState *state);
char *vmd_guest_encode_lid (guint32 seq, gboolean closed);
char *vmd_guest_encode_button (guint32 seq, VmdButton button);
char *vmd_guest_encode_sleep (guint32 seq, VmdSleepPhase phase);
char *vmd_guest_encode_time (guint32 seq, gint64 sec, guint32 nsec);

typedef enum {
  VMD_GUEST_CAP_POWER  = 1 << 0,
  VMD_GUEST_CAP_LID    = 1 << 1,
  VMD_GUEST_CAP_BUTTON = 1 << 2,
  VMD_GUEST_CAP_SLEEP  = 1 << 3,
  VMD_GUEST_CAP_TIME   = 1 << 4,
} VmdGuestCaps;

typedef enum {
  VMD_GUEST_MSG_HELLO,
  VMD_GUEST_MSG_ACK,
  VMD_GUEST_MSG_ERROR,
  VMD_GUEST_MSG_UNKNOWN,   /* well-formed, of a type this host does not know */
} VmdGuestMessageType;

typedef enum {
  VMD_GUEST_ERROR_UNSUPPORTED,
  VMD_GUEST_ERROR_INVALID,
  VMD_GUEST_ERROR_FAILED,
} VmdGuestErrorCode;

/* Guest -> host, decoded. Strings are valid UTF-8 of bounded length; escape them
 * (g_strescape) before logging. */
typedef struct {
  VmdGuestMessageType type;
  gint64              version;    /* hello: 1..65535 */
  char               *agent;      /* hello */
  VmdGuestCaps        caps;       /* hello: the capabilities this host knows */
  gboolean            has_seq;
  guint32             seq;        /* ack (always); error (when has_seq) */
  VmdGuestErrorCode   code;       /* error */
  char               *message;    /* error */
  char               *type_name;  /* unknown: the type as sent */
} VmdGuestMessage;

void             vmd_guest_message_free (VmdGuestMessage *message);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdGuestMessage, vmd_guest_message_free)
/* One line without its "\n". Anything malformed (not strict JSON, not an object, a
 * missing or mistyped member, a value out of range) fails with G_IO_ERROR_INVALID_DATA
 * and a message saying why. Unknown members are ignored. */
VmdGuestMessage *vmd_guest_message_parse (const char *line, gsize len, GError **error);

/* ---- reading an untrusted line stream ----------------------------------------------- */

typedef struct {
  gsize  line_max;       /* bytes, "\n" included; longer lines are dropped as malformed */
  double rate_per_s;     /* token bucket: sustained lines per second ... */
  guint  burst;          /* ... and how many may come at once */
  guint  malformed_max;  /* more malformed (or over-rate) lines than this: reset */
} VmdLineLimits;

/* 4096 bytes, 20 lines/s with bursts of 40, reset after more than 32 malformed lines. */
void vmd_line_limits_init_default (VmdLineLimits *limits);

typedef struct {
  guint64 lines;         /* complete lines handed on */
  guint64 malformed;     /* overlong + over-rate + refused by the line function */
  guint64 overlong;
  guint64 rate_limited;
} VmdLineStats;

typedef struct _VmdLineReader VmdLineReader;
/* Gets each line within the limits: without its "\n", NUL-terminated, `len` bytes.
 * Returns FALSE with `error` set to count the line as malformed. */
typedef gboolean (*VmdLineFunc) (const char *line, gsize len, gpointer user_data,
                                 GError **error);

VmdLineReader *vmd_line_reader_new (const VmdLineLimits *limits);   /* NULL: defaults */
void           vmd_line_reader_free (VmdLineReader *reader);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdLineReader, vmd_line_reader_free)
/* Frames `data` (received at monotonic time `now_us`) into lines. Holds at most
 * `line_max` bytes between calls. Returns FALSE once the malformed count is past the
 * limit: the owner must reset the connection; later bytes are ignored. */
gboolean       vmd_line_reader_feed (VmdLineReader *reader, const void *data, gsize len,
                                     gint64 now_us, VmdLineFunc func, gpointer user_data);
const VmdLineStats *vmd_line_reader_get_stats (VmdLineReader *reader);
/* Why the last malformed line was refused, for the log; NULL if none was. */
const char    *vmd_line_reader_get_last_error (VmdLineReader *reader);

/* ---- one VM's channel --------------------------------------------------------------- */

#define VMD_TYPE_GUEST_LINK (vmd_guest_link_get_type ())
G_DECLARE_FINAL_TYPE (VmdGuestLink, vmd_guest_link, VMD, GUEST_LINK, GObject)

typedef struct {
  guint64 sent;              /* lines fully written */
  guint64 coalesced;         /* state updates replaced by a newer one before sending */
  guint64 dropped;           /* button presses dropped because the queue was full */
  guint64 received;          /* messages decoded */
  guint64 unknown;           /* well-formed messages of unknown type */
  VmdLineStats input;
} VmdGuestLinkStats;

/* Signals:
 *   "hello"  (guint caps)            the guest agent greeted with version 1; state follows
 *   "acked"  (guint seq)
 *   "closed" (const char *reason)    peer gone, I/O error or misbehaviour; emitted once,
 *                                    from the main loop, never from a vmd_guest_link_*()
 *                                    call. The link is dead: drop it and reconnect.
 * Everything is non-blocking on the thread-default main context of construction. */
/* Takes ownership of `fd`, a connected stream socket (socketpair, unix socket). `vm` names
 * the VM in log messages. */
VmdGuestLink *vmd_guest_link_new_for_fd (int fd, const char *vm, GError **error);
/* Connects to the channel's unix socket (<source mode='bind' path=...> in the live XML). */
VmdGuestLink *vmd_guest_link_connect_unix (const char *path, const char *vm, GError **error);
/* Before start: the input limits (tests use tight ones). */
void          vmd_guest_link_set_limits (VmdGuestLink *self, const VmdLineLimits *limits);
/* Sends hello and starts reading. */
void          vmd_guest_link_start (VmdGuestLink *self);
gboolean      vmd_guest_link_is_ready (VmdGuestLink *self);     /* the guest said hello v1 */
VmdGuestCaps  vmd_guest_link_get_caps (VmdGuestLink *self);
/* State: remembered, sent once the guest is ready (and again after each guest hello);
 * an update not yet written is replaced by the newer one. */
void          vmd_guest_link_set_power (VmdGuestLink *self, const VmdPowerState *state);
void          vmd_guest_link_set_lid (VmdGuestLink *self, gboolean closed);
/* Events: dropped unless the guest is ready and announced the capability. Button
 * presses queue up to 8 deep (the oldest goes first); sleep phase and time keep the
 * latest only; the time is read (CLOCK_REALTIME) when its line is written. */
void          vmd_guest_link_send_button (VmdGuestLink *self, VmdButton button);
void          vmd_guest_link_send_sleep (VmdGuestLink *self, VmdSleepPhase phase);
void          vmd_guest_link_send_time (VmdGuestLink *self);
/* Messages waiting to be written (the line being written included); never more than 14. */
guint         vmd_guest_link_get_queued (VmdGuestLink *self);
const VmdGuestLinkStats *vmd_guest_link_get_stats (VmdGuestLink *self);

/* ---- host sources ------------------------------------------------------------------- */

#define VMD_TYPE_UPOWER_MONITOR (vmd_upower_monitor_get_type ())
G_DECLARE_FINAL_TYPE (VmdUpowerMonitor, vmd_upower_monitor, VMD, UPOWER_MONITOR, GObject)

/* Signals:
 *   "changed"  ()   the state differs from the last announced one (vmd_power_state_differs)
 *   "critical" ()   on battery and WarningLevel reached "action", or the display
 *                   percentage fell to the critical percentage; once per crossing
 * Property "available" (gboolean): UPower is on the bus and was read. When UPower
 * (re)appears everything is read again; meanwhile the last state stays. */
VmdUpowerMonitor    *vmd_upower_monitor_new (GDBusConnection *system_bus);
gboolean             vmd_upower_monitor_is_available (VmdUpowerMonitor *self);
/* The latest state (not only the last announced one). */
const VmdPowerState *vmd_upower_monitor_get_state (VmdUpowerMonitor *self);
/* 0 (default): only UPower's "action" level counts. */
void                 vmd_upower_monitor_set_critical_percent (VmdUpowerMonitor *self,
                                                              double percent);
gboolean             vmd_upower_monitor_is_critical (VmdUpowerMonitor *self);

#define VMD_TYPE_LOGIND_MONITOR (vmd_logind_monitor_get_type ())
G_DECLARE_FINAL_TYPE (VmdLogindMonitor, vmd_logind_monitor, VMD, LOGIND_MONITOR, GObject)

/* Properties (notify on change): "available", "lid-closed", "docked",
 * "preparing-for-sleep", "preparing-for-shutdown", "inhibit-delay-max" (guint64,
 * microseconds).
 * Signals: "prepare-for-sleep" (gboolean start), "prepare-for-shutdown" (gboolean start).
 * logind sends no PropertiesChanged for Docked: it is read again with every lid change,
 * and notify::lid-closed comes after "docked" is current. */
VmdLogindMonitor *vmd_logind_monitor_new (GDBusConnection *system_bus);
GDBusConnection  *vmd_logind_monitor_get_connection (VmdLogindMonitor *self);
gboolean          vmd_logind_monitor_is_available (VmdLogindMonitor *self);
gboolean          vmd_logind_monitor_get_lid_closed (VmdLogindMonitor *self);
gboolean          vmd_logind_monitor_get_docked (VmdLogindMonitor *self);
gboolean          vmd_logind_monitor_get_preparing_for_sleep (VmdLogindMonitor *self);
gboolean          vmd_logind_monitor_get_preparing_for_shutdown (VmdLogindMonitor *self);
/* logind's InhibitDelayMaxUSec; 0 until read. */
guint64           vmd_logind_monitor_get_inhibit_delay_max (VmdLogindMonitor *self);

/* ---- the sleep inhibitor ------------------------------------------------------------ */

#define VMD_TYPE_SLEEP_INHIBITOR (vmd_sleep_inhibitor_get_type ())
G_DECLARE_FINAL_TYPE (VmdSleepInhibitor, vmd_sleep_inhibitor, VMD, SLEEP_INHIBITOR, GObject)

/* Holds one logind delay inhibitor for sleep and shutdown ("sleep:shutdown", "vmdesk",
 * "Suspending, saving or shutting down virtual machines") at all times: taken when logind appears, again after every
 * resume or cancelled shutdown, never after a shutdown went ahead.
 * Signals:
 *   "sleeping" ()            PrepareForSleep(true). Take handles INSIDE the handler: when it
 *                            returns without any, the inhibitor is released at once.
 *   "resuming" ()            PrepareForSleep(false); the inhibitor is being taken again.
 *   "shutting-down" ()       PrepareForShutdown(true); handles as for "sleeping".
 *   "shutdown-cancelled" ()  PrepareForShutdown(false): logind could not start the
 *                            shutdown; the inhibitor is being taken again.
 * Property "held" (gboolean): the inhibitor fd is held. */
VmdSleepInhibitor *vmd_sleep_inhibitor_new (VmdLogindMonitor *logind);
gboolean           vmd_sleep_inhibitor_is_held (VmdSleepInhibitor *self);

typedef struct _VmdSleepHandle VmdSleepHandle;
/* A handle keeps the fd while the host prepares to sleep or shut down; the fd goes when the
 * last handle is released. A resume, a cancelled shutdown or a logind restart makes
 * outstanding handles stale: releasing them then only frees them. Every handle must be
 * released exactly once. */
VmdSleepHandle    *vmd_sleep_inhibitor_take (VmdSleepInhibitor *self);
void               vmd_sleep_inhibitor_release (VmdSleepInhibitor *self, VmdSleepHandle *handle);

/* ---- the sleep plan ----------------------------------------------------------------- */

typedef enum {
  VMD_VM_RUNNING,
  VMD_VM_PAUSED,        /* by anyone: the plan never touches a VM paused before it acts */
  VMD_VM_PMSUSPENDED,   /* guest S3 */
  VMD_VM_SHUTOFF,
  VMD_VM_OTHER,
} VmdVmRunState;

/* What the plan needs to know of one VM; the caller owns the strings. */
typedef struct {
  const char         *name;
  gint64              instance;         /* libvirt domain id while running, else -1 */
  VmdVmRunState       state;
  VmdHostSleepAction  on_host_sleep;
  VmdHostShutdownAction on_host_shutdown;
  gboolean            has_hostdev;      /* PCI/USB host devices: no managed save */
  gboolean            has_agent;        /* qemu-ga connected: guest S3/S4 possible */
  gboolean            has_managed_save; /* a managed save image exists (shut-off VMs) */
} VmdSleepVm;

typedef enum {
  VMD_POWER_ACTION_NONE,
  VMD_POWER_ACTION_SUSPEND,     /* guest S3 through qemu-ga */
  VMD_POWER_ACTION_PAUSE,
  VMD_POWER_ACTION_SAVE,        /* managed save */
  VMD_POWER_ACTION_HIBERNATE,   /* guest S4 through the agent */
  VMD_POWER_ACTION_RESUME,      /* un-pause */
  VMD_POWER_ACTION_WAKEUP,      /* out of guest S3 */
  VMD_POWER_ACTION_START,       /* from the managed save image, or a hibernated guest */
  VMD_POWER_ACTION_SET_TIME,
  VMD_POWER_ACTION_SHUTDOWN,    /* graceful guest shutdown: qemu-ga, else ACPI */
} VmdPowerAction;
const char *vmd_power_action_to_string (VmdPowerAction action);

/* `error` is borrowed, NULL on success. Call `done` exactly once, on the main context the
 * operation was started from; a late call (after the plan's deadline, or after the plan
 * is gone) is safe and ignored. */
typedef void (*VmdSleepOpDone) (const GError *error, gpointer user_data);
typedef void (*VmdSleepOpFunc) (gpointer ops_data, const char *vm, VmdSleepOpDone done,
                                gpointer user_data);
/* The daemon's libvirt calls. Each completes when the VM has reached the state (e.g.
 * suspend when libvirt reports pmsuspended), not merely when the API call returned. */
typedef struct {
  VmdSleepOpFunc suspend;     /* virDomainPMSuspendForDuration(MEM) */
  VmdSleepOpFunc pause;       /* virDomainSuspend */
  VmdSleepOpFunc save;        /* virDomainManagedSave */
  VmdSleepOpFunc hibernate;   /* virDomainPMSuspendForDuration(DISK) */
  VmdSleepOpFunc resume;      /* virDomainResume */
  VmdSleepOpFunc wakeup;      /* virDomainPMWakeup */
  VmdSleepOpFunc start;       /* virDomainCreate */
  VmdSleepOpFunc set_time;    /* virDomainSetTime and the power-bridge time message */
  VmdSleepOpFunc shutdown;    /* virDomainShutdown: done when the VM is shut off */
} VmdSleepOps;

typedef enum {
  VMD_SLEEP_RESULT_DONE,
  VMD_SLEEP_RESULT_SKIPPED,      /* nothing to do, by setting or state */
  VMD_SLEEP_RESULT_FAILED,
  VMD_SLEEP_RESULT_TIMED_OUT,    /* no answer by the deadline */
} VmdSleepResult;

/* What happened to one VM. */
typedef struct {
  char           *vm;
  VmdPowerAction  requested;   /* what its settings asked for */
  VmdPowerAction  taken;       /* what was finally done or last attempted */
  VmdSleepResult  result;
  char           *message;     /* one line for the log and the user */
} VmdSleepOutcome;

void  vmd_sleep_outcome_free (VmdSleepOutcome *outcome);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdSleepOutcome, vmd_sleep_outcome_free)
/* "work: suspend -> pause (timed out): ...", one line per outcome. */
char *vmd_sleep_report_to_string (GPtrArray *outcomes);

/* Deadlines for a logind InhibitDelayMaxUSec of `delay_max_us` (0: logind's default,
 * 5 s): everything must be done by `total_us`, a guest S3 by `agent_us` so a fallback
 * pause still fits. Both are relative to the start of the plan. */
void  vmd_sleep_budget (guint64 delay_max_us, gint64 *total_us, gint64 *agent_us);

#define VMD_TYPE_SLEEP_PLAN (vmd_sleep_plan_get_type ())
G_DECLARE_FINAL_TYPE (VmdSleepPlan, vmd_sleep_plan, VMD, SLEEP_PLAN, GObject)

/* The journal, DIR/power-journal.ini, records every VM the plan quiesced, so that a
 * restarted daemon can bring them back. A corrupt journal is set aside with a warning. */
VmdSleepPlan *vmd_sleep_plan_new (const VmdSleepOps *ops, gpointer ops_data,
                                  const char *state_dir, GError **error);
/* VMs the journal says vmdesk quiesced and has not brought back yet. */
GStrv         vmd_sleep_plan_get_journaled (VmdSleepPlan *self);

/* Host sleep: every running VM's on-host-sleep action, all at once. `vms` is copied.
 * Finishes with the outcomes (GPtrArray of VmdSleepOutcome) when every VM is done or the
 * total deadline of vmd_sleep_budget() passed; release the inhibitor handle then. During
 * a critical-battery run it waits for that run (and leaves the VMs it saved alone);
 * during another prepare or a wake it fails with G_IO_ERROR_BUSY. */
void          vmd_sleep_plan_prepare_async (VmdSleepPlan *self, const VmdSleepVm *vms,
                                            guint n_vms, guint64 delay_max_us,
                                            GAsyncReadyCallback callback, gpointer user_data);
GPtrArray    *vmd_sleep_plan_prepare_finish (VmdSleepPlan *self, GAsyncResult *result,
                                             GError **error);

/* After resume, at start-up, or whenever the host is awake again: brings back exactly
 * the journaled VMs, going by their current state (`vms`: all VMs now known): paused ->
 * resume, pmsuspended -> wakeup, shut off after a save or S4 -> start; then set_time.
 * A VM restarted since (another instance) or running again is left alone. A prepare
 * still under way is stopped first (no new operation starts) and waited for. Each
 * operation gets `op_timeout_ms` (0: 30 s); failed entries stay in the journal. */
void          vmd_sleep_plan_wake_async (VmdSleepPlan *self, const VmdSleepVm *vms,
                                         guint n_vms, guint op_timeout_ms,
                                         GAsyncReadyCallback callback, gpointer user_data);
GPtrArray    *vmd_sleep_plan_wake_finish (VmdSleepPlan *self, GAsyncResult *result,
                                          GError **error);

/* Critical battery: managed save for every running or paused VM without host devices,
 * guest S4 through the agent for the rest; a VM with host devices and no agent is
 * reported as at risk. Everything within `budget_us`. Journaled like a prepare, so a
 * later wake starts the saved VMs again (a VM paused by its user comes back paused).
 * Fails with G_IO_ERROR_BUSY while any other run is under way. */
void          vmd_sleep_plan_critical_async (VmdSleepPlan *self, const VmdSleepVm *vms,
                                             guint n_vms, gint64 budget_us,
                                             GAsyncReadyCallback callback, gpointer user_data);
GPtrArray    *vmd_sleep_plan_critical_finish (VmdSleepPlan *self, GAsyncResult *result,
                                              GError **error);

/* Host power-off or reboot: every running VM's on-host-shutdown action, all at once:
 * graceful shutdown, or managed save (refused for VMs with host devices, which are shut
 * down instead; a failed save falls back to a shutdown). A VM paused by its user is saved
 * paused when its setting says save, and otherwise left to libvirt. Everything within
 * `budget_us`; a VM still running then is reported timed out and left to libvirt: the
 * plan never destroys a VM. Journaled with reason "host-shutdown", so that the next wake
 * (at the next daemon start) restores exactly the saved VMs; shut-down VMs stay off.
 * Queued behind nothing: fails with G_IO_ERROR_BUSY while another run is under way (the
 * caller waits for it). A wake requested meanwhile (the shutdown was cancelled) stops it
 * as it stops a prepare, then runs. */
void          vmd_sleep_plan_shutdown_async (VmdSleepPlan *self, const VmdSleepVm *vms,
                                             guint n_vms, gint64 budget_us,
                                             GAsyncReadyCallback callback, gpointer user_data);
GPtrArray    *vmd_sleep_plan_shutdown_finish (VmdSleepPlan *self, GAsyncResult *result,
                                              GError **error);
/* Whether a run is under way or queued: a caller that must not collide waits for it. */
gboolean      vmd_sleep_plan_is_busy (VmdSleepPlan *self);

/* ---- the lid ------------------------------------------------------------------------ */

/* Whether a VM's guest sees its lid closed: the host lid is closed, the host is not docked
 * (logind ignores the lid when docked, and so do guests), the VM is on screen and its
 * on-lid-close is forward. Every other guest sees it open. docs/power-bridge.md. */
gboolean vmd_lid_guest_sees_closed (gboolean host_lid_closed, gboolean host_docked,
                                    gboolean vm_on_screen, VmdLidAction on_lid_close);

G_END_DECLS
