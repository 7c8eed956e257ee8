/* vfio-cli.c: main() of vmdesk-vfio: one command per run, each a thin layer over the
 * library, exiting with the codes of vfio-cli.h. */
#include "vfio-cli.h"

#include <libxml/tree.h>
#include <stdio.h>

static int
print_result (JsonNode *json, char *text, gboolean as_json)
{
  g_autoptr(JsonNode) node = json;
  g_autofree char *owned = text;

  if (as_json)
    vfio_print_json (node);
  else
    {
      fputs (owned, stdout);
      fflush (stdout);
    }
  return VFIO_EXIT_OK;
}

/* The bus is only asked when the plan needs logind; without one, the plan says so. */
static GDBusConnection *
system_bus (void)
{
  g_autoptr(GError) error = NULL;
  GDBusConnection *bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);

  if (bus == NULL)
    g_debug ("no system bus: %s", error->message);
  return bus;
}

static VmdVfioPlanFlags
plan_flags (const VfioArgs *args)
{
  return (args->single_gpu ? VMD_VFIO_PLAN_SINGLE_GPU : 0)
       | (args->force ? VMD_VFIO_PLAN_FORCE : 0);
}

static int
cmd_check (const VfioArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) bdfs = g_ptr_array_new ();
  g_autoptr(VmdVfioReport) report = NULL;
  VmdVfioSeverity worst;

  for (guint i = 0; i < args->bdfs->len; i++)
    g_ptr_array_add (bdfs, args->bdfs->pdata[i]);
  g_ptr_array_add (bdfs, NULL);
  report = vmd_vfio_check ((const char *const *) bdfs->pdata, &error);
  if (report == NULL)
    return vfio_report_error (error, args->json);
  print_result (vmd_vfio_report_to_json (report), vmd_vfio_report_to_text (report), args->json);
  worst = vmd_vfio_report_worst (report);
  return worst == VMD_VFIO_FAIL ? VFIO_EXIT_CHECK_FAIL
       : worst == VMD_VFIO_WARN ? VFIO_EXIT_CHECK_WARN : VFIO_EXIT_OK;
}

static int
cmd_plan (const VfioArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = system_bus ();
  g_autoptr(VmdVfioPlan) plan = vmd_vfio_plan_new (args->bdfs->pdata[0], plan_flags (args),
                                                   bus, &error);

  if (plan == NULL)
    return vfio_report_error (error, args->json);
  print_result (vmd_vfio_plan_to_json (plan), vmd_vfio_plan_to_text (plan), args->json);
  return vmd_vfio_plan_check_allowed (plan, NULL) ? VFIO_EXIT_OK : VFIO_EXIT_REFUSED;
}

static JsonNode *
bound_json (const VmdVfioPlan *plan, const char *state_dir)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "bdf");
  json_builder_add_string_value (b, vmd_vfio_plan_get_bdf (plan));
  json_builder_set_member_name (b, "bound");
  json_builder_add_boolean_value (b, TRUE);
  json_builder_set_member_name (b, "functions");
  json_builder_begin_array (b);
  for (guint i = 0; i < vmd_vfio_plan_get_n_functions (plan); i++)
    json_builder_add_string_value (b, vmd_vfio_plan_get_function (plan, i));
  json_builder_end_array (b);
  json_builder_set_member_name (b, "state_dir");
  json_builder_add_string_value (b, state_dir);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static int
cmd_bind (const VfioArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = system_bus ();
  g_autoptr(VmdVfioPlan) plan = vmd_vfio_plan_new (args->bdfs->pdata[0], plan_flags (args),
                                                   bus, &error);
  g_autoptr(GString) text = g_string_new (NULL);

  if (plan == NULL || !vmd_vfio_bind (plan, args->state_dir, args->watchdog, bus, &error))
    return vfio_report_error (error, args->json);
  g_string_append_printf (text, "%s: bound to vfio-pci:", vmd_vfio_plan_get_bdf (plan));
  for (guint i = 0; i < vmd_vfio_plan_get_n_functions (plan); i++)
    g_string_append_printf (text, " %s", vmd_vfio_plan_get_function (plan, i));
  g_string_append (text, "\n");
  if (args->watchdog)
    g_string_append_printf (text, "watchdog: the display comes back in %u s unless "
                            "'vmdesk-vfio confirm %s' runs first\n", args->watchdog,
                            vmd_vfio_plan_get_bdf (plan));
  return print_result (bound_json (plan, args->state_dir), g_string_free (g_steal_pointer (&text), FALSE),
                        args->json);
}

static JsonNode *
done_json (const char *bdf, const char *what)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "bdf");
  json_builder_add_string_value (b, bdf);
  json_builder_set_member_name (b, what);
  json_builder_add_boolean_value (b, TRUE);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static int
cmd_release (const VfioArgs *args)
{
  g_autoptr(GError) error = NULL;
  const char *bdf = args->bdfs->pdata[0];

  if (!vmd_vfio_release (bdf, args->state_dir,
                         args->force ? VMD_VFIO_RELEASE_FORCE : VMD_VFIO_RELEASE_DEFAULT, &error))
    return vfio_report_error (error, args->json);
  return print_result (done_json (bdf, "released"),
                        g_strdup_printf ("%s: given back to the host\n", bdf), args->json);
}

static int
cmd_confirm (const VfioArgs *args)
{
  g_autoptr(GError) error = NULL;
  const char *bdf = args->bdfs->pdata[0];

  if (!vmd_vfio_confirm (bdf, args->state_dir, &error))
    return vfio_report_error (error, args->json);
  return print_result (done_json (bdf, "confirmed"),
                        g_strdup_printf ("%s: confirmed, watchdog disarmed\n", bdf), args->json);
}

static int
cmd_recover (const VfioArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) recovered = vmd_vfio_recover (args->state_dir, &error);
  g_autoptr(GString) text = g_string_new (NULL);
  int code = VFIO_EXIT_OK;

  if (recovered == NULL)
    return vfio_report_error (error, args->json);
  if (recovered->len == 0)
    g_string_append (text, "nothing to recover\n");
  for (guint i = 0; i < recovered->len; i++)
    {
      VmdVfioRecovered *r = recovered->pdata[i];

      g_string_append_printf (text, "%-13s %-12s %s\n", r->bdf ? r->bdf : "-",
                              vmd_vfio_recovered_action_to_string (r->action), r->detail);
      if (r->action == VMD_VFIO_RECOVERED_FAILED)
        code = VFIO_EXIT_INCONSISTENT;
    }
  print_result (vmd_vfio_recovered_to_json (recovered),
                 g_string_free (g_steal_pointer (&text), FALSE), args->json);
  return code;
}

typedef struct {
  GMainLoop *loop;
  gboolean   fired;
  GError    *error;
} Watch;

static void
on_watchdog_done (const char *bdf, gboolean fired, const GError *release_error, gpointer data)
{
  Watch *watch = data;

  watch->fired = fired;
  if (release_error)
    watch->error = g_error_copy (release_error);
  g_main_loop_quit (watch->loop);
}

static int
cmd_watchdog (const VfioArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  Watch watch = { loop, FALSE, NULL };
  g_autoptr(VmdVfioWatchdog) watchdog = NULL;
  const char *bdf = args->bdfs->pdata[0];
  g_autoptr(JsonBuilder) b = json_builder_new ();
  int code;

  watchdog = vmd_vfio_watchdog_new (bdf, args->state_dir, on_watchdog_done, &watch, &error);
  if (watchdog == NULL)
    return vfio_report_error (error, args->json);
  /* One line when armed, so a supervisor (or a test) knows a confirm will be seen. */
  fprintf (stderr, "vmdesk-vfio: %s: watchdog armed\n", bdf);
  g_main_loop_run (loop);
  if (watch.error)
    {
      code = vfio_report_error (watch.error, args->json);
      g_error_free (watch.error);
      return code;
    }
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "bdf");
  json_builder_add_string_value (b, bdf);
  json_builder_set_member_name (b, "fired");
  json_builder_add_boolean_value (b, watch.fired);
  json_builder_end_object (b);
  return print_result (json_builder_get_root (b),
                        g_strdup_printf (watch.fired ? "%s: the VM did not start in time; the "
                                                       "host display is back\n"
                                                     : "%s: disarmed (confirmed or released)\n",
                                         bdf), args->json);
}

static int
cmd_hostdev (const VfioArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdVfioPlan) plan = vmd_vfio_plan_new (args->bdfs->pdata[0], VMD_VFIO_PLAN_DEFAULT,
                                                   NULL, &error);

  if (plan == NULL)
    return vfio_report_error (error, FALSE);
  for (guint i = 0; i < vmd_vfio_plan_get_n_functions (plan); i++)
    {
      xmlNode *hostdev = vmd_vfio_hostdev_new (vmd_vfio_plan_get_function (plan, i), NULL);
      xmlBuffer *buf = xmlBufferCreate ();

      xmlNodeDump (buf, NULL, hostdev, 0, 1);
      printf ("%s\n", (const char *) xmlBufferContent (buf));
      xmlBufferFree (buf);
      xmlFreeNode (hostdev);
    }
  return VFIO_EXIT_OK;
}

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VfioArgs) args = vfio_args_parse (argc, (const char *const *) argv, &error);

  if (args == NULL)
    return vfio_report_error (error, FALSE);
  switch (args->command)
    {
    case VFIO_CMD_HELP:
      fputs (vfio_usage (), stdout);
      return VFIO_EXIT_OK;
    case VFIO_CMD_CHECK:
      return cmd_check (args);
    case VFIO_CMD_PLAN:
      return cmd_plan (args);
    case VFIO_CMD_BIND:
      return cmd_bind (args);
    case VFIO_CMD_RELEASE:
      return cmd_release (args);
    case VFIO_CMD_RECOVER:
      return cmd_recover (args);
    case VFIO_CMD_CONFIRM:
      return cmd_confirm (args);
    case VFIO_CMD_WATCHDOG:
      return cmd_watchdog (args);
    case VFIO_CMD_HOSTDEV:
      return cmd_hostdev (args);
    }
  g_assert_not_reached ();
}
