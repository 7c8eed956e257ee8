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

/* What a host power-off (logind's PrepareForShutdown) gives the guests to shut down or be
 * saved, counted from the announcement; 60 s unless set. */
void      vmd_power_set_host_shutdown_timeout (VmdPower *self, guint seconds);
/* Whether a host shutdown is under way (not one logind cancelled), and how much of its time
 * is left. */
gboolean  vmd_power_get_host_shutdown (VmdPower *self, gint64 *left_us);
/* For the daemon's stop: completes once no host shutdown is under way (at once when none
 * is), so SIGTERM during a power-off does not cut the guests' shutdowns and saves short.
 * Bounded by the shutdown's own deadline. */
void      vmd_power_drain_async (VmdPower *self, GAsyncReadyCallback callback,
                                 gpointer user_data);
gboolean  vmd_power_drain_finish (VmdPower *self, GAsyncResult *result, GError **error);
