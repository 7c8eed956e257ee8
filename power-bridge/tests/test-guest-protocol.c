/* The guest protocol: every host message encodes to one line the guest can read, every
 * guest message decodes, and everything malformed is refused with a reason. */
#include "vmd-power-private.h"

#include <json-glib/json-glib.h>
#include <math.h>
#include <string.h>

/* Parses an encoded line back (without its "\n") and checks the framing. */
static JsonObject *
parse_line (const char *line, JsonParser **parser)
{
  gsize len = strlen (line);
  g_autoptr(GError) error = NULL;

  g_assert_cmpuint (len, >, 1);
  g_assert_cmpuint (len, <, VMD_GUEST_LINE_MAX);
  g_assert_cmpint (line[len - 1], ==, '\n');
  g_assert_null (memchr (line, '\n', len - 1));
  *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (*parser, line, (gssize) len - 1, &error));
  g_assert_no_error (error);
  g_assert_true (JSON_NODE_HOLDS_OBJECT (json_parser_get_root (*parser)));
  return json_node_get_object (json_parser_get_root (*parser));
}

static void
assert_header (JsonObject *obj, const char *type, gint64 seq)
{
  g_assert_cmpstr (json_object_get_string_member (obj, "type"), ==, type);
  g_assert_cmpint (json_object_get_int_member (obj, "seq"), ==, seq);
}

static void
test_encode_simple (void)
{
  g_autoptr(JsonParser) p1 = NULL, p2 = NULL, p3 = NULL, p4 = NULL, p5 = NULL, p6 = NULL;
  g_autofree char *hello = vmd_guest_encode_hello (1, "vmdeskd/0.1");
  g_autofree char *lid = vmd_guest_encode_lid (2, TRUE);
  g_autofree char *button = vmd_guest_encode_button (3, VMD_BUTTON_SLEEP);
  g_autofree char *sleep = vmd_guest_encode_sleep (4, VMD_SLEEP_PHASE_RESUME);
  g_autofree char *time = vmd_guest_encode_time (G_MAXUINT32, 1763900000, 123456789);
  g_autofree char *bad_host = vmd_guest_encode_hello (5, "\xff\xfe");
  JsonObject *o;

  o = parse_line (hello, &p1);
  assert_header (o, "hello", 1);
  g_assert_cmpint (json_object_get_int_member (o, "version"), ==, 1);
  g_assert_cmpstr (json_object_get_string_member (o, "host"), ==, "vmdeskd/0.1");

  o = parse_line (lid, &p2);
  assert_header (o, "lid", 2);
  g_assert_true (json_object_get_boolean_member (o, "closed"));

  o = parse_line (button, &p3);
  assert_header (o, "button", 3);
  g_assert_cmpstr (json_object_get_string_member (o, "button"), ==, "sleep");

  o = parse_line (sleep, &p4);
  assert_header (o, "sleep", 4);
  g_assert_cmpstr (json_object_get_string_member (o, "phase"), ==, "resume");

  o = parse_line (time, &p5);
  assert_header (o, "time", G_MAXUINT32);
  g_assert_cmpint (json_object_get_int_member (o, "sec"), ==, 1763900000);
  g_assert_cmpint (json_object_get_int_member (o, "nsec"), ==, 123456789);

  /* Not UTF-8: the host string is replaced, never sent as it is. */
  o = parse_line (bad_host, &p6);
  g_assert_cmpstr (json_object_get_string_member (o, "host"), ==, "vmdeskd");
}

static void
test_encode_power (void)
{
  VmdPowerState s = { .ac_online = FALSE, .n_batteries = 2 };
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *line = NULL;
  JsonObject *o, *b0, *b1;
  JsonArray *bats;

  s.batteries[0] = (VmdBattery) { "BAT0", 42.0, VMD_BATTERY_DISCHARGING, 20.1, 48.0, 9.5, 3600, 0 };
  s.batteries[1] = (VmdBattery) { "bad name!", NAN, VMD_BATTERY_FULL, INFINITY, -3, 1e300,
                                  -5, G_MAXINT64 };
  line = vmd_guest_encode_power (7, &s);
  o = parse_line (line, &parser);
  assert_header (o, "power", 7);
  g_assert_false (json_object_get_boolean_member (o, "ac_online"));
  bats = json_object_get_array_member (o, "batteries");
  g_assert_cmpuint (json_array_get_length (bats), ==, 2);
  b0 = json_array_get_object_element (bats, 0);
  g_assert_cmpstr (json_object_get_string_member (b0, "name"), ==, "BAT0");
  g_assert_cmpfloat (json_object_get_double_member (b0, "percent"), ==, 42.0);
  g_assert_cmpstr (json_object_get_string_member (b0, "state"), ==, "discharging");
  g_assert_cmpfloat (json_object_get_double_member (b0, "energy_wh"), ==, 20.1);
  g_assert_cmpfloat (json_object_get_double_member (b0, "energy_full_wh"), ==, 48.0);
  g_assert_cmpfloat (json_object_get_double_member (b0, "energy_rate_w"), ==, 9.5);
  g_assert_cmpint (json_object_get_int_member (b0, "time_to_empty_s"), ==, 3600);
  g_assert_cmpint (json_object_get_int_member (b0, "time_to_full_s"), ==, 0);

  /* Hostile numbers are clamped into JSON that means something; a bad name replaced. */
  b1 = json_array_get_object_element (bats, 1);
  g_assert_cmpstr (json_object_get_string_member (b1, "name"), ==, "BAT1");
  g_assert_cmpfloat (json_object_get_double_member (b1, "percent"), ==, 0.0);
  g_assert_cmpstr (json_object_get_string_member (b1, "state"), ==, "full");
  g_assert_cmpfloat (json_object_get_double_member (b1, "energy_wh"), ==, 0.0);
  g_assert_cmpfloat (json_object_get_double_member (b1, "energy_full_wh"), ==, 0.0);
  g_assert_cmpfloat (json_object_get_double_member (b1, "energy_rate_w"), <=, 100000.0);
  g_assert_cmpint (json_object_get_int_member (b1, "time_to_empty_s"), ==, 0);
  g_assert_cmpint (json_object_get_int_member (b1, "time_to_full_s"), <, G_MAXINT64);
}

/* Eight batteries with the longest names and the longest numbers still fit one line. */
static void
test_encode_power_worst_case (void)
{
  VmdPowerState s = { .ac_online = TRUE, .n_batteries = 200 };
  g_autoptr(JsonParser) parser = NULL;
  g_autofree char *line = NULL;
  JsonObject *o;

  for (guint i = 0; i < VMD_POWER_MAX_BATTERIES; i++)
    {
      VmdBattery *b = &s.batteries[i];
      memset (b->name, 'x', VMD_BATTERY_NAME_MAX);
      b->name[VMD_BATTERY_NAME_MAX] = '\0';
      b->percent = 33.333333333333336;
      b->state = VMD_BATTERY_PENDING_DISCHARGE;
      b->energy_wh = b->energy_full_wh = b->energy_rate_w = 12345.678901234567;
      b->time_to_empty_s = b->time_to_full_s = G_MAXINT64;
    }
  line = vmd_guest_encode_power (G_MAXUINT32, &s);
  o = parse_line (line, &parser);
  g_assert_cmpuint (json_array_get_length (json_object_get_array_member (o, "batteries")), ==,
                    VMD_POWER_MAX_BATTERIES);
}

static VmdGuestMessage *
parse_ok (const char *line)
{
  g_autoptr(GError) error = NULL;
  VmdGuestMessage *msg = vmd_guest_message_parse (line, strlen (line), &error);

  g_assert_no_error (error);
  g_assert_nonnull (msg);
  return msg;
}

static void
test_decode_valid (void)
{
  g_autoptr(VmdGuestMessage) hello = parse_ok (
    "{\"type\":\"hello\",\"version\":1,\"agent\":\"vmdesk-guest-agent/0.1\","
    "\"caps\":[\"power\",\"lid\",\"button\",\"sleep\",\"time\",\"teleport\"],\"extra\":{\"a\":[1]}}");
  g_autoptr(VmdGuestMessage) partial = parse_ok (
    " {\"caps\":[\"lid\"],\"agent\":\"\",\"version\":2,\"type\":\"hello\"}\r ");
  g_autoptr(VmdGuestMessage) ack = parse_ok ("{\"type\":\"ack\",\"seq\":4294967295}");
  g_autoptr(VmdGuestMessage) error1 = parse_ok (
    "{\"type\":\"error\",\"seq\":3,\"code\":\"unsupported\",\"message\":\"no \\\"lid\\\" here \\u00e9\"}");
  g_autoptr(VmdGuestMessage) error2 = parse_ok (
    "{\"type\":\"error\",\"code\":\"failed\",\"message\":\"\"}");
  g_autoptr(VmdGuestMessage) unknown = parse_ok ("{\"type\":\"stats\",\"whatever\":[true,null]}");

  g_assert_cmpint (hello->type, ==, VMD_GUEST_MSG_HELLO);
  g_assert_cmpint (hello->version, ==, 1);
  g_assert_cmpstr (hello->agent, ==, "vmdesk-guest-agent/0.1");
  g_assert_cmpuint (hello->caps, ==, VMD_GUEST_CAP_POWER | VMD_GUEST_CAP_LID | VMD_GUEST_CAP_BUTTON
                                     | VMD_GUEST_CAP_SLEEP | VMD_GUEST_CAP_TIME);

  g_assert_cmpint (partial->version, ==, 2);
  g_assert_cmpuint (partial->caps, ==, VMD_GUEST_CAP_LID);

  g_assert_cmpint (ack->type, ==, VMD_GUEST_MSG_ACK);
  g_assert_true (ack->has_seq);
  g_assert_cmpuint (ack->seq, ==, G_MAXUINT32);

  g_assert_cmpint (error1->type, ==, VMD_GUEST_MSG_ERROR);
  g_assert_true (error1->has_seq);
  g_assert_cmpuint (error1->seq, ==, 3);
  g_assert_cmpint (error1->code, ==, VMD_GUEST_ERROR_UNSUPPORTED);
  g_assert_cmpstr (error1->message, ==, "no \"lid\" here \xc3\xa9");

  g_assert_false (error2->has_seq);
  g_assert_cmpint (error2->code, ==, VMD_GUEST_ERROR_FAILED);

  g_assert_cmpint (unknown->type, ==, VMD_GUEST_MSG_UNKNOWN);
  g_assert_cmpstr (unknown->type_name, ==, "stats");
}

typedef struct {
  const char *line;
  gsize       len;      /* 0: strlen */
  const char *why;      /* a part of the error message */
} Bad;

static void
test_decode_rejects (void)
{
  static const char long_agent[] =
    "{\"type\":\"hello\",\"version\":1,\"caps\":[],\"agent\":\""
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"
    "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}";
  static const Bad bad[] = {
    /* not strict JSON */
    { "", 0, "expected a value" },
    { "   ", 0, "expected a value" },
    { "{\"type\":\"ack\",\"seq\":1} {}", 0, "text after the value" },
    { "{\"type\":\"ack\",\"seq\":1}x", 0, "text after the value" },
    { "{'type':'ack','seq':1}", 0, "member name" },
    { "/* hi */ {\"type\":\"ack\",\"seq\":1}", 0, "expected a value" },
    { "{\"type\":\"ack\",\"seq\":1,}", 0, "member name" },
    { "{\"type\":\"ack\",\"seq\":01}", 0, "leading zero" },
    { "{\"type\":\"ack\",\"seq\":1.}", 0, "invalid number" },
    { "{\"type\":\"ack\",\"seq\":-}", 0, "invalid number" },
    { "{\"type\":\"ack\",\"seq\":1e}", 0, "invalid number" },
    { "{\"type\":\"ack\",\"seq\":18446744073709551617}", 0, "integer too long" },
    { "{\"type\":\"ack\",\"seq\":1.00000000000000000000000000000000001}", 0, "number too long" },
    { "{\"type\":\"ack\",\"seq\":NaN}", 0, "expected a value" },
    { "{\"type\":\"ack\",\"seq\":tru}", 0, "invalid literal" },
    { "{\"type\":\"a\x01ck\",\"seq\":1}", 0, "control character" },
    { "{\"type\":\"ack\\x\",\"seq\":1}", 0, "invalid escape" },
    { "{\"type\":\"ack\\u00g0\",\"seq\":1}", 0, "invalid \\u escape" },
    { "{\"type\":\"ack\\u0000\",\"seq\":1}", 0, "\\u0000" },
    { "{\"type\":\"ack\\ud800\",\"seq\":1}", 0, "lone high surrogate" },
    { "{\"type\":\"ack\\udc00\",\"seq\":1}", 0, "lone low surrogate" },
    { "{\"type\":\"ack\",\"seq\":1", 0, "expected ',' or '}'" },
    { "{\"type\":\"ack\" \"seq\":1}", 0, "expected ',' or '}'" },
    { "{\"type\"  1}", 0, "expected ':'" },
    { "{\"type\":\"ack", 0, "unterminated string" },
    { "{\"type\":\"ack\",\"x\":[[[[1]]]],\"seq\":1}", 0, "nested too deeply" },
    { "{\"type\":\"ack\",\"x\":{\"a\":{\"b\":{\"c\":{}}}},\"seq\":1}", 0, "nested too deeply" },
    { "{\"type\":\"ack\",\"x\":[1 2],\"seq\":1}", 0, "expected ',' or ']'" },
    { "{\"type\":\"ack\",\"seq\":1}\0garbage", 30, "NUL" },
    { "{\"type\":\"\xc3\x28\",\"seq\":1}", 0, "UTF-8" },
    { "{\"type\":\"\xed\xa0\x80\",\"seq\":1}", 0, "UTF-8" },
    /* JSON, but not a message */
    { "[]", 0, "not a JSON object" },
    { "\"hello\"", 0, "not a JSON object" },
    { "{}", 0, "\"type\" is missing" },
    { "{\"type\":1}", 0, "\"type\" is not a string" },
    { "{\"type\":null}", 0, "\"type\" is not a string" },
    { "{\"type\":\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"}", 0, "\"type\" is longer than 32" },
    /* hello */
    { "{\"type\":\"hello\",\"agent\":\"a\",\"caps\":[]}", 0, "hello: \"version\" is missing" },
    { "{\"type\":\"hello\",\"version\":\"1\",\"agent\":\"a\",\"caps\":[]}", 0, "\"version\" is not an integer" },
    { "{\"type\":\"hello\",\"version\":1.0,\"agent\":\"a\",\"caps\":[]}", 0, "\"version\" is not an integer" },
    { "{\"type\":\"hello\",\"version\":0,\"agent\":\"a\",\"caps\":[]}", 0, "\"version\" is out of range" },
    { "{\"type\":\"hello\",\"version\":65536,\"agent\":\"a\",\"caps\":[]}", 0, "\"version\" is out of range" },
    { "{\"type\":\"hello\",\"version\":1,\"caps\":[]}", 0, "\"agent\" is missing" },
    { "{\"type\":\"hello\",\"version\":1,\"agent\":[],\"caps\":[]}", 0, "\"agent\" is not a string" },
    { long_agent, 0, "\"agent\" is longer than 128" },
    { "{\"type\":\"hello\",\"version\":1,\"agent\":\"a\"}", 0, "\"caps\" is missing" },
    { "{\"type\":\"hello\",\"version\":1,\"agent\":\"a\",\"caps\":\"power\"}", 0, "\"caps\" is not an array" },
    { "{\"type\":\"hello\",\"version\":1,\"agent\":\"a\",\"caps\":[1]}", 0, "\"caps\"[0] is not a string" },
    { "{\"type\":\"hello\",\"version\":1,\"agent\":\"a\",\"caps\":[\"power\",{}]}", 0, "\"caps\"[1] is not a string" },
    { "{\"type\":\"hello\",\"version\":1,\"agent\":\"a\",\"caps\":[\"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\"]}", 0, "longer than 32" },
    { "{\"type\":\"hello\",\"version\":1,\"agent\":\"a\",\"caps\":[\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\",\"a\"]}", 0, "more than 16" },
    /* ack */
    { "{\"type\":\"ack\"}", 0, "ack: \"seq\" is missing" },
    { "{\"type\":\"ack\",\"seq\":0}", 0, "\"seq\" is out of range" },
    { "{\"type\":\"ack\",\"seq\":-1}", 0, "\"seq\" is out of range" },
    { "{\"type\":\"ack\",\"seq\":4294967296}", 0, "\"seq\" is out of range" },
    { "{\"type\":\"ack\",\"seq\":true}", 0, "\"seq\" is not an integer" },
    /* error */
    { "{\"type\":\"error\",\"message\":\"x\"}", 0, "error: \"code\" is missing" },
    { "{\"type\":\"error\",\"code\":\"oops\",\"message\":\"x\"}", 0, "\"code\" is not one of" },
    { "{\"type\":\"error\",\"code\":\"failed\"}", 0, "\"message\" is missing" },
    { "{\"type\":\"error\",\"seq\":0,\"code\":\"failed\",\"message\":\"x\"}", 0, "\"seq\" is out of range" },
  };

  for (gsize i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      gsize len = bad[i].len ? bad[i].len : strlen (bad[i].line);
      g_autoptr(VmdGuestMessage) msg = vmd_guest_message_parse (bad[i].line, len, &error);

      if (msg != NULL || error == NULL || strstr (error->message, bad[i].why) == NULL)
        g_error ("case %" G_GSIZE_FORMAT " (%s): expected an error with \"%s\", got %s", i,
                 bad[i].line, bad[i].why, error ? error->message : "none");
      g_assert_true (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA));
    }
}

/* A long error message from the guest is refused rather than kept. */
static void
test_decode_message_limit (void)
{
  g_autoptr(GString) line = g_string_new ("{\"type\":\"error\",\"code\":\"failed\",\"message\":\"");
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdGuestMessage) ok = NULL;
  g_autoptr(VmdGuestMessage) too_long = NULL;

  for (int i = 0; i < 512; i++)
    g_string_append_c (line, 'm');
  g_string_append (line, "\"}");
  ok = vmd_guest_message_parse (line->str, line->len, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (strlen (ok->message), ==, 512);
  g_string_insert_c (line, line->len - 2, 'm');
  too_long = vmd_guest_message_parse (line->str, line->len, &error);
  g_assert_null (too_long);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

/* The agent parses as strictly as this host does: every encoded line passes the same
 * RFC 8259 check (power is three deep: object, batteries array, battery object). */
static void
test_host_lines_are_strict_json (void)
{
  VmdPowerState s = { .ac_online = TRUE, .n_batteries = 1 };
  char *lines[6];

  s.batteries[0] = (VmdBattery) { "BAT0", 42.3, VMD_BATTERY_CHARGING, 1, 2, 3, 4, 5 };
  lines[0] = vmd_guest_encode_hello (1, "vmdeskd/0.1 \"quoted\" <x>\n");
  lines[1] = vmd_guest_encode_power (2, &s);
  lines[2] = vmd_guest_encode_lid (3, FALSE);
  lines[3] = vmd_guest_encode_button (4, VMD_BUTTON_POWER);
  lines[4] = vmd_guest_encode_sleep (5, VMD_SLEEP_PHASE_PREPARE);
  lines[5] = vmd_guest_encode_time (6, 0, 0);
  for (gsize i = 0; i < G_N_ELEMENTS (lines); i++)
    {
      g_autoptr(GError) error = NULL;

      g_assert_true (vmd_json_strict_check (lines[i], strlen (lines[i]) - 1, 3, &error));
      g_assert_no_error (error);
      g_free (lines[i]);
    }
}

static void
test_battery_names (void)
{
  g_assert_true (vmd_battery_name_is_valid ("BAT0"));
  g_assert_true (vmd_battery_name_is_valid ("a-b_C9"));
  g_assert_true (vmd_battery_name_is_valid ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
  g_assert_false (vmd_battery_name_is_valid ("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"));
  g_assert_false (vmd_battery_name_is_valid (""));
  g_assert_false (vmd_battery_name_is_valid (NULL));
  g_assert_false (vmd_battery_name_is_valid ("BAT 0"));
  g_assert_false (vmd_battery_name_is_valid ("BAT\"0"));
  g_assert_false (vmd_battery_name_is_valid ("B\xc3\xa4T"));
}

static void
test_state_differs (void)
{
  VmdPowerState a = { .ac_online = FALSE, .warning_level = VMD_WARNING_NONE, .n_batteries = 1 };
  VmdPowerState b;

  a.batteries[0] = (VmdBattery) { "BAT0", 42.0, VMD_BATTERY_DISCHARGING, 20, 48, 9, 3600, 0 };
  b = a;
  g_assert_false (vmd_power_state_differs (&a, &b));
  b.batteries[0].percent = 42.3;   /* less than 1 % */
  g_assert_false (vmd_power_state_differs (&a, &b));
  b.batteries[0].percent = 41.1;
  g_assert_false (vmd_power_state_differs (&a, &b));
  b.batteries[0].percent = 43.0;   /* 1 % */
  g_assert_true (vmd_power_state_differs (&a, &b));
  b.batteries[0].percent = 41.0;
  g_assert_true (vmd_power_state_differs (&a, &b));
  b = a;
  b.batteries[0].energy_wh = 1;    /* estimates alone never count */
  b.batteries[0].time_to_empty_s = 1;
  b.batteries[0].energy_rate_w = 100;
  g_assert_false (vmd_power_state_differs (&a, &b));
  b = a;
  b.batteries[0].state = VMD_BATTERY_CHARGING;
  g_assert_true (vmd_power_state_differs (&a, &b));
  b = a;
  b.ac_online = TRUE;
  g_assert_true (vmd_power_state_differs (&a, &b));
  b = a;
  b.warning_level = VMD_WARNING_ACTION;
  g_assert_true (vmd_power_state_differs (&a, &b));
  b = a;
  b.n_batteries = 2;
  g_assert_true (vmd_power_state_differs (&a, &b));
  b = a;
  g_strlcpy (b.batteries[0].name, "BAT1", sizeof b.batteries[0].name);
  g_assert_true (vmd_power_state_differs (&a, &b));
  b = a;
  b.display_present = TRUE;
  g_assert_true (vmd_power_state_differs (&a, &b));
  a.display_present = TRUE;
  a.display = a.batteries[0];
  b = a;
  b.display.percent = 40.5;
  g_assert_true (vmd_power_state_differs (&a, &b));
}

static void
test_state_strings (void)
{
  g_assert_cmpstr (vmd_battery_state_to_string (VMD_BATTERY_UNKNOWN), ==, "unknown");
  g_assert_cmpstr (vmd_battery_state_to_string (VMD_BATTERY_CHARGING), ==, "charging");
  g_assert_cmpstr (vmd_battery_state_to_string (VMD_BATTERY_DISCHARGING), ==, "discharging");
  g_assert_cmpstr (vmd_battery_state_to_string (VMD_BATTERY_EMPTY), ==, "empty");
  g_assert_cmpstr (vmd_battery_state_to_string (VMD_BATTERY_FULL), ==, "full");
  g_assert_cmpstr (vmd_battery_state_to_string (VMD_BATTERY_PENDING_CHARGE), ==, "pending-charge");
  g_assert_cmpstr (vmd_battery_state_to_string (VMD_BATTERY_PENDING_DISCHARGE), ==,
                   "pending-discharge");
  g_assert_cmpstr (vmd_battery_state_to_string ((VmdBatteryState) 99), ==, "unknown");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/guest-protocol/encode/simple", test_encode_simple);
  g_test_add_func ("/guest-protocol/encode/power", test_encode_power);
  g_test_add_func ("/guest-protocol/encode/power-worst-case", test_encode_power_worst_case);
  g_test_add_func ("/guest-protocol/encode/strict", test_host_lines_are_strict_json);
  g_test_add_func ("/guest-protocol/decode/valid", test_decode_valid);
  g_test_add_func ("/guest-protocol/decode/rejects", test_decode_rejects);
  g_test_add_func ("/guest-protocol/decode/message-limit", test_decode_message_limit);
  g_test_add_func ("/power-state/battery-names", test_battery_names);
  g_test_add_func ("/power-state/differs", test_state_differs);
  g_test_add_func ("/power-state/strings", test_state_strings);
  return g_test_run ();
}
