/* cmd-passthrough.c: `vmdeskctl passthrough list|check|plan`, read-only questions to
 * vmdeskd (CheckPassthrough, PlanPassthrough, ListPassthrough); a VM stands for the PCI
 * devices its settings name, as its record carries them. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-output.h"
#include "vmdeskctl-passthrough.h"

int
vmctl_cmd_passthrough_list (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) held = NULL;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || (held = vmctl_client_list_passthrough (bus, &error)) == NULL)
    return vmctl_report_error (error, args->json);
  if (args->json)
    {
      /* The records as D-Bus carries them (docs/dbus-api.md), key for key. */
      g_autoptr(JsonNode) node = json_gvariant_serialize (held);
      vmctl_print_json (node);
    }
  else
    {
      g_autofree char *table = vmctl_passthrough_table (held);
      vmctl_write (stdout, table);
    }
  return 0;
}

/* What VM `name`'s settings pass through, from its record; an error when nothing. */
static GStrv
devices_of_vm (GDBusConnection *bus, const char *name, gboolean *single_gpu, GError **error)
{
  g_autoptr(GVariant) record = vmctl_client_get_vm (bus, name, error);
  g_autofree char *shown = vmctl_escape (name, VMCTL_ESCAPE_ALL);
  g_auto(GStrv) bdfs = NULL;

  if (record == NULL)
    return NULL;
  if (!g_variant_lookup (record, "passthrough", "^as", &bdfs))
    {
      g_set_error (error, VMCTL_ERROR, VMCTL_EXIT_FAILURE, "vmdeskd does not say which devices "
                   "VM '%s' passes through (is it older than vmdeskctl?)", shown);
      return NULL;
    }
  if (bdfs[0] == NULL)
    {
      g_set_error (error, VMCTL_ERROR, VMCTL_EXIT_FAILURE, "VM '%s' passes no PCI device "
                   "through (its settings name none; see docs/vm-settings.md)", shown);
      return NULL;
    }
  if (single_gpu && !g_variant_lookup (record, "passthrough-single-gpu", "b", single_gpu))
    *single_gpu = FALSE;
  return g_steal_pointer (&bdfs);
}

static void
add_once (GPtrArray *list, const char *item)
{
  if (!g_ptr_array_find_with_equal_func (list, item, g_str_equal, NULL))
    g_ptr_array_add (list, g_strdup (item));
}

int
vmctl_cmd_passthrough_check (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GPtrArray) bdfs = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) header = g_string_new (NULL);
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) report = NULL;

  if ((bus = vmctl_client_connect (&error)) == NULL)
    return vmctl_report_error (error, args->json);
  for (guint i = 0; args->pci && args->pci[i]; i++)
    add_once (bdfs, args->pci[i]);
  for (guint i = 0; args->vms && args->vms[i]; i++)
    {
      g_auto(GStrv) of_vm = devices_of_vm (bus, args->vms[i], NULL, &error);
      g_autofree char *vm = vmctl_escape (args->vms[i], VMCTL_ESCAPE_ALL);
      g_autofree char *joined = NULL;
      g_autofree char *list = NULL;

      if (of_vm == NULL)
        return vmctl_report_error (error, args->json);
      joined = g_strjoinv (", ", of_vm);
      list = vmctl_escape (joined, VMCTL_ESCAPE_ALL);
      g_string_append_printf (header, "VM '%s' passes %s\n", vm, list);
      for (guint j = 0; of_vm[j]; j++)
        add_once (bdfs, of_vm[j]);
    }
  g_ptr_array_add (bdfs, NULL);
  if ((json = vmctl_client_check_passthrough (bus, (const char *const *) bdfs->pdata, &error)) == NULL
      || (report = vmctl_passthrough_parse (json, "check report", &error)) == NULL)
    return vmctl_report_error (error, args->json);
  if (args->json)
    /* vfio-helper's document as it is: what `vmdesk-vfio check --json` prints. */
    vmctl_print_json (report);
  else
    {
      g_autofree char *text = vmctl_passthrough_check_text (report);
      if (header->len)
        g_string_append_c (header, '\n');
      vmctl_write (stdout, header->str);
      vmctl_write (stdout, text);
    }
  return vmctl_passthrough_check_exit (report);
}

/* plan PCI: the plan for one device, as vmdesk-vfio plan prints it. */
static int
plan_device (GDBusConnection *bus, const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *json = NULL;
  g_autoptr(JsonNode) plan = NULL;

  if ((json = vmctl_client_plan_passthrough (bus, args->pci[0], args->single_gpu, &error)) == NULL
      || (plan = vmctl_passthrough_parse (json, "plan", &error)) == NULL)
    return vmctl_report_error (error, args->json);
  if (args->json)
    vmctl_print_json (plan);
  else
    {
      g_autofree char *text = vmctl_passthrough_plan_text (plan);
      vmctl_write (stdout, text);
    }
  return vmctl_passthrough_plan_allowed (plan) ? VMCTL_EXIT_OK : VMCTL_EXIT_PASSTHROUGH_REFUSED;
}

/* plan VM: what StartVM would bind: one plan per device its settings name, with its
 * hand-over opt-in, skipping a function that moves with a device planned before it. */
static int
plan_vm (GDBusConnection *bus, const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) moved = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GString) text = g_string_new (NULL);
  g_autofree char *vm = vmctl_escape (args->vm, VMCTL_ESCAPE_ALL);
  g_auto(GStrv) bdfs = NULL;
  gboolean single_gpu = FALSE, allowed = TRUE;

  if ((bdfs = devices_of_vm (bus, args->vm, &single_gpu, &error)) == NULL)
    return vmctl_report_error (error, args->json);
  g_string_append_printf (text, "VM '%s' passes %u device%s; the single-GPU hand-over is %s\n",
                          vm, g_strv_length (bdfs), bdfs[1] ? "s" : "",
                          single_gpu ? "allowed" : "not allowed");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "vm");
  json_builder_add_string_value (b, args->vm);
  json_builder_set_member_name (b, "single_gpu");
  json_builder_add_boolean_value (b, single_gpu);
  json_builder_set_member_name (b, "plans");
  json_builder_begin_array (b);
  for (guint i = 0; bdfs[i]; i++)
    {
      g_autofree char *json = NULL;
      g_autoptr(JsonNode) plan = NULL;
      g_auto(GStrv) functions = NULL;
      g_autofree char *plan_text = NULL;

      if (g_ptr_array_find_with_equal_func (moved, bdfs[i], g_str_equal, NULL))
        {
          g_autofree char *bdf = vmctl_escape (bdfs[i], VMCTL_ESCAPE_ALL);
          g_string_append_printf (text, "\n%s moves with the device planned above.\n", bdf);
          continue;
        }
      if ((json = vmctl_client_plan_passthrough (bus, bdfs[i], single_gpu, &error)) == NULL
          || (plan = vmctl_passthrough_parse (json, "plan", &error)) == NULL)
        return vmctl_report_error (error, args->json);
      functions = vmctl_passthrough_plan_functions (plan);
      for (guint j = 0; functions[j]; j++)
        add_once (moved, functions[j]);
      allowed = allowed && vmctl_passthrough_plan_allowed (plan);
      plan_text = vmctl_passthrough_plan_text (plan);
      g_string_append_printf (text, "\n%s", plan_text);
      json_builder_add_value (b, g_steal_pointer (&plan));
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "allowed");
  json_builder_add_boolean_value (b, allowed);
  json_builder_end_object (b);
  if (args->json)
    vmctl_print_json_builder (b);
  else
    {
      g_string_append_printf (text, "\nResult: %s\n", allowed ? "StartVM would bind every device"
                                                              : "StartVM would refuse the VM's start");
      vmctl_write (stdout, text->str);
    }
  return allowed ? VMCTL_EXIT_OK : VMCTL_EXIT_PASSTHROUGH_REFUSED;
}

int
vmctl_cmd_passthrough_plan (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = vmctl_client_connect (&error);

  if (bus == NULL)
    return vmctl_report_error (error, args->json);
  return args->vm ? plan_vm (bus, args) : plan_device (bus, args);
}
