/* vmdesk-vfio.h: VFIO pass-through for vmdesk: pre-flight checks, a plan of what a bind
 * moves, the transactional bind to vfio-pci with its journal, release, crash recovery,
 * the single-GPU hand-over watchdog, and the libvirt <hostdev> element.
 *
 * Everything is read and written through /sys (and a few files under /proc and /dev), so a
 * umockdev testbed stands in for a real machine. Every call is blocking (sysfs writes can
 * take seconds while a driver lets go of a device): a daemon runs them in a worker thread.
 * Design, JSON schemas and exit codes: docs/vfio.md. */
#pragma once

#include <gio/gio.h>
#include <json-glib/json-glib.h>
#include <libxml/tree.h>

G_BEGIN_DECLS

#define VMD_VFIO_ERROR (vmd_vfio_error_quark ())
typedef enum {
  VMD_VFIO_ERROR_FAILED,
  VMD_VFIO_ERROR_INVALID_BDF,     /* not a PCI address */
  VMD_VFIO_ERROR_NOT_FOUND,       /* no such device, or no journal for it */
  VMD_VFIO_ERROR_REFUSED,         /* the plan says no (see the plan's refusals) */
  VMD_VFIO_ERROR_SYSFS,           /* sysfs could not be read or said something unexpected */
  VMD_VFIO_ERROR_STEP_FAILED,     /* a bind step failed; everything was rolled back */
  VMD_VFIO_ERROR_INCONSISTENT,    /* a rollback or release step failed: journal kept */
  VMD_VFIO_ERROR_JOURNAL,         /* the journal could not be written or read */
  VMD_VFIO_ERROR_BUSY,            /* a transaction already holds one of the functions */
  VMD_VFIO_ERROR_LOGIND,          /* the single-GPU hand-over could not end the sessions */
} VmdVfioError;
GQuark vmd_vfio_error_quark (void);

/* --- PCI addresses ---------------------------------------------------------------------- */

/* "DDDD:BB:SS.F" as the kernel names PCI functions (the domain may have up to 8 hex digits);
 * "BB:SS.F" means domain 0000. Hex digits in either case; nothing else is accepted. */
typedef struct {
  guint32 domain;
  guint8  bus;
  guint8  slot;      /* 0..0x1f */
  guint8  function;  /* 0..7 */
} VmdVfioBdf;

#define VMD_VFIO_BDF_BUFSIZE 20
gboolean vmd_vfio_bdf_parse (const char *text, VmdVfioBdf *bdf, GError **error);
/* The kernel's spelling: lower case, domain at least 4 digits. Writes into `buf`. */
const char *vmd_vfio_bdf_format (const VmdVfioBdf *bdf, char buf[VMD_VFIO_BDF_BUFSIZE]);
/* Same domain, bus and slot: functions of one physical device. */
gboolean vmd_vfio_bdf_same_device (const VmdVfioBdf *a, const VmdVfioBdf *b);

/* --- check: the pre-flight report -------------------------------------------------------- */

typedef enum {
  VMD_VFIO_OK,
  VMD_VFIO_WARN,
  VMD_VFIO_FAIL,
} VmdVfioSeverity;

const char *vmd_vfio_severity_to_string (VmdVfioSeverity severity);

typedef struct {
  char           *id;        /* stable: "iommu", "iommu-group", "reset", ... (docs/vfio.md) */
  VmdVfioSeverity severity;
  char           *bdf;       /* NULL for host-wide findings */
  char           *message;   /* one line, valid UTF-8, no control characters */
  char           *fix;       /* the concrete remedy; NULL when there is nothing to do */
} VmdVfioFinding;

typedef struct _VmdVfioReport VmdVfioReport;

/* `bdfs` NULL or empty: every display device (PCI class 0x03). A malformed BDF is an error
 * (VMD_VFIO_ERROR_INVALID_BDF); an absent one is a finding. */
VmdVfioReport  *vmd_vfio_check (const char *const *bdfs, GError **error);
void            vmd_vfio_report_free (VmdVfioReport *report);
VmdVfioSeverity vmd_vfio_report_worst (const VmdVfioReport *report);
/* Array of VmdVfioFinding, in report order (host first, then per device). */
GPtrArray      *vmd_vfio_report_get_findings (const VmdVfioReport *report);
/* The stable --json schema of docs/vfio.md; the text form is for people. */
JsonNode       *vmd_vfio_report_to_json (const VmdVfioReport *report);
char           *vmd_vfio_report_to_text (const VmdVfioReport *report);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdVfioReport, vmd_vfio_report_free)

/* --- plan: what a bind would do ---------------------------------------------------------- */

typedef enum {
  VMD_VFIO_PLAN_DEFAULT    = 0,
  VMD_VFIO_PLAN_SINGLE_GPU = 1 << 0,  /* may hand over the host's only display device */
  VMD_VFIO_PLAN_FORCE      = 1 << 1,  /* override the refusals marked forceable */
} VmdVfioPlanFlags;

typedef struct _VmdVfioPlan VmdVfioPlan;

/* Reads sysfs (and, only when the device is the host's only display, asks logind on
 * `system_bus` whether a graphical session runs; NULL: logind cannot be asked, which is
 * itself a forceable refusal). Fails only for a malformed BDF, an absent device or an
 * unreadable group; refusals are part of the plan. */
VmdVfioPlan *vmd_vfio_plan_new (const char *bdf, VmdVfioPlanFlags flags,
                                GDBusConnection *system_bus, GError **error);
void         vmd_vfio_plan_free (VmdVfioPlan *plan);
/* TRUE when nothing refuses (after --force/--single-gpu); else VMD_VFIO_ERROR_REFUSED
 * whose message lists every refusal and its fix. */
gboolean     vmd_vfio_plan_check_allowed (const VmdVfioPlan *plan, GError **error);
const char  *vmd_vfio_plan_get_bdf (const VmdVfioPlan *plan);
/* The functions a bind moves to vfio-pci (or finds there already), in bind order. */
guint        vmd_vfio_plan_get_n_functions (const VmdVfioPlan *plan);
const char  *vmd_vfio_plan_get_function (const VmdVfioPlan *plan, guint index);
JsonNode    *vmd_vfio_plan_to_json (const VmdVfioPlan *plan);
char        *vmd_vfio_plan_to_text (const VmdVfioPlan *plan);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdVfioPlan, vmd_vfio_plan_free)

/* --- transactions (journal under STATE_DIR/vfio/) ---------------------------------------- */

/* Moves every function of the plan to vfio-pci through driver_override, the driver's unbind
 * and drivers_probe, checking the `driver` link after each step. Each step is journaled and
 * fsynced before it is taken; on any failure everything is undone in reverse and the error
 * is VMD_VFIO_ERROR_STEP_FAILED (or VMD_VFIO_ERROR_INCONSISTENT if the undo failed too: the
 * journal stays for vmd_vfio_recover). Refuses (VMD_VFIO_ERROR_REFUSED) what the plan
 * refuses. With VMD_VFIO_PLAN_SINGLE_GPU and a device that is the host's only display,
 * `watchdog_seconds` > 0 arms a deadline: unless vmd_vfio_confirm is called before it,
 * vmd_vfio_recover or a VmdVfioWatchdog releases the device and gives the display back. */
gboolean vmd_vfio_bind (VmdVfioPlan *plan, const char *state_dir, guint watchdog_seconds,
                        GDBusConnection *system_bus, GError **error);

typedef enum {
  VMD_VFIO_RELEASE_DEFAULT = 0,
  /* No journal (bound by hand or by a lost state directory): clear driver_override and
   * re-probe every function of the device that sits on vfio-pci. */
  VMD_VFIO_RELEASE_FORCE   = 1 << 0,
} VmdVfioReleaseFlags;

/* Restores each function's original driver and driver_override (and, after a single-GPU
 * hand-over, the framebuffer and the virtual consoles), then removes the journal.
 * `bdf` is the one given to bind. */
gboolean vmd_vfio_release (const char *bdf, const char *state_dir, VmdVfioReleaseFlags flags,
                           GError **error);

/* The VM using a single-GPU hand-over started: disarm its watchdog. */
gboolean vmd_vfio_confirm (const char *bdf, const char *state_dir, GError **error);

typedef enum {
  VMD_VFIO_RECOVERED_ROLLED_BACK,  /* a bind was interrupted: undone */
  VMD_VFIO_RECOVERED_RELEASED,     /* a release was interrupted, or a watchdog expired: done */
  VMD_VFIO_RECOVERED_STALE,        /* a journal from an earlier boot: state checked, dropped */
  VMD_VFIO_RECOVERED_HELD,         /* a complete bind: left alone, the VM may be using it */
  VMD_VFIO_RECOVERED_FAILED,       /* could not be restored: journal kept, see detail */
} VmdVfioRecoveredAction;

typedef struct {
  char                  *bdf;
  VmdVfioRecoveredAction action;
  char                  *detail;   /* one line for people */
} VmdVfioRecovered;

const char *vmd_vfio_recovered_action_to_string (VmdVfioRecoveredAction action);
/* Run at daemon start: finishes or rolls back whatever a crash interrupted. Returns an array
 * of VmdVfioRecovered, one per journal (empty when there was none); NULL only when the
 * state directory cannot be read. */
GPtrArray *vmd_vfio_recover (const char *state_dir, GError **error);
JsonNode  *vmd_vfio_recovered_to_json (GPtrArray *recovered);

/* Arms the watchdog of a single-GPU bind on the thread-default main context. `done` is
 * called once: with `fired` TRUE when the deadline passed without vmd_vfio_confirm (the
 * device was released and the host display given back; `release_error` says if that
 * failed), or with `fired` FALSE when a confirm or a release, from any process, disarmed it
 * (a file monitor on the journal notices). Fails when the device has no armed watchdog. */
typedef void (*VmdVfioWatchdogFunc) (const char *bdf, gboolean fired,
                                     const GError *release_error, gpointer user_data);
typedef struct _VmdVfioWatchdog VmdVfioWatchdog;
VmdVfioWatchdog *vmd_vfio_watchdog_new (const char *bdf, const char *state_dir,
                                        VmdVfioWatchdogFunc done, gpointer user_data,
                                        GError **error);
/* TRUE while armed; FALSE once fired or disarmed. */
gboolean         vmd_vfio_watchdog_is_armed (const VmdVfioWatchdog *watchdog);
void             vmd_vfio_watchdog_free (VmdVfioWatchdog *watchdog);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdVfioWatchdog, vmd_vfio_watchdog_free)

/* --- libvirt ----------------------------------------------------------------------------- */

/* Hostdevs vmdesk adds carry this alias prefix; anything else was attached by a user. */
#define VMD_VFIO_ALIAS_PREFIX "ua-vmdesk-"

/* <hostdev mode='subsystem' type='pci' managed='no'> with the function's <source><address>
 * and <alias name='ua-vmdesk-pci-DDDD-BB-SS-F'/>. managed='no': vmdesk did the binding, so
 * libvirt must neither detach nor reattach. Free with xmlFreeNode. */
xmlNode  *vmd_vfio_hostdev_new (const char *bdf, GError **error);
/* TRUE for a <hostdev> whose alias starts with VMD_VFIO_ALIAS_PREFIX. */
gboolean  vmd_vfio_hostdev_is_ours (const xmlNode *hostdev);

G_END_DECLS
