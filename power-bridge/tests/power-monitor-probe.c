/* power-monitor-probe: the UPower and logind monitors and the sleep inhibitor on the
 * system bus, every event printed as one JSON line on stdout, for the python tests that
 * drive python-dbusmock (test_power_monitors.py).
 *
 *   power-monitor-probe [--handles N] [--critical-percent P]
 *
 * On "sleeping" and "shutting-down" it takes N inhibitor handles (inside the signal, as an
 * owner must); each line "release" on stdin releases one. "quit" or end of input stops it. */
#include "vmdesk-power.h"

#include <gio/gunixinputstream.h>
#include <json-glib/json-glib.h>
#include <stdio.h>
#include <string.h>

typedef struct {
  GMainLoop         *loop;
  VmdUpowerMonitor  *upower;
  VmdLogindMonitor  *logind;
  VmdSleepInhibitor *inhibitor;
  GDataInputStream  *input;
  GPtrArray         *handles;
  int                handles_per_sleep;
} Probe;

static void
emit (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *text = NULL;

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  text = json_to_string (root, FALSE);
  printf ("%s\n", text);
  fflush (stdout);
  g_object_unref (b);
}

static JsonBuilder *
event (const char *name)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "event");
  json_builder_add_string_value (b, name);
  return b;
}

static void
add_bool (JsonBuilder *b, const char *name, gboolean value)
{
  json_builder_set_member_name (b, name);
  json_builder_add_boolean_value (b, value);
}

static void
add_battery (JsonBuilder *b, const VmdBattery *bat)
{
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  json_builder_add_string_value (b, bat->name);
  json_builder_set_member_name (b, "percent");
  json_builder_add_double_value (b, bat->percent);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, vmd_battery_state_to_string (bat->state));
  json_builder_set_member_name (b, "time_to_empty_s");
  json_builder_add_int_value (b, bat->time_to_empty_s);
  json_builder_set_member_name (b, "energy_wh");
  json_builder_add_double_value (b, bat->energy_wh);
  json_builder_end_object (b);
}

static void
on_power_changed (VmdUpowerMonitor *upower, Probe *p)
{
  const VmdPowerState *s = vmd_upower_monitor_get_state (upower);
  JsonBuilder *b = event ("power");

  add_bool (b, "ac_online", s->ac_online);
  json_builder_set_member_name (b, "warning_level");
  json_builder_add_int_value (b, s->warning_level);
  json_builder_set_member_name (b, "display");
  if (s->display_present)
    add_battery (b, &s->display);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "batteries");
  json_builder_begin_array (b);
  for (guint i = 0; i < s->n_batteries; i++)
    add_battery (b, &s->batteries[i]);
  json_builder_end_array (b);
  emit (b);
}

static void
on_critical (VmdUpowerMonitor *upower, Probe *p)
{
  emit (event ("critical"));
}

static void
on_upower_available (GObject *object, GParamSpec *pspec, Probe *p)
{
  JsonBuilder *b = event ("upower");

  add_bool (b, "available", vmd_upower_monitor_is_available (p->upower));
  emit (b);
}

static void
on_logind_available (GObject *object, GParamSpec *pspec, Probe *p)
{
  JsonBuilder *b = event ("logind");

  add_bool (b, "available", vmd_logind_monitor_is_available (p->logind));
  add_bool (b, "lid_closed", vmd_logind_monitor_get_lid_closed (p->logind));
  add_bool (b, "docked", vmd_logind_monitor_get_docked (p->logind));
  add_bool (b, "preparing_for_sleep", vmd_logind_monitor_get_preparing_for_sleep (p->logind));
  add_bool (b, "preparing_for_shutdown",
            vmd_logind_monitor_get_preparing_for_shutdown (p->logind));
  json_builder_set_member_name (b, "inhibit_delay_max");
  json_builder_add_int_value (b, (gint64) vmd_logind_monitor_get_inhibit_delay_max (p->logind));
  emit (b);
}

static void
on_lid (GObject *object, GParamSpec *pspec, Probe *p)
{
  JsonBuilder *b = event ("lid");

  add_bool (b, "closed", vmd_logind_monitor_get_lid_closed (p->logind));
  add_bool (b, "docked", vmd_logind_monitor_get_docked (p->logind));
  emit (b);
}

static void
on_prepare_for_shutdown (VmdLogindMonitor *logind, gboolean start, Probe *p)
{
  JsonBuilder *b = event ("prepare-for-shutdown");

  add_bool (b, "start", start);
  add_bool (b, "preparing_for_shutdown", vmd_logind_monitor_get_preparing_for_shutdown (logind));
  emit (b);
}

/* "sleeping" or "shutting-down": the owner's handles, taken inside the signal. */
static void
take_handles (VmdSleepInhibitor *inhibitor, Probe *p, const char *name)
{
  JsonBuilder *b = event (name);

  for (int i = 0; i < p->handles_per_sleep; i++)
    g_ptr_array_add (p->handles, vmd_sleep_inhibitor_take (inhibitor));
  json_builder_set_member_name (b, "handles");
  json_builder_add_int_value (b, p->handles->len);
  add_bool (b, "held", vmd_sleep_inhibitor_is_held (inhibitor));
  emit (b);
}

static void
on_sleeping (VmdSleepInhibitor *inhibitor, Probe *p)
{
  take_handles (inhibitor, p, "sleeping");
}

static void
on_shutting_down (VmdSleepInhibitor *inhibitor, Probe *p)
{
  take_handles (inhibitor, p, "shutting-down");
}

static void
on_resuming (VmdSleepInhibitor *inhibitor, Probe *p)
{
  emit (event ("resuming"));
}

static void
on_shutdown_cancelled (VmdSleepInhibitor *inhibitor, Probe *p)
{
  JsonBuilder *b = event ("shutdown-cancelled");

  add_bool (b, "preparing_for_shutdown", vmd_logind_monitor_get_preparing_for_shutdown (p->logind));
  emit (b);
}

static void
on_held (GObject *object, GParamSpec *pspec, Probe *p)
{
  JsonBuilder *b = event ("inhibitor");

  add_bool (b, "held", vmd_sleep_inhibitor_is_held (p->inhibitor));
  emit (b);
}

static void read_command (Probe *p);

static void
on_command (GObject *source, GAsyncResult *res, gpointer data)
{
  Probe *p = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *line = g_data_input_stream_read_line_finish (p->input, res, NULL, &error);

  if (line == NULL || strcmp (line, "quit") == 0)
    {
      g_main_loop_quit (p->loop);
      return;
    }
  if (strcmp (line, "release") == 0 && p->handles->len > 0)
    {
      JsonBuilder *b = event ("released");

      vmd_sleep_inhibitor_release (p->inhibitor, g_ptr_array_steal_index (p->handles, 0));
      json_builder_set_member_name (b, "left");
      json_builder_add_int_value (b, p->handles->len);
      emit (b);
    }
  read_command (p);
}

static void
read_command (Probe *p)
{
  g_data_input_stream_read_line_async (p->input, G_PRIORITY_DEFAULT, NULL, on_command, p);
}

int
main (int argc, char **argv)
{
  g_autoptr(GOptionContext) options = g_option_context_new ("- print power events as JSON");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GInputStream) stdin_stream = NULL;
  double critical_percent = 0;
  Probe p = { 0 };
  GOptionEntry entries[] = {
    { "handles", 0, 0, G_OPTION_ARG_INT, &p.handles_per_sleep, "handles to take on sleep", "N" },
    { "critical-percent", 0, 0, G_OPTION_ARG_DOUBLE, &critical_percent, "critical level", "P" },
    { NULL, 0, 0, 0, NULL, NULL, NULL },
  };

  g_option_context_add_main_entries (options, entries, NULL);
  if (!g_option_context_parse (options, &argc, &argv, &error))
    {
      g_printerr ("%s\n", error->message);
      return 2;
    }
  /* Before the main loop: the one synchronous call of this program. */
  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (bus == NULL)
    {
      g_printerr ("system bus: %s\n", error->message);
      return 1;
    }
  p.loop = g_main_loop_new (NULL, FALSE);
  p.handles = g_ptr_array_new ();
  p.upower = vmd_upower_monitor_new (bus);
  vmd_upower_monitor_set_critical_percent (p.upower, critical_percent);
  p.logind = vmd_logind_monitor_new (bus);
  p.inhibitor = vmd_sleep_inhibitor_new (p.logind);
  g_signal_connect (p.upower, "changed", G_CALLBACK (on_power_changed), &p);
  g_signal_connect (p.upower, "critical", G_CALLBACK (on_critical), &p);
  g_signal_connect (p.upower, "notify::available", G_CALLBACK (on_upower_available), &p);
  g_signal_connect (p.logind, "notify::available", G_CALLBACK (on_logind_available), &p);
  g_signal_connect (p.logind, "notify::lid-closed", G_CALLBACK (on_lid), &p);
  g_signal_connect (p.logind, "prepare-for-shutdown", G_CALLBACK (on_prepare_for_shutdown), &p);
  g_signal_connect (p.inhibitor, "sleeping", G_CALLBACK (on_sleeping), &p);
  g_signal_connect (p.inhibitor, "resuming", G_CALLBACK (on_resuming), &p);
  g_signal_connect (p.inhibitor, "shutting-down", G_CALLBACK (on_shutting_down), &p);
  g_signal_connect (p.inhibitor, "shutdown-cancelled", G_CALLBACK (on_shutdown_cancelled), &p);
  g_signal_connect (p.inhibitor, "notify::held", G_CALLBACK (on_held), &p);

  stdin_stream = g_unix_input_stream_new (0, FALSE);
  p.input = g_data_input_stream_new (stdin_stream);
  read_command (&p);
  emit (event ("started"));
  g_main_loop_run (p.loop);

  for (guint i = 0; i < p.handles->len; i++)
    vmd_sleep_inhibitor_release (p.inhibitor, p.handles->pdata[i]);
  g_ptr_array_unref (p.handles);
  g_object_unref (p.input);
  g_object_unref (p.inhibitor);
  g_object_unref (p.logind);
  g_object_unref (p.upower);
  g_main_loop_unref (p.loop);
  return 0;
}
