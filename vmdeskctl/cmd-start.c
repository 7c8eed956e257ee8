/* cmd-start.c: `vmdeskctl start VM`. vmdeskd binds the VM's pass-through devices first and,
 * when the start fails, gives them back before it answers, so when this returns an error
 * the host has its devices back or the message says which it has not. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-error.h"
#include "vmdeskctl-output.h"

/* StartVM's Denied is a refused pass-through, which changed nothing: the code `passthrough
 * check` gives a refusal, so a script can tell it from a start that failed. */
static int
start_exit_code (const GError *error)
{
  g_autofree char *name = vmctl_error_dbus_name (error);

  if (g_strcmp0 (name, "org.vmdesk.Error.Denied") == 0)
    return VMCTL_EXIT_PASSTHROUGH_REFUSED;
  return vmctl_exit_code_for_error (error);
}

int
vmctl_cmd_start (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || !vmctl_client_request (bus, "StartVM", g_variant_new ("(s)", args->vm), &error))
    return vmctl_report_error_with_exit (error, args->json, start_exit_code (error));
  if (args->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "vm");
      json_builder_add_string_value (b, args->vm);
      json_builder_set_member_name (b, "running");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_end_object (b);
      vmctl_print_json_builder (b);
    }
  else
    {
      g_autofree char *vm = vmctl_escape (args->vm, VMCTL_ESCAPE_ALL);
      g_autofree char *text = g_strdup_printf ("%s: running\n", vm);
      vmctl_write (stdout, text);
    }
  return 0;
}
