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
} VmctlCommand;

typedef struct {
  VmctlCommand command;
  char        *vm;       /* NULL unless given; already validated */
  gboolean     json;
  gboolean     host;     /* switch --host */
  gboolean     dry_run;  /* setup --dry-run */
  gboolean     yes;      /* setup --yes */
} VmctlArgs;

void vmctl_args_free (VmctlArgs *args);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmctlArgs, vmctl_args_free)

/* argv as main() gets it. Options may come before or after the command; "--" ends them
 * (for a VM whose name starts with '-'). Fails with VMCTL_ERROR / VMCTL_EXIT_USAGE. */
VmctlArgs *vmctl_args_parse (int argc, const char *const *argv, GError **error);

/* The text of `vmdeskctl help`. */
const char *vmctl_usage (void);

G_END_DECLS
