/* cmd-version.c: `vmdeskctl version`. The CLI's version is printed even when the daemon
 * cannot be asked; the exit code still says why it could not. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-error.h"
#include "vmdeskctl-output.h"

static char *
daemon_version (GError **error)
{
  g_autoptr(GDBusConnection) bus = vmctl_client_connect (error);
  g_autoptr(GVariant) properties = NULL;
  const char *version;

  if (bus == NULL || (properties = vmctl_client_get_properties (bus, error)) == NULL)
    return NULL;
  if (!g_variant_lookup (properties, "Version", "&s", &version))
    {
      g_set_error_literal (error, VMCTL_ERROR, VMCTL_EXIT_FAILURE,
                           "vmdeskd did not report its version");
      return NULL;
    }
  return g_strdup (version);
}

int
vmctl_cmd_version (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *daemon = daemon_version (&error);

  if (args->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      vmctl_json_add_string_or_null (b, "cli", VMDESK_VERSION);
      vmctl_json_add_string_or_null (b, "daemon", daemon);
      json_builder_end_object (b);
      vmctl_print_json_builder (b);
    }
  else
    {
      g_autofree char *shown = daemon ? vmctl_escape (daemon, VMCTL_ESCAPE_ALL) : NULL;
      const char *missing = daemon ? NULL
                          : vmctl_exit_code_for_error (error) == VMCTL_EXIT_DAEMON_ABSENT
                          ? "(not running)" : "(unknown)";
      g_autofree char *text = g_strdup_printf ("vmdeskctl %s\nvmdeskd   %s\n", VMDESK_VERSION,
                                               shown ? shown : missing);
      vmctl_write (stdout, text);
    }
  /* stdout already holds the one JSON document, with "daemon": null. */
  return daemon ? 0 : vmctl_report_error (error, FALSE);
}
