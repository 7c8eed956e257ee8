/* vmdeskctl-args.h: the command line, parsed and checked before anything touches the bus. */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

typedef enum {
  VMCTL_CMD_HELP,
  VMCTL_CMD_LIST,
  VMCTL_CMD_STATUS,
  VMCTL_CMD_SWITCH,
  VMCTL_CMD_VERSION,
  VMCTL_CMD_SETUP,
  VMCTL_CMD_POLICY_CHECK,
  VMCTL_CMD_POLICY_EXPLAIN,
  VMCTL_CMD_POLICY_SHOW,
  VMCTL_CMD_POLICY_RELOAD,
  VMCTL_CMD_USB_LIST,
  VMCTL_CMD_USB_ATTACH,
  VMCTL_CMD_USB_DETACH,
  VMCTL_CMD_USB_FORGET,
  VMCTL_CMD_USB_ANSWER,
  VMCTL_CMD_POWER,
  VMCTL_CMD_POWER_BUTTON,
  VMCTL_CMD_START,
  VMCTL_CMD_PASSTHROUGH_LIST,
  VMCTL_CMD_PASSTHROUGH_CHECK,
  VMCTL_CMD_PASSTHROUGH_PLAN,
} VmctlCommand;

typedef struct {
  VmctlCommand command;
  char        *vm;             /* a VM argument (validated), NULL unless given */
  GStrv        words;          /* every argument after the command's own words, as given */
  gboolean     json;
  gboolean     host;           /* switch --host */
  gboolean     dry_run;        /* setup --dry-run */
  gboolean     yes;            /* setup --yes */
  GStrv        files;          /* policy check FILE..., policy explain --rules FILE...; or NULL */
  char        *device;         /* policy explain --device SYSFS_PATH */
  char        *device_json;    /* policy explain --device-json FILE */
  char        *on_screen;      /* policy explain --on-screen VM (validated) */
  GStrv        running;        /* policy explain --running VM,... (validated), or NULL */
  GStrv        no_auto_assign; /* policy explain --no-auto-assign VM,... (validated), or NULL */
  char        *usb_id;         /* usb attach|detach|forget|answer DEV: a port such as 1-2.3 (validated) */
  gboolean     remember;       /* usb attach|answer --remember */
  char        *button;         /* power button VM BUTTON: "power" or "sleep" */
  GStrv        pci;            /* passthrough check|plan: PCI addresses, canonical ("0000:01:00.0") */
  GStrv        vms;            /* passthrough check|plan: VM names (validated); plan's also in vm */
  gboolean     single_gpu;     /* passthrough plan PCI --single-gpu */
} VmctlArgs;

void vmctl_args_free (VmctlArgs *args);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmctlArgs, vmctl_args_free)

/* argv as main() gets it. Commands are one word (`list`) or a group and a word (`policy
 * check`). Options may come before or after the command; those that take a value take the
 * next argument or `--opt=value`; "--" ends them (for a VM whose name starts with '-').
 * Fails with VMCTL_ERROR / VMCTL_EXIT_USAGE. */
VmctlArgs *vmctl_args_parse (int argc, const char *const *argv, GError **error);

/* The text of `vmdeskctl help`. */
const char *vmctl_usage (void);

G_END_DECLS
