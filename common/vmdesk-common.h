/* vmdesk-common.h: what vmdeskd, vmdeskctl and the UI share: D-Bus names and errors,
 * VM-name validation, VM settings in libvirt metadata, and the XML edits of `setup`. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

#define VMD_DBUS_NAME           "org.vmdesk.Manager1"
#define VMD_DBUS_PATH           "/org/vmdesk/Manager1"
#define VMD_DBUS_INTERFACE      "org.vmdesk.Manager1"

/* Errors cross D-Bus as org.vmdesk.Error.<Name>; see vmd-error.c for the mapping. */
#define VMD_ERROR (vmd_error_quark ())
typedef enum {
  VMD_ERROR_FAILED,
  VMD_ERROR_INVALID_ARGS,
  VMD_ERROR_UNKNOWN_VM,
  VMD_ERROR_NOT_RUNNING,
  VMD_ERROR_NOT_AUTHORIZED,
  VMD_ERROR_NOT_CONNECTED,
  VMD_ERROR_LIBVIRT,
  VMD_ERROR_CONFLICT,
  VMD_ERROR_UNKNOWN_DEVICE,
  VMD_ERROR_DENIED,
  VMD_ERROR_AMBIGUOUS,
  VMD_ERROR_INVALID_POLICY,
} VmdError;
GQuark vmd_error_quark (void);

/* VM names as they arrive from D-Bus or the command line. libvirt accepts almost any
 * name, so this only refuses what can never be a usable domain name. */
#define VMD_VM_NAME_MAX 255
gboolean vmd_vm_name_validate (const char *name, GError **error);
/* A USB device as users name it: its port, "<bus>-<port>[.<port>]..." (VMD_ERROR_INVALID_ARGS). */
gboolean vmd_usb_port_validate (const char *port, GError **error);

/* Per-VM settings, kept in the domain's <metadata> under VMD_SETTINGS_NS, so that
 * `virsh metadata DOMAIN VMD_SETTINGS_NS` shows them. Schema: docs/vm-settings.md. */
#define VMD_SETTINGS_NS       "https://vmdesk.org/xmlns/vm-settings/1"
#define VMD_SETTINGS_PREFIX   "vmdesk"
#define VMD_SETTINGS_MAX_SIZE (64 * 1024)
#define VMD_ROLE_MAX          32

typedef enum {
  VMD_HOST_SLEEP_SUSPEND,
  VMD_HOST_SLEEP_PAUSE,
  VMD_HOST_SLEEP_SAVE,
  VMD_HOST_SLEEP_NONE,
} VmdHostSleepAction;

/* What a host power-off or reboot does to a running VM (docs/vm-settings.md). */
typedef enum {
  VMD_HOST_SHUTDOWN_SHUTDOWN,   /* graceful guest shutdown (qemu-ga, else ACPI) */
  VMD_HOST_SHUTDOWN_SAVE,       /* managed save, restored at the next daemon start */
  VMD_HOST_SHUTDOWN_NONE,
} VmdHostShutdownAction;

typedef enum {
  VMD_LID_FORWARD,
  VMD_LID_IGNORE,
} VmdLidAction;

typedef struct {
  char              *role;            /* free label such as "work"; "" if unset */
  gboolean           auto_assign_usb; /* may @focused USB rules attach devices here */
  VmdHostSleepAction on_host_sleep;
  VmdHostShutdownAction on_host_shutdown;
  VmdLidAction       on_lid_close;
  gboolean           power_channel;   /* does the VM get the power-bridge channel */
  /* PCI functions passed through with VFIO ("DDDD:BB:SS.F", lower case, no duplicates);
   * never NULL, empty when none. vmdeskd binds them (and their sibling functions) to
   * vfio-pci before the VM starts (docs/vfio.md). */
  GStrv              passthrough_pci;
  gboolean           passthrough_single_gpu; /* may take the host's only display */
  /* Host input devices ("/dev/input/..."), handed to the VM while it is on screen and
   * taken back when it leaves (docs/vm-settings.md); never NULL, empty when none. */
  GStrv              evdev_inputs;
} VmdVmSettings;

#define VMD_PASSTHROUGH_MAX   16
#define VMD_EVDEV_INPUTS_MAX  8
#define VMD_EVDEV_PATH_MAX    255

VmdVmSettings *vmd_vm_settings_new (void);
VmdVmSettings *vmd_vm_settings_copy (const VmdVmSettings *settings);
void           vmd_vm_settings_free (VmdVmSettings *settings);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdVmSettings, vmd_vm_settings_free)

/* Never fails: metadata that is absent, malformed or partly invalid yields the defaults
 * for whatever could not be read, and one human-readable line per problem in
 * `warnings` (may be NULL). Unknown elements are ignored, for forward compatibility. */
VmdVmSettings *vmd_vm_settings_parse (const char *xml, GPtrArray *warnings);
/* The <settings> element for virDomainSetMetadata (without namespace prefix). */
char          *vmd_vm_settings_to_xml (const VmdVmSettings *settings);

const char    *vmd_host_sleep_action_to_string (VmdHostSleepAction action);
const char    *vmd_host_shutdown_action_to_string (VmdHostShutdownAction action);
/* An evdev node as settings may name it: absolute, under /dev/input/, no "." or ".."
 * component, udev's name characters only, at most VMD_EVDEV_PATH_MAX bytes
 * (VMD_ERROR_INVALID_ARGS). Says nothing of whether it exists. */
gboolean       vmd_evdev_path_validate (const char *path, GError **error);
const char    *vmd_lid_action_to_string (VmdLidAction action);

/* `vmdeskctl setup`: returns `domain_xml` with vmdesk's metadata (existing settings are
 * kept), the qemu-ga channel, the power-bridge channel org.vmdesk.power.0 and guest S3
 * enabled. The result is a complete persistent
 * definition for virDomainDefineXML. Idempotent: setting up twice changes nothing. */
char *vmd_domain_setup_xml (const char *domain_xml, GError **error);
/* The same XML written the way vmd_domain_setup_xml writes it, so the two can be diffed. */
char *vmd_domain_xml_reformat (const char *domain_xml, GError **error);

/* vmdesk's evdev inputs in domain XML (libxml2; docs/vm-settings.md#evdev-inputs). Each
 * carries a user alias VMD_EVDEV_ALIAS_PREFIX<N>, N its index in the settings, so vmdesk
 * only ever removes inputs it added. */
#define VMD_EVDEV_ALIAS_PREFIX "ua-vmdesk-evdev-"

typedef struct {
  char *alias;
  char *dev;    /* <source dev>, "" when missing */
  char *xml;    /* the whole <input> element, for virDomainDetachDeviceFlags */
} VmdEvdevInput;
void       vmd_evdev_input_free (VmdEvdevInput *input);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdEvdevInput, vmd_evdev_input_free)

/* A keyboard by udev's by-id/by-path naming ("...-event-kbd"). */
gboolean   vmd_evdev_path_is_keyboard (const char *path);
/* <input type='evdev'><source dev=PATH [grab='all' repeat='on']/><alias/></input>; a
 * keyboard gets grab='all' (its grab toggle moves every evdev input of the VM at once)
 * and repeat='on'. */
char      *vmd_evdev_input_to_xml (const char *path, guint index, gboolean keyboard);
/* vmdesk's evdev inputs of a domain XML in document order (VmdEvdevInput *); inputs
 * without our alias prefix are not listed. NULL with VMD_ERROR_FAILED when it does not parse. */
GPtrArray *vmd_evdev_inputs_from_domain_xml (const char *xml, GError **error);

/* State files (GKeyFile). Loading never fails: a missing file is empty, an unreadable one is
 * moved to PATH.corrupt with a warning. Saving is atomic and durable (mode 0600). */
GKeyFile *vmd_keyfile_load_or_quarantine (const char *path);
gboolean  vmd_keyfile_save (GKeyFile *kf, const char *path, GError **error);
/* mkdir -p with mode 0700, with the directory named in the error. */
gboolean  vmd_state_dir_ensure (const char *dir, GError **error);

G_END_DECLS
