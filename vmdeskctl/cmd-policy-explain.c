/* cmd-policy-explain.c: `vmdeskctl policy explain`: where the USB policy would send a device,
 * by which rule, and why. Offline: the device comes from sysfs or a JSON file, the VMs'
 * situation from the command line, the rules from the files. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-error.h"
#include "vmdeskctl-output.h"
#include "vmdeskctl-policy.h"

#include <glib/gstdio.h>
#include <string.h>

#define MAX_DEVICE_JSON (1024 * 1024)

static VmdUsbDevice *
read_device_json (const char *path, GError **error)
{
  g_autofree char *shown = vmctl_escape (path, VMCTL_ESCAPE_ALL);
  g_autofree char *data = NULL;
  gsize length = 0;
  GStatBuf st;

  if (g_stat (path, &st) == 0 && st.st_size > MAX_DEVICE_JSON)
    {
      g_set_error (error, VMCTL_ERROR, VMCTL_EXIT_FAILURE, "%s: larger than %d bytes", shown,
                   MAX_DEVICE_JSON);
      return NULL;
    }
  if (!g_file_get_contents (path, &data, &length, error))
    return NULL;
  return vmd_usb_device_from_json (data, length, error);
}

static gboolean
auto_assign_unless_listed (const char *vm, gpointer user_data)
{
  const char *const *refused = user_data;

  return refused == NULL || !g_strv_contains (refused, vm);
}

/* A sticky rule remembers a device by its hash; without a serial number, two devices of
 * the same model have the same hash, so the router does not remember it. */
static gboolean
identity_is_ambiguous (const VmdUsbDevice *device)
{
  return device->serial == NULL || device->serial[0] == '\0';
}

/* ---- JSON ---- */

static void
add_valid_string (JsonBuilder *b, const char *key, const char *value)
{
  g_autofree char *valid = value ? g_utf8_make_valid (value, -1) : NULL;

  vmctl_json_add_string_or_null (b, key, valid);
}

static void
add_device (JsonBuilder *b, const VmdUsbDevice *d)
{
  g_autofree char *vendor = g_strdup_printf ("%04x", d->vendor_id);
  g_autofree char *product = g_strdup_printf ("%04x", d->product_id);

  /* The shape `--device-json` reads, so the output can be edited and fed back. */
  json_builder_set_member_name (b, "device");
  json_builder_begin_object (b);
  add_valid_string (b, "vendor", vendor);
  add_valid_string (b, "product", product);
  add_valid_string (b, "serial", d->serial);
  add_valid_string (b, "name", d->name);
  add_valid_string (b, "manufacturer", d->manufacturer);
  add_valid_string (b, "port", d->port);
  add_valid_string (b, "connect_type", d->connect_type);
  json_builder_set_member_name (b, "interfaces");
  json_builder_begin_array (b);
  for (guint i = 0; d->interfaces && i < d->interfaces->len; i++)
    {
      guint32 v = g_array_index (d->interfaces, guint32, i);
      g_autofree char *text = g_strdup_printf ("%02x:%02x:%02x", v >> 16, (v >> 8) & 0xff, v & 0xff);
      json_builder_add_string_value (b, text);
    }
  json_builder_end_array (b);
  add_valid_string (b, "hash", d->hash);
  add_valid_string (b, "parent_hash", d->parent_hash);
  json_builder_end_object (b);
}

static void
print_json (const VmdPolicyDecision *d, const VmdUsbDevice *device)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  vmctl_json_add_string_or_null (b, "target", vmd_policy_target_to_string (d->target));
  vmctl_json_add_string_or_null (b, "vm", d->vm);
  json_builder_set_member_name (b, "candidates");
  if (d->candidates)
    {
      json_builder_begin_array (b);
      for (guint i = 0; d->candidates[i]; i++)
        json_builder_add_string_value (b, d->candidates[i]);
      json_builder_end_array (b);
    }
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "rule");
  if (d->file)
    {
      json_builder_begin_object (b);
      add_valid_string (b, "file", d->file);
      json_builder_set_member_name (b, "line");
      json_builder_add_int_value (b, d->line);
      json_builder_end_object (b);
    }
  else
    json_builder_add_null_value (b);
  vmctl_json_add_string_or_null (b, "reason", d->reason);
  json_builder_set_member_name (b, "sticky");
  json_builder_add_boolean_value (b, d->sticky);
  json_builder_set_member_name (b, "follow");
  json_builder_add_boolean_value (b, d->follow);
  json_builder_set_member_name (b, "focused");
  json_builder_add_boolean_value (b, d->focused);
  vmctl_json_add_string_or_null (b, "label", d->label);
  vmctl_json_add_string_or_null (b, "rule_text", d->rule_text);
  json_builder_set_member_name (b, "identity_ambiguous");
  json_builder_add_boolean_value (b, identity_is_ambiguous (device));
  add_device (b, device);
  json_builder_end_object (b);
  vmctl_print_json_builder (b);
}

/* ---- text ---- */

static void
append_field (GString *out, const char *name, const char *value)
{
  g_autofree char *shown = vmctl_escape (value, VMCTL_ESCAPE_ALL);

  g_string_append_printf (out, "%-12s%s\n", name, shown);
}

static void
append_quoted_or_none (GString *out, const char *label, const char *value)
{
  g_autofree char *shown = value ? vmctl_escape (value, VMCTL_ESCAPE_ALL) : NULL;

  if (value)
    g_string_append_printf (out, ", %s \"%s\"", label, shown);
}

static char *
device_text (const VmdUsbDevice *d)
{
  GString *out = g_string_new (NULL);
  g_autoptr(GString) line = g_string_new (NULL);
  g_autoptr(GString) interfaces = g_string_new (NULL);

  g_string_append_printf (line, "%04x:%04x", d->vendor_id, d->product_id);
  append_quoted_or_none (line, "name", d->name);
  append_quoted_or_none (line, "by", d->manufacturer);
  append_quoted_or_none (line, "serial", d->serial);
  if (d->serial == NULL)
    g_string_append (line, ", no serial");
  append_quoted_or_none (line, "port", d->port);
  append_quoted_or_none (line, "connect type", d->connect_type);
  g_string_append_printf (out, "%-12s%s\n", "device:", line->str);
  for (guint i = 0; d->interfaces && i < d->interfaces->len; i++)
    {
      guint32 v = g_array_index (d->interfaces, guint32, i);
      g_string_append_printf (interfaces, "%s%02x:%02x:%02x", i ? " " : "", v >> 16,
                              (v >> 8) & 0xff, v & 0xff);
    }
  append_field (out, "interfaces:", interfaces->len ? interfaces->str : "none");
  return g_string_free (out, FALSE);
}

static void
print_text (const VmdPolicyDecision *d, const VmdUsbDevice *device)
{
  g_autoptr(GString) out = g_string_new (NULL);
  g_autofree char *about_device = device_text (device);
  g_autofree char *where = NULL;
  g_autofree char *text = NULL;

  g_string_append (out, about_device);
  append_field (out, "target:", vmd_policy_target_to_string (d->target));
  if (d->vm)
    append_field (out, "vm:", d->vm);
  if (d->candidates)
    {
      g_autofree char *joined = g_strjoinv (", ", d->candidates);
      append_field (out, "candidates:", *joined ? joined : "none (no VM to ask)");
    }
  where = d->file ? g_strdup_printf ("%s:%u", d->file, d->line)
                  : g_strdup_printf ("built-in default %u", d->line);
  append_field (out, "rule:", where);
  append_field (out, "", d->rule_text);
  if (d->label)
    append_field (out, "label:", d->label);
  append_field (out, "reason:", d->reason);
  if (d->sticky && identity_is_ambiguous (device))
    append_field (out, "note:", "the device has no serial number, so its identity is "
                  "ambiguous: not remembered");
  text = g_string_free (g_steal_pointer (&out), FALSE);
  vmctl_write (stdout, text);
}

int
vmctl_cmd_policy_explain (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdUsbDevice) device = NULL;
  g_autoptr(VmdPolicy) policy = NULL;
  g_autoptr(VmdPolicyDecision) decision = NULL;
  g_auto(GStrv) files = NULL;
  VmdPolicyContext context = {
    .on_screen = args->on_screen,
    .running = (const char *const *) args->running,
    .auto_assign = auto_assign_unless_listed,
    .user_data = args->no_auto_assign,
  };

  device = args->device ? vmd_usb_device_from_sysfs (args->device, &error)
                        : read_device_json (args->device_json, &error);
  if (device == NULL)
    return vmctl_report_error (error, args->json);
  if ((policy = vmctl_policy_load ((const char *const *) args->files, &files, &error)) == NULL)
    return vmctl_report_policy_error (error, args->json);

  decision = vmd_policy_decide (policy, device, &context);
  if (args->json)
    print_json (decision, device);
  else
    print_text (decision, device);
  return VMCTL_EXIT_OK;
}
