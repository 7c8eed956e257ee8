/* cmd-usb.c: `vmdeskctl usb list|attach|detach|forget|answer`. The daemon does the work
 * and checks polkit; this prints what it says. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-output.h"

int
vmctl_cmd_usb_list (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) devices = NULL;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || (devices = vmctl_client_list_usb (bus, &error)) == NULL)
    return vmctl_report_error (error, args->json);
  if (args->json)
    {
      /* The record as D-Bus carries it (docs/dbus-api.md), key for key. */
      g_autoptr(JsonNode) node = json_gvariant_serialize (devices);
      vmctl_print_json (node);
    }
  else
    {
      g_autofree char *table = vmctl_usb_table (devices);
      vmctl_write (stdout, table);
    }
  return 0;
}

/* The device's record after a request, as confirmation. */
static int
report_request (GDBusConnection *bus, const VmctlArgs *args, const char *done)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) devices = vmctl_client_list_usb (bus, &error);
  g_autoptr(GVariant) record = NULL;

  for (gsize i = 0; devices && i < g_variant_n_children (devices) && record == NULL; i++)
    {
      g_autoptr(GVariant) r = g_variant_get_child_value (devices, i);
      const char *id;
      if (g_variant_lookup (r, "id", "&s", &id) && g_str_equal (id, args->usb_id))
        record = g_steal_pointer (&r);
    }
  if (args->json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "device");
      if (record)
        json_builder_add_value (b, json_gvariant_serialize (record));
      else
        json_builder_add_null_value (b);
      json_builder_end_object (b);
      vmctl_print_json_builder (b);
    }
  else
    {
      g_autofree char *port = vmctl_escape (args->usb_id, VMCTL_ESCAPE_ALL);
      g_autofree char *state = record ? vmctl_record_field (record, "state", "?") : g_strdup ("?");
      g_autofree char *vm = record ? vmctl_record_field (record, "vm", "host") : g_strdup ("?");
      g_autofree char *text = g_strdup_printf ("%s: %s (now %s, %s)\n", port, done, state, vm);
      vmctl_write (stdout, text);
    }
  return 0;
}

static int
request (const VmctlArgs *args, const char *method, GVariant *params, const char *done)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autoptr(GVariant) owned = g_variant_ref_sink (params);

  if ((bus = vmctl_client_connect (&error)) == NULL
      || !vmctl_client_request (bus, method, owned, &error))
    return vmctl_report_error (error, args->json);
  return report_request (bus, args, done);
}

int
vmctl_cmd_usb_attach (const VmctlArgs *args)
{
  return request (args, "AttachUSBDevice", g_variant_new ("(ssb)", args->usb_id, args->vm, args->remember),
                  args->remember ? "attached and remembered" : "attached");
}

int
vmctl_cmd_usb_detach (const VmctlArgs *args)
{
  return request (args, "DetachUSBDevice", g_variant_new ("(s)", args->usb_id), "kept on the host");
}

int
vmctl_cmd_usb_forget (const VmctlArgs *args)
{
  return request (args, "ForgetUSBDevice", g_variant_new ("(s)", args->usb_id), "forgotten");
}

int
vmctl_cmd_usb_answer (const VmctlArgs *args)
{
  const char *vm = args->host ? "" : args->vm;

  return request (args, "AnswerUSBAsk", g_variant_new ("(ssb)", args->usb_id, vm, args->remember), "answered");
}
