/* test-agent-proto.c: framing, parsing and replies of the guest protocol. */
#include "agent-proto.h"
#include "agent-test.h"

#include <json.h>
#include <stdlib.h>

/* --- framing ----------------------------------------------------------------------- */

typedef struct {
  int  count;
  int  oversized;
  char lines[8][AGENT_PROTO_MAX_LINE];
  size_t lens[8];
} Collected;

static bool
collect (const char *line, size_t len, void *user)
{
  Collected *c = user;

  if (!line)
    {
      c->oversized++;
      c->count++;
      return true;
    }
  if (c->count < 8)
    {
      memcpy (c->lines[c->count], line, len + 1);
      c->lens[c->count] = len;
    }
  c->count++;
  return true;
}

static bool
collect_one (const char *line, size_t len, void *user)
{
  collect (line, len, user);
  return false;
}

static void
test_lines_split_across_reads (void)
{
  AgentLineReader r;
  Collected c = { 0 };

  agent_line_reader_reset (&r);
  agent_line_reader_feed (&r, "{\"a\":", 5, collect, &c);
  CHECK (c.count == 0);
  agent_line_reader_feed (&r, "1}\n{\"b\":2}\n\n{\"c\"", 16, collect, &c);
  CHECK (c.count == 3);
  CHECK_STR (c.lines[0], "{\"a\":1}");
  CHECK_STR (c.lines[1], "{\"b\":2}");
  CHECK_STR (c.lines[2], "");
  CHECK (c.lens[2] == 0);
  agent_line_reader_feed (&r, ":3}\n", 4, collect, &c);
  CHECK (c.count == 4);
  CHECK_STR (c.lines[3], "{\"c\":3}");
  CHECK (c.oversized == 0);
}

static void
test_line_limit_is_4096_with_newline (void)
{
  static char data[2 * AGENT_PROTO_MAX_LINE + 16];
  AgentLineReader r;
  Collected c = { 0 };

  /* 4095 bytes + '\n' is the longest line there is. */
  memset (data, 'x', AGENT_PROTO_MAX_LINE - 1);
  data[AGENT_PROTO_MAX_LINE - 1] = '\n';
  agent_line_reader_reset (&r);
  agent_line_reader_feed (&r, data, AGENT_PROTO_MAX_LINE, collect, &c);
  CHECK (c.count == 1 && c.oversized == 0);
  CHECK (c.lens[0] == AGENT_PROTO_MAX_LINE - 1);

  /* One byte more is oversized: reported once, at its '\n'. */
  memset (&c, 0, sizeof c);
  memset (data, 'y', AGENT_PROTO_MAX_LINE);
  data[AGENT_PROTO_MAX_LINE] = '\n';
  agent_line_reader_feed (&r, data, AGENT_PROTO_MAX_LINE + 1, collect, &c);
  CHECK (c.count == 1 && c.oversized == 1);

  /* And the line after it is read normally. */
  agent_line_reader_feed (&r, "{}\n", 3, collect, &c);
  CHECK (c.count == 2);
  CHECK_STR (c.lines[1], "{}");
}

static void
test_oversized_line_in_small_pieces (void)
{
  AgentLineReader r;
  Collected c = { 0 };
  char chunk[100];

  memset (chunk, 'z', sizeof chunk);
  agent_line_reader_reset (&r);
  /* 1 MB without a newline: bounded memory, nothing reported yet. */
  for (int i = 0; i < 10000; i++)
    agent_line_reader_feed (&r, chunk, sizeof chunk, collect, &c);
  CHECK (c.count == 0);
  CHECK (r.len <= AGENT_PROTO_MAX_LINE);
  agent_line_reader_feed (&r, "tail\n{\"ok\":1}\n", 14, collect, &c);
  CHECK (c.count == 2 && c.oversized == 1);
  CHECK_STR (c.lines[1], "{\"ok\":1}");
}

static void
test_feed_stops_when_asked (void)
{
  AgentLineReader r;
  Collected c = { 0 };
  const char data[] = "{\"a\":1}\n\n{\"c\":3}\npartial";
  size_t len = sizeof data - 1, off = 0, n;

  /* A reader without room takes one line at a time and says how far it got. */
  agent_line_reader_reset (&r);
  n = agent_line_reader_feed (&r, data, len, collect_one, &c);
  CHECK (n == 8 && c.count == 1);
  off += n;
  n = agent_line_reader_feed (&r, data + off, len - off, collect_one, &c);
  CHECK (n == 1 && c.count == 2 && c.lens[1] == 0);
  off += n;
  n = agent_line_reader_feed (&r, data + off, len - off, collect_one, &c);
  CHECK (n == 8 && c.count == 3);
  CHECK_STR (c.lines[2], "{\"c\":3}");
  off += n;
  /* No newline left: everything is consumed into the reader. */
  n = agent_line_reader_feed (&r, data + off, len - off, collect_one, &c);
  CHECK (off + n == len && c.count == 3);
  CHECK (r.len == 7);
}

/* --- parsing ----------------------------------------------------------------------- */

static AgentParseResult
parse (const char *line, AgentMsg *msg, AgentParseError *err)
{
  return agent_msg_parse (line, strlen (line), msg, err);
}

static void
test_parse_contract_examples (void)
{
  AgentMsg m;
  AgentParseError e;

  CHECK (parse ("{\"type\":\"hello\",\"version\":1,\"seq\":1,\"host\":\"vmdeskd/0.1\"}", &m, &e)
         == AGENT_PARSE_OK);
  CHECK (m.type == AGENT_MSG_HELLO && m.seq == 1 && m.hello.version == 1);

  CHECK (parse ("{\"type\":\"power\",\"seq\":2,\"ac_online\":true,"
                "\"batteries\":[{\"name\":\"BAT0\",\"percent\":42.0,\"state\":\"discharging\","
                "\"energy_wh\":20.1,\"energy_full_wh\":48.0,\"energy_rate_w\":9.5,"
                "\"time_to_empty_s\":3600,\"time_to_full_s\":0}]}", &m, &e) == AGENT_PARSE_OK);
  CHECK (m.type == AGENT_MSG_POWER && m.seq == 2);
  CHECK (m.power.ac_online && m.power.n_batteries == 1);
  CHECK_STR (m.power.batteries[0].name, "BAT0");
  CHECK (m.power.batteries[0].percent == 42.0);
  CHECK (m.power.batteries[0].state == AGENT_BATTERY_DISCHARGING);
  CHECK (m.power.batteries[0].energy_wh == 20.1);
  CHECK (m.power.batteries[0].energy_full_wh == 48.0);
  CHECK (m.power.batteries[0].energy_rate_w == 9.5);
  CHECK (m.power.batteries[0].time_to_empty_s == 3600);
  CHECK (m.power.batteries[0].time_to_full_s == 0);

  CHECK (parse ("{\"type\":\"lid\",\"seq\":3,\"closed\":true}", &m, &e) == AGENT_PARSE_OK);
  CHECK (m.type == AGENT_MSG_LID && m.lid.closed);
  CHECK (parse ("{\"type\":\"button\",\"seq\":4,\"button\":\"sleep\"}", &m, &e)
         == AGENT_PARSE_OK);
  CHECK (m.type == AGENT_MSG_BUTTON && m.button == AGENT_BUTTON_SLEEP);
  CHECK (parse ("{\"type\":\"sleep\",\"seq\":5,\"phase\":\"resume\"}", &m, &e)
         == AGENT_PARSE_OK);
  CHECK (m.type == AGENT_MSG_SLEEP && m.sleep == AGENT_SLEEP_RESUME);
  CHECK (parse ("{\"type\":\"time\",\"seq\":6,\"sec\":1763900000,\"nsec\":123456789}", &m, &e)
         == AGENT_PARSE_OK);
  CHECK (m.type == AGENT_MSG_TIME && m.time.sec == 1763900000 && m.time.nsec == 123456789);
}

static void
test_parse_every_battery_state (void)
{
  static const struct { const char *name; AgentBatteryState state; } states[] = {
    { "charging", AGENT_BATTERY_CHARGING }, { "discharging", AGENT_BATTERY_DISCHARGING },
    { "full", AGENT_BATTERY_FULL }, { "empty", AGENT_BATTERY_EMPTY },
    { "pending-charge", AGENT_BATTERY_PENDING_CHARGE },
    { "pending-discharge", AGENT_BATTERY_PENDING_DISCHARGE },
    { "unknown", AGENT_BATTERY_UNKNOWN },
  };
  for (size_t i = 0; i < sizeof states / sizeof states[0]; i++)
    {
      char line[256];
      AgentMsg m;
      AgentParseError e;

      snprintf (line, sizeof line, "{\"type\":\"power\",\"seq\":1,\"ac_online\":false,"
                "\"batteries\":[{\"name\":\"b\",\"percent\":1,\"state\":\"%s\"}]}",
                states[i].name);
      CHECK (parse (line, &m, &e) == AGENT_PARSE_OK);
      CHECK (m.power.batteries[0].state == states[i].state);
      /* Optional fields not sent read as unknown. */
      CHECK (m.power.batteries[0].energy_wh < 0 && m.power.batteries[0].time_to_empty_s < 0);
    }
}

static void
test_parse_forward_compatible (void)
{
  AgentMsg m;
  AgentParseError e;

  /* Unknown members, null optionals, whitespace and \r around the object. */
  CHECK (parse (" {\"type\":\"lid\",\"seq\":9,\"closed\":false,\"future\":{\"x\":[1,2]}}\r",
                &m, &e) == AGENT_PARSE_OK);
  CHECK (m.type == AGENT_MSG_LID && !m.lid.closed);
  CHECK (parse ("{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":"
                "[{\"name\":\"B\",\"percent\":5,\"state\":\"charging\",\"energy_wh\":null}]}",
                &m, &e) == AGENT_PARSE_OK);
  CHECK (m.power.batteries[0].energy_wh < 0);
  /* No batteries at all (a desktop host). */
  CHECK (parse ("{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[]}", &m, &e)
         == AGENT_PARSE_OK);
  CHECK (m.power.n_batteries == 0);
}

typedef struct {
  const char      *line;
  AgentParseResult result;
  bool             has_seq;
} Bad;

static void
test_parse_rejects (void)
{
  static const Bad bad[] = {
    { "", AGENT_PARSE_INVALID, false },
    { "not json", AGENT_PARSE_INVALID, false },
    { "[1,2]", AGENT_PARSE_INVALID, false },
    { "\"hello\"", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":1,\"closed\":true", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":1,\"closed\":true}x", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":1,\"closed\":true}{}", AGENT_PARSE_INVALID, false },
    { "{'type':'lid'}", AGENT_PARSE_INVALID, false },
    { "{\"seq\":1}", AGENT_PARSE_INVALID, true },
    { "{\"type\":7,\"seq\":1}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"reboot\",\"seq\":12}", AGENT_PARSE_UNSUPPORTED, true },
    { "{\"type\":\"reboot\"}", AGENT_PARSE_UNSUPPORTED, false },
    { "{\"type\":\"lid\",\"closed\":true}", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":0,\"closed\":true}", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":-1,\"closed\":true}", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":4294967296,\"closed\":true}", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":99999999999999999999999,\"closed\":true}",
      AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":1.5,\"closed\":true}", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":\"1\",\"closed\":true}", AGENT_PARSE_INVALID, false },
    { "{\"type\":\"lid\",\"seq\":1,\"closed\":1}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"lid\",\"seq\":1}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"button\",\"seq\":1,\"button\":\"reset\"}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"sleep\",\"seq\":1,\"phase\":\"hibernate\"}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"hello\",\"seq\":1}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"time\",\"seq\":1,\"sec\":1,\"nsec\":1000000000}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"time\",\"seq\":1,\"sec\":-5,\"nsec\":0}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"time\",\"seq\":1,\"sec\":1e9,\"nsec\":0}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"batteries\":[]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":{}}",
      AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[1]}",
      AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B A\","
      "\"percent\":1,\"state\":\"full\"}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"\","
      "\"percent\":1,\"state\":\"full\"}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":"
      "\"ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456\",\"percent\":1,\"state\":\"full\"}]}",
      AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B\\u0000\","
      "\"percent\":1,\"state\":\"full\"}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B\","
      "\"percent\":100.5,\"state\":\"full\"}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B\","
      "\"percent\":-1,\"state\":\"full\"}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B\","
      "\"percent\":NaN,\"state\":\"full\"}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B\","
      "\"percent\":50,\"state\":\"Full\"}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B\","
      "\"percent\":50,\"state\":\"full\",\"energy_wh\":-2}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B\","
      "\"percent\":50,\"state\":\"full\",\"energy_wh\":1e300}]}", AGENT_PARSE_INVALID, true },
    { "{\"type\":\"power\",\"seq\":1,\"ac_online\":true,\"batteries\":[{\"name\":\"B\","
      "\"percent\":50,\"state\":\"full\",\"time_to_empty_s\":1.5}]}", AGENT_PARSE_INVALID, true },
    /* Invalid UTF-8 inside a string. */
    { "{\"type\":\"lid\",\"seq\":1,\"closed\":true,\"x\":\"\xff\xfe\"}", AGENT_PARSE_INVALID,
      false },
    /* Nesting beyond any message's depth. */
    { "{\"type\":\"lid\",\"seq\":1,\"closed\":true,\"x\":[[[[[[[[[[[[[[[[1]]]]]]]]]]]]]]]]}",
      AGENT_PARSE_INVALID, false },
  };

  for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
    {
      AgentMsg m;
      AgentParseError e;
      AgentParseResult r = parse (bad[i].line, &m, &e);

      if (r != bad[i].result || e.has_seq != bad[i].has_seq || e.message[0] == '\0')
        {
          fprintf (stderr, "case %zu: %s -> %d has_seq=%d (%s)\n", i, bad[i].line, r,
                   e.has_seq, e.message);
          agent_test_failures++;
        }
    }
}

static void
test_parse_nine_batteries_rejected (void)
{
  char line[2048] = "{\"type\":\"power\",\"seq\":3,\"ac_online\":true,\"batteries\":[";
  AgentMsg m;
  AgentParseError e;

  for (int i = 0; i < 9; i++)
    {
      char one[96];
      snprintf (one, sizeof one, "%s{\"name\":\"B%d\",\"percent\":50,\"state\":\"full\"}",
                i ? "," : "", i);
      strcat (line, one);
    }
  strcat (line, "]}");
  CHECK (parse (line, &m, &e) == AGENT_PARSE_INVALID);
  CHECK (e.has_seq && e.seq == 3);
  CHECK (strstr (e.message, "batteries") != NULL);
}

static void
test_parse_embedded_nul_and_length (void)
{
  static char big[AGENT_PROTO_MAX_LINE + 1];
  AgentMsg m;
  AgentParseError e;
  const char with_nul[] = "{\"type\":\"lid\",\"seq\":1,\"closed\":true}\0junk";

  CHECK (agent_msg_parse (with_nul, sizeof with_nul - 1, &m, &e) == AGENT_PARSE_INVALID);
  memset (big, ' ', sizeof big - 1);
  CHECK (agent_msg_parse (big, sizeof big - 1, &m, &e) == AGENT_PARSE_INVALID);
}

/* --- replies ----------------------------------------------------------------------- */

/* Each reply is one line of valid JSON whose members are what we expect. */
static json_object *
reparse (const char *buf, size_t len)
{
  json_tokener *tok = json_tokener_new ();
  json_object *obj;

  CHECK (len > 0 && buf[len - 1] == '\n' && memchr (buf, '\n', len) == buf + len - 1);
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  obj = json_tokener_parse_ex (tok, buf, (int) len - 1);
  json_tokener_free (tok);
  CHECK (obj != NULL);
  return obj;
}

static const char *
member_string (json_object *obj, const char *key)
{
  json_object *v = NULL;
  return json_object_object_get_ex (obj, key, &v) ? json_object_get_string (v) : NULL;
}

static void
test_format_hello_and_ack (void)
{
  char buf[512];
  size_t len = agent_format_hello (buf, sizeof buf, AGENT_CAP_POWER | AGENT_CAP_TIME);
  json_object *obj = reparse (buf, len), *caps = NULL, *v = NULL;

  CHECK_STR (member_string (obj, "type"), "hello");
  CHECK_STR (member_string (obj, "agent"), AGENT_NAME);
  CHECK (json_object_object_get_ex (obj, "version", &v) && json_object_get_int (v) == 1);
  CHECK (json_object_object_get_ex (obj, "caps", &caps) &&
         json_object_array_length (caps) == 2);
  CHECK_STR (json_object_get_string (json_object_array_get_idx (caps, 0)), "power");
  CHECK_STR (json_object_get_string (json_object_array_get_idx (caps, 1)), "time");
  json_object_put (obj);

  len = agent_format_ack (buf, sizeof buf, 4294967295u);
  CHECK_STR (buf, "{\"type\":\"ack\",\"seq\":4294967295}\n");
  CHECK (len == strlen (buf));
  CHECK (agent_format_ack (buf, 10, 1) == 0);   /* does not fit: nothing */
}

static void
test_format_error_is_safe (void)
{
  char buf[1024];
  char long_message[1000];
  size_t len;
  json_object *obj, *v = NULL;

  /* Quotes, newlines, control bytes and broken UTF-8 all come out as valid JSON. */
  len = agent_format_error (buf, sizeof buf, true, 7, "invalid",
                            "bad \"x\"\n\x01 </script> \xc3\x28 \xe2\x82 caf\xc3\xa9 \xed\xa0\x80");
  obj = reparse (buf, len);
  CHECK_STR (member_string (obj, "type"), "error");
  CHECK_STR (member_string (obj, "code"), "invalid");
  CHECK (json_object_object_get_ex (obj, "seq", &v) && json_object_get_int (v) == 7);
  CHECK (strstr (member_string (obj, "message"), "caf\xc3\xa9") != NULL);
  CHECK (strstr (member_string (obj, "message"), "</script>") != NULL);
  json_object_put (obj);

  /* No seq when the message had none; long messages are cut, at a character boundary. */
  memset (long_message, 'a', sizeof long_message);
  memcpy (long_message + 197, "\xe2\x82\xac", 3);
  long_message[sizeof long_message - 1] = '\0';
  len = agent_format_error (buf, sizeof buf, false, 0, "invalid", long_message);
  obj = reparse (buf, len);
  CHECK (!json_object_object_get_ex (obj, "seq", &v));
  CHECK (strlen (member_string (obj, "message")) < 200);
  json_object_put (obj);
}

int
main (void)
{
  RUN (test_lines_split_across_reads);
  RUN (test_line_limit_is_4096_with_newline);
  RUN (test_oversized_line_in_small_pieces);
  RUN (test_feed_stops_when_asked);
  RUN (test_parse_contract_examples);
  RUN (test_parse_every_battery_state);
  RUN (test_parse_forward_compatible);
  RUN (test_parse_rejects);
  RUN (test_parse_nine_batteries_rejected);
  RUN (test_parse_embedded_nul_and_length);
  RUN (test_format_hello_and_ack);
  RUN (test_format_error_is_safe);
  return TEST_RESULT ();
}
