/* vfio-cli.h: the vmdesk-vfio command line: arguments, output and exit codes
 * (docs/vfio.md lists the codes; they are stable for scripts). */
#pragma once

#include "vmdesk-vfio.h"

G_BEGIN_DECLS

typedef enum {
  VFIO_EXIT_OK           = 0,
  VFIO_EXIT_FAILED       = 1,  /* a step failed (rolled back), I/O, logind, ... */
  VFIO_EXIT_USAGE        = 2,  /* unknown command or option, malformed BDF */
  VFIO_EXIT_CHECK_WARN   = 3,  /* check: the worst finding is a warning */
  VFIO_EXIT_CHECK_FAIL   = 4,  /* check: at least one finding fails */
  VFIO_EXIT_REFUSED      = 5,  /* plan/bind: refused (see the refusals) */
  VFIO_EXIT_NOT_FOUND    = 6,  /* no such device, or no binding/journal for it */
  VFIO_EXIT_INCONSISTENT = 7,  /* an undo failed: the journal stays, run recover */
  VFIO_EXIT_BUSY         = 8,  /* another transaction holds the device or the lock */
} VfioExit;

typedef enum {
  VFIO_CMD_HELP,
  VFIO_CMD_CHECK,
  VFIO_CMD_PLAN,
  VFIO_CMD_BIND,
  VFIO_CMD_RELEASE,
  VFIO_CMD_RECOVER,
  VFIO_CMD_CONFIRM,
  VFIO_CMD_WATCHDOG,
  VFIO_CMD_HOSTDEV,
} VfioCommand;

#define VFIO_DEFAULT_STATE_DIR "/var/lib/vmdesk"

typedef struct {
  VfioCommand command;
  GPtrArray  *bdfs;        /* as given; the library validates them */
  gboolean    json;
  gboolean    force;
  gboolean    single_gpu;
  guint       watchdog;    /* seconds, 0: none */
  char       *state_dir;
} VfioArgs;

void        vfio_args_free (VfioArgs *args);
/* NULL with an error whose code is VFIO_EXIT_USAGE. */
VfioArgs   *vfio_args_parse (int argc, const char *const *argv, GError **error);
const char *vfio_usage (void);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VfioArgs, vfio_args_free)

#define VFIO_CLI_ERROR (vfio_cli_error_quark ())
GQuark      vfio_cli_error_quark (void);

/* The exit code for a library error. */
VfioExit    vfio_exit_for_error (const GError *error);
/* "vmdesk-vfio: message" on stderr, or {"error": {...}} on stdout with --json; returns the
 * exit code. */
int         vfio_report_error (const GError *error, gboolean json);
void        vfio_print_json (JsonNode *node);

G_END_DECLS
