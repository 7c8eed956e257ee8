/* test-agent-handle.c: each host line gets exactly one answer, and the right effect. */
#include "agent-handle.h"
#include "agent-test.h"

#include <json.h>

typedef struct {
  char    sent[16][512];
  int     n_sent;
  int     n_logged;
  int     power_calls;
  bool    power_fails;
  bool    last_ac_online;
  size_t  last_batteries;
  int     lid_calls;
  bool    last_closed;
  int     button_calls;
  AgentButton last_button;
  int     sleep_calls;
  int     time_calls;
  int64_t last_sec;
} Fake;

static bool
fake_power (void *user, const AgentPower *p, char *error, size_t size)
{
  Fake *f = user;
  f->power_calls++;
  f->last_ac_online = p->ac_online;
  f->last_batteries = p->n_batteries;
  if (f->power_fails)
    snprintf (error, size, "no \"backend\"");
  return !f->power_fails;
}

static bool
fake_lid (void *user, bool closed, char *error, size_t size)
{
  Fake *f = user;
  f->lid_calls++;
  f->last_closed = closed;
  return true;
}

static bool
fake_button (void *user, AgentButton b, char *error, size_t size)
{
  Fake *f = user;
  f->button_calls++;
  f->last_button = b;
  return true;
}

static bool
fake_time (void *user, int64_t sec, int32_t nsec, char *error, size_t size)
{
  Fake *f = user;
  f->time_calls++;
  f->last_sec = sec;
  return true;
}

static void
fake_sleep (void *user, AgentSleepPhase phase)
{
  ((Fake *) user)->sleep_calls++;
}

static unsigned
fake_caps (void *user)
{
  return AGENT_CAP_POWER | AGENT_CAP_LID;
}

static void
fake_send (void *user, const char *line, size_t len)
{
  Fake *f = user;
  CHECK (len < sizeof f->sent[0] && line[len - 1] == '\n');
  if (f->n_sent < 16)
    snprintf (f->sent[f->n_sent], sizeof f->sent[0], "%.*s", (int) len, line);
  f->n_sent++;
}

static void
fake_log (void *user, const char *message)
{
  ((Fake *) user)->n_logged++;
}

static AgentEffects
effects (Fake *f)
{
  memset (f, 0, sizeof *f);
  return (AgentEffects) { .power = fake_power, .lid = fake_lid, .button = fake_button,
                          .time = fake_time, .sleep = fake_sleep, .caps = fake_caps,
                          .send = fake_send, .log = fake_log, .user = f };
}

static void
handle (const AgentEffects *fx, AgentStats *stats, const char *line)
{
  agent_handle_line (fx, stats, line, strlen (line));
}

static void
test_hello_gets_hello_then_ack (void)
{
  Fake f;
  AgentEffects fx = effects (&f);
  AgentStats stats = { 0 };

  handle (&fx, &stats, "{\"type\":\"hello\",\"version\":1,\"seq\":1,\"host\":\"vmdeskd/0.1\"}");
  CHECK (f.n_sent == 2);
  CHECK_STR (f.sent[0], "{\"type\":\"hello\",\"version\":1,\"agent\":\"" AGENT_NAME "\","
                        "\"caps\":[\"power\",\"lid\"]}\n");
  CHECK_STR (f.sent[1], "{\"type\":\"ack\",\"seq\":1}\n");
  CHECK (stats.lines == 1 && stats.handled == 1 && stats.rejected == 0);
}

static void
test_messages_reach_their_effect (void)
{
  Fake f;
  AgentEffects fx = effects (&f);
  AgentStats stats = { 0 };

  handle (&fx, &stats, "{\"type\":\"power\",\"seq\":2,\"ac_online\":false,\"batteries\":"
                       "[{\"name\":\"BAT0\",\"percent\":42,\"state\":\"discharging\"}]}");
  CHECK (f.power_calls == 1 && !f.last_ac_online && f.last_batteries == 1);
  handle (&fx, &stats, "{\"type\":\"lid\",\"seq\":3,\"closed\":true}");
  CHECK (f.lid_calls == 1 && f.last_closed);
  handle (&fx, &stats, "{\"type\":\"button\",\"seq\":4,\"button\":\"power\"}");
  CHECK (f.button_calls == 1 && f.last_button == AGENT_BUTTON_POWER);
  handle (&fx, &stats, "{\"type\":\"sleep\",\"seq\":5,\"phase\":\"prepare\"}");
  CHECK (f.sleep_calls == 1);
  handle (&fx, &stats, "{\"type\":\"time\",\"seq\":6,\"sec\":1763900000,\"nsec\":5}");
  CHECK (f.time_calls == 1 && f.last_sec == 1763900000);
  CHECK (f.n_sent == 5);
  for (int i = 0; i < 5; i++)
    {
      char want[64];
      snprintf (want, sizeof want, "{\"type\":\"ack\",\"seq\":%d}\n", i + 2);
      CHECK_STR (f.sent[i], want);
    }
  CHECK (stats.handled == 5);
}

static json_object *
sent_json (Fake *f, int i)
{
  json_object *obj = json_tokener_parse (f->sent[i]);
  CHECK (obj != NULL);
  return obj;
}

static const char *
get (json_object *obj, const char *key)
{
  json_object *v = NULL;
  return json_object_object_get_ex (obj, key, &v) ? json_object_get_string (v) : NULL;
}

static void
test_failures_answer_with_errors (void)
{
  Fake f;
  AgentEffects fx = effects (&f);
  AgentStats stats = { 0 };
  json_object *obj;

  /* The effect failed: "failed", with its seq, instead of an ack. */
  f.power_fails = true;
  handle (&fx, &stats, "{\"type\":\"power\",\"seq\":8,\"ac_online\":true,\"batteries\":[]}");
  obj = sent_json (&f, 0);
  CHECK_STR (get (obj, "type"), "error");
  CHECK_STR (get (obj, "code"), "failed");
  CHECK_STR (get (obj, "seq"), "8");
  CHECK_STR (get (obj, "message"), "no \"backend\"");
  json_object_put (obj);

  /* Unknown type: "unsupported", and no effect ran. */
  handle (&fx, &stats, "{\"type\":\"eject\",\"seq\":9}");
  obj = sent_json (&f, 1);
  CHECK_STR (get (obj, "code"), "unsupported");
  CHECK_STR (get (obj, "seq"), "9");
  json_object_put (obj);

  /* Garbage and an oversized line: "invalid" without seq. */
  handle (&fx, &stats, "\x01\x02 garbage \xff");
  agent_handle_line (&fx, &stats, NULL, 0);
  for (int i = 2; i < 4; i++)
    {
      obj = sent_json (&f, i);
      CHECK_STR (get (obj, "code"), "invalid");
      CHECK (get (obj, "seq") == NULL);
      json_object_put (obj);
    }
  CHECK (f.n_sent == 4 && f.power_calls == 1);
  CHECK (stats.lines == 4 && stats.rejected == 4 && stats.handled == 0);
}

static void
test_a_flood_is_logged_sparingly (void)
{
  Fake f;
  AgentEffects fx = effects (&f);
  AgentStats stats = { 0 };

  for (int i = 0; i < 5000; i++)
    handle (&fx, &stats, "nope");
  CHECK (f.n_sent == 5000);              /* every line answered */
  CHECK (f.n_logged == 10 + 5);          /* the first ten, then one per thousand */
}

static void
test_agent_hello_lists_caps (void)
{
  Fake f;
  AgentEffects fx = effects (&f);

  agent_send_hello (&fx);
  CHECK (f.n_sent == 1 && strstr (f.sent[0], "\"caps\":[\"power\",\"lid\"]") != NULL);
}

int
main (void)
{
  RUN (test_hello_gets_hello_then_ack);
  RUN (test_messages_reach_their_effect);
  RUN (test_failures_answer_with_errors);
  RUN (test_a_flood_is_logged_sparingly);
  RUN (test_agent_hello_lists_caps);
  return TEST_RESULT ();
}
