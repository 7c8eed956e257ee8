/* vmd-vfio-ops.h: what the daemon asks of vfio-helper, as a table, so that tests can put a
 * fake behind the daemon's logic (vmd-vfio.c, vmd-vfio-jobs.c). Every function blocks:
 * they run on the daemon's one vfio worker, never on the main loop. */
#pragma once

#include <gio/gio.h>

typedef struct {
  /* check and plan every device of a VM; touches nothing. Fails with
   * VMD_VFIO_ERROR_REFUSED naming each device, each failing finding and refusal, and its fix. */
  gboolean   (*preflight)  (gpointer data, const char *const *bdfs, gboolean single_gpu,
                            GError **error);
  /* plan + transactional bind; returns the functions now on vfio-pci, in bind order. */
  GStrv      (*bind)       (gpointer data, const char *bdf, gboolean single_gpu, GError **error);
  gboolean   (*release)    (gpointer data, const char *bdf, GError **error);
  /* A single-GPU hand-over's VM runs: the journal's watchdog deadline no longer applies. */
  gboolean   (*confirm)    (gpointer data, const char *bdf, GError **error);
  /* vmd_vfio_recover: an array of VmdVfioRecovered. */
  GPtrArray *(*recover)    (gpointer data, GError **error);
  /* The JSON documents of docs/vfio.md, for D-Bus. */
  char      *(*check_json) (gpointer data, const char *const *bdfs, GError **error);
  char      *(*plan_json)  (gpointer data, const char *bdf, gboolean single_gpu, GError **error);
} VmdVfioOps;

/* The real ones: vfio-helper with journals under STATE_DIR/vfio/, logind on `system_bus`
 * (may be NULL), and a watchdog deadline of `watchdog_seconds` on single-GPU binds. */
typedef struct _VmdVfioLibrary VmdVfioLibrary;
VmdVfioLibrary   *vmd_vfio_library_new (const char *state_dir, GDBusConnection *system_bus,
                                        guint watchdog_seconds);
void              vmd_vfio_library_free (VmdVfioLibrary *library);
const VmdVfioOps *vmd_vfio_library_ops (void);
