/* cmd-list.c: `vmdeskctl list`. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-output.h"

static JsonNode *
vms_to_json (GVariant *vms)
{
  JsonArray *array = json_array_new ();
  JsonNode *node = json_node_new (JSON_NODE_ARRAY);

  for (gsize i = 0; i < g_variant_n_children (vms); i++)
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (vms, i);
      json_array_add_element (array, vmctl_vm_to_json (record));
    }
  json_node_take_array (node, array);
  return node;
}

/* The daemon keeps serving its last known list while libvirt is away; say so. */
static void
warn_if_stale (GDBusConnection *bus)
{
  g_autoptr(GVariant) properties = vmctl_client_get_properties (bus, NULL);
  gboolean connected;

  if (properties && g_variant_lookup (properties, "Connected", "b", &connected) && !connected)
    fputs ("vmdeskctl: warning: vmdeskd is not connected to libvirt; this list may be out of "
           "date\n", stderr);
}

int
vmctl_cmd_list (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) vms = NULL;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || (vms = vmctl_client_list_vms (bus, &error)) == NULL)
    return vmctl_report_error (error, args->json);

  if (args->json)
    {
      g_autoptr(JsonNode) node = vms_to_json (vms);
      vmctl_print_json (node);
    }
  else
    {
      g_autofree char *table = vmctl_vm_table (vms);
      vmctl_write (stdout, table);
    }
  warn_if_stale (bus);
  return 0;
}
