/* agent-power.c: host power state -> the guest's battery and AC power supplies. */
#include "agent-power.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#define VMDESK_STATE "module/vmdesk_battery/parameters/state"
#define TEST_POWER_PARAMS "module/test_power/parameters"

static int
clamp_int (double v)
{
  if (!(v > 0))   /* also NaN */
    return 0;
  if (v >= INT_MAX)
    return INT_MAX;
  return (int) llround (v);
}

static AgentSupplyStatus
status_of (AgentBatteryState state)
{
  switch (state)
    {
    case AGENT_BATTERY_CHARGING:
      return AGENT_STATUS_CHARGING;
    case AGENT_BATTERY_DISCHARGING:
    case AGENT_BATTERY_EMPTY:            /* an empty battery that still runs the host */
      return AGENT_STATUS_DISCHARGING;
    case AGENT_BATTERY_FULL:
      return AGENT_STATUS_FULL;
    /* The kernel has no "pending" states; "Not charging" is what the battery does. */
    case AGENT_BATTERY_PENDING_CHARGE:
    case AGENT_BATTERY_PENDING_DISCHARGE:
      return AGENT_STATUS_NOT_CHARGING;
    case AGENT_BATTERY_UNKNOWN:
      break;
    }
  return AGENT_STATUS_UNKNOWN;
}

/* What the combined battery does: any battery discharging means the machine runs on
 * battery; "full" only when all are. */
static AgentSupplyStatus
combined_status (const AgentPower *power)
{
  bool seen[AGENT_STATUS_FULL + 1] = { false };
  size_t n_full = 0;

  for (size_t i = 0; i < power->n_batteries; i++)
    {
      AgentSupplyStatus s = status_of (power->batteries[i].state);
      seen[s] = true;
      n_full += s == AGENT_STATUS_FULL;
    }
  if (seen[AGENT_STATUS_DISCHARGING])
    return AGENT_STATUS_DISCHARGING;
  if (seen[AGENT_STATUS_CHARGING])
    return AGENT_STATUS_CHARGING;
  if (n_full == power->n_batteries)
    return AGENT_STATUS_FULL;
  if (seen[AGENT_STATUS_NOT_CHARGING])
    return AGENT_STATUS_NOT_CHARGING;
  return AGENT_STATUS_UNKNOWN;
}

void
agent_supply_from_power (const AgentPower *power, AgentSupply *supply)
{
  double energy = 0, full = 0, rate = 0, percent_sum = 0;
  bool energies_known = true;
  int64_t max_empty = -1, max_full = -1;

  memset (supply, 0, sizeof *supply);
  supply->ac_online = power->ac_online;
  supply->present = power->n_batteries > 0;
  supply->time_to_empty_s = supply->time_to_full_s = -1;
  if (!supply->present)
    {
      supply->status = AGENT_STATUS_UNKNOWN;
      return;
    }

  for (size_t i = 0; i < power->n_batteries; i++)
    {
      const AgentBattery *b = &power->batteries[i];
      percent_sum += b->percent;
      if (b->energy_wh < 0 || b->energy_full_wh <= 0)
        energies_known = false;
      else
        {
          energy += b->energy_wh;
          full += b->energy_full_wh;
        }
      if (b->energy_rate_w > 0)
        rate += b->energy_rate_w;
      if (b->time_to_empty_s > max_empty)
        max_empty = b->time_to_empty_s;
      if (b->time_to_full_s > max_full)
        max_full = b->time_to_full_s;
    }
  supply->status = combined_status (power);

  /* By energy when every battery says it (a 90 Wh and a 20 Wh battery do not weigh the
   * same), else the mean of the percentages. */
  if (energies_known && full > 0)
    {
      if (energy > full)
        energy = full;
      supply->capacity = clamp_int (100.0 * energy / full);
      supply->energy_now_uwh = clamp_int (energy * 1e6);
      supply->energy_full_uwh = clamp_int (full * 1e6);
    }
  else
    supply->capacity = clamp_int (percent_sum / power->n_batteries);
  if (supply->capacity > 100)
    supply->capacity = 100;
  supply->power_now_uw = clamp_int (rate * 1e6);

  /* One battery: the host's own estimates. Several: from the combined energy and rate
   * when known, otherwise the longest estimate any battery gave. */
  if (power->n_batteries == 1 || !(energies_known && rate > 0))
    {
      supply->time_to_empty_s = max_empty >= 0 ? clamp_int ((double) max_empty) : -1;
      supply->time_to_full_s = max_full >= 0 ? clamp_int ((double) max_full) : -1;
    }
  else if (supply->status == AGENT_STATUS_DISCHARGING)
    supply->time_to_empty_s = clamp_int (energy / rate * 3600.0);
  else if (supply->status == AGENT_STATUS_CHARGING)
    supply->time_to_full_s = clamp_int ((full - energy) / rate * 3600.0);
}

static const char *
vmdesk_status_name (AgentSupplyStatus status)
{
  switch (status)
    {
    case AGENT_STATUS_CHARGING:
      return "charging";
    case AGENT_STATUS_DISCHARGING:
      return "discharging";
    case AGENT_STATUS_NOT_CHARGING:
      return "not-charging";
    case AGENT_STATUS_FULL:
      return "full";
    case AGENT_STATUS_UNKNOWN:
      break;
    }
  return "unknown";
}

size_t
agent_supply_format_vmdesk (const AgentSupply *supply, char *buf, size_t size)
{
  /* The module's own names and units; unknown values are written as 0 (its "unknown"). */
  int n = snprintf (buf, size,
                    "ac_online=%d present=%d status=%s capacity=%d energy_now=%d "
                    "energy_full=%d energy_full_design=%d power_now=%d "
                    "time_to_empty_now=%d time_to_full_now=%d\n",
                    supply->ac_online, supply->present, vmdesk_status_name (supply->status),
                    supply->capacity, supply->energy_now_uwh, supply->energy_full_uwh,
                    supply->energy_full_uwh, supply->power_now_uw,
                    supply->time_to_empty_s > 0 ? supply->time_to_empty_s : 0,
                    supply->time_to_full_s > 0 ? supply->time_to_full_s : 0);

  return n > 0 && (size_t) n < size ? (size_t) n : 0;
}

static bool
path_exists (const char *sysfs_root, const char *rel)
{
  char path[PATH_MAX];

  return snprintf (path, sizeof path, "%s/%s", sysfs_root, rel) < (int) sizeof path &&
         access (path, F_OK) == 0;
}

AgentPowerBackend
agent_power_backend (const char *sysfs_root)
{
  if (path_exists (sysfs_root, VMDESK_STATE))
    return AGENT_POWER_BACKEND_VMDESK;
  if (path_exists (sysfs_root, TEST_POWER_PARAMS "/battery_capacity"))
    return AGENT_POWER_BACKEND_TEST_POWER;
  return AGENT_POWER_BACKEND_NONE;
}

/* One write(2) of the whole value: sysfs hands the kernel exactly one store per write.
 * O_TRUNC as a shell redirection does: sysfs ignores it, a plain file (tests) needs it. */
static bool
write_file (const char *sysfs_root, const char *rel, const char *value,
            char *error, size_t error_size)
{
  char path[PATH_MAX];
  size_t len = strlen (value);
  ssize_t n;
  int fd, saved;

  if (snprintf (path, sizeof path, "%s/%s", sysfs_root, rel) >= (int) sizeof path)
    {
      snprintf (error, error_size, "%s/%s: path too long", sysfs_root, rel);
      return false;
    }
  fd = open (path, O_WRONLY | O_TRUNC | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0)
    {
      snprintf (error, error_size, "%s: %s", path, strerror (errno));
      return false;
    }
  do
    n = write (fd, value, len);
  while (n < 0 && errno == EINTR);
  saved = errno;
  close (fd);
  if (n != (ssize_t) len)
    {
      snprintf (error, error_size, "%s: %s", path, n < 0 ? strerror (saved) : "short write");
      return false;
    }
  return true;
}

/* test_power has no energy or time, and takes one value per parameter. */
static bool
apply_test_power (const char *sysfs_root, const AgentSupply *supply,
                  char *error, size_t error_size)
{
  static const char *const status_names[] = {
    /* test_power keeps its old status for names it does not know, such as "unknown" */
    [AGENT_STATUS_UNKNOWN] = "unknown\n",
    [AGENT_STATUS_CHARGING] = "charging\n",
    [AGENT_STATUS_DISCHARGING] = "discharging\n",
    [AGENT_STATUS_NOT_CHARGING] = "not-charging\n",
    [AGENT_STATUS_FULL] = "full\n",
  };
  char capacity[16];

  snprintf (capacity, sizeof capacity, "%d\n", supply->capacity);
  return write_file (sysfs_root, TEST_POWER_PARAMS "/ac_online",
                     supply->ac_online ? "on\n" : "off\n", error, error_size) &&
         write_file (sysfs_root, TEST_POWER_PARAMS "/battery_present",
                     supply->present ? "true\n" : "false\n", error, error_size) &&
         write_file (sysfs_root, TEST_POWER_PARAMS "/battery_status",
                     status_names[supply->status], error, error_size) &&
         write_file (sysfs_root, TEST_POWER_PARAMS "/battery_capacity", capacity,
                     error, error_size);
}

bool
agent_power_apply (const char *sysfs_root, const AgentSupply *supply,
                   char *error, size_t error_size)
{
  char line[512];

  switch (agent_power_backend (sysfs_root))
    {
    case AGENT_POWER_BACKEND_VMDESK:
      if (!agent_supply_format_vmdesk (supply, line, sizeof line))
        {
          snprintf (error, error_size, "power state does not fit");
          return false;
        }
      return write_file (sysfs_root, VMDESK_STATE, line, error, error_size);
    case AGENT_POWER_BACKEND_TEST_POWER:
      return apply_test_power (sysfs_root, supply, error, error_size);
    case AGENT_POWER_BACKEND_NONE:
      break;
    }
  snprintf (error, error_size, "neither vmdesk_battery nor test_power is loaded");
  return false;
}
