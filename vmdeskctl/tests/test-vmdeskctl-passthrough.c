/* `vmdeskctl passthrough` output from the daemon's documents: what a person reads, the exit
 * code a script gets, and documents that are hostile (sysfs strings with escapes, bidi
 * overrides, wide characters), incomplete or of the wrong shape. */
#include "vmdeskctl-passthrough.h"

#include <string.h>

/* A report as vfio-helper writes one (docs/vfio.md), cut to what the text uses. */
#define REPORT_HEAD "{\"schema\":1,\"worst\":\"%s\",\"devices\":[{\"bdf\":\"0000:01:00.0\"}],"
#define FINDINGS                                                                              \
  "\"findings\":["                                                                            \
  "{\"id\":\"iommu\",\"severity\":\"ok\",\"bdf\":null,\"message\":\"IOMMU enabled: 4 groups\"," \
  "\"fix\":null},"                                                                            \
  "{\"id\":\"device\",\"severity\":\"ok\",\"bdf\":\"0000:01:00.0\",\"message\":\"NVIDIA VGA\","  \
  "\"fix\":null},"                                                                            \
  "{\"id\":\"reset\",\"severity\":\"%s\",\"bdf\":\"0000:01:00.0\",\"message\":\"no FLR\","     \
  "\"fix\":\"vendor-reset\"}]}"

static JsonNode *
parse (const char *text)
{
  g_autoptr(GError) error = NULL;
  JsonNode *node = vmctl_passthrough_parse (text, "report", &error);

  g_assert_no_error (error);
  return node;
}

static JsonNode *
report (const char *worst, const char *reset_severity)
{
  g_autofree char *text = g_strdup_printf (REPORT_HEAD FINDINGS, worst, reset_severity);

  return parse (text);
}

static void
assert_no_control_chars (const char *text)
{
  for (const char *p = text; *p; p++)
    if (*p != '\n')
      g_assert_false (g_ascii_iscntrl (*p));
  g_assert_null (strstr (text, "\xe2\x80\xae"));   /* U+202E, right-to-left override */
}

static void
test_check_text (void)
{
  g_autoptr(JsonNode) warn = report ("warn", "warn");
  g_autofree char *text = vmctl_passthrough_check_text (warn);

  g_assert_cmpstr (text, ==,
                   "Host\n"
                   "  ok    iommu               IOMMU enabled: 4 groups\n"
                   "\n"
                   "0000:01:00.0\n"
                   "  ok    device              NVIDIA VGA\n"
                   "  warn  reset               no FLR\n"
                   "                            fix: vendor-reset\n"
                   "\n"
                   "Result: warn\n");
}

/* The same codes as `vmdesk-vfio check`'s severities, moved into vmdeskctl's free range. */
static void
test_check_exit (void)
{
  g_autoptr(JsonNode) ok = report ("ok", "ok");
  g_autoptr(JsonNode) warn = report ("warn", "warn");
  g_autoptr(JsonNode) fail = report ("fail", "fail");
  /* Without a worst of its own (or with one it cannot be), the findings decide. */
  g_autoptr(JsonNode) no_worst = parse ("{\"findings\":[{\"severity\":\"warn\"},"
                                        "{\"severity\":\"fail\"},{\"severity\":7}]}");
  g_autoptr(JsonNode) odd_worst = parse ("{\"worst\":[1],\"findings\":[{\"severity\":\"warn\"}]}");
  g_autoptr(JsonNode) unknown_worst = parse ("{\"worst\":\"critical\",\"findings\":[]}");
  g_autoptr(JsonNode) unknown_finding = parse ("{\"findings\":[{\"severity\":\"ok\"},{\"severity\":\"critical\"}]}");
  g_autoptr(JsonNode) empty = parse ("{}");

  g_assert_cmpint (vmctl_passthrough_check_exit (ok), ==, VMCTL_EXIT_OK);
  g_assert_cmpint (vmctl_passthrough_check_exit (warn), ==, VMCTL_EXIT_PASSTHROUGH_WARN);
  g_assert_cmpint (vmctl_passthrough_check_exit (fail), ==, VMCTL_EXIT_PASSTHROUGH_REFUSED);
  g_assert_cmpint (vmctl_passthrough_check_exit (no_worst), ==, VMCTL_EXIT_PASSTHROUGH_REFUSED);
  g_assert_cmpint (vmctl_passthrough_check_exit (odd_worst), ==, VMCTL_EXIT_PASSTHROUGH_WARN);
  g_assert_cmpint (vmctl_passthrough_check_exit (empty), ==, VMCTL_EXIT_OK);
  /* Severities it does not know count as a refusal, never as "ok". */
  g_assert_cmpint (vmctl_passthrough_check_exit (unknown_worst), ==, VMCTL_EXIT_PASSTHROUGH_REFUSED);
  g_assert_cmpint (vmctl_passthrough_check_exit (unknown_finding), ==, VMCTL_EXIT_PASSTHROUGH_REFUSED);
  g_assert_cmpint (VMCTL_EXIT_PASSTHROUGH_WARN, ==, 9);
  g_assert_cmpint (VMCTL_EXIT_PASSTHROUGH_REFUSED, ==, 10);
}

/* Sysfs strings reach the report escaped by vfio-helper, but vmdeskctl does not count on it:
 * raw control characters, a bidi override and a 4 KiB name stay on their one line. */
static void
test_check_hostile (void)
{
  g_autofree char *long_name = g_strnfill (4096, 'A');
  g_autofree char *text = g_strdup_printf (
    "{\"worst\":\"fail\",\"devices\":[{\"bdf\":\"0000:01:00.0\\u001b[2J\"}],\"findings\":["
    "{\"id\":\"device\\n  ok    fake\",\"severity\":\"fail\",\"bdf\":\"0000:01:00.0\\u001b[2J\","
    "\"message\":\"%s \\u202eevil \\u65e5\\u672c\",\"fix\":\"rm -rf\\r\\n\\u0007\"},"
    "{\"id\":3,\"severity\":{},\"bdf\":null,\"message\":null,\"fix\":[]}, 17, null]}", long_name);
  g_autoptr(JsonNode) node = parse (text);
  g_autofree char *out = vmctl_passthrough_check_text (node);
  g_auto(GStrv) lines = g_strsplit (out, "\n", -1);

  assert_no_control_chars (out);
  g_assert_cmpstr (lines[1], ==, "  ?     ?                   ?");
  g_assert_cmpstr (lines[3], ==, "0000:01:00.0\\x1b[2J");
  g_assert_true (g_str_has_prefix (lines[4], "  fail  device\\n  ok    fake AAAA"));
  g_assert_true (g_str_has_suffix (lines[4], " \\u202eevil \xe6\x97\xa5\xe6\x9c\xac"));
  g_assert_cmpstr (lines[5], ==, "                            fix: rm -rf\\r\\n\\x07");
  g_assert_cmpstr (lines[7], ==, "Result: fail");
  g_assert_null (lines[9]);
}

static void
test_parse_errors (void)
{
  const char *const bad[] = { "", "not json", "[1, 2]", "\"text\"", "{\"a\": ", "null" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(JsonNode) node = vmctl_passthrough_parse (bad[i], "plan", &error);

      g_assert_null (node);
      g_assert_error (error, VMCTL_ERROR, VMCTL_EXIT_FAILURE);
      g_assert_true (g_str_has_prefix (error->message, "vmdeskd sent a plan that is not"));
    }
}

#define PLAN                                                                                   \
  "{\"schema\":1,\"bdf\":\"0000:01:00.0\",\"allowed\":%s,\"single_gpu\":%s,"                    \
  "\"functions\":[{\"bdf\":\"0000:01:00.0\",\"description\":\"NVIDIA VGA [10de:2684]\","        \
  "\"driver\":\"nvidia\",\"target\":\"vfio-pci\",\"action\":\"move\"},"                         \
  "{\"bdf\":\"0000:01:00.1\",\"description\":\"NVIDIA Audio [10de:22ba]\",\"driver\":null,"     \
  "\"target\":\"vfio-pci\",\"action\":\"move\"}],"                                              \
  "\"steps\":[\"0000:01:00.0: write vfio-pci to driver_override\",\"0000:01:00.0: unbind\"],"  \
  "\"host_loses\":[],\"sessions\":%s,\"refusals\":%s}"

static void
test_plan_text (void)
{
  g_autofree char *allowed_json = g_strdup_printf (PLAN, "true", "false", "[]", "[]");
  g_autofree char *refused_json = g_strdup_printf (
    PLAN, "false", "true",
    "[{\"id\":\"c1\",\"type\":\"wayland\",\"class\":\"user\",\"seat\":\"seat0\",\"user\":\"alice\\u001b\"}]",
    "[{\"id\":\"host-console\",\"message\":\"drives the console\",\"fix\":\"video=efifb:off\","
    "\"forceable\":true,\"overridden\":false},{\"id\":\"keyboard\",\"message\":\"only keyboard\","
    "\"fix\":null,\"forceable\":true,\"overridden\":true}]");
  g_autoptr(JsonNode) allowed = parse (allowed_json);
  g_autoptr(JsonNode) refused = parse (refused_json);
  g_autofree char *allowed_text = vmctl_passthrough_plan_text (allowed);
  g_autofree char *refused_text = vmctl_passthrough_plan_text (refused);
  g_auto(GStrv) functions = vmctl_passthrough_plan_functions (allowed);

  g_assert_true (vmctl_passthrough_plan_allowed (allowed));
  g_assert_false (vmctl_passthrough_plan_allowed (refused));
  g_assert_cmpstrv (functions, ((const char *const[]) { "0000:01:00.0", "0000:01:00.1", NULL }));
  g_assert_cmpstr (allowed_text, ==,
                   "Plan for 0000:01:00.0\n"
                   "\n"
                   "Functions:\n"
                   "  0000:01:00.0  NVIDIA VGA [10de:2684]: nvidia -> vfio-pci\n"
                   "  0000:01:00.1  NVIDIA Audio [10de:22ba]: no driver -> vfio-pci\n"
                   "\n"
                   "Steps:\n"
                   "   1. 0000:01:00.0: write vfio-pci to driver_override\n"
                   "   2. 0000:01:00.0: unbind\n"
                   "\n"
                   "The host loses:\n"
                   "  nothing in use\n"
                   "\n"
                   "Allowed: StartVM would bind it.\n");
  g_assert_true (g_str_has_prefix (refused_text, "Plan for 0000:01:00.0 (single-GPU hand-over)\n"));
  g_assert_nonnull (strstr (refused_text,
                            "\nGraphical sessions it ends:\n"
                            "  - session c1 (wayland) of alice\\x1b on seat0\n"
                            "\nRefusals:\n"
                            "  host-console  drives the console\n"
                            "                fix: video=efifb:off\n"
                            "  keyboard      only keyboard [overridden]\n"
                            "\nRefused: StartVM would refuse it, and change nothing.\n"));
  assert_no_control_chars (refused_text);
}

/* A plan of the wrong shape says "?" where it has nothing, and is never allowed. */
static void
test_plan_wrong_shape (void)
{
  g_autoptr(JsonNode) node = parse ("{\"allowed\":\"yes\",\"functions\":{\"bdf\":1},"
                                    "\"steps\":[1,null,\"x\"],\"refusals\":[3]}");
  g_autofree char *text = vmctl_passthrough_plan_text (node);
  g_auto(GStrv) functions = vmctl_passthrough_plan_functions (node);

  g_assert_false (vmctl_passthrough_plan_allowed (node));
  g_assert_cmpstrv (functions, ((const char *const[]) { NULL }));
  g_assert_true (g_str_has_prefix (text, "Plan for ?\n\nFunctions:\n\nSteps:\n   1. ?\n   2. ?\n"
                                         "   3. x\n"));
  g_assert_nonnull (strstr (text, "\nRefusals:\n  ?             ?\n"));
}

static GVariant *
holding (const char *bdf, const char *vm, const char *state, const char *const *functions,
         const char *error)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "bdf", g_variant_new_string (bdf));
  g_variant_builder_add (&b, "{sv}", "vm", g_variant_new_string (vm));
  g_variant_builder_add (&b, "{sv}", "functions", g_variant_new_strv (functions, -1));
  g_variant_builder_add (&b, "{sv}", "state", g_variant_new_string (state));
  g_variant_builder_add (&b, "{sv}", "single-gpu", g_variant_new_boolean (FALSE));
  if (error)
    g_variant_builder_add (&b, "{sv}", "error", g_variant_new_string (error));
  return g_variant_builder_end (&b);
}

static void
test_table (void)
{
  const char *const gpu[] = { "0000:01:00.0", "0000:01:00.1", NULL };
  const char *const none[] = { NULL };
  GVariant *records[] = {
    holding ("0000:01:00.0", "\xe6\x97\xa5\xe6\x9c\xac", "bound", gpu, NULL),
    holding ("0000:05:00.0", "", "release-failed", none,
             "release of 0000:05:00.0 incomplete: \x1b[2J\nEBUSY"),
  };
  g_autoptr(GVariant) held = g_variant_ref_sink (g_variant_new_array (NULL, records, 2));
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new_array (G_VARIANT_TYPE_VARDICT,
                                                                       NULL, 0));
  g_autofree char *table = vmctl_passthrough_table (held);
  g_autofree char *nothing = vmctl_passthrough_table (empty);

  assert_no_control_chars (table);
  g_assert_cmpstr (table, ==,
                   "DEVICE        VM    STATE           FUNCTIONS\n"
                   "0000:01:00.0  \xe6\x97\xa5\xe6\x9c\xac  bound           "
                   "0000:01:00.0,0000:01:00.1\n"
                   "0000:05:00.0  -     release-failed  -\n"
                   "error: 0000:05:00.0: release of 0000:05:00.0 incomplete: \\x1b[2J\\nEBUSY\n");
  g_assert_cmpstr (nothing, ==, "no pass-through devices held\n");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vmdeskctl/passthrough/check-text", test_check_text);
  g_test_add_func ("/vmdeskctl/passthrough/check-exit", test_check_exit);
  g_test_add_func ("/vmdeskctl/passthrough/check-hostile", test_check_hostile);
  g_test_add_func ("/vmdeskctl/passthrough/parse-errors", test_parse_errors);
  g_test_add_func ("/vmdeskctl/passthrough/plan-text", test_plan_text);
  g_test_add_func ("/vmdeskctl/passthrough/plan-wrong-shape", test_plan_wrong_shape);
  g_test_add_func ("/vmdeskctl/passthrough/table", test_table);
  return g_test_run ();
}
