/* vmd-usb-hub-hashes.h (private): the identity hash of each hub that devices are plugged
 * into, read once rather than for every device.
 *
 * A device's policy view holds its parent's hash (`parent-hash` rules). The parent is a hub
 * or root hub that stays while devices come and go below it, and its hash (ids, serial,
 * descriptors) cannot change without a uevent of its own: the watcher forgets a hub's hash
 * at each of its uevents (unplug, change, a new plug at the same path). */
#pragma once

#include "vmdesk-usb-router.h"

typedef struct _VmdUsbHubHashes VmdUsbHubHashes;

VmdUsbHubHashes *vmd_usb_hub_hashes_new (void);
void             vmd_usb_hub_hashes_free (VmdUsbHubHashes *self);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUsbHubHashes, vmd_usb_hub_hashes_free)

/* The hash of the device at `syspath` (NULL: it has none, e.g. the PCI parent of a root
 * hub), read from sysfs the first time. FALSE when it cannot be read; nothing is kept then. */
gboolean         vmd_usb_hub_hashes_lookup (VmdUsbHubHashes *self, const char *syspath,
                                            const char **hash, GError **error);
/* A uevent for `syspath`: its hash is read again when next asked for. */
void             vmd_usb_hub_hashes_forget (VmdUsbHubHashes *self, const char *syspath);

/* vmd_usb_present_from_sysfs() with the parent's hash from `hubs`. `syspath` is the real
 * path udev gives (/sys/devices/...), so that its parent is its directory. */
VmdUsbPresent   *vmd_usb_present_from_sysfs_cached (const char *syspath, VmdUsbHubHashes *hubs,
                                                    GError **error);
