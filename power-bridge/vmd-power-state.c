/* vmd-power-state.c: the host's power state as plain data, and the one rule that decides
 * when it is worth telling anyone about a change. */
#include "vmdesk-power.h"

#include <math.h>
#include <string.h>

const char *
vmd_battery_state_to_string (VmdBatteryState state)
{
  switch (state)
    {
    case VMD_BATTERY_CHARGING:          return "charging";
    case VMD_BATTERY_DISCHARGING:       return "discharging";
    case VMD_BATTERY_EMPTY:             return "empty";
    case VMD_BATTERY_FULL:              return "full";
    case VMD_BATTERY_PENDING_CHARGE:    return "pending-charge";
    case VMD_BATTERY_PENDING_DISCHARGE: return "pending-discharge";
    case VMD_BATTERY_UNKNOWN:
    default:                            return "unknown";
    }
}

gboolean
vmd_battery_name_is_valid (const char *name)
{
  gsize len = 0;

  if (name == NULL)
    return FALSE;
  for (const char *p = name; *p; p++, len++)
    if (!g_ascii_isalnum (*p) && *p != '_' && *p != '-')
      return FALSE;
  return len >= 1 && len <= VMD_BATTERY_NAME_MAX;
}

static gboolean
battery_differs (const VmdBattery *a, const VmdBattery *b)
{
  return strcmp (a->name, b->name) != 0
         || a->state != b->state
         || fabs (a->percent - b->percent) >= 1.0;
}

gboolean
vmd_power_state_differs (const VmdPowerState *before, const VmdPowerState *now)
{
  if (before->ac_online != now->ac_online
      || before->warning_level != now->warning_level
      || before->display_present != now->display_present
      || before->n_batteries != now->n_batteries)
    return TRUE;
  if (now->display_present && battery_differs (&before->display, &now->display))
    return TRUE;
  for (guint i = 0; i < now->n_batteries && i < VMD_POWER_MAX_BATTERIES; i++)
    if (battery_differs (&before->batteries[i], &now->batteries[i]))
      return TRUE;
  return FALSE;
}
