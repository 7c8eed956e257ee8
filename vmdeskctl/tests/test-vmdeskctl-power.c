/* `vmdeskctl power`: the summary GetPower returns, as text and as JSON, with the strings a
 * guest or a VM's owner chooses (names, link problems) made to break them. */
#include "vmdeskctl-output.h"

#include <math.h>
#include <string.h>

#define HOSTILE "evil\"name\nline2 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \x1b[2J\\"
/* A right-to-left override would reorder the rest of the terminal line. */
#define PROBLEM "malformed line from the guest: \xe2\x80\xae" "desrever\r\x1b]0;title\x07"

static GVariant *
battery (const char *name, double percent, const char *state, gint64 to_empty)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  g_variant_builder_add (&b, "{sv}", "percentage", g_variant_new_double (percent));
  g_variant_builder_add (&b, "{sv}", "state", g_variant_new_string (state));
  g_variant_builder_add (&b, "{sv}", "time-to-empty", g_variant_new_int64 (to_empty));
  g_variant_builder_add (&b, "{sv}", "time-to-full", g_variant_new_int64 (0));
  return g_variant_builder_end (&b);
}

static GVariant *
guest (const char *name, const char *link, const char *const *caps, gboolean lid,
       const char *problem)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (name));
  g_variant_builder_add (&b, "{sv}", "link", g_variant_new_string (link));
  g_variant_builder_add (&b, "{sv}", "caps", g_variant_new_strv (caps, -1));
  g_variant_builder_add (&b, "{sv}", "lid-closed", g_variant_new_boolean (lid));
  g_variant_builder_add (&b, "{sv}", "problem", g_variant_new_string (problem));
  return g_variant_builder_end (&b);
}

/* What vmdeskd sends on battery at 42 %, lid closed, two guests (one of them hostile). */
static GVariant *
summary (double percent, gboolean available)
{
  const char *caps[] = { "power", "lid", "button", NULL };
  const char *none[] = { NULL };
  const char *quiesced[] = { "work", HOSTILE, NULL };
  const char *under_way[] = { "wake", "host-shutdown", NULL };
  GVariantBuilder d, batteries, guests;

  g_variant_builder_init (&batteries, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_add_value (&batteries, battery ("BAT0", 40.4, "discharging", 3900));
  g_variant_builder_add_value (&batteries, battery ("BAT1", percent, "discharging", 125));
  g_variant_builder_init (&guests, G_VARIANT_TYPE ("aa{sv}"));
  g_variant_builder_add_value (&guests, guest ("work", "ready", caps, TRUE, ""));
  g_variant_builder_add_value (&guests, guest (HOSTILE, "waiting", none, FALSE, PROBLEM));

  g_variant_builder_init (&d, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&d, "{sv}", "available", g_variant_new_boolean (available));
  g_variant_builder_add (&d, "{sv}", "on-battery", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&d, "{sv}", "battery-present", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&d, "{sv}", "percentage", g_variant_new_double (percent));
  g_variant_builder_add (&d, "{sv}", "state", g_variant_new_string ("discharging"));
  g_variant_builder_add (&d, "{sv}", "time-to-empty", g_variant_new_int64 (3900));
  g_variant_builder_add (&d, "{sv}", "time-to-full", g_variant_new_int64 (0));
  g_variant_builder_add (&d, "{sv}", "warning-level", g_variant_new_string ("low"));
  g_variant_builder_add (&d, "{sv}", "critical", g_variant_new_boolean (FALSE));
  g_variant_builder_add (&d, "{sv}", "batteries", g_variant_builder_end (&batteries));
  g_variant_builder_add (&d, "{sv}", "lid-closed", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&d, "{sv}", "docked", g_variant_new_boolean (FALSE));
  g_variant_builder_add (&d, "{sv}", "sleep-inhibitor", g_variant_new_boolean (TRUE));
  g_variant_builder_add (&d, "{sv}", "quiesced", g_variant_new_strv (quiesced, -1));
  g_variant_builder_add (&d, "{sv}", "under-way", g_variant_new_strv (under_way, -1));
  g_variant_builder_add (&d, "{sv}", "guests", g_variant_builder_end (&guests));
  return g_variant_ref_sink (g_variant_builder_end (&d));
}

/* Nothing a terminal would act on: no ESC, no bare CR, no BEL, no bidi override, and one
 * table row per guest. */
static void
assert_terminal_safe (const char *text)
{
  g_assert_null (strchr (text, '\x1b'));
  g_assert_null (strchr (text, '\r'));
  g_assert_null (strchr (text, '\x07'));
  g_assert_null (strstr (text, "\xe2\x80\xae"));
  g_assert_true (g_utf8_validate (text, -1, NULL));
}

static void
test_text (void)
{
  g_autoptr(GVariant) power = summary (42.0, TRUE);
  g_autofree char *text = vmctl_power_text (power);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  const char *work_row = NULL, *hostile_row = NULL;

  assert_terminal_safe (text);
  g_assert_cmpstr (lines[0], ==, "battery:    42% discharging, 1 h 05 min to empty");
  g_assert_cmpstr (lines[1], ==, "            BAT0: 40% discharging, 1 h 05 min to empty");
  g_assert_cmpstr (lines[2], ==, "            BAT1: 42% discharging, 2 min to empty");
  g_assert_cmpstr (lines[3], ==, "AC:         on battery");
  g_assert_cmpstr (lines[4], ==, "warning:    low");
  g_assert_cmpstr (lines[5], ==, "lid:        closed");
  g_assert_cmpstr (lines[6], ==, "inhibitor:  held");
  g_assert_cmpstr (lines[7], ==, "quiesced:   work, "
                   "evil\"name\\nline2 \xc3\xbc \xe6\x97\xa5\xe6\x9c\xac \\x1b[2J\\\\");
  g_assert_cmpstr (lines[8], ==, "under way:  wake, host-shutdown");
  g_assert_cmpstr (lines[9], ==, "guests:");
  g_assert_true (g_str_has_prefix (lines[10], "  NAME"));
  work_row = lines[11];
  hostile_row = lines[12];
  g_assert_cmpstr (lines[13], ==, "");   /* one row per guest, however many lines a name has */
  g_assert_null (lines[14]);
  g_assert_true (g_str_has_prefix (work_row, "  work "));
  g_assert_nonnull (strstr (work_row, " ready "));
  g_assert_nonnull (strstr (work_row, " power,lid,button "));
  g_assert_nonnull (strstr (work_row, " closed "));
  g_assert_true (g_str_has_suffix (work_row, " -"));
  g_assert_true (g_str_has_prefix (hostile_row, "  evil\"name\\nline2"));
  g_assert_nonnull (strstr (hostile_row, " waiting "));
  g_assert_nonnull (strstr (hostile_row, "\\u202edesrever\\r\\x1b]0;title\\x07"));
  /* Columns line up whatever the names hold (the hostile one is wider, CJK counts 2). */
  g_assert_cmpint (g_utf8_pointer_to_offset (lines[10], strstr (lines[10], "LINK")), ==,
                   g_utf8_pointer_to_offset (work_row, strstr (work_row, "ready")));
}

/* A daemon that sends nonsense numbers or lacks keys still gives a readable summary. */
static void
test_text_odd_values (void)
{
  g_autoptr(GVariant) power = summary (NAN, FALSE);
  g_autofree char *text = vmctl_power_text (power);
  g_autoptr(GVariant) empty = g_variant_ref_sink (g_variant_new ("a{sv}", NULL));
  g_autofree char *bare = vmctl_power_text (empty);
  GVariantDict d;
  g_autoptr(GVariant) wrong = NULL;
  g_autofree char *wrong_text = NULL;

  g_assert_true (g_str_has_prefix (text, "UPower:     not on the bus"));
  g_assert_nonnull (strstr (text, "battery:    ? discharging"));
  g_assert_cmpstr (bare, ==,
                   "battery:    none\n"
                   "AC:         ?\n"
                   "warning:    ?\n"
                   "lid:        ?\n"
                   "inhibitor:  ?\n"
                   "quiesced:   ?\n"
                   "under way:  ?\n"
                   "guests:     none with a power channel\n");
  /* Keys of the wrong type count as missing, not as a crash. */
  g_variant_dict_init (&d, NULL);
  g_variant_dict_insert (&d, "on-battery", "s", "yes");
  g_variant_dict_insert (&d, "battery-present", "b", TRUE);
  g_variant_dict_insert (&d, "percentage", "s", "42");
  g_variant_dict_insert (&d, "time-to-empty", "x", G_MAXINT64);
  g_variant_dict_insert (&d, "guests", "as", NULL);
  wrong = g_variant_ref_sink (g_variant_dict_end (&d));
  wrong_text = vmctl_power_text (wrong);
  g_assert_nonnull (strstr (wrong_text,
                            "battery:    ? unknown, 2562047788015215 h 30 min to empty\n"));
  g_assert_nonnull (strstr (wrong_text, "AC:         ?\n"));
  g_assert_nonnull (strstr (wrong_text, "guests:     none with a power channel\n"));
}

static void
test_json (void)
{
  g_autoptr(GVariant) power = summary (NAN, TRUE);
  g_autoptr(JsonNode) node = vmctl_power_to_json (power);
  g_autofree char *text = vmctl_json_to_string (node);
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) error = NULL;
  JsonObject *root, *hostile;
  JsonArray *guests, *batteries, *caps;

  /* What was printed parses: the NaN became null, not the "nan" no parser reads. */
  g_assert_true (json_parser_load_from_data (parser, text, -1, &error));
  g_assert_no_error (error);
  root = json_node_get_object (json_parser_get_root (parser));
  g_assert_true (json_object_get_null_member (root, "percentage"));
  g_assert_true (json_object_get_boolean_member (root, "on-battery"));
  g_assert_cmpint (json_object_get_int_member (root, "time-to-empty"), ==, 3900);
  g_assert_cmpstr (json_object_get_string_member (root, "warning-level"), ==, "low");
  batteries = json_object_get_array_member (root, "batteries");
  g_assert_cmpuint (json_array_get_length (batteries), ==, 2);
  g_assert_cmpfloat (json_object_get_double_member (json_array_get_object_element (batteries, 0),
                                                    "percentage"), ==, 40.4);
  g_assert_true (json_object_get_null_member (json_array_get_object_element (batteries, 1),
                                              "percentage"));
  /* Strings are exact in JSON: the escaping is the terminal's business only. */
  g_assert_cmpstr (json_array_get_string_element (
                     json_object_get_array_member (root, "quiesced"), 1), ==, HOSTILE);
  guests = json_object_get_array_member (root, "guests");
  hostile = json_array_get_object_element (guests, 1);
  g_assert_cmpstr (json_object_get_string_member (hostile, "name"), ==, HOSTILE);
  g_assert_cmpstr (json_object_get_string_member (hostile, "problem"), ==, PROBLEM);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (hostile, "caps")), ==, 0);
  caps = json_object_get_array_member (json_array_get_object_element (guests, 0), "caps");
  g_assert_cmpstr (json_array_get_string_element (caps, 2), ==, "button");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vmdeskctl/power/text", test_text);
  g_test_add_func ("/vmdeskctl/power/text-odd-values", test_text_odd_values);
  g_test_add_func ("/vmdeskctl/power/json", test_json);
  return g_test_run ();
}
