/* cmd-policy-daemon.c: `vmdeskctl policy show|reload`: the policy the daemon has loaded
 * (policy check and explain work offline, in cmd-policy-check.c and cmd-policy-explain.c). */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-output.h"

static void
add_files (JsonBuilder *b, const char *const *files)
{
  json_builder_set_member_name (b, "files");
  json_builder_begin_array (b);
  for (guint i = 0; files && files[i]; i++)
    json_builder_add_string_value (b, files[i]);
  json_builder_end_array (b);
}

int
vmctl_cmd_policy_show (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autofree char *text = NULL, *last_error = NULL;
  g_auto(GStrv) files = NULL;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || !vmctl_client_get_policy (bus, &text, &files, &last_error, &error))
    return vmctl_report_error (error, args->json);
  if (args->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "text");
      json_builder_add_string_value (b, text);
      add_files (b, (const char *const *) files);
      vmctl_json_add_string_or_null (b, "last_error", *last_error ? last_error : NULL);
      json_builder_end_object (b);
      vmctl_print_json_builder (b);
      return 0;
    }
  {
    g_autofree char *shown = vmctl_escape (text, VMCTL_ESCAPE_KEEP_LINES);
    vmctl_write (stdout, shown);
  }
  if (*last_error)
    {
      g_autofree char *shown = vmctl_escape (last_error, VMCTL_ESCAPE_KEEP_LINES);
      g_autofree char *warning = g_strdup_printf ("vmdeskctl: warning: the last reload failed, "
                                                  "this is the policy from before it:\n%s\n", shown);
      vmctl_write (stderr, warning);
    }
  return 0;
}

int
vmctl_cmd_policy_reload (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_auto(GStrv) files = NULL;
  guint rules = 0;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || !vmctl_client_reload_policy (bus, &rules, &files, &error))
    return vmctl_report_error (error, args->json);
  if (args->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "rules");
      json_builder_add_int_value (b, rules);
      add_files (b, (const char *const *) files);
      json_builder_end_object (b);
      vmctl_print_json_builder (b);
    }
  else
    {
      g_autofree char *text = g_strdup_printf ("reloaded: %u rules from %u files\n", rules,
                                               g_strv_length (files));
      vmctl_write (stdout, text);
    }
  return 0;
}
