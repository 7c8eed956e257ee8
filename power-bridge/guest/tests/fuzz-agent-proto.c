/* fuzz-agent-proto.c: arbitrary host bytes through framing, parsing, dispatch and the
 * power mapping. Asserts what the host relies on: every line gets one reply, and every
 * reply is a single line of valid JSON within the protocol's limit. */
#include "agent-handle.h"
#include "agent-power.h"

#include <json.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct {
  uint64_t replies;
  size_t   line_bytes;   /* sent in answer to the current line */
} Fuzz;

static bool
fz_power (void *user, const AgentPower *p, char *error, size_t size)
{
  AgentSupply s;
  char line[512];

  agent_supply_from_power (p, &s);
  if (s.capacity < 0 || s.capacity > 100 || agent_supply_format_vmdesk (&s, line, sizeof line) == 0)
    abort ();
  if (s.energy_full_uwh > 0 && s.energy_now_uwh > s.energy_full_uwh)
    abort ();   /* vmdesk_battery would refuse it */
  return true;
}

static bool
fz_lid (void *user, bool closed, char *error, size_t size)
{
  return true;
}

static bool
fz_button (void *user, AgentButton b, char *error, size_t size)
{
  snprintf (error, size, "button %d refused", b);   /* exercise the "failed" path */
  return false;
}

static bool
fz_time (void *user, int64_t sec, int32_t nsec, char *error, size_t size)
{
  return nsec >= 0 && nsec < 1000000000 && sec >= 0;
}

static void
fz_sleep (void *user, AgentSleepPhase phase)
{
}

static unsigned
fz_caps (void *user)
{
  return AGENT_CAP_POWER | AGENT_CAP_TIME;
}

static void
fz_send (void *user, const char *line, size_t len)
{
  Fuzz *f = user;
  json_tokener *tok;
  json_object *obj;

  f->replies++;
  f->line_bytes += len;
  if (f->line_bytes > AGENT_PROTO_MAX_REPLY)
    abort ();   /* the agent's output buffer accounting relies on this bound */
  if (len == 0 || len > AGENT_PROTO_MAX_LINE || line[len - 1] != '\n' ||
      memchr (line, '\n', len) != line + len - 1)
    abort ();
  tok = json_tokener_new ();
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  obj = json_tokener_parse_ex (tok, line, (int) len - 1);
  json_tokener_free (tok);
  if (!obj || !json_object_is_type (obj, json_type_object))
    abort ();
  json_object_put (obj);
}

static void
fz_log (void *user, const char *message)
{
}

static const AgentEffects *fx_for_line;
static AgentStats *stats_for_line;

static bool
on_line (const char *line, size_t len, void *user)
{
  ((Fuzz *) fx_for_line->user)->line_bytes = 0;
  agent_handle_line (fx_for_line, stats_for_line, line, len);
  /* Stop now and then, as the agent does when its output is full. */
  return len % 7 != 3;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static AgentLineReader reader;
  Fuzz f = { 0 };
  AgentEffects fx = { .power = fz_power, .lid = fz_lid, .button = fz_button,
                      .time = fz_time, .sleep = fz_sleep, .caps = fz_caps,
                      .send = fz_send, .log = fz_log, .user = &f };
  AgentStats stats = { 0 };
  size_t chunk;

  if (size == 0)
    return 0;
  /* The first byte picks the read size, so lines are cut at every possible place. */
  chunk = 1 + data[0] % 64;
  data++, size--;
  fx_for_line = &fx;
  stats_for_line = &stats;
  agent_line_reader_reset (&reader);
  for (size_t off = 0; off < size;)
    off += agent_line_reader_feed (&reader, (const char *) data + off,
                                   size - off < chunk ? size - off : chunk, on_line, NULL);
  /* One reply per line, hellos answered twice (hello + ack). */
  if (f.replies < stats.lines || stats.handled + stats.rejected != stats.lines)
    abort ();
  return 0;
}
