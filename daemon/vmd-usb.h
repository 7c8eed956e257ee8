/* vmd-usb.h: the USB router in the daemon: udev in, libvirt out, policy files from the
 * config dir, D-Bus methods and signals through the manager. */
#pragma once

#include "vmd-manager.h"
#include "vmdesk-usb-router.h"

#define VMD_TYPE_USB (vmd_usb_get_type ())
G_DECLARE_FINAL_TYPE (VmdUsb, vmd_usb, VMD, USB, GObject)

/* Rules come from CONFIG_DIR/usb.rules and CONFIG_DIR/usb.rules.d/ *.rules; a policy that
 * does not load is an error here (at start there is no old policy to keep). */
VmdUsb   *vmd_usb_new (VmdManager *manager, VmdLibvirt *libvirt, const char *config_dir,
                       const char *state_dir, guint ask_timeout_ms, GError **error);
/* Starts watching udev; devices present now are routed once libvirt is synced. */
void      vmd_usb_start (VmdUsb *self);
/* Re-reads the rules; on error the old policy stays and the error says FILE:LINE:COL. */
gboolean  vmd_usb_reload_policy (VmdUsb *self, GError **error);

GVariant *vmd_usb_info_to_variant (const VmdUsbDeviceInfo *info);
