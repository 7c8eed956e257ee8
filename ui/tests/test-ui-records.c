/* The daemon's records as the switcher shows them: hostile strings made safe and bounded. */
#include "vmd-ui-private.h"

static void
test_text_bounded (void)
{
  g_autofree char *plain = vmd_ui_text_bounded ("work", 10);
  g_autofree char *null = vmd_ui_text_bounded (NULL, 10);
  g_autofree char *invalid = vmd_ui_text_bounded ("Yubi\xff\xfe" "Key", 20);
  g_autofree char *control = vmd_ui_text_bounded ("a\nb\tc\x1b[31m", 20);
  g_autofree char *cut = vmd_ui_text_bounded ("abcdefghij", 5);
  g_autofree char *wide = vmd_ui_text_bounded ("ääääää", 3);
  g_autofree char *huge_in = g_strnfill (100000, 'x');
  g_autofree char *huge = vmd_ui_text_bounded (huge_in, 48);

  g_assert_cmpstr (plain, ==, "work");
  g_assert_cmpstr (null, ==, "");
  g_assert_true (g_utf8_validate (invalid, -1, NULL));
  g_assert_true (g_str_has_prefix (invalid, "Yubi"));
  g_assert_true (g_str_has_suffix (invalid, "Key"));
  g_assert_cmpstr (control, ==, "a b c [31m");
  g_assert_cmpstr (cut, ==, "abcd…");
  g_assert_cmpstr (wide, ==, "ää…");
  g_assert_cmpint (g_utf8_strlen (huge, -1), ==, 48);
}

static void
test_usb_label (void)
{
  g_autofree char *both = vmd_ui_usb_label ("Yubico", "YubiKey OTP+CCID", "1050", "0407");
  g_autofree char *repeated = vmd_ui_usb_label ("Logitech", "Logitech Webcam C920", "046d", "082d");
  g_autofree char *nameless = vmd_ui_usb_label ("", "", "1050", "0407");
  g_autofree char *maker_only = vmd_ui_usb_label ("  SanDisk ", "", "0781", "5567");
  g_autofree char *markup = vmd_ui_usb_label ("<b>Evil</b>", "&amp;\x01", "dead", "beef");

  g_assert_cmpstr (both, ==, "Yubico YubiKey OTP+CCID");
  g_assert_cmpstr (repeated, ==, "Logitech Webcam C920");
  g_assert_cmpstr (nameless, ==, "USB device 1050:0407");
  g_assert_cmpstr (maker_only, ==, "SanDisk");
  /* Labels are plain text (never markup): kept as is, control characters gone. */
  g_assert_cmpstr (markup, ==, "<b>Evil</b> &amp;");
}

static GVariant *
power (gboolean available, gboolean present, gboolean on_battery, double percentage,
       const char *state)
{
  g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (NULL);

  g_variant_dict_insert (&dict, "available", "b", available);
  g_variant_dict_insert (&dict, "battery-present", "b", present);
  g_variant_dict_insert (&dict, "on-battery", "b", on_battery);
  g_variant_dict_insert (&dict, "percentage", "d", percentage);
  g_variant_dict_insert (&dict, "state", "s", state);
  return g_variant_ref_sink (g_variant_dict_end (&dict));
}

static void
test_power_summary (void)
{
  g_autoptr(GVariant) discharging = power (TRUE, TRUE, TRUE, 42.4, "discharging");
  g_autoptr(GVariant) pending = power (TRUE, TRUE, FALSE, 99.6, "pending-charge");
  g_autoptr(GVariant) ac = power (TRUE, FALSE, FALSE, 0, "unknown");
  g_autoptr(GVariant) gone = power (FALSE, TRUE, TRUE, 42, "discharging");
  g_autoptr(GVariant) nonsense = power (TRUE, TRUE, TRUE, 1e300, "discharging");
  g_autoptr(GVariant) wrong_type = g_variant_ref_sink (g_variant_new_string ("x"));
  g_autofree char *a = vmd_ui_power_summary (discharging);
  g_autofree char *b = vmd_ui_power_summary (pending);
  g_autofree char *c = vmd_ui_power_summary (ac);
  g_autofree char *d = vmd_ui_power_summary (nonsense);

  g_assert_cmpstr (a, ==, "Battery 42 % (discharging)");
  g_assert_cmpstr (b, ==, "Battery 100 % (pending charge)");
  g_assert_cmpstr (c, ==, "On AC power");
  g_assert_null (vmd_ui_power_summary (gone));
  g_assert_cmpstr (d, ==, "Battery 0 % (discharging)");
  g_assert_null (vmd_ui_power_summary (wrong_type));
}

/* What vmdesk is doing to the VMs follows the battery: the latest run; unknown kinds and a
 * wrong type say nothing. */
static void
test_power_summary_under_way (void)
{
  const char *shutdown[] = { "host-shutdown", NULL };
  const char *two[] = { "critical-battery", "wake", NULL };
  const char *odd[] = { "\x1b[2Jnonsense", NULL };
  const char *none[] = { NULL };
  struct { const char *const *kinds; const char *text; } cases[] = {
    { shutdown, "Battery 42 % (discharging) \u2014 shutting down or saving the VMs for power-off" },
    { two, "Battery 42 % (discharging) \u2014 bringing the VMs back" },
    { odd, "Battery 42 % (discharging)" },
    { none, "Battery 42 % (discharging)" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GVariant) base = power (TRUE, TRUE, TRUE, 42, "discharging");
      g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (base);
      g_autoptr(GVariant) summary = NULL;
      g_autofree char *text = NULL;

      g_variant_dict_insert_value (&dict, "under-way", g_variant_new_strv (cases[i].kinds, -1));
      summary = g_variant_ref_sink (g_variant_dict_end (&dict));
      text = vmd_ui_power_summary (summary);
      g_assert_cmpstr (text, ==, cases[i].text);
    }
  {
    g_autoptr(GVariant) base = power (TRUE, FALSE, FALSE, 0, "unknown");
    g_auto(GVariantDict) dict = G_VARIANT_DICT_INIT (base);
    g_autoptr(GVariant) summary = NULL;
    g_autofree char *text = NULL;

    g_variant_dict_insert (&dict, "under-way", "s", "host-sleep");   /* wrong type */
    summary = g_variant_ref_sink (g_variant_dict_end (&dict));
    text = vmd_ui_power_summary (summary);
    g_assert_cmpstr (text, ==, "On AC power");
  }
}

static void
test_records (void)
{
  g_autoptr(GVariant) vm_record = g_variant_ref_sink (g_variant_new_parsed (
    "{'name': <'work'>, 'state': <'running'>, 'display': <'spice'>, 'on-screen': <true>,"
    " 'physical-display': <false>, 'role': <'work'>}"));
  g_autoptr(GVariant) nameless = g_variant_ref_sink (g_variant_new_parsed ("{'state': <'running'>}"));
  g_autoptr(GVariant) wrong_types = g_variant_ref_sink (g_variant_new_parsed (
    "{'name': <'x'>, 'state': <42>, 'on-screen': <'yes'>}"));
  g_autoptr(GVariant) usb_record = g_variant_ref_sink (g_variant_new_parsed (
    "{'id': <'1-2.3'>, 'manufacturer': <'Yubico'>, 'name': <'YubiKey'>, 'vendor': <'1050'>,"
    " 'product': <'0407'>, 'state': <'attached'>, 'vm': <'work'>}"));
  g_autoptr(VmdUiVm) vm = vmd_ui_vm_from_record (vm_record);
  g_autoptr(VmdUiVm) odd = vmd_ui_vm_from_record (wrong_types);
  g_autoptr(VmdUiUsb) usb = vmd_ui_usb_from_record (usb_record);

  g_assert_cmpstr (vm->name, ==, "work");
  g_assert_cmpstr (vm->state, ==, "running");
  g_assert_cmpstr (vm->display, ==, "spice");
  g_assert_true (vm->on_screen);
  g_assert_false (vm->physical_display);
  g_assert_null (vmd_ui_vm_from_record (nameless));
  {
    /* A name that is not a VM name is dropped, not cleaned into another name. */
    g_autoptr(GVariant) bad = g_variant_ref_sink (g_variant_new_parsed ("{'name': <'work\nx'>}"));
    g_autoptr(GVariant) slash = g_variant_ref_sink (g_variant_new_parsed ("{'name': <'../etc'>}"));

    g_assert_null (vmd_ui_vm_from_record (bad));
    g_assert_null (vmd_ui_vm_from_record (slash));
  }
  g_assert_true (vmd_ui_fits (320, 200, 320, 200));
  g_assert_true (vmd_ui_fits (4000, 10, 0, 0));
  g_assert_false (vmd_ui_fits (321, 200, 320, 200));
  g_assert_false (vmd_ui_fits (10, 201, 0, 200));
  g_assert_null (vmd_ui_usb_from_record (nameless));
  /* Wrong types read as absent, never as garbage. */
  g_assert_cmpstr (odd->state, ==, "");
  g_assert_false (odd->on_screen);
  g_assert_cmpstr (usb->id, ==, "1-2.3");
  g_assert_cmpstr (usb->label, ==, "Yubico YubiKey");
  g_assert_cmpstr (usb->vm, ==, "work");
}

static void
test_pixbuf_sizes (void)
{
  g_autoptr(GBytes) six = g_bytes_new_static ("\xff\x00\x00\x00\xff\x00", 6);
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) ok = vmd_ui_pixbuf_from_rgb (six, 2, 1, &error);

  g_assert_no_error (error);
  g_assert_cmpint (gdk_pixbuf_get_width (ok), ==, 2);
  g_assert_cmpint (gdk_pixbuf_get_pixels (ok)[4], ==, 0xff);
  g_assert_null (vmd_ui_pixbuf_from_rgb (six, 3, 1, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
  g_clear_error (&error);
  g_assert_null (vmd_ui_pixbuf_from_rgb (six, 0, 0, &error));
  g_clear_error (&error);
  /* 2^31 pixels would overflow a naive int product. */
  g_assert_null (vmd_ui_pixbuf_from_rgb (six, 65536, 32768, &error));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/records/text-bounded", test_text_bounded);
  g_test_add_func ("/ui/records/usb-label", test_usb_label);
  g_test_add_func ("/ui/records/power-summary", test_power_summary);
  g_test_add_func ("/ui/records/power-summary-under-way", test_power_summary_under_way);
  g_test_add_func ("/ui/records/records", test_records);
  g_test_add_func ("/ui/records/pixbuf-sizes", test_pixbuf_sizes);
  return g_test_run ();
}
