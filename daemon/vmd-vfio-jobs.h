/* vmd-vfio-jobs.h: the pass-through work that blocks (libvirt calls, vfio-helper), run on
 * the daemon's one vfio worker thread (vmd-vfio.c queues it). */
#pragma once

#include "vmd-vfio-ops.h"

#include <libvirt/libvirt.h>

/* A device vmdesk bound: the BDF bind was given, and every function it moved; `error` is
 * set on one whose give-back failed (it stays on vfio-pci, its journal kept). */
typedef struct {
  char *bdf;
  GStrv functions;
  char *error;
} VmdVfioBound;

/* What a failed give-back's message ends with: the device is not lost to the host. */
#define VMD_VFIO_RETRY_NOTE \
  "what it could not undo stays on vfio-pci; vmdeskd retries the give-back at the next " \
  "StartVM of a VM that names it and at its own next start"

void vmd_vfio_bound_free (VmdVfioBound *bound);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdVfioBound, vmd_vfio_bound_free)

/* Before VM `name` starts: reads its persistent settings and definition; when the settings
 * name devices, checks and plans all of them (nothing is touched if one is refused), binds
 * each, and makes the definition's vmdesk hostdevs match (virDomainDefineXML, only when
 * they differ; stale ones of ours are removed even when no device is named). Any failure
 * gives back what was bound, and the error says how that went; a device whose give-back
 * failed is added to `stuck` (VmdVfioBound with its `error`). Returns the VmdVfioBound
 * array (empty when the VM names no device or already runs); `*single_gpu` is the VM's
 * hand-over opt-in. Errors name the VM and the device and keep vfio-helper's
 * VMD_VFIO_ERROR codes. */
GPtrArray  *vmd_vfio_job_prepare (virConnectPtr conn, const char *name, const VmdVfioOps *ops,
                                  gpointer ops_data, gboolean *single_gpu, GPtrArray *stuck,
                                  GError **error);

/* FALSE only when libvirt says domain `name` does not run now or is gone; TRUE when it runs
 * or that cannot be told (no connection, an error): a device must not leave a VM that may
 * be using it. */
gboolean    vmd_vfio_job_vm_may_run (virConnectPtr conn, const char *name);

/* PCI function -> name of the active domain whose live definition passes it (any hostdev,
 * whoever added it). */
GHashTable *vmd_vfio_job_active_users (virConnectPtr conn, GError **error);
