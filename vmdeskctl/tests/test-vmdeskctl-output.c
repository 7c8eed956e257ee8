/* Tables and JSON for VM records, including names chosen to break them. */
#include "vmdeskctl-output.h"

#include "vmdeskctl-error.h"

#include <string.h>

#define HOSTILE "evil\"name\nline2 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \x1b[2J\\"

static GVariant *
record (const char *name, const char *state, gboolean on_screen, const char *role,
        const char *warning)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  g_variant_builder_add (&b, "{sv}", "uuid", g_variant_new_string ("c7a5fdbd-cdaf-9455-926a-d65c16db1809"));
  g_variant_builder_add (&b, "{sv}", "state", g_variant_new_string (state));
  g_variant_builder_add (&b, "{sv}", "state-reason", g_variant_new_string ("booted"));
  g_variant_builder_add (&b, "{sv}", "on-screen", g_variant_new_boolean (on_screen));
  g_variant_builder_add (&b, "{sv}", "role", g_variant_new_string (role));
  g_variant_builder_add (&b, "{sv}", "persistent", g_variant_new_boolean (TRUE));
  if (warning)
    g_variant_builder_add (&b, "{sv}", "settings-warning", g_variant_new_string (warning));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static JsonObject *
parse_object (const char *text, JsonParser *parser)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (parser));
}

static void
test_vm_json_exact (void)
{
  g_autoptr(GVariant) vm = record ("work", "running", TRUE, "office", NULL);
  g_autoptr(JsonNode) node = vmctl_vm_to_json (vm);
  g_autofree char *text = vmctl_json_to_string (node);

  g_assert_cmpstr (text, ==,
                   "{\n"
                   "  \"name\" : \"work\",\n"
                   "  \"uuid\" : \"c7a5fdbd-cdaf-9455-926a-d65c16db1809\",\n"
                   "  \"state\" : \"running\",\n"
                   "  \"state_reason\" : \"booted\",\n"
                   "  \"on_screen\" : true,\n"
                   "  \"role\" : \"office\",\n"
                   "  \"persistent\" : true,\n"
                   "  \"display\" : null,\n"
                   "  \"physical_display\" : null,\n"
                   "  \"passthrough\" : null,\n"
                   "  \"passthrough_single_gpu\" : null,\n"
                   "  \"settings_warning\" : null\n"
                   "}\n");
}

/* The switcher's keys and what StartVM passes through, in JSON and in `status VM`. */
static GVariant *
gpu_record (const char *const *passthrough)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string ("gpu"));
  g_variant_builder_add (&b, "{sv}", "display", g_variant_new_string ("spice"));
  g_variant_builder_add (&b, "{sv}", "physical-display", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&b, "{sv}", "passthrough", g_variant_new_strv (passthrough, -1));
  g_variant_builder_add (&b, "{sv}", "passthrough-single-gpu", g_variant_new_boolean (TRUE));
  return g_variant_ref_sink (g_variant_builder_end (&b));
}

static void
test_vm_display_and_passthrough (void)
{
  const char *const bdfs[] = { "0000:01:00.0", "0000:01:00.1", NULL };
  const char *const hostile[] = { "0000:01:00.0\x1b[2J\n", NULL };
  g_autoptr(GVariant) vm = gpu_record (bdfs);
  g_autoptr(GVariant) odd = gpu_record (hostile);
  g_autoptr(JsonNode) node = vmctl_vm_to_json (vm);
  JsonObject *obj = json_node_get_object (node);
  JsonArray *passthrough = json_object_get_array_member (obj, "passthrough");
  g_autofree char *text = vmctl_vm_details (vm);
  g_autofree char *odd_text = vmctl_vm_details (odd);

  g_assert_cmpstr (json_object_get_string_member (obj, "display"), ==, "spice");
  g_assert_true (json_object_get_boolean_member (obj, "physical_display"));
  g_assert_true (json_object_get_boolean_member (obj, "passthrough_single_gpu"));
  g_assert_cmpuint (json_array_get_length (passthrough), ==, 2);
  g_assert_cmpstr (json_array_get_string_element (passthrough, 1), ==, "0000:01:00.1");
  g_assert_nonnull (strstr (text, "\ndisplay:     spice\n"
                                  "physical:    yes (on screen, it has the host's own screen and input)\n"
                                  "passthrough: 0000:01:00.0, 0000:01:00.1 (may take the host's only "
                                  "display)\n"));
  g_assert_nonnull (strstr (odd_text, "passthrough: 0000:01:00.0\\x1b[2J\\n (may take"));
}

static void
test_vm_json_hostile (void)
{
  g_autoptr(GVariant) vm = record (HOSTILE, "shutoff", FALSE, "", "bad <role>\n");
  g_autoptr(JsonNode) node = vmctl_vm_to_json (vm);
  g_autofree char *text = vmctl_json_to_string (node);
  g_autoptr(JsonParser) parser = json_parser_new ();
  JsonObject *obj = parse_object (text, parser);

  /* Valid JSON that round-trips to the exact bytes, with the escapes JSON requires. */
  g_assert_cmpstr (json_object_get_string_member (obj, "name"), ==, HOSTILE);
  g_assert_nonnull (strstr (text, "evil\\\"name\\nline2 \xc3\xbc"));
  g_assert_nonnull (strstr (text, "\\u001b[2J\\\\"));
  g_assert_cmpstr (json_object_get_string_member (obj, "settings_warning"), ==, "bad <role>\n");
  g_assert_false (json_object_get_boolean_member (obj, "on_screen"));
  g_assert_cmpstr (json_object_get_string_member (obj, "role"), ==, "");
}

static void
test_vm_json_missing_keys (void)
{
  g_autoptr(GVariant) vm = g_variant_ref_sink (g_variant_new_parsed ("{'name': <'x'>, 'on-screen': <'not a bool'>}"));
  g_autoptr(JsonNode) node = vmctl_vm_to_json (vm);
  JsonObject *obj = json_node_get_object (node);

  g_assert_cmpstr (json_object_get_string_member (obj, "name"), ==, "x");
  g_assert_true (json_object_get_null_member (obj, "uuid"));
  g_assert_true (json_object_get_null_member (obj, "on_screen"));
  g_assert_true (json_object_get_null_member (obj, "persistent"));
  g_assert_cmpuint (json_object_get_size (obj), ==, 12);
  g_assert_true (json_object_get_null_member (obj, "display"));
  g_assert_true (json_object_get_null_member (obj, "passthrough"));
}

static void
test_escape (void)
{
  struct { const char *in; VmctlEscapeMode mode; const char *out; } cases[] = {
    { "plain", VMCTL_ESCAPE_ALL, "plain" },
    { "caf\xc3\xa9 \xe6\x97\xa5", VMCTL_ESCAPE_ALL, "caf\xc3\xa9 \xe6\x97\xa5" },
    { "a\nb\tc\rd", VMCTL_ESCAPE_ALL, "a\\nb\\tc\\rd" },
    { "a\nb\tc\rd", VMCTL_ESCAPE_KEEP_LINES, "a\nb\tc\\rd" },
    { "\x1b[31mred\x7f", VMCTL_ESCAPE_ALL, "\\x1b[31mred\\x7f" },
    { "c1\xc2\x9b", VMCTL_ESCAPE_ALL, "c1\\x9b" },
    { "rlo\xe2\x80\xaeoof", VMCTL_ESCAPE_ALL, "rlo\\u202eoof" },
    { "ls\xe2\x80\xa8", VMCTL_ESCAPE_ALL, "ls\\u2028" },
    { "bad\xff utf8", VMCTL_ESCAPE_ALL, "bad\\xff utf8" },
    { "back\\slash", VMCTL_ESCAPE_ALL, "back\\\\slash" },
    { "back\\slash", VMCTL_ESCAPE_KEEP_LINES, "back\\slash" },
    /* Emoji sequences (zero-width joiner) are printable and stay. */
    { "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb", VMCTL_ESCAPE_ALL, "\xf0\x9f\x91\xa9\xe2\x80\x8d\xf0\x9f\x92\xbb" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *out = vmctl_escape (cases[i].in, cases[i].mode);
      g_assert_cmpstr (out, ==, cases[i].out);
    }
  g_assert_cmpuint (vmctl_display_width ("\xe6\x97\xa5\xe6\x9c\xac"), ==, 4);
  g_assert_cmpuint (vmctl_display_width ("abc"), ==, 3);
}

static void
assert_no_control_chars (const char *text)
{
  for (const char *p = text; *p; p++)
    if (*p != '\n')
      g_assert_false (g_ascii_iscntrl (*p));
}

static void
test_table (void)
{
  g_autoptr(GVariant) a = record ("\xe6\x97\xa5\xe6\x9c\xac", "running", TRUE, "work", NULL);
  g_autoptr(GVariant) b = record (HOSTILE, "shutoff", FALSE, "", "metadata is \x1b not XML");
  g_autoptr(GVariant) c = record ("plain", "paused", FALSE, "a\tb", NULL);
  GVariant *children[] = { a, b, c };
  g_autoptr(GVariant) vms = g_variant_ref_sink (g_variant_new_array (NULL, children, 3));
  g_autofree char *table = vmctl_vm_table (vms);
  g_auto(GStrv) lines = g_strsplit (table, "\n", -1);
  gsize state_col = 0;

  assert_no_control_chars (table);
  /* header, three rows, one warning, and the empty string after the last newline */
  g_assert_cmpuint (g_strv_length (lines), ==, 6);
  g_assert_true (g_str_has_prefix (lines[0], "  NAME"));
  g_assert_true (g_str_has_prefix (lines[1], "* \xe6\x97\xa5\xe6\x9c\xac "));
  g_assert_true (g_str_has_prefix (lines[2], "  evil\"name\\nline2 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \\x1b[2J\\\\ "));
  g_assert_true (g_str_has_suffix (lines[2], "shutoff  -"));
  g_assert_true (g_str_has_suffix (lines[3], "paused   a\\tb"));
  g_assert_nonnull (strstr (lines[4], "warning: VM 'evil\"name\\nline2"));
  g_assert_nonnull (strstr (lines[4], "metadata is \\x1b not XML"));

  /* The STATE column starts at the same screen column on every row, wide names or not. */
  for (guint i = 0; i < 4; i++)
    {
      const char *state = strstr (lines[i], i == 0 ? "STATE" : i == 1 ? "running"
                                               : i == 2 ? "shutoff" : "paused");
      g_autofree char *before = g_strndup (lines[i], state - lines[i]);
      gsize col = vmctl_display_width (before);

      if (i == 0)
        state_col = col;
      g_assert_cmpuint (col, ==, state_col);
    }
}

static void
test_table_empty (void)
{
  g_autoptr(GVariant) vms = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARDICT, NULL, 0));
  g_autofree char *table = vmctl_vm_table (vms);

  g_assert_cmpstr (table, ==, "no VMs\n");
}

static void
test_details (void)
{
  g_autoptr(GVariant) vm = record ("a\nb", "running", TRUE, "", "w");
  g_autofree char *text = vmctl_vm_details (vm);

  g_assert_cmpstr (text, ==,
                   "name:        a\\nb\n"
                   "uuid:        c7a5fdbd-cdaf-9455-926a-d65c16db1809\n"
                   "state:       running (booted)\n"
                   "on screen:   yes\n"
                   "role:        -\n"
                   "persistent:  yes\n"
                   "warning:     runs with default settings: w\n");
}

static void
test_status (void)
{
  g_autoptr(GVariant) props = g_variant_ref_sink (g_variant_new_parsed (
    "{'Version': <'0.1.0'>, 'OnScreen': <''>, 'Connected': <true>, 'LibvirtUri': <'qemu:///system'>}"));
  g_autoptr(JsonNode) node = vmctl_status_to_json (props, 2);
  g_autofree char *json = vmctl_json_to_string (node);
  g_autofree char *text = vmctl_status_text (props, 2);

  g_assert_cmpstr (json, ==,
                   "{\n"
                   "  \"version\" : \"0.1.0\",\n"
                   "  \"libvirt_uri\" : \"qemu:///system\",\n"
                   "  \"connected\" : true,\n"
                   "  \"on_screen\" : null,\n"
                   "  \"vm_count\" : 2\n"
                   "}\n");
  g_assert_cmpstr (text, ==,
                   "vmdeskd:    0.1.0\n"
                   "libvirt:    qemu:///system (connected)\n"
                   "on screen:  host\n"
                   "VMs:        2\n");
}

static void
test_error_json (void)
{
  g_autoptr(GError) error = g_dbus_error_new_for_dbus_error ("org.freedesktop.DBus.Error.NameHasNoOwner",
                                                              "no such name");
  g_autoptr(JsonNode) node = vmctl_error_to_json (error);
  JsonObject *inner = json_object_get_object_member (json_node_get_object (node), "error");

  g_assert_cmpstr (json_object_get_string_member (inner, "name"), ==,
                   "org.freedesktop.DBus.Error.NameHasNoOwner");
  g_assert_cmpstr (json_object_get_string_member (inner, "message"), ==,
                   "vmdeskd is not running (no owner for org.vmdesk.Manager1 on the system bus)");
  g_assert_cmpint (json_object_get_int_member (inner, "exit_code"), ==, VMCTL_EXIT_DAEMON_ABSENT);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vmdeskctl/output/vm-json-exact", test_vm_json_exact);
  g_test_add_func ("/vmdeskctl/output/vm-json-hostile", test_vm_json_hostile);
  g_test_add_func ("/vmdeskctl/output/vm-display-and-passthrough", test_vm_display_and_passthrough);
  g_test_add_func ("/vmdeskctl/output/vm-json-missing-keys", test_vm_json_missing_keys);
  g_test_add_func ("/vmdeskctl/output/escape", test_escape);
  g_test_add_func ("/vmdeskctl/output/table", test_table);
  g_test_add_func ("/vmdeskctl/output/table-empty", test_table_empty);
  g_test_add_func ("/vmdeskctl/output/details", test_details);
  g_test_add_func ("/vmdeskctl/output/status", test_status);
  g_test_add_func ("/vmdeskctl/output/error-json", test_error_json);
  return g_test_run ();
}
