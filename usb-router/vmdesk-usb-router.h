/* vmdesk-usb-router.h: hot-plugged USB devices to the right VM, by policy.
 *
 * The router watches USB devices (VmdUsbWatcher), decides with a VmdPolicy, and moves each
 * device towards the place it should be: one slot per device, level-triggered. Events only
 * change where a slot *should* be; one operation at a time per slot makes it so, and the
 * slot is looked at again when that operation ends. So plug/unplug storms end consistent.
 * VM operations go through VmdUsbOps: libvirt in the daemon, a fake in the unit tests. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

#include "vmdesk-policy.h"

G_BEGIN_DECLS

/* The alias prefix of every hostdev vmdesk adds; hostdevs without it are the user's. */
#define VMD_USB_ALIAS_PREFIX "ua-vmdesk-usb-"

/* ---- hostdev XML (libxml2) ---------------------------------------------------------- */

typedef struct {
  char   *alias;
  guint16 vendor_id;
  guint16 product_id;
  guint   bus;
  guint   devnum;
} VmdUsbHostdev;

VmdUsbHostdev *vmd_usb_hostdev_copy (const VmdUsbHostdev *hostdev);
void           vmd_usb_hostdev_free (VmdUsbHostdev *hostdev);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUsbHostdev, vmd_usb_hostdev_free)
/* "ua-vmdesk-usb-1-2_3" for port "1-2.3" (aliases allow [A-Za-z0-9_-] only). */
char          *vmd_usb_alias_for_port (const char *port);
/* <hostdev mode='subsystem' type='usb'> with vendor, product, bus/device address, alias. */
char          *vmd_usb_hostdev_to_xml (const VmdUsbHostdev *hostdev);
/* vmdesk's USB hostdevs (alias prefix) in a domain XML; the user's are not returned. */
GPtrArray     *vmd_usb_hostdevs_from_domain_xml (const char *xml, GError **error);

/* ---- the USB devices of the host (GUdev) ---------------------------------------------- */

typedef struct {
  char          *syspath;
  char          *id;        /* the port, "1-2.3": what users name the device by */
  guint          bus;
  guint          devnum;
  VmdUsbDevice  *device;    /* what the policy sees */
  gint64         uevent_us; /* g_get_monotonic_time() when its "add" arrived; 0: found at start */
} VmdUsbPresent;

VmdUsbPresent *vmd_usb_present_copy (const VmdUsbPresent *present);
void           vmd_usb_present_free (VmdUsbPresent *present);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUsbPresent, vmd_usb_present_free)
/* Reads a usb_device from sysfs; hubs and root hubs are refused (G_IO_ERROR_NOT_SUPPORTED). */
VmdUsbPresent *vmd_usb_present_from_sysfs (const char *syspath, GError **error);
/* De-authorizes the device on the host: writes 0 to its `authorized` attribute. */
gboolean       vmd_usb_deauthorize (const char *syspath, GError **error);

#define VMD_TYPE_USB_WATCHER (vmd_usb_watcher_get_type ())
G_DECLARE_FINAL_TYPE (VmdUsbWatcher, vmd_usb_watcher, VMD, USB_WATCHER, GObject)
/* Signals: "added" (const VmdUsbPresent *), "removed" (const char *syspath).
 * vmd_usb_watcher_start() emits "added" for every device already present. */
VmdUsbWatcher *vmd_usb_watcher_new (void);
void           vmd_usb_watcher_start (VmdUsbWatcher *self);

/* ---- remembered assignments (sticky) --------------------------------------------------- */

#define VMD_TYPE_USB_MEMORY (vmd_usb_memory_get_type ())
G_DECLARE_FINAL_TYPE (VmdUsbMemory, vmd_usb_memory, VMD, USB_MEMORY, GObject)
/* Device hash -> VM, kept in DIR/usb-memory.ini, written atomically on every change. */
VmdUsbMemory *vmd_usb_memory_new (const char *state_dir, GError **error);
char         *vmd_usb_memory_lookup (VmdUsbMemory *self, const char *hash);
gboolean      vmd_usb_memory_remember (VmdUsbMemory *self, const char *hash, const char *vm,
                                       const char *description, GError **error);
gboolean      vmd_usb_memory_forget (VmdUsbMemory *self, const char *hash, GError **error);

/* ---- VM operations ---------------------------------------------------------------------- */

/* Each operation completes by calling `done` on the main context it was started from. */
typedef void (*VmdUsbOpDone) (GError *error, gpointer user_data);
typedef struct {
  void      (*attach) (gpointer ops_data, const char *vm, const VmdUsbHostdev *hostdev,
                       VmdUsbOpDone done, gpointer user_data);
  void      (*detach) (gpointer ops_data, const char *vm, const VmdUsbHostdev *hostdev,
                       VmdUsbOpDone done, gpointer user_data);
  /* vmdesk's hostdevs in a running VM's live XML, synchronously (reconcile only). */
  GPtrArray *(*list) (gpointer ops_data, const char *vm, GError **error);
} VmdUsbOps;

/* libvirt-backed ops: each VM's operations run in order on a worker thread of its own
 * (created at its first operation), with the connection borrowed when they were started. */
typedef struct _VmdUsbLibvirtOps VmdUsbLibvirtOps;
VmdUsbLibvirtOps *vmd_usb_libvirt_ops_new (void);
void              vmd_usb_libvirt_ops_free (VmdUsbLibvirtOps *ops);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUsbLibvirtOps, vmd_usb_libvirt_ops_free)
/* NULL while disconnected: operations then fail with G_IO_ERROR_NOT_CONNECTED. Another
 * connection ends the workers (each finishes its queue), so none keeps the old one open. */
void              vmd_usb_libvirt_ops_set_connection (VmdUsbLibvirtOps *ops, virConnectPtr conn);
/* The VM is gone (undefined, renamed): its worker ends once its queue is done. */
void              vmd_usb_libvirt_ops_forget_vm (VmdUsbLibvirtOps *ops, const char *vm);
const VmdUsbOps  *vmd_usb_libvirt_ops_vtable (void);

/* ---- the router ---------------------------------------------------------------------- */

/* What the router needs to know of the VMs, asked when it decides. */
typedef struct {
  gboolean    (*is_running)  (const char *vm, gpointer user_data);
  gboolean    (*auto_assign) (const char *vm, gpointer user_data);
  const char *(*on_screen)   (gpointer user_data);   /* NULL: the host */
  GStrv       (*running)     (gpointer user_data);   /* sorted */
} VmdUsbVmView;

typedef enum {
  VMD_USB_STATE_HOST,       /* on the host, by decision */
  VMD_USB_STATE_PENDING,    /* waits for its VM to start */
  VMD_USB_STATE_ASKING,     /* waits for an answer */
  VMD_USB_STATE_MOVING,     /* an attach or detach is under way */
  VMD_USB_STATE_ATTACHED,
  VMD_USB_STATE_DENIED,
  VMD_USB_STATE_FAILED,     /* the last operation failed; stays on the host */
} VmdUsbState;
const char *vmd_usb_state_to_string (VmdUsbState state);

/* A snapshot of one device, for D-Bus and the CLI. */
typedef struct {
  char                *id;
  char                *syspath;
  guint                bus;
  guint                devnum;
  VmdUsbDevice        *device;
  VmdUsbState          state;
  char                *vm;          /* where it is (ATTACHED) or goes (PENDING, MOVING) */
  VmdPolicyDecision   *decision;    /* may be NULL while no decision was taken */
  char                *override;    /* "usb attach" target, "" for "keep on host", or NULL */
  gboolean             remembered;  /* the memory holds a VM for its identity */
  gboolean             ambiguous;   /* identity shared or incomplete: never remembered */
  GStrv                candidates;  /* ASKING */
  char                *error;       /* FAILED */
} VmdUsbDeviceInfo;

void vmd_usb_device_info_free (VmdUsbDeviceInfo *info);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUsbDeviceInfo, vmd_usb_device_info_free)

#define VMD_USB_ROUTER_ERROR (vmd_usb_router_error_quark ())
GQuark vmd_usb_router_error_quark (void);
typedef enum {
  VMD_USB_ROUTER_ERROR_UNKNOWN_DEVICE,
  VMD_USB_ROUTER_ERROR_DENIED,
  VMD_USB_ROUTER_ERROR_NOT_RUNNING,
  VMD_USB_ROUTER_ERROR_NOT_ASKING,
  VMD_USB_ROUTER_ERROR_AMBIGUOUS,
} VmdUsbRouterError;

#define VMD_TYPE_USB_ROUTER (vmd_usb_router_get_type ())
G_DECLARE_FINAL_TYPE (VmdUsbRouter, vmd_usb_router, VMD, USB_ROUTER, GObject)

/* Signals:
 *   "device-changed" (const VmdUsbDeviceInfo *)   added, or anything about it changed
 *   "device-removed" (const char *id)
 *   "ask"            (const VmdUsbDeviceInfo *)   the policy asks where it goes
 * An unanswered ask times out after `ask_timeout_ms` and the device stays on the host.
 * A failed attach or detach is tried again after `retry_delay_ms`, 4× and 16× that. */
VmdUsbRouter *vmd_usb_router_new (VmdPolicy *policy, VmdUsbMemory *memory,
                                  const VmdUsbOps *ops, gpointer ops_data,
                                  const VmdUsbVmView *view, gpointer view_data);
void          vmd_usb_router_set_ask_timeout (VmdUsbRouter *self, guint ask_timeout_ms);
void          vmd_usb_router_set_retry_delay (VmdUsbRouter *self, guint retry_delay_ms);
/* New devices and devices on the host are decided by the new policy; attached ones stay. */
void          vmd_usb_router_set_policy (VmdUsbRouter *self, VmdPolicy *policy);
VmdPolicy    *vmd_usb_router_get_policy (VmdUsbRouter *self);

/* Inputs. */
void          vmd_usb_router_device_added (VmdUsbRouter *self, const VmdUsbPresent *present);
void          vmd_usb_router_device_removed (VmdUsbRouter *self, const char *syspath);
void          vmd_usb_router_vm_started (VmdUsbRouter *self, const char *vm);
void          vmd_usb_router_vm_stopped (VmdUsbRouter *self, const char *vm);
void          vmd_usb_router_focus_changed (VmdUsbRouter *self, const char *previous, const char *current);
/* Adopts vmdesk's hostdevs found in running VMs: present devices stay where they are,
 * hostdevs of absent devices are removed. Call at start and after every reconnect. */
void          vmd_usb_router_reconcile (VmdUsbRouter *self);
/* libvirt is gone: no operation starts until the next reconcile. */
void          vmd_usb_router_connection_lost (VmdUsbRouter *self);

/* Requests (D-Bus, CLI). `id` is the port ("1-2.3"). */
GPtrArray    *vmd_usb_router_list (VmdUsbRouter *self);   /* of VmdUsbDeviceInfo, by id */
VmdUsbDeviceInfo *vmd_usb_router_lookup (VmdUsbRouter *self, const char *id);
gboolean      vmd_usb_router_attach (VmdUsbRouter *self, const char *id, const char *vm,
                                     gboolean remember, GError **error);
gboolean      vmd_usb_router_detach (VmdUsbRouter *self, const char *id, GError **error);
gboolean      vmd_usb_router_forget (VmdUsbRouter *self, const char *id, GError **error);
/* vm NULL or "": keep on the host. */
gboolean      vmd_usb_router_answer (VmdUsbRouter *self, const char *id, const char *vm,
                                     gboolean remember, GError **error);
/* Operations under way; 0 when every slot is where it should be. */
guint         vmd_usb_router_busy (VmdUsbRouter *self);

G_END_DECLS
