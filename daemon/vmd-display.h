/* vmd-display.h: what a switcher needs to show VMs without opening libvirt itself:
 * Screenshot (a thumbnail of a VM's screen) and OpenDisplay (a socket to its SPICE or VNC
 * server), both behind the polkit action org.vmdesk.display. */
#pragma once

#include "vmd-manager.h"

#define VMD_TYPE_DISPLAY (vmd_display_get_type ())
G_DECLARE_FINAL_TYPE (VmdDisplay, vmd_display, VMD, DISPLAY, GObject)

/* Adds Screenshot and OpenDisplay to the manager's methods. */
VmdDisplay *vmd_display_new (VmdManager *manager, VmdLibvirt *libvirt);
