/* vmd-usb-variant.c: a USB device as D-Bus carries it (a{sv}; docs/dbus-api.md).
 * Device strings are arbitrary bytes from the device; D-Bus strings must be UTF-8, so
 * they are made valid (invalid bytes become U+FFFD) here and nowhere else. */
#include "vmd-usb.h"

static void
add_string (GVariantBuilder *b, const char *key, const char *value)
{
  g_autofree char *valid = g_utf8_make_valid (value ? value : "", -1);

  g_variant_builder_add (b, "{sv}", key, g_variant_new_string (valid));
}

static void
add_hex16 (GVariantBuilder *b, const char *key, guint16 value)
{
  char text[8];

  g_snprintf (text, sizeof text, "%04x", value);
  g_variant_builder_add (b, "{sv}", key, g_variant_new_string (text));
}

static GVariant *
interfaces_variant (const GArray *interfaces)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; interfaces && i < interfaces->len; i++)
    {
      guint32 v = g_array_index (interfaces, guint32, i);
      g_autofree char *text = g_strdup_printf ("%02x:%02x:%02x", v >> 16 & 0xff, v >> 8 & 0xff, v & 0xff);
      g_variant_builder_add (&b, "s", text);
    }
  return g_variant_builder_end (&b);
}

static char *
rule_origin (const VmdPolicyDecision *decision)
{
  if (decision->file == NULL)
    return g_strdup_printf ("built-in default %u", decision->line);
  return g_strdup_printf ("%s:%u", decision->file, decision->line);
}

GVariant *
vmd_usb_info_to_variant (const VmdUsbDeviceInfo *info)
{
  const VmdUsbDevice *d = info->device;
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  add_string (&b, "id", info->id);
  add_hex16 (&b, "vendor", d->vendor_id);
  add_hex16 (&b, "product", d->product_id);
  add_string (&b, "name", d->name);
  add_string (&b, "manufacturer", d->manufacturer);
  add_string (&b, "serial", d->serial);
  g_variant_builder_add (&b, "{sv}", "interfaces", interfaces_variant (d->interfaces));
  g_variant_builder_add (&b, "{sv}", "bus", g_variant_new_uint32 (info->bus));
  g_variant_builder_add (&b, "{sv}", "devnum", g_variant_new_uint32 (info->devnum));
  add_string (&b, "state", vmd_usb_state_to_string (info->state));
  add_string (&b, "vm", info->vm);
  g_variant_builder_add (&b, "{sv}", "remembered", g_variant_new_boolean (info->remembered));
  g_variant_builder_add (&b, "{sv}", "ambiguous", g_variant_new_boolean (info->ambiguous));
  if (info->decision)
    {
      g_autofree char *origin = rule_origin (info->decision);
      add_string (&b, "target", vmd_policy_target_to_string (info->decision->target));
      add_string (&b, "rule", origin);
      add_string (&b, "reason", info->decision->reason);
      g_variant_builder_add (&b, "{sv}", "sticky", g_variant_new_boolean (info->decision->sticky));
      g_variant_builder_add (&b, "{sv}", "follow", g_variant_new_boolean (info->decision->follow));
    }
  if (info->candidates)
    g_variant_builder_add (&b, "{sv}", "candidates",
                           g_variant_new_strv ((const char *const *) info->candidates, -1));
  if (info->error)
    add_string (&b, "error", info->error);
  return g_variant_builder_end (&b);
}
