/* cmd-switch.c: `vmdeskctl switch VM` and `vmdeskctl switch --host`. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-output.h"

int
vmctl_cmd_switch (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  const char *name = args->host ? "" : args->vm;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || !vmctl_client_switch (bus, name, &error))
    return vmctl_report_error (error, args->json);

  if (args->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      vmctl_json_add_string_or_null (b, "on_screen", *name ? name : NULL);
      json_builder_end_object (b);
      vmctl_print_json_builder (b);
    }
  else
    {
      g_autofree char *shown = vmctl_escape (name, VMCTL_ESCAPE_ALL);
      g_autofree char *text = *name ? g_strdup_printf ("on screen: VM '%s'\n", shown)
                                    : g_strdup ("on screen: host\n");
      vmctl_write (stdout, text);
    }
  return 0;
}
