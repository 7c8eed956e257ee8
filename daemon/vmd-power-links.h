/* vmd-power-links.h: one VmdGuestLink per running VM with power-channel = yes, reached
 * through libvirt (vmd-power-channel.c), reconnected with backoff, and kept up to date
 * with the host's power state and the lid as each guest should see it. */
#pragma once

#include "vmd-libvirt.h"
#include "vmdesk-power.h"

#define VMD_TYPE_POWER_LINKS (vmd_power_links_get_type ())
G_DECLARE_FINAL_TYPE (VmdPowerLinks, vmd_power_links, VMD, POWER_LINKS, GObject)

/* Reconnect delays after a link closed or could not be opened. */
#define VMD_POWER_LINK_BACKOFF_FIRST_MS 1000
#define VMD_POWER_LINK_BACKOFF_MAX_MS   30000

/* Signal "changed" (const char *vm): a VM's link appeared, became ready, or went. */
VmdPowerLinks *vmd_power_links_new (VmdLibvirt *libvirt);
/* Connects the VMs that want a link now; later ones follow libvirt's events. */
void           vmd_power_links_start (VmdPowerLinks *self);

/* Sent to every guest (each link sends only changes, and only what its agent can do). */
void           vmd_power_links_set_power (VmdPowerLinks *self, const VmdPowerState *state);
/* The inputs of vmd_lid_guest_sees_closed(); each VM's on-lid-close comes from its
 * settings. `on_screen` is "" for the host. */
void           vmd_power_links_set_lid (VmdPowerLinks *self, gboolean lid_closed, gboolean docked,
                                        const char *on_screen);
/* RESUME also sends the host's time to every guest. */
void           vmd_power_links_send_sleep (VmdPowerLinks *self, VmdSleepPhase phase);
/* Whether `vm` has a ready link whose agent sets its clock: a time message is queued. */
gboolean       vmd_power_links_send_time (VmdPowerLinks *self, const char *vm);
/* A button press for `vm`'s guest; fails when no ready link can take it. */
gboolean       vmd_power_links_press (VmdPowerLinks *self, const char *vm, VmdButton button,
                                      GError **error);
/* aa{sv}: every VM with power-channel = yes: name, link (off|connecting|connected|ready|
 * waiting|absent), caps (as), lid-closed (b, as its guest sees it), problem (s). */
GVariant      *vmd_power_links_to_variant (VmdPowerLinks *self);
