/* vmd-input-follow.h: keyboard and mouse follow the screen. A VM whose settings name
 * evdev-inputs gets those host input devices (<input type='evdev'>) while it is on screen
 * and gives them back when another VM or the host goes on screen (docs/vm-settings.md). */
#pragma once

#include "vmd-manager.h"

#define VMD_TYPE_INPUT_FOLLOW (vmd_input_follow_get_type ())
G_DECLARE_FINAL_TYPE (VmdInputFollow, vmd_input_follow, VMD, INPUT_FOLLOW, GObject)

/* Follows the manager's "focus-changed" and libvirt's VM states; on each (re)connection,
 * running VMs are reconciled: the on-screen one gets its inputs, every other one loses
 * the inputs vmdesk added. */
VmdInputFollow *vmd_input_follow_new (VmdManager *manager, VmdLibvirt *libvirt);
