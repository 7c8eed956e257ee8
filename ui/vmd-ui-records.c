/* vmd-ui-records.c: the daemon's records turned into what the switcher shows.
 *
 * The strings come from USB descriptors and VM names, so they are bounded and cleaned
 * before they reach a label; sizes of pixel data are checked before a pixbuf wraps them. */
#include "vmd-ui-private.h"

#include <string.h>

#include "vmdesk-common.h"

#define LABEL_MAX_CHARS 48
/* The daemon scales screenshots; anything larger than this is not a thumbnail. */
#define PIXBUF_MAX_SIDE 8192

char *
vmd_ui_text_bounded (const char *text, glong max_chars)
{
  g_autofree char *valid = g_utf8_make_valid (text ? text : "", -1);
  GString *out = g_string_new (NULL);
  glong count = 0;

  for (const char *p = valid; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);

      if (count == max_chars)
        {
          /* Leave room for the ellipsis within max_chars. */
          if (out->len > 0)
            g_string_truncate (out, g_utf8_prev_char (out->str + out->len) - out->str);
          g_string_append_unichar (out, 0x2026);
          break;
        }
      g_string_append_unichar (out, g_unichar_iscntrl (c) ? ' ' : c);
      count++;
    }
  return g_string_free (out, FALSE);
}

char *
vmd_ui_usb_label (const char *manufacturer, const char *name, const char *vendor,
                  const char *product)
{
  g_autofree char *m = g_strstrip (vmd_ui_text_bounded (manufacturer, LABEL_MAX_CHARS));
  g_autofree char *n = g_strstrip (vmd_ui_text_bounded (name, LABEL_MAX_CHARS));
  g_autofree char *joined = NULL;

  if (n[0] == '\0' && m[0] == '\0')
    {
      g_autofree char *v = vmd_ui_text_bounded (vendor, 4);
      g_autofree char *p = vmd_ui_text_bounded (product, 4);

      return g_strdup_printf ("USB device %s:%s", v, p);
    }
  /* Products often repeat the maker's name: "Logitech" + "Logitech Webcam". */
  if (m[0] == '\0' || g_str_has_prefix (n, m))
    joined = g_strdup (n);
  else if (n[0] == '\0')
    joined = g_strdup (m);
  else
    joined = g_strconcat (m, " ", n, NULL);
  return vmd_ui_text_bounded (joined, LABEL_MAX_CHARS);
}

/* What vmdesk is doing to the VMs for the host's power (GetPower's under-way), for people;
 * NULL when nothing is. The latest run is the one that matters. */
static const char *
under_way_text (GVariant *summary)
{
  static const struct { const char *kind, *text; } texts[] = {
    { "host-sleep",       "putting the VMs to sleep" },
    { "host-shutdown",    "shutting down or saving the VMs for power-off" },
    { "wake",             "bringing the VMs back" },
    { "critical-battery", "saving the VMs: battery critical" },
  };
  g_autofree const char **kinds = NULL;
  gsize n = 0;

  if (!g_variant_lookup (summary, "under-way", "^a&s", &kinds) || kinds == NULL)
    return NULL;
  n = g_strv_length ((char **) kinds);
  for (gsize i = 0; n > 0 && i < G_N_ELEMENTS (texts); i++)
    if (g_str_equal (kinds[n - 1], texts[i].kind))
      return texts[i].text;
  return NULL;
}

char *
vmd_ui_power_summary (GVariant *summary)
{
  gboolean available = FALSE, present = FALSE, on_battery = FALSE;
  double percentage = 0;
  const char *state = "unknown";
  g_autofree char *clean_state = NULL;
  g_autofree char *battery = NULL;
  const char *doing;

  if (!g_variant_is_of_type (summary, G_VARIANT_TYPE_VARDICT))
    return NULL;
  g_variant_lookup (summary, "available", "b", &available);
  if (!available)
    return NULL;
  g_variant_lookup (summary, "battery-present", "b", &present);
  g_variant_lookup (summary, "on-battery", "b", &on_battery);
  g_variant_lookup (summary, "percentage", "d", &percentage);
  g_variant_lookup (summary, "state", "&s", &state);
  if (!present)
    battery = g_strdup (on_battery ? "On battery" : "On AC power");
  else
    {
      if (!(percentage >= 0 && percentage <= 100))
        percentage = 0;
      clean_state = vmd_ui_text_bounded (state, 24);
      for (char *p = clean_state; *p; p++)
        if (*p == '-')
          *p = ' ';
      battery = g_strdup_printf ("Battery %.0f %% (%s)", percentage, clean_state);
    }
  if ((doing = under_way_text (summary)) == NULL)
    return g_steal_pointer (&battery);
  return g_strdup_printf ("%s \u2014 %s", battery, doing);
}

static char *
lookup_text (GVariant *record, const char *key, glong max_chars)
{
  const char *value = NULL;

  if (!g_variant_lookup (record, key, "&s", &value))
    return g_strdup ("");
  return vmd_ui_text_bounded (value, max_chars);
}

static gboolean
lookup_bool (GVariant *record, const char *key)
{
  gboolean value = FALSE;

  g_variant_lookup (record, key, "b", &value);
  return value;
}

VmdUiVm *
vmd_ui_vm_from_record (GVariant *record)
{
  g_autoptr(VmdUiVm) vm = NULL;
  const char *name = NULL;

  if (!g_variant_is_of_type (record, G_VARIANT_TYPE_VARDICT))
    return NULL;
  /* The name goes back to the daemon (Switch) and into the settings file's lookup: a
   * name that is not a valid VM name is not cleaned up into another one, it is dropped. */
  if (!g_variant_lookup (record, "name", "&s", &name) || !vmd_vm_name_validate (name, NULL))
    return NULL;
  vm = g_new0 (VmdUiVm, 1);
  vm->name = g_strdup (name);
  vm->state = lookup_text (record, "state", 32);
  vm->display = lookup_text (record, "display", 16);
  vm->physical_display = lookup_bool (record, "physical-display");
  vm->on_screen = lookup_bool (record, "on-screen");
  return g_steal_pointer (&vm);
}

VmdUiUsb *
vmd_ui_usb_from_record (GVariant *record)
{
  g_autoptr(VmdUiUsb) usb = NULL;
  g_autofree char *manufacturer = NULL, *name = NULL, *vendor = NULL, *product = NULL;

  if (!g_variant_is_of_type (record, G_VARIANT_TYPE_VARDICT))
    return NULL;
  usb = g_new0 (VmdUiUsb, 1);
  usb->id = lookup_text (record, "id", 64);
  if (usb->id[0] == '\0')
    return NULL;
  manufacturer = lookup_text (record, "manufacturer", LABEL_MAX_CHARS);
  name = lookup_text (record, "name", LABEL_MAX_CHARS);
  vendor = lookup_text (record, "vendor", 8);
  product = lookup_text (record, "product", 8);
  usb->label = vmd_ui_usb_label (manufacturer, name, vendor, product);
  usb->state = lookup_text (record, "state", 32);
  usb->vm = lookup_text (record, "vm", 256);
  return g_steal_pointer (&usb);
}

void
vmd_ui_vm_free (VmdUiVm *vm)
{
  if (vm == NULL)
    return;
  g_free (vm->name);
  g_free (vm->state);
  g_free (vm->display);
  g_free (vm);
}

void
vmd_ui_usb_free (VmdUiUsb *usb)
{
  if (usb == NULL)
    return;
  g_free (usb->id);
  g_free (usb->label);
  g_free (usb->state);
  g_free (usb->vm);
  g_free (usb);
}

gboolean
vmd_ui_fits (guint width, guint height, guint max_width, guint max_height)
{
  return (max_width == 0 || width <= max_width) && (max_height == 0 || height <= max_height);
}

GdkPixbuf *
vmd_ui_pixbuf_from_rgb (GBytes *rgb, guint width, guint height, GError **error)
{
  if (width == 0 || height == 0 || width > PIXBUF_MAX_SIDE || height > PIXBUF_MAX_SIDE
      || g_bytes_get_size (rgb) != (gsize) width * height * 3)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                   "screenshot of %ux%u pixels with %" G_GSIZE_FORMAT " bytes of RGB",
                   width, height, g_bytes_get_size (rgb));
      return NULL;
    }
  return gdk_pixbuf_new_from_bytes (rgb, GDK_COLORSPACE_RGB, FALSE, 8, width, height, width * 3);
}
