/* cmd-power.c: `vmdeskctl power` (GetPower, shown) and `vmdeskctl power button VM BUTTON`
 * (PressButton). The daemon does the work and checks polkit; this prints what it says. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-output.h"

int
vmctl_cmd_power (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) power = NULL;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || (power = vmctl_client_get_power (bus, &error)) == NULL)
    return vmctl_report_error (error, args->json);
  if (args->json)
    {
      g_autoptr(JsonNode) node = vmctl_power_to_json (power);
      vmctl_print_json (node);
    }
  else
    {
      g_autofree char *text = vmctl_power_text (power);
      vmctl_write (stdout, text);
    }
  return 0;
}

int
vmctl_cmd_power_button (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;

  /* The guest's own logind decides what the press does (HandlePowerKey, ...). */
  if ((bus = vmctl_client_connect (&error)) == NULL
      || !vmctl_client_request (bus, "PressButton",
                                g_variant_new ("(ss)", args->vm, args->button), &error))
    return vmctl_report_error (error, args->json);
  if (args->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();

      json_builder_begin_object (b);
      vmctl_json_add_string_or_null (b, "vm", args->vm);
      vmctl_json_add_string_or_null (b, "button", args->button);
      json_builder_set_member_name (b, "pressed");
      json_builder_add_boolean_value (b, TRUE);
      json_builder_end_object (b);
      vmctl_print_json_builder (b);
    }
  else
    {
      g_autofree char *vm = vmctl_escape (args->vm, VMCTL_ESCAPE_ALL);
      g_autofree char *text = g_strdup_printf ("%s: %s button pressed\n", vm, args->button);

      vmctl_write (stdout, text);
    }
  return 0;
}
