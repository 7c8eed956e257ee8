/* Metadata is written by anyone with libvirt access: every malformed shape must give
 * the defaults plus a warning that says what was wrong, never a failure. */
#include "vmdesk-common.h"

static VmdVmSettings *
parse (const char *xml, GPtrArray **warnings)
{
  *warnings = g_ptr_array_new_with_free_func (g_free);
  return vmd_vm_settings_parse (xml, *warnings);
}

static void
assert_defaults (const VmdVmSettings *s)
{
  g_assert_cmpstr (s->role, ==, "");
  g_assert_false (s->auto_assign_usb);
  g_assert_cmpint (s->on_host_sleep, ==, VMD_HOST_SLEEP_SUSPEND);
  g_assert_cmpint (s->on_host_shutdown, ==, VMD_HOST_SHUTDOWN_SHUTDOWN);
  g_assert_cmpint (s->on_lid_close, ==, VMD_LID_FORWARD);
  g_assert_false (s->power_channel);
  g_assert_cmpuint (g_strv_length (s->passthrough_pci), ==, 0);
  g_assert_false (s->passthrough_single_gpu);
  g_assert_cmpuint (g_strv_length (s->evdev_inputs), ==, 0);
}

static void
test_absent_is_defaults (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(VmdVmSettings) s = parse (NULL, &w);

  assert_defaults (s);
  g_assert_cmpuint (w->len, ==, 0);
}

static void
test_full (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(VmdVmSettings) s = parse (
    "<vmdesk:settings xmlns:vmdesk='" VMD_SETTINGS_NS "'>"
    "  <role>work</role><auto-assign-usb>yes</auto-assign-usb>"
    "  <on-host-sleep> pause </on-host-sleep><on-lid-close>ignore</on-lid-close>"
    "  <on-host-shutdown>save</on-host-shutdown>"
    "  <power-channel>yes</power-channel><from-the-future>1</from-the-future>"
    "</vmdesk:settings>", &w);

  g_assert_cmpuint (w->len, ==, 0);
  g_assert_cmpstr (s->role, ==, "work");
  g_assert_true (s->auto_assign_usb);
  g_assert_cmpint (s->on_host_sleep, ==, VMD_HOST_SLEEP_PAUSE);
  g_assert_cmpint (s->on_host_shutdown, ==, VMD_HOST_SHUTDOWN_SAVE);
  g_assert_cmpint (s->on_lid_close, ==, VMD_LID_IGNORE);
  g_assert_true (s->power_channel);
}

/* on-host-shutdown has its own words: sleep's "suspend" or "pause" mean nothing there. */
static void
test_host_shutdown_values (void)
{
  const struct { const char *text; VmdHostShutdownAction action; guint warnings; } cases[] = {
    { "shutdown", VMD_HOST_SHUTDOWN_SHUTDOWN, 0 },
    { " save\n", VMD_HOST_SHUTDOWN_SAVE, 0 },
    { "none", VMD_HOST_SHUTDOWN_NONE, 0 },
    { "suspend", VMD_HOST_SHUTDOWN_SHUTDOWN, 1 },
    { "SAVE", VMD_HOST_SHUTDOWN_SHUTDOWN, 1 },
    { "", VMD_HOST_SHUTDOWN_SHUTDOWN, 1 },
    { "save&lt;x&gt;\"", VMD_HOST_SHUTDOWN_SHUTDOWN, 1 },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *xml = g_strdup_printf ("<settings><on-host-sleep>pause</on-host-sleep>"
                                              "<on-host-shutdown>%s</on-host-shutdown></settings>",
                                              cases[i].text);
      g_autoptr(GPtrArray) w = NULL;
      g_autoptr(VmdVmSettings) s = parse (xml, &w);

      g_assert_cmpint (s->on_host_shutdown, ==, cases[i].action);
      g_assert_cmpint (s->on_host_sleep, ==, VMD_HOST_SLEEP_PAUSE);   /* the others stay */
      g_assert_cmpuint (w->len, ==, cases[i].warnings);
      if (w->len > 0)
        {
          g_assert_nonnull (strstr (w->pdata[0], "<on-host-shutdown>: \""));
          g_assert_nonnull (strstr (w->pdata[0], "is not one of shutdown, save, none; using the default"));
          g_assert_null (strchr (w->pdata[0], '\n'));   /* escaped for the log */
        }
    }
  g_assert_cmpstr (vmd_host_shutdown_action_to_string (VMD_HOST_SHUTDOWN_SAVE), ==, "save");
}

static void
test_not_xml (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(VmdVmSettings) s = parse ("<settings><role>work</settings", &w);

  assert_defaults (s);
  g_assert_cmpuint (w->len, ==, 1);
  g_assert_true (g_str_has_prefix (w->pdata[0], "metadata is not well-formed XML"));
}

static void
test_wrong_root (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(VmdVmSettings) s = parse ("<config><role>work</role></config>", &w);

  assert_defaults (s);
  g_assert_cmpuint (w->len, ==, 1);
  g_assert_nonnull (strstr (w->pdata[0], "<config>"));
}

static void
test_bad_values_keep_good_ones (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(VmdVmSettings) s = parse (
    "<settings><role>wo rk&lt;x&gt;</role><on-host-sleep>hibernate</on-host-sleep>"
    "<on-lid-close>ignore</on-lid-close><auto-assign-usb>maybe</auto-assign-usb></settings>", &w);

  g_assert_cmpstr (s->role, ==, "");
  g_assert_cmpint (s->on_host_sleep, ==, VMD_HOST_SLEEP_SUSPEND);
  g_assert_false (s->auto_assign_usb);
  g_assert_cmpint (s->on_lid_close, ==, VMD_LID_IGNORE);
  g_assert_cmpuint (w->len, ==, 3);
  g_assert_nonnull (strstr (w->pdata[1], "\"hibernate\" is not one of suspend, pause, save, none"));
}

static void
test_hostile_sizes_and_entities (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(GString) big = g_string_new ("<settings><role>");
  g_autoptr(VmdVmSettings) s1 = NULL;
  g_autoptr(VmdVmSettings) s2 = NULL;

  for (int i = 0; i < VMD_SETTINGS_MAX_SIZE; i++)
    g_string_append_c (big, 'a');
  g_string_append (big, "</role></settings>");
  s1 = parse (big->str, &w);
  assert_defaults (s1);
  g_assert_nonnull (strstr (w->pdata[0], "more than the"));
  g_ptr_array_unref (w);

  /* An external entity must not be fetched nor expanded into the role. */
  s2 = parse ("<!DOCTYPE s [<!ENTITY x SYSTEM 'file:///etc/passwd'>]>"
              "<settings><role>&x;</role></settings>", &w);
  g_assert_cmpstr (s2->role, ==, "");
}

static void
test_passthrough (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(VmdVmSettings) s = parse (
    "<vmdesk:settings xmlns:vmdesk='" VMD_SETTINGS_NS "'><role>gpu</role>"
    "<vmdesk:passthrough single-gpu='yes'><vmdesk:pci bdf='0000:01:00.0'/>"
    "  <pci bdf='01:00.1'/><pci bdf='ABCDE:0A:1f.7'/><usb bdf='0000:02:00.0'/></vmdesk:passthrough>"
    "</vmdesk:settings>", &w);
  const char *expected[] = { "0000:01:00.0", "0000:01:00.1", "abcde:0a:1f.7", NULL };

  g_assert_cmpuint (w->len, ==, 0);
  /* Spelled as the kernel does: sysfs names and hostdev aliases compare as strings. */
  g_assert_cmpstrv (s->passthrough_pci, expected);
  g_assert_true (s->passthrough_single_gpu);
  g_assert_cmpstr (s->role, ==, "gpu");
}

static void
test_passthrough_bad_entries (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(GString) many = g_string_new ("<settings><passthrough single-gpu='sure'>");
  g_autoptr(VmdVmSettings) s = NULL;
  g_autoptr(VmdVmSettings) crowded = NULL;
  const char *kept[] = { "0000:03:00.0", NULL };
  const char *bad[] = { "", "0000:01:00", "0000:01:20.0", "0000:01:00.8", "000:01:00.0",
                        "123456789:01:00.0", "0000:01:00.0\n", " 0000:01:00.0", "0x00:01:00.0",
                        "0000:01:00.0&quot;/&gt;&lt;pci bdf=&quot;x", "\xef\xbc\x90" "000:01:00.0", NULL };

  for (guint i = 0; bad[i]; i++)
    g_string_append_printf (many, "<pci bdf=\"%s\"/>", bad[i]);
  g_string_append (many, "<pci/><pci bdf='0000:03:00.0'/><pci bdf='0000:03:00.0'/>"
                         "</passthrough></settings>");
  s = parse (many->str, &w);
  g_assert_cmpstrv (s->passthrough_pci, kept);
  g_assert_false (s->passthrough_single_gpu);
  /* One per bad entry, the attribute-less one, the duplicate, the single-gpu word. */
  g_assert_cmpuint (w->len, ==, g_strv_length ((GStrv) bad) + 3);
  g_assert_nonnull (strstr (w->pdata[0], "\"sure\" is not one of no, yes"));
  g_assert_nonnull (strstr (w->pdata[2], "bdf=\"0000:01:00\">: not a PCI address"));
  g_assert_nonnull (strstr (w->pdata[w->len - 1], "0000:03:00.0 is named twice"));
  for (guint i = 0; i < w->len; i++)
    g_assert_null (strchr (w->pdata[i], '\n'));
  g_ptr_array_unref (g_steal_pointer (&w));

  g_string_assign (many, "<settings><passthrough>");
  for (guint i = 0; i < VMD_PASSTHROUGH_MAX + 2; i++)
    g_string_append_printf (many, "<pci bdf='0000:%02x:00.0'/>", i);
  g_string_append (many, "</passthrough></settings>");
  crowded = parse (many->str, &w);
  g_assert_cmpuint (g_strv_length (crowded->passthrough_pci), ==, VMD_PASSTHROUGH_MAX);
  g_assert_cmpuint (w->len, ==, 2);
  g_assert_nonnull (strstr (w->pdata[0], "more than 16 devices"));
}

static void
test_passthrough_written_only_when_used (void)
{
  g_autoptr(VmdVmSettings) s = vmd_vm_settings_new ();
  g_autoptr(VmdVmSettings) back = NULL;
  g_autoptr(VmdVmSettings) copy = NULL;
  g_autoptr(GPtrArray) w = NULL;
  g_autofree char *plain = vmd_vm_settings_to_xml (s);
  g_autofree char *xml = NULL;
  const char *bdfs[] = { "0000:01:00.0", "0000:01:00.1", NULL };

  g_assert_null (strstr (plain, "passthrough"));
  g_strfreev (s->passthrough_pci);
  s->passthrough_pci = g_strdupv ((GStrv) bdfs);
  s->passthrough_single_gpu = TRUE;
  copy = vmd_vm_settings_copy (s);
  g_strfreev (s->passthrough_pci);
  s->passthrough_pci = g_new0 (char *, 1);
  /* The copy owns its list. */
  g_assert_cmpstrv (copy->passthrough_pci, bdfs);
  xml = vmd_vm_settings_to_xml (copy);
  g_assert_nonnull (strstr (xml, "<passthrough single-gpu=\"yes\">"));
  g_assert_nonnull (strstr (xml, "<pci bdf=\"0000:01:00.1\"/>"));
  back = parse (xml, &w);
  g_assert_cmpuint (w->len, ==, 0);
  g_assert_cmpstrv (back->passthrough_pci, bdfs);
  g_assert_true (back->passthrough_single_gpu);
}

static void
test_round_trip (void)
{
  g_autoptr(VmdVmSettings) s = vmd_vm_settings_new ();
  g_autoptr(VmdVmSettings) back = NULL;
  g_autoptr(GPtrArray) w = NULL;
  g_autofree char *xml = NULL;

  g_free (s->role);
  s->role = g_strdup ("gpu-vm");
  s->on_host_sleep = VMD_HOST_SLEEP_SAVE;
  s->on_host_shutdown = VMD_HOST_SHUTDOWN_NONE;
  s->power_channel = TRUE;
  xml = vmd_vm_settings_to_xml (s);
  g_assert_nonnull (strstr (xml, "<on-host-shutdown>none</on-host-shutdown>"));
  back = parse (xml, &w);
  g_assert_cmpuint (w->len, ==, 0);
  g_assert_cmpstr (back->role, ==, "gpu-vm");
  g_assert_cmpint (back->on_host_sleep, ==, VMD_HOST_SLEEP_SAVE);
  g_assert_cmpint (back->on_host_shutdown, ==, VMD_HOST_SHUTDOWN_NONE);
  g_assert_true (back->power_channel);
}

static void
test_evdev_inputs (void)
{
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(VmdVmSettings) s = parse (
    "<vmdesk:settings xmlns:vmdesk='https://vmdesk.org/xmlns/vm-settings/1'><vmdesk:evdev-inputs>"
    "<vmdesk:input path='/dev/input/by-id/usb-Logitech_K120-event-kbd'/>"
    "<input path='/dev/input/event7'/><pci path='/dev/input/event8'/><input/>"
    "<input path='/dev/input/../sda'/><input path='/dev/sda'/><input path='/dev/input/event7'/>"
    "<input path='/dev/input/ev&amp;&lt;x'/><input path='/dev/input/by-id/'/>"
    "<input path='dev/input/event1'/></vmdesk:evdev-inputs></vmdesk:settings>", &w);
  const char *kept[] = { "/dev/input/by-id/usb-Logitech_K120-event-kbd", "/dev/input/event7", NULL };
  const char *why[] = { "not a device under", "component", "not a device under",
                        "named twice", "character udev never", "empty", "not a device under" };

  g_assert_cmpstrv (s->evdev_inputs, kept);
  g_assert_cmpuint (w->len, ==, G_N_ELEMENTS (why));
  for (guint i = 0; i < w->len; i++)
    if (strstr (w->pdata[i], why[i]) == NULL)
      g_error ("warning %u: \"%s\" does not say \"%s\"", i, (char *) w->pdata[i], why[i]);
}

static void
test_evdev_inputs_bounded (void)
{
  g_autoptr(GString) xml = g_string_new ("<settings><evdev-inputs>");
  g_autoptr(GPtrArray) w = NULL;
  g_autoptr(VmdVmSettings) s = NULL;
  g_autofree char *longest = g_strnfill (VMD_EVDEV_PATH_MAX - strlen ("/dev/input/"), 'a');

  g_string_append_printf (xml, "<input path='/dev/input/%s'/><input path='/dev/input/%sb'/>",
                          longest, longest);
  for (guint i = 0; i < VMD_EVDEV_INPUTS_MAX + 2; i++)
    g_string_append_printf (xml, "<input path='/dev/input/event%u'/>", i);
  g_string_append (xml, "</evdev-inputs></settings>");
  s = parse (xml->str, &w);
  g_assert_cmpuint (g_strv_length (s->evdev_inputs), ==, VMD_EVDEV_INPUTS_MAX);
  g_assert_cmpuint (strlen (s->evdev_inputs[0]), ==, VMD_EVDEV_PATH_MAX);
  g_assert_cmpstr (s->evdev_inputs[1], ==, "/dev/input/event0");
  g_assert_cmpuint (w->len, ==, 4);
  g_assert_nonnull (strstr (w->pdata[0], "more than 255"));
  g_assert_nonnull (strstr (w->pdata[1], "more than 8 devices"));
}

static void
test_evdev_inputs_round_trip (void)
{
  g_autoptr(VmdVmSettings) s = vmd_vm_settings_new ();
  g_autoptr(VmdVmSettings) copy = NULL;
  g_autoptr(VmdVmSettings) back = NULL;
  g_autoptr(GPtrArray) w = NULL;
  g_autofree char *plain = vmd_vm_settings_to_xml (s);
  g_autofree char *xml = NULL;
  const char *paths[] = { "/dev/input/by-path/pci-0000:00:14.0-usb-0:1:1.0-event-kbd",
                          "/dev/input/by-id/usb-M+S_Mouse@2=x#1-event-mouse", NULL };

  g_assert_null (strstr (plain, "evdev"));
  g_strfreev (s->evdev_inputs);
  s->evdev_inputs = g_strdupv ((GStrv) paths);
  copy = vmd_vm_settings_copy (s);
  g_strfreev (s->evdev_inputs);
  s->evdev_inputs = g_new0 (char *, 1);
  g_assert_cmpstrv (copy->evdev_inputs, paths);
  xml = vmd_vm_settings_to_xml (copy);
  back = parse (xml, &w);
  g_assert_cmpuint (w->len, ==, 0);
  g_assert_cmpstrv (back->evdev_inputs, paths);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vm-settings/absent", test_absent_is_defaults);
  g_test_add_func ("/vm-settings/full", test_full);
  g_test_add_func ("/vm-settings/not-xml", test_not_xml);
  g_test_add_func ("/vm-settings/wrong-root", test_wrong_root);
  g_test_add_func ("/vm-settings/bad-values", test_bad_values_keep_good_ones);
  g_test_add_func ("/vm-settings/host-shutdown", test_host_shutdown_values);
  g_test_add_func ("/vm-settings/hostile", test_hostile_sizes_and_entities);
  g_test_add_func ("/vm-settings/round-trip", test_round_trip);
  g_test_add_func ("/vm-settings/passthrough", test_passthrough);
  g_test_add_func ("/vm-settings/passthrough-bad-entries", test_passthrough_bad_entries);
  g_test_add_func ("/vm-settings/passthrough-written-only-when-used",
                   test_passthrough_written_only_when_used);
  g_test_add_func ("/vm-settings/evdev-inputs", test_evdev_inputs);
  g_test_add_func ("/vm-settings/evdev-inputs-bounded", test_evdev_inputs_bounded);
  g_test_add_func ("/vm-settings/evdev-inputs-round-trip", test_evdev_inputs_round_trip);
  return g_test_run ();
}
