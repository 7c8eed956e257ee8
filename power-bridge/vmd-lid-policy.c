/* vmd-lid-policy.c: which guest sees the lid closed. The user closed the lid on what was
 * on screen; a VM in the background was not part of that, and a docked laptop's lid
 * means nothing (logind's HandleLidSwitchDocked=ignore), so neither is told. */
#include "vmdesk-power.h"

gboolean
vmd_lid_guest_sees_closed (gboolean host_lid_closed, gboolean host_docked,
                           gboolean vm_on_screen, VmdLidAction on_lid_close)
{
  return host_lid_closed && !host_docked && vm_on_screen && on_lid_close == VMD_LID_FORWARD;
}
