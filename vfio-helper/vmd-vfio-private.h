/* vmd-vfio-private.h: what the files of vfio-helper share; nothing outside the folder
 * includes it (the daemon sees vmdesk-vfio.h only). */
#pragma once

#include "vmdesk-vfio.h"

#include <stdlib.h>

G_BEGIN_DECLS

/* --- vmd-vfio-parse.c: parsers of untrusted text (sysfs, /proc, journal values); pure,
 * bounded, fuzzed (tests/fuzz-parse.c) ---------------------------------------------------- */

/* A sysfs attribute is at most a page. */
#define VMD_SYSFS_ATTR_MAX 4096
/* Names used to build paths or shown to people: drivers, devices, connectors, sessions. */
#define VMD_NAME_MAX 64

/* "0x10de\n" -> 0x10de; the 0x prefix is optional, at most `max`. */
gboolean vmd_parse_hex (const char *text, guint64 max, guint64 *value);
/* [A-Za-z0-9_.:+-]{1,64} and not "." or "..": safe as one path component. */
gboolean vmd_parse_name_is_valid (const char *name);
/* Space-separated words, each a valid name; NULL if any is not, or more than `max_words`. */
GStrv    vmd_parse_words (const char *text, guint max_words);
/* A kernel capability bitmap ("120013 0 ... 1f"): words of 64 bits, most significant first,
 * into `bits[0..n_bits/64)` (bits[0] holds bits 0..63). FALSE if malformed. */
gboolean vmd_parse_bitmap (const char *text, guint64 *bits, guint n_words);

typedef struct {
  gboolean intel_on;    /* intel_iommu=on */
  gboolean intel_off;   /* intel_iommu=off */
  gboolean amd_on;      /* amd_iommu=on (or any amd_iommu= other than off) */
  gboolean amd_off;     /* amd_iommu=off */
  gboolean pt;          /* iommu=pt */
  gboolean iommu_off;   /* iommu=off */
  char    *tokens;      /* the IOMMU-related words, space-separated ("" if none) */
} VmdCmdlineIommu;
void     vmd_parse_cmdline_iommu (const char *cmdline, VmdCmdlineIommu *out);
void     vmd_cmdline_iommu_clear (VmdCmdlineIommu *cmdline);

/* From /proc/cpuinfo: "vmx", "svm" or NULL; and the vendor ("GenuineIntel", ...) or NULL. */
const char *vmd_parse_cpuinfo_virt (const char *cpuinfo);
char       *vmd_parse_cpuinfo_vendor (const char *cpuinfo);

/* From /proc/self/mountinfo: the device of the last mount on "/" (major:minor, and the mount
 * source such as /dev/nvme0n1p2). FALSE if there is none or the text is malformed. */
gboolean vmd_parse_mountinfo_root (const char *mountinfo, guint *major, guint *minor,
                                   char **source);

/* Text safe to show: control characters, backslashes and invalid UTF-8 escaped, at most
 * `max` bytes of input considered. */
char    *vmd_shown (const char *text, gsize max);
/* The strings of `strings` joined by `separator`. */
char    *vmd_join (GPtrArray *strings, const char *separator);

/* --- vmd-vfio-sysfs.c: bounded reads and checked writes under /sys ------------------------ */

/* The whole file if it holds at most `max` bytes, else an error naming the path. */
char      *vmd_sysfs_read (const char *path, gsize max, GError **error);
/* The first `max` bytes at most (/proc/cpuinfo on a big machine is long; the head will do). */
char      *vmd_sysfs_read_head (const char *path, gsize max, GError **error);
/* An attribute's first line without the newline: bounded, no NUL, valid UTF-8. */
char      *vmd_sysfs_read_attr (const char *dir, const char *name, GError **error);
/* The last component of a symlink's target (the `driver` link's driver name, the
 * `iommu_group` link's number). NULL without error when there is no link. */
char      *vmd_sysfs_link_name (const char *path, GError **error);
/* Names in a directory, sorted, at most 4096; NULL without error when it does not exist. */
GPtrArray *vmd_sysfs_list (const char *dir, GError **error);
gboolean   vmd_sysfs_exists (const char *path);
/* One write(2) of `value`; the kernel's errno becomes the error. */
gboolean   vmd_sysfs_write (const char *path, const char *value, GError **error);

/* --- vmd-vfio-names.c ------------------------------------------------------------------- */

const char *vmd_pci_class_name (gint64 class_code);
const char *vmd_pci_vendor_name (int vendor);

/* --- vmd-vfio-pci.c: one PCI function as sysfs shows it ---------------------------------- */

typedef struct {
  char     *name;        /* "eDP-1" */
  char     *status;      /* "connected", "disconnected", "unknown" */
  gboolean  internal;    /* eDP, LVDS, DSI: a built-in panel */
} VmdDrmConnector;

typedef struct {
  char       *bdf;              /* canonical */
  VmdVfioBdf  addr;
  gboolean    present;
  int         vendor;           /* -1: unreadable */
  int         device;
  gint64      class_code;       /* 24 bits; -1: unreadable */
  char       *driver;           /* NULL: none */
  gboolean    driver_valid;     /* the link's name is a usable driver name */
  char       *driver_override;  /* NULL: "(null)" */
  int         iommu_group;      /* -1: none */
  int         boot_vga;         /* -1: no attribute */
  GStrv       reset_methods;    /* NULL: no attribute (the kernel knows no reset) */
  char       *power_state;      /* NULL: unreadable */
  GPtrArray  *connectors;       /* VmdDrmConnector */
  GPtrArray  *framebuffers;     /* "fb0 (i915drmfb)": fbdev consoles on this function */
  GPtrArray  *problems;         /* one line each: attributes that could not be read */
} VmdPciFunction;

VmdPciFunction *vmd_pci_function_read (const char *bdf);
void            vmd_pci_function_free (VmdPciFunction *fn);
gboolean        vmd_pci_function_is_bridge (const VmdPciFunction *fn);
gboolean        vmd_pci_function_is_display (const VmdPciFunction *fn);
/* "NVIDIA VGA compatible controller [10de:2684]" */
char           *vmd_pci_function_describe (const VmdPciFunction *fn);
/* The driver now bound (re-read), NULL when none; the error names a bad link. */
char           *vmd_pci_driver_now (const char *bdf, GError **error);
char           *vmd_pci_override_now (const char *bdf, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdPciFunction, vmd_pci_function_free)

/* --- vmd-vfio-group.c: IOMMU groups and the group_viable rule ---------------------------- */

typedef enum {
  VMD_MEMBER_SELF,         /* the function asked about */
  VMD_MEMBER_SAME_DEVICE,  /* same domain:bus:slot: moves along */
  VMD_MEMBER_BRIDGE,       /* a bridge or root port: does not count */
  VMD_MEMBER_PARKED,       /* another endpoint, already on vfio-pci or driverless */
  VMD_MEMBER_FOREIGN,      /* another endpoint on a host driver: the group is not viable */
} VmdMemberKind;

const char   *vmd_member_kind_to_string (VmdMemberKind kind);
VmdMemberKind vmd_group_classify (const VmdVfioBdf *primary, const VmdPciFunction *member);

typedef struct {
  int        number;
  GPtrArray *members;    /* VmdPciFunction, sorted by BDF */
  GArray    *kinds;      /* VmdMemberKind, parallel to members */
  gboolean   viable;
} VmdIommuGroup;

/* NULL with an error when the group cannot be listed (dangling link, missing directory). */
VmdIommuGroup *vmd_iommu_group_read (const VmdPciFunction *fn, GError **error);
void           vmd_iommu_group_free (VmdIommuGroup *group);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdIommuGroup, vmd_iommu_group_free)

/* --- vmd-vfio-host.c: host-wide facts --------------------------------------------------- */

typedef enum {
  VMD_VFIO_PCI_LOADED,     /* the driver is registered (module loaded or built in) */
  VMD_VFIO_PCI_AVAILABLE,  /* a module exists but is not loaded */
  VMD_VFIO_PCI_MISSING,
} VmdVfioPciState;

typedef struct {
  char     *name;        /* the input device's name, shown */
  char     *controller;  /* BDF of the PCI function it hangs off; NULL: not on PCI (i8042) */
} VmdKeyboard;

typedef struct {
  char     *device;      /* "efi-framebuffer.0" */
  char     *driver;      /* "efi-framebuffer", NULL when unbound */
} VmdFirmwareFb;

typedef struct {
  char     *name;        /* "vtcon1" */
  char     *description; /* "frame buffer device" */
  gboolean  bound;
} VmdVtcon;

typedef struct {
  char           *cpu_vendor;   /* NULL: unreadable */
  const char     *virt_flag;    /* "vmx", "svm", NULL */
  gboolean        kvm_loaded;   /* /sys/class/misc/kvm */
  gboolean        dev_kvm;      /* /dev/kvm can be opened read-write */
  guint           iommu_groups;
  VmdCmdlineIommu cmdline;
  gboolean        cmdline_read;
  VmdVfioPciState vfio_pci;
  GPtrArray      *displays;     /* VmdPciFunction: every function of PCI class 0x03 */
  GPtrArray      *root_path;    /* BDFs of the PCI functions the root filesystem hangs off */
  char           *root_device;  /* "nvme0n1p2"; NULL when not found */
  GPtrArray      *keyboards;    /* VmdKeyboard */
  GPtrArray      *firmware_fbs; /* VmdFirmwareFb */
  GPtrArray      *vtcons;       /* VmdVtcon */
} VmdHost;

VmdHost *vmd_host_read (void);
void     vmd_host_free (VmdHost *host);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdHost, vmd_host_free)

/* --- vmd-vfio-analysis.c: the facts about one device that check and plan both judge ----- */

typedef struct {
  VmdPciFunction *fn;
  VmdIommuGroup  *group;        /* NULL: no IOMMU group */
  char           *group_error;  /* why the group could not be read, shown */
  GPtrArray      *functions;    /* VmdPciFunction (borrowed from group): what a bind moves */
  GPtrArray      *foreign;      /* VmdPciFunction (borrowed): what makes the group not viable */
  GPtrArray      *console;      /* what makes it the host console: "efi-framebuffer.0", "fb0 (..)" */
  GPtrArray      *panels;       /* connected built-in panels: "eDP-1" */
  gboolean        only_display; /* no other display device with a host driver remains */
  char           *holds_root;   /* BDF in the set the root filesystem hangs off, or NULL */
  GPtrArray      *keyboards_lost; /* names of keyboards behind the set */
  gboolean        last_keyboard;  /* and no keyboard would remain */
} VmdAnalysis;

VmdAnalysis *vmd_analysis_new (VmdHost *host, const char *bdf);
void         vmd_analysis_free (VmdAnalysis *analysis);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdAnalysis, vmd_analysis_free)

/* --- vmd-vfio-check.c / vmd-vfio-report.c ------------------------------------------------ */

struct _VmdVfioReport {
  VmdHost   *host;
  GPtrArray *analyses;   /* VmdAnalysis, in the order asked (or PCI order for all GPUs) */
  GPtrArray *findings;   /* VmdVfioFinding */
};

void vmd_finding_free (VmdVfioFinding *finding);
/* The concrete remedy for a missing IOMMU on this host (firmware setting, kernel words). */
const char *vmd_iommu_fix (const VmdHost *host);
/* JSON helpers shared by the report and the plan. */
void vmd_json_add_string_or_null (JsonBuilder *b, const char *key, const char *value);
void vmd_json_add_strings (JsonBuilder *b, const char *key, GPtrArray *strings);
void vmd_json_add_function (JsonBuilder *b, const VmdPciFunction *fn);

/* --- vmd-vfio-logind.c ------------------------------------------------------------------ */

typedef struct {
  char *id;
  char *type;     /* x11, wayland, mir, tty, ... */
  char *klass;    /* user, greeter, ... */
  char *seat;
  char *user;
} VmdSession;

void       vmd_session_free (VmdSession *session);
/* The sessions of type x11, wayland or mir. */
GPtrArray *vmd_logind_graphical_sessions (GDBusConnection *bus, GError **error);
/* TerminateSession for each, then wait (bounded) until logind has removed them all. */
gboolean   vmd_logind_terminate (GDBusConnection *bus, GPtrArray *sessions, GError **error);

/* --- vmd-vfio-plan.c internals the transaction needs ------------------------------------ */

typedef struct {
  char    *id;
  char    *message;
  char    *fix;
  gboolean forceable;
  gboolean overridden;   /* forceable and forced (or single-GPU enabled) */
} VmdRefusal;

struct _VmdVfioPlan {
  char             *bdf;
  VmdVfioPlanFlags  flags;
  VmdHost          *host;
  VmdAnalysis      *analysis;
  GPtrArray        *refusals;    /* VmdRefusal */
  GPtrArray        *sessions;    /* VmdSession: graphical sessions a hand-over ends */
  char             *sessions_error;
  gboolean          handover;    /* single-GPU hand-over: sessions, vtcons, framebuffer */
};

/* --- vmd-vfio-journal.c: the write-ahead journal ---------------------------------------- */

#define VMD_JOURNAL_MAX_SIZE  (256 * 1024)
#define VMD_JOURNAL_MAX_LINE  1024

typedef struct {
  char       *kind;     /* begin, function, vtcon, framebuffer, sessions, step, bound, ... */
  GPtrArray  *keys;     /* char*, parallel to values */
  GPtrArray  *values;
} VmdJournalRecord;

void        vmd_journal_record_free (VmdJournalRecord *record);
const char *vmd_journal_record_get (const VmdJournalRecord *record, const char *key);
/* One line: "kind key=value ... sum=<16 hex>\n"; values percent-encoded. */
char       *vmd_journal_format (const char *kind, const char *const *pairs);
/* The records of a journal's text, up to the first bad line (never NULL). A bad last line
 * is a torn write (*torn = TRUE): harmless, since no step follows a record before its fsync.
 * A bad line before the last is corruption: *corrupt_line is its number (else 0). */
GPtrArray  *vmd_journal_parse (const char *data, gsize length, gboolean *torn,
                               guint *corrupt_line);

typedef struct {
  char *bdf;
  char *driver;     /* NULL: driverless */
  char *override;   /* NULL: none */
} VmdJournalFunction;

typedef struct {
  char      *primary;
  char      *boot_id;
  gboolean   handover;
  guint      watchdog;      /* seconds; 0 none */
  GPtrArray *functions;     /* VmdJournalFunction, in bind order */
  GPtrArray *vtcons;        /* names of vtconsoles that were bound */
  GPtrArray *fbs;           /* VmdFirmwareFb that were bound */
  guint      n_steps;
  gboolean   bound;
  gint64     deadline;      /* CLOCK_BOOTTIME microseconds; 0 none */
  gboolean   confirmed;
  gboolean   undoing;
  gboolean   done;
  guint      corrupt_line;  /* 0: the whole journal was read */
} VmdTransaction;

VmdTransaction *vmd_transaction_new (void);
void            vmd_transaction_free (VmdTransaction *txn);
VmdTransaction *vmd_transaction_decode (GPtrArray *records, GError **error);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdTransaction, vmd_transaction_free)

typedef struct _VmdJournal VmdJournal;
/* STATE_DIR/vfio, created 0700. */
char       *vmd_journal_dir (const char *state_dir, GError **error);
char       *vmd_journal_path (const char *state_dir, const char *bdf);
/* An exclusive lock on STATE_DIR/vfio/lock held while the returned fd is open; fails at
 * once (VMD_VFIO_ERROR_BUSY) if another process holds it. */
int         vmd_journal_lock (const char *state_dir, GError **error);
/* A new journal (it must not exist); the file and its directory entry are fsynced. */
VmdJournal *vmd_journal_create (const char *state_dir, const char *bdf, GError **error);
/* An existing journal, to append to. */
VmdJournal *vmd_journal_open (const char *path, GError **error);
/* Appends one record and fsyncs it: the caller may act once this returns. */
gboolean    vmd_journal_append (VmdJournal *journal, const char *kind, const char *const *pairs,
                                GError **error);
/* The transaction as recorded. A torn last record is dropped. After a corrupt line the
 * records before it are decoded and `corrupt_line` says where it stopped; a journal whose
 * beginning cannot be decoded is an error (VMD_VFIO_ERROR_JOURNAL). */
VmdTransaction *vmd_journal_load (const char *path, GError **error);
/* Unlink the journal and fsync its directory. */
gboolean    vmd_journal_remove (VmdJournal *journal, GError **error);
void        vmd_journal_close (VmdJournal *journal);
const char *vmd_journal_get_path (VmdJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdJournal, vmd_journal_close)

/* The kernel's boot id; "" when unreadable. */
char       *vmd_boot_id (void);
gint64      vmd_boottime_us (void);

/* --- vmd-vfio-steps.c: one checked sysfs step each --------------------------------------- */

gboolean vmd_step_set_override (const char *bdf, const char *value, GError **error);
gboolean vmd_step_unbind (const char *bdf, const char *driver, GError **error);
gboolean vmd_step_probe (const char *bdf, const char *expect, GError **error);
gboolean vmd_step_bind (const char *bdf, const char *driver, GError **error);
gboolean vmd_step_vtcon (const char *vtcon, gboolean bind, GError **error);
gboolean vmd_step_fb_unbind (const VmdFirmwareFb *fb, GError **error);
gboolean vmd_step_fb_bind (const VmdFirmwareFb *fb, GError **error);
gboolean vmd_fb_is_bound (const VmdFirmwareFb *fb);
/* -1: unreadable */
int      vmd_vtcon_bound (const char *vtcon);

/* --- vmd-vfio-undo.c: back to the recorded originals (rollback, release, recovery) ------ */

/* Idempotent: each step is taken only if the state still differs, journaled first. */
gboolean vmd_transaction_undo (VmdTransaction *txn, VmdJournal *journal, const char *reason,
                               GError **error);

G_END_DECLS
