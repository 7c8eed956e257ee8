/* test-agent-power.c: host batteries -> the guest's supply, and the sysfs it is written to
 * (a temporary directory laid out like /sys). */
#include "agent-power.h"
#include "agent-test.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

static AgentBattery
battery (const char *name, double percent, AgentBatteryState state, double energy,
         double full, double rate, int64_t tte, int64_t ttf)
{
  AgentBattery b = { .percent = percent, .state = state, .energy_wh = energy,
                     .energy_full_wh = full, .energy_rate_w = rate,
                     .time_to_empty_s = tte, .time_to_full_s = ttf };
  snprintf (b.name, sizeof b.name, "%s", name);
  return b;
}

static void
test_one_battery_as_the_host_says (void)
{
  AgentPower p = { .ac_online = false, .n_batteries = 1 };
  AgentSupply s;
  char line[512];

  p.batteries[0] = battery ("BAT0", 42.0, AGENT_BATTERY_DISCHARGING, 20.16, 48.0, 9.5, 3600, 0);
  agent_supply_from_power (&p, &s);
  CHECK (!s.ac_online && s.present);
  CHECK (s.status == AGENT_STATUS_DISCHARGING);
  CHECK (s.capacity == 42);
  CHECK (s.energy_now_uwh == 20160000 && s.energy_full_uwh == 48000000);
  CHECK (s.power_now_uw == 9500000);
  CHECK (s.time_to_empty_s == 3600 && s.time_to_full_s == 0);

  CHECK (agent_supply_format_vmdesk (&s, line, sizeof line) == strlen (line));
  CHECK_STR (line, "ac_online=0 present=1 status=discharging capacity=42 energy_now=20160000 "
                   "energy_full=48000000 energy_full_design=48000000 power_now=9500000 "
                   "time_to_empty_now=3600 time_to_full_now=0\n");
  CHECK (agent_supply_format_vmdesk (&s, line, 20) == 0);
}

static void
test_percent_without_energy (void)
{
  AgentPower p = { .ac_online = true, .n_batteries = 2 };
  AgentSupply s;

  p.batteries[0] = battery ("A", 30, AGENT_BATTERY_CHARGING, -1, -1, -1, -1, -1);
  p.batteries[1] = battery ("B", 61, AGENT_BATTERY_FULL, -1, -1, -1, -1, -1);
  agent_supply_from_power (&p, &s);
  CHECK (s.capacity == 46);   /* mean of 30 and 61, rounded */
  CHECK (s.status == AGENT_STATUS_CHARGING);
  CHECK (s.energy_now_uwh == 0 && s.energy_full_uwh == 0);
  CHECK (s.time_to_empty_s == -1 && s.time_to_full_s == -1);
}

static void
test_two_batteries_weighed_by_energy (void)
{
  AgentPower p = { .ac_online = false, .n_batteries = 2 };
  AgentSupply s;

  /* 80 of 90 Wh and 2 of 20 Wh: 82/110 = 74.5 %, not the mean 54.4 %. */
  p.batteries[0] = battery ("BAT0", 88.9, AGENT_BATTERY_DISCHARGING, 80, 90, 10, 28800, 0);
  p.batteries[1] = battery ("BAT1", 10, AGENT_BATTERY_PENDING_DISCHARGE, 2, 20, 0, 0, 0);
  agent_supply_from_power (&p, &s);
  CHECK (s.capacity == 75);
  CHECK (s.status == AGENT_STATUS_DISCHARGING);
  CHECK (s.energy_now_uwh == 82000000 && s.energy_full_uwh == 110000000);
  /* 82 Wh at 10 W. */
  CHECK (s.time_to_empty_s == 82 * 360);
}

static void
test_combined_status (void)
{
  static const struct {
    AgentBatteryState a, b;
    AgentSupplyStatus want;
  } cases[] = {
    { AGENT_BATTERY_FULL, AGENT_BATTERY_FULL, AGENT_STATUS_FULL },
    { AGENT_BATTERY_FULL, AGENT_BATTERY_CHARGING, AGENT_STATUS_CHARGING },
    { AGENT_BATTERY_CHARGING, AGENT_BATTERY_DISCHARGING, AGENT_STATUS_DISCHARGING },
    { AGENT_BATTERY_EMPTY, AGENT_BATTERY_FULL, AGENT_STATUS_DISCHARGING },
    { AGENT_BATTERY_PENDING_CHARGE, AGENT_BATTERY_FULL, AGENT_STATUS_NOT_CHARGING },
    { AGENT_BATTERY_UNKNOWN, AGENT_BATTERY_FULL, AGENT_STATUS_UNKNOWN },
  };

  for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
    {
      AgentPower p = { .ac_online = true, .n_batteries = 2 };
      AgentSupply s;

      p.batteries[0] = battery ("A", 50, cases[i].a, -1, -1, -1, -1, -1);
      p.batteries[1] = battery ("B", 50, cases[i].b, -1, -1, -1, -1, -1);
      agent_supply_from_power (&p, &s);
      if (s.status != cases[i].want)
        {
          fprintf (stderr, "status case %zu: got %d, want %d\n", i, s.status, cases[i].want);
          agent_test_failures++;
        }
    }
}

static void
test_no_battery_and_clamping (void)
{
  AgentPower p = { .ac_online = true, .n_batteries = 0 };
  AgentSupply s;
  char line[512];

  agent_supply_from_power (&p, &s);
  CHECK (s.ac_online && !s.present && s.status == AGENT_STATUS_UNKNOWN);
  agent_supply_format_vmdesk (&s, line, sizeof line);
  CHECK (strstr (line, "present=0 ") != NULL);

  /* The host's numbers disagree (energy above full): the module would refuse that. */
  p.n_batteries = 1;
  p.batteries[0] = battery ("X", 100, AGENT_BATTERY_FULL, 60, 50, 0, -1, -1);
  agent_supply_from_power (&p, &s);
  CHECK (s.energy_now_uwh == s.energy_full_uwh && s.capacity == 100);
}

/* --- writing to sysfs --------------------------------------------------------------- */

static char root[64];

static void
make_file (const char *rel)
{
  char path[256];
  FILE *f;

  snprintf (path, sizeof path, "%s/%s", root, rel);
  for (char *slash = strchr (path + strlen (root) + 1, '/'); slash; slash = strchr (slash + 1, '/'))
    {
      *slash = '\0';
      mkdir (path, 0700);
      *slash = '/';
    }
  f = fopen (path, "w");
  CHECK (f != NULL);
  if (f)
    {
      fputs ("previous value that is longer\n", f);
      fclose (f);
    }
}

static char *
read_file (const char *rel, char *buf, size_t size)
{
  char path[256];
  FILE *f;
  size_t n;

  snprintf (path, sizeof path, "%s/%s", root, rel);
  f = fopen (path, "r");
  if (!f)
    return NULL;
  n = fread (buf, 1, size - 1, f);
  buf[n] = '\0';
  fclose (f);
  return buf;
}

static void
remove_root (void)
{
  char cmd[128];

  snprintf (cmd, sizeof cmd, "rm -rf '%s'", root);
  CHECK (system (cmd) == 0);
}

static AgentSupply
discharging_42 (void)
{
  AgentPower p = { .ac_online = false, .n_batteries = 1 };
  AgentSupply s;

  p.batteries[0] = battery ("BAT0", 42.0, AGENT_BATTERY_DISCHARGING, 20.16, 48.0, 9.5, 3600, 0);
  agent_supply_from_power (&p, &s);
  return s;
}

static void
test_apply_without_backend (void)
{
  AgentSupply s = discharging_42 ();
  char error[256] = "";

  snprintf (root, sizeof root, "/tmp/agent-power-XXXXXX");
  CHECK (mkdtemp (root) != NULL);
  CHECK (agent_power_backend (root) == AGENT_POWER_BACKEND_NONE);
  CHECK (!agent_power_apply (root, &s, error, sizeof error));
  CHECK (strstr (error, "vmdesk_battery") != NULL);
  remove_root ();
}

static void
test_apply_test_power_fallback (void)
{
  AgentSupply s = discharging_42 ();
  char error[256] = "", buf[512];

  snprintf (root, sizeof root, "/tmp/agent-power-XXXXXX");
  CHECK (mkdtemp (root) != NULL);
  make_file ("module/test_power/parameters/ac_online");
  make_file ("module/test_power/parameters/battery_present");
  make_file ("module/test_power/parameters/battery_status");
  make_file ("module/test_power/parameters/battery_capacity");
  CHECK (agent_power_backend (root) == AGENT_POWER_BACKEND_TEST_POWER);
  CHECK (agent_power_apply (root, &s, error, sizeof error));
  CHECK_STR (read_file ("module/test_power/parameters/ac_online", buf, sizeof buf), "off\n");
  CHECK_STR (read_file ("module/test_power/parameters/battery_present", buf, sizeof buf),
             "true\n");
  CHECK_STR (read_file ("module/test_power/parameters/battery_status", buf, sizeof buf),
             "discharging\n");
  CHECK_STR (read_file ("module/test_power/parameters/battery_capacity", buf, sizeof buf),
             "42\n");

  /* vmdesk_battery wins when both are there. */
  make_file ("module/vmdesk_battery/parameters/state");
  CHECK (agent_power_backend (root) == AGENT_POWER_BACKEND_VMDESK);
  s.ac_online = true;
  CHECK (agent_power_apply (root, &s, error, sizeof error));
  CHECK_STR (read_file ("module/vmdesk_battery/parameters/state", buf, sizeof buf),
             "ac_online=1 present=1 status=discharging capacity=42 energy_now=20160000 "
             "energy_full=48000000 energy_full_design=48000000 power_now=9500000 "
             "time_to_empty_now=3600 time_to_full_now=0\n");
  CHECK_STR (read_file ("module/test_power/parameters/ac_online", buf, sizeof buf), "off\n");
  remove_root ();
}

static void
test_apply_reports_write_errors (void)
{
  AgentSupply s = discharging_42 ();
  char error[256] = "";
  char path[256];

  snprintf (root, sizeof root, "/tmp/agent-power-XXXXXX");
  CHECK (mkdtemp (root) != NULL);
  /* A directory where the parameter file should be: open() fails with EISDIR. */
  snprintf (path, sizeof path, "%s/module/vmdesk_battery/parameters/state", root);
  make_file ("module/vmdesk_battery/parameters/state");
  CHECK (unlink (path) == 0 && mkdir (path, 0700) == 0);
  CHECK (!agent_power_apply (root, &s, error, sizeof error));
  CHECK (strstr (error, "parameters/state") != NULL);
  remove_root ();
}

int
main (void)
{
  RUN (test_one_battery_as_the_host_says);
  RUN (test_percent_without_energy);
  RUN (test_two_batteries_weighed_by_energy);
  RUN (test_combined_status);
  RUN (test_no_battery_and_clamping);
  RUN (test_apply_without_backend);
  RUN (test_apply_test_power_fallback);
  RUN (test_apply_reports_write_errors);
  return TEST_RESULT ();
}
