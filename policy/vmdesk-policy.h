/* vmdesk-policy.h: the USB policy language (docs/policy.md): USBGuard's rule syntax with VM
 * targets. Rules are parsed and compiled once into an immutable, refcounted VmdPolicy that
 * answers "where does this device go?" for the router and for `vmdeskctl policy explain`. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The configured rule files: SYSCONFDIR/usb.rules, then SYSCONFDIR/usb.rules.d/ *.rules. */
#define VMD_POLICY_MAIN_FILE_NAME  "usb.rules"
#define VMD_POLICY_DROPIN_DIR_NAME "usb.rules.d"

/* Bounds on untrusted input. */
#define VMD_POLICY_MAX_LINE       (64 * 1024)        /* bytes in one rule line */
#define VMD_POLICY_MAX_FILE_SIZE  (16 * 1024 * 1024) /* bytes in one rule file */
#define VMD_POLICY_MAX_RULES      100000             /* rules in one policy */
#define VMD_USB_STRING_MAX        (16 * 1024)        /* bytes in one device string */

#define VMD_POLICY_ERROR (vmd_policy_error_quark ())
GQuark vmd_policy_error_quark (void);
typedef enum {
  VMD_POLICY_ERROR_PARSE,    /* a rule file has errors; the message has one line per error */
  VMD_POLICY_ERROR_IO,       /* a file could not be read */
  VMD_POLICY_ERROR_INVALID,  /* a device description (JSON, sysfs) is malformed */
} VmdPolicyError;

/* A USB device as the policy sees it. Strings are raw bytes from sysfs (may be non-UTF-8,
 * may contain anything but NUL); NULL when absent. */
typedef struct {
  guint16  vendor_id;
  guint16  product_id;
  char    *name;          /* product string */
  char    *manufacturer;
  char    *serial;
  char    *port;          /* "1-2.3" */
  char    *connect_type;  /* "hotplug", "hardwired", "unknown", "not used", or NULL */
  GArray  *interfaces;    /* guint32: class << 16 | subclass << 8 | protocol, in interface order */
  char    *hash;          /* vmd_usb_device_hash(); NULL: unknown */
  char    *parent_hash;
} VmdUsbDevice;

VmdUsbDevice *vmd_usb_device_new (void);
VmdUsbDevice *vmd_usb_device_copy (const VmdUsbDevice *device);
void          vmd_usb_device_free (VmdUsbDevice *device);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUsbDevice, vmd_usb_device_free)

/* Appends one interface (class, subclass, protocol) to device->interfaces. */
void          vmd_usb_device_add_interface (VmdUsbDevice *device, guint8 iclass, guint8 isubclass,
                                            guint8 iprotocol);

/* The identity hash: base64 (with padding) of SHA-256 over "vvvv:pppp" (lowercase hex),
 * a 0 byte, the serial's bytes (none when NULL), a 0 byte, then the raw descriptors as
 * sysfs' `descriptors` file has them. Layout and rationale: docs/policy.md. */
char *vmd_usb_device_hash (guint16 vendor_id, guint16 product_id, const char *serial,
                           const guint8 *descriptors, gsize descriptors_len);

/* The JSON shape of `vmdeskctl policy explain --device-json`: vendor, product (4 hex digits),
 * serial, name, manufacturer, port, connect_type, interfaces ["CC:SS:PP", ...], optional hash,
 * parent_hash. Strict: unknown members, wrong types or bad hex are errors naming the field. */
VmdUsbDevice *vmd_usb_device_from_json (const char *data, gssize length, GError **error);

/* Reads a device from its sysfs directory (/sys/bus/usb/devices/1-2 or its target): idVendor,
 * idProduct, serial, product, manufacturer, the interfaces of the active configuration (from
 * `descriptors`, else <dev>/<dev>:C.I/bInterface{Class,SubClass,Protocol}), port (the directory's name),
 * port/connect_type, the hash from `descriptors`, the parent hash from the parent device.
 * Plain bounded file reads, no udev. Only idVendor and idProduct are required. */
VmdUsbDevice *vmd_usb_device_from_sysfs (const char *syspath, GError **error);
/* The same, with the parent hash given instead of read: for a caller that keeps each hub's
 * hash (vmd_usb_device_hash_from_sysfs) rather than reading it again for every device. */
VmdUsbDevice *vmd_usb_device_from_sysfs_with_parent_hash (const char *syspath, const char *parent_hash,
                                                          GError **error);
/* The identity hash of the device in sysfs directory `dir` (idVendor, idProduct, serial,
 * descriptors). TRUE with *hash NULL when `dir` has no USB ids (a root hub's parent, a PCI
 * device) or no descriptors. */
gboolean      vmd_usb_device_hash_from_sysfs (const char *dir, char **hash, GError **error);

/* Appends the interfaces (guint32 class << 16 | subclass << 8 | protocol, alternate setting 0)
 * of configuration `active_config` (0: the first) found in raw USB descriptors, as sysfs's
 * `descriptors` attribute holds them. FALSE: the bytes are not well-formed descriptors. */
gboolean vmd_usb_interfaces_from_descriptors (const guint8 *data, gsize length, guint active_config,
                                              GArray *interfaces);

typedef enum { VMD_POLICY_ATTACH, VMD_POLICY_ASK, VMD_POLICY_HOST, VMD_POLICY_DENY } VmdPolicyTarget;
const char *vmd_policy_target_to_string (VmdPolicyTarget target); /* "attach","ask","host","deny" */

typedef struct {
  const char         *on_screen;    /* VM on screen, NULL: the host */
  const char *const  *running;      /* NULL-terminated, may be NULL; the VM on screen counts as running */
  /* May the VM receive devices by the built-in default? NULL callback: yes. */
  gboolean          (*auto_assign) (const char *vm, gpointer user_data);
  gpointer            user_data;
} VmdPolicyContext;

typedef struct {
  VmdPolicyTarget target;
  char           *vm;          /* ATTACH: the VM (with @focused resolved); else NULL */
  GStrv           candidates;  /* ASK: candidate VMs (possibly none); else NULL */
  gboolean        focused;     /* the rule said attach @focused */
  gboolean        sticky;
  gboolean        follow;
  char           *file;        /* rule's file, as given; NULL for a built-in default */
  guint           line;        /* rule's line (built-in: its 1-based index) */
  char           *label;       /* rule's label (valid UTF-8), or NULL */
  char           *rule_text;   /* the rule, normalised, for explain (valid UTF-8) */
  char           *reason;      /* one human sentence, valid UTF-8 */
} VmdPolicyDecision;
VmdPolicyDecision *vmd_policy_decision_copy (const VmdPolicyDecision *decision);
void vmd_policy_decision_free (VmdPolicyDecision *decision);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdPolicyDecision, vmd_policy_decision_free)

typedef struct _VmdPolicy VmdPolicy;   /* immutable once built; refcounted */

/* One text; `filename` names it in errors and decisions (NULL: "<string>"). */
VmdPolicy *vmd_policy_new_from_string (const char *text, gssize length, const char *filename, GError **error);
/* MAIN then DIR/ *.rules (names starting with '.' skipped) in strcmp order; NULL main/dir:
 * skip; a missing MAIN or DIR is no error. Returns the files read in *files_read (optional;
 * set also when loading fails). Every error of every file is reported, one line each, as
 * "FILE:LINE:COL: message" (or "FILE: message" when it cannot be read); a policy with errors
 * loads nothing. */
VmdPolicy *vmd_policy_new_from_files (const char *main_file, const char *dropin_dir, GStrv *files_read, GError **error);
/* Explicit list of files (vmdeskctl --rules / policy check); each must exist. */
VmdPolicy *vmd_policy_new_from_file_list (const char *const *files, GError **error);
VmdPolicy *vmd_policy_ref (VmdPolicy *policy);
void       vmd_policy_unref (VmdPolicy *policy);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdPolicy, vmd_policy_unref)
guint      vmd_policy_get_n_rules (VmdPolicy *policy);   /* user rules, not counting defaults */
/* First match wins; the built-in defaults end in a rule that matches everything, so this
 * never returns NULL. `context` may be NULL (the host on screen, nothing running). */
VmdPolicyDecision *vmd_policy_decide (VmdPolicy *policy, const VmdUsbDevice *device, const VmdPolicyContext *context);
/* The whole policy as rule text, user rules with "# FILE:LINE" comments, then the built-in defaults. */
char      *vmd_policy_to_text (VmdPolicy *policy);

/* Reads a sysfs attribute of at most `max_size` bytes (more is an error), which one read
 * returns whole (a short read is its end). NUL-terminated; G_FILE_ERROR on failure. */
char    *vmd_read_sysfs_bounded (const char *path, gsize max_size, gsize *length, GError **error);

G_END_DECLS
