/* vmd-power-ops.h: the sleep plan's VM operations (VmdSleepOps) done with libvirt, and the
 * facts the plan needs about each VM (VmdSleepVm) read from libvirt. */
#pragma once

#include "vmd-libvirt.h"
#include "vmdesk-power.h"

#define VMD_TYPE_POWER_OPS (vmd_power_ops_get_type ())
G_DECLARE_FINAL_TYPE (VmdPowerOps, vmd_power_ops, VMD, POWER_OPS, GObject)

/* Called by set_time for the VM's power link (the guest agent resets its own clock from
 * the host's time message); returns whether a time message was queued. */
typedef gboolean (*VmdPowerSendTime) (const char *vm, gpointer user_data);

/* Operations run on worker threads and answer on the main loop. suspend completes when
 * libvirt reports the VM pmsuspended, wakeup when it runs again, hibernate when it is shut
 * off: the API calls return before the guest got there. */
VmdPowerOps       *vmd_power_ops_new (VmdLibvirt *libvirt, VmdPowerSendTime send_time,
                                      gpointer send_time_data);
const VmdSleepOps *vmd_power_ops_vtable (void);

/* The plan's view of the VMs: every VM of the inventory, with its domain id, host
 * devices, whether qemu-ga is connected and whether a managed-save image exists, read
 * on a worker thread. Returns a GArray of VmdSleepVm whose names it owns (free with
 * g_array_unref). */
void               vmd_power_ops_read_vms_async (VmdPowerOps *self, GAsyncReadyCallback callback,
                                                 gpointer user_data);
GArray            *vmd_power_ops_read_vms_finish (VmdPowerOps *self, GAsyncResult *result,
                                                  GError **error);
