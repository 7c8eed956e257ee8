/* cmd-status.c: `vmdeskctl status [VM]`. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-output.h"

static int
vm_status (GDBusConnection *bus, const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) record = vmctl_client_get_vm (bus, args->vm, &error);

  if (record == NULL)
    return vmctl_report_error (error, args->json);
  if (args->json)
    {
      g_autoptr(JsonNode) node = vmctl_vm_to_json (record);
      vmctl_print_json (node);
    }
  else
    {
      g_autofree char *text = vmctl_vm_details (record);
      vmctl_write (stdout, text);
    }
  return 0;
}

static int
daemon_status (GDBusConnection *bus, const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) properties = NULL;
  g_autoptr(GVariant) vms = NULL;
  guint n_vms;

  if ((properties = vmctl_client_get_properties (bus, &error)) == NULL
      || (vms = vmctl_client_list_vms (bus, &error)) == NULL)
    return vmctl_report_error (error, args->json);
  n_vms = g_variant_n_children (vms);
  if (args->json)
    {
      g_autoptr(JsonNode) node = vmctl_status_to_json (properties, n_vms);
      vmctl_print_json (node);
    }
  else
    {
      g_autofree char *text = vmctl_status_text (properties, n_vms);
      vmctl_write (stdout, text);
    }
  return 0;
}

int
vmctl_cmd_status (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = vmctl_client_connect (&error);

  if (bus == NULL)
    return vmctl_report_error (error, args->json);
  return args->vm ? vm_status (bus, args) : daemon_status (bus, args);
}
