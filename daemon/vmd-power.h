/* vmd-power.h: the power bridge in the daemon: UPower and logind in, the guests' power
 * links and the sleep plan out, its D-Bus method and signals through the manager. */
#pragma once

#include "vmd-manager.h"

#define VMD_TYPE_POWER (vmd_power_get_type ())
G_DECLARE_FINAL_TYPE (VmdPower, vmd_power, VMD, POWER, GObject)

/* `bus`: the system bus, where UPower and logind are. The sleep journal lives in
 * `state_dir`. `critical_percent` > 0 also counts the battery as critical at or below that
 * percentage (0: only UPower's WarningLevel "action"). */
VmdPower *vmd_power_new (VmdManager *manager, VmdLibvirt *libvirt, GDBusConnection *bus,
                         const char *state_dir, double critical_percent, GError **error);
/* Connects the guests that run now; brings back VMs a previous daemon quiesced as soon as
 * libvirt is synced and logind says the host is awake. */
void      vmd_power_start (VmdPower *self);
