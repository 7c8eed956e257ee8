/* vmd-vfio.h: VFIO pass-through in the daemon. Before StartVM (the manager's start hook) the
 * devices a VM's settings name are checked, bound to vfio-pci and put into its definition;
 * a failed start gives them back, and so does libvirt's stopped event. At start-up,
 * interrupted transactions are recovered and devices no running VM uses are given back.
 * Check and plan results go to D-Bus for the switcher. Design: docs/vfio.md. */
#pragma once

#include "vmd-manager.h"
#include "vmd-vfio-ops.h"

#define VMD_TYPE_VFIO (vmd_vfio_get_type ())
G_DECLARE_FINAL_TYPE (VmdVfio, vmd_vfio, VMD, VFIO, GObject)

/* Installs itself as the manager's start hook and adds its D-Bus methods. `ops` does the
 * blocking work on `ops_data` (freed with `ops_data_free`); the daemon passes
 * vmd_vfio_library_ops (), tests a fake. */
VmdVfio            *vmd_vfio_new (VmdManager *manager, VmdLibvirt *libvirt, const VmdVfioOps *ops,
                                  gpointer ops_data, GDestroyNotify ops_data_free);
/* Queues the recovery of interrupted transactions: call before libvirt is started, so that
 * it runs before any StartVM can bind. Devices a complete bind still holds are given back
 * once libvirt is connected, unless a running VM passes them. */
void                vmd_vfio_start (VmdVfio *self);

/* The hook vmd_vfio_new installs (for tests that drive a start without polkit). */
const VmdStartHook *vmd_vfio_start_hook (void);
