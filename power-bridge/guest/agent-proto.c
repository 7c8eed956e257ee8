/* agent-proto.c: framing, parsing and replies of the guest protocol, without I/O. */
#include "agent-proto.h"

#include <json.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* --- framing ------------------------------------------------------------------------- */

void
agent_line_reader_reset (AgentLineReader *reader)
{
  reader->len = 0;
  reader->discarding = false;
}

size_t
agent_line_reader_feed (AgentLineReader *reader, const char *data, size_t len,
                        AgentLineFn fn, void *user)
{
  size_t consumed = 0;

  while (consumed < len)
    {
      const char *start = data + consumed;
      const char *nl = memchr (start, '\n', len - consumed);
      size_t chunk = nl ? (size_t) (nl - start) : len - consumed;
      bool more;

      if (!reader->discarding)
        {
          /* The line plus its '\n' must fit AGENT_PROTO_MAX_LINE. */
          if (reader->len + chunk > AGENT_PROTO_MAX_LINE - 1)
            reader->discarding = true;
          else
            {
              memcpy (reader->buf + reader->len, start, chunk);
              reader->len += chunk;
            }
        }
      if (!nl)
        return len;

      consumed += chunk + 1;
      if (reader->discarding)
        more = fn (NULL, 0, user);
      else
        {
          reader->buf[reader->len] = '\0';
          more = fn (reader->buf, reader->len, user);
        }
      agent_line_reader_reset (reader);
      if (!more)
        break;
    }
  return consumed;
}

/* --- parsing --------------------------------------------------------------------------- */

/* Deep enough for object > batteries array > battery object, and no deeper. */
#define MAX_DEPTH 8
#define MAX_ENERGY_WH 100000.0   /* far beyond any battery; keeps unit conversions in range */
#define MAX_TIME_S INT32_MAX
#define MAX_TIME_SEC 253402300799LL   /* 9999-12-31T23:59:59Z */

typedef struct {
  AgentParseError *error;
} Ctx;

static bool __attribute__ ((format (printf, 2, 3)))
fail (Ctx *ctx, const char *fmt, ...)
{
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (ctx->error->message, sizeof ctx->error->message, fmt, ap);
  va_end (ap);
  return false;
}

/* An absent member and an explicit null are both "not sent". */
static json_object *
member (json_object *obj, const char *key)
{
  json_object *val = NULL;

  if (!json_object_object_get_ex (obj, key, &val) || json_object_is_type (val, json_type_null))
    return NULL;
  return val;
}

static bool
get_int (Ctx *ctx, json_object *obj, const char *key, int64_t min, int64_t max, int64_t *out)
{
  json_object *val = member (obj, key);
  int64_t v;

  if (!val)
    return fail (ctx, "\"%s\" is missing", key);
  if (!json_object_is_type (val, json_type_int))
    return fail (ctx, "\"%s\" must be an integer", key);
  /* json-c saturates what exceeds int64 (and keeps larger unsigned values apart). */
  if (json_object_get_int64 (val) == INT64_MAX && json_object_get_uint64 (val) > INT64_MAX)
    return fail (ctx, "\"%s\" is out of range", key);
  v = json_object_get_int64 (val);
  if (v < min || v > max)
    return fail (ctx, "\"%s\" is out of range", key);
  *out = v;
  return true;
}

static bool
get_optional_int (Ctx *ctx, json_object *obj, const char *key, int64_t max, int64_t *out)
{
  *out = -1;
  return !member (obj, key) || get_int (ctx, obj, key, 0, max, out);
}

static bool
get_number (Ctx *ctx, json_object *obj, const char *key, double min, double max, double *out)
{
  json_object *val = member (obj, key);
  double v;

  if (!val)
    return fail (ctx, "\"%s\" is missing", key);
  if (!json_object_is_type (val, json_type_double) && !json_object_is_type (val, json_type_int))
    return fail (ctx, "\"%s\" must be a number", key);
  v = json_object_get_double (val);
  if (!isfinite (v) || v < min || v > max)
    return fail (ctx, "\"%s\" is out of range", key);
  *out = v;
  return true;
}

static bool
get_optional_number (Ctx *ctx, json_object *obj, const char *key, double max, double *out)
{
  *out = -1;
  return !member (obj, key) || get_number (ctx, obj, key, 0, max, out);
}

static bool
get_bool (Ctx *ctx, json_object *obj, const char *key, bool *out)
{
  json_object *val = member (obj, key);

  if (!val)
    return fail (ctx, "\"%s\" is missing", key);
  if (!json_object_is_type (val, json_type_boolean))
    return fail (ctx, "\"%s\" must be true or false", key);
  *out = json_object_get_boolean (val);
  return true;
}

/* The index in `names` (NULL-terminated) of the string member `key`. */
static bool
get_enum (Ctx *ctx, json_object *obj, const char *key, const char *const *names, int *out)
{
  json_object *val = member (obj, key);
  const char *s;

  if (!val)
    return fail (ctx, "\"%s\" is missing", key);
  if (!json_object_is_type (val, json_type_string))
    return fail (ctx, "\"%s\" must be a string", key);
  s = json_object_get_string (val);
  for (int i = 0; names[i]; i++)
    {
      /* strlen, not the JSON length: a string with an embedded NUL matches nothing. */
      if (strcmp (s, names[i]) == 0 && strlen (s) == (size_t) json_object_get_string_len (val))
        {
          *out = i;
          return true;
        }
    }
  return fail (ctx, "\"%s\" has an unknown value", key);
}

static bool
valid_battery_name (const char *s, size_t len)
{
  if (len < 1 || len > AGENT_PROTO_MAX_NAME)
    return false;
  for (size_t i = 0; i < len; i++)
    {
      char c = s[i];
      if (!((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
            c == '_' || c == '-'))
        return false;
    }
  return true;
}

static const char *const battery_states[] = {
  [AGENT_BATTERY_UNKNOWN] = "unknown",
  [AGENT_BATTERY_CHARGING] = "charging",
  [AGENT_BATTERY_DISCHARGING] = "discharging",
  [AGENT_BATTERY_FULL] = "full",
  [AGENT_BATTERY_EMPTY] = "empty",
  [AGENT_BATTERY_PENDING_CHARGE] = "pending-charge",
  [AGENT_BATTERY_PENDING_DISCHARGE] = "pending-discharge",
  NULL,
};

static bool
parse_battery (Ctx *ctx, json_object *obj, size_t index, AgentBattery *bat)
{
  json_object *name;
  int state;

  if (!json_object_is_type (obj, json_type_object))
    return fail (ctx, "batteries[%zu] must be an object", index);
  name = member (obj, "name");
  if (!name || !json_object_is_type (name, json_type_string) ||
      !valid_battery_name (json_object_get_string (name), json_object_get_string_len (name)))
    return fail (ctx, "batteries[%zu].name must match [A-Za-z0-9_-]{1,32}", index);
  memcpy (bat->name, json_object_get_string (name), json_object_get_string_len (name));
  bat->name[json_object_get_string_len (name)] = '\0';

  if (!get_number (ctx, obj, "percent", 0, 100, &bat->percent) ||
      !get_enum (ctx, obj, "state", battery_states, &state) ||
      !get_optional_number (ctx, obj, "energy_wh", MAX_ENERGY_WH, &bat->energy_wh) ||
      !get_optional_number (ctx, obj, "energy_full_wh", MAX_ENERGY_WH, &bat->energy_full_wh) ||
      !get_optional_number (ctx, obj, "energy_rate_w", MAX_ENERGY_WH, &bat->energy_rate_w) ||
      !get_optional_int (ctx, obj, "time_to_empty_s", MAX_TIME_S, &bat->time_to_empty_s) ||
      !get_optional_int (ctx, obj, "time_to_full_s", MAX_TIME_S, &bat->time_to_full_s))
    {
      /* Say which battery: prefix the field error. */
      char inner[sizeof ctx->error->message];
      memcpy (inner, ctx->error->message, sizeof inner);
      return fail (ctx, "batteries[%zu]: %s", index, inner);
    }
  bat->state = state;
  return true;
}

static bool
parse_power (Ctx *ctx, json_object *root, AgentPower *power)
{
  json_object *batteries = member (root, "batteries");
  size_t n;

  if (!get_bool (ctx, root, "ac_online", &power->ac_online))
    return false;
  if (!batteries || !json_object_is_type (batteries, json_type_array))
    return fail (ctx, "\"batteries\" must be an array");
  n = json_object_array_length (batteries);
  if (n > AGENT_PROTO_MAX_BATTERIES)
    return fail (ctx, "more than %d batteries", AGENT_PROTO_MAX_BATTERIES);
  for (size_t i = 0; i < n; i++)
    if (!parse_battery (ctx, json_object_array_get_idx (batteries, i), i, &power->batteries[i]))
      return false;
  power->n_batteries = n;
  return true;
}

static const char *const msg_types[] = {
  [AGENT_MSG_HELLO] = "hello",
  [AGENT_MSG_POWER] = "power",
  [AGENT_MSG_LID] = "lid",
  [AGENT_MSG_BUTTON] = "button",
  [AGENT_MSG_SLEEP] = "sleep",
  [AGENT_MSG_TIME] = "time",
  NULL,
};
static const char *const buttons[] = { [AGENT_BUTTON_POWER] = "power",
                                       [AGENT_BUTTON_SLEEP] = "sleep", NULL };
static const char *const sleep_phases[] = { [AGENT_SLEEP_PREPARE] = "prepare",
                                            [AGENT_SLEEP_RESUME] = "resume", NULL };

static bool
parse_body (Ctx *ctx, json_object *root, AgentMsg *msg)
{
  int64_t v;
  int e;

  switch (msg->type)
    {
    case AGENT_MSG_HELLO:
      if (!get_int (ctx, root, "version", 0, INT32_MAX, &v))
        return false;
      msg->hello.version = v;
      return true;
    case AGENT_MSG_POWER:
      return parse_power (ctx, root, &msg->power);
    case AGENT_MSG_LID:
      return get_bool (ctx, root, "closed", &msg->lid.closed);
    case AGENT_MSG_BUTTON:
      if (!get_enum (ctx, root, "button", buttons, &e))
        return false;
      msg->button = e;
      return true;
    case AGENT_MSG_SLEEP:
      if (!get_enum (ctx, root, "phase", sleep_phases, &e))
        return false;
      msg->sleep = e;
      return true;
    case AGENT_MSG_TIME:
      if (!get_int (ctx, root, "sec", 0, MAX_TIME_SEC, &msg->time.sec) ||
          !get_int (ctx, root, "nsec", 0, 999999999, &v))
        return false;
      msg->time.nsec = (int32_t) v;
      return true;
    }
  return fail (ctx, "unhandled type");
}

static AgentParseResult
parse_root (Ctx *ctx, json_object *root, AgentMsg *msg)
{
  json_object *type;
  int64_t seq;
  int t;

  if (!json_object_is_type (root, json_type_object))
    {
      fail (ctx, "a message must be a JSON object");
      return AGENT_PARSE_INVALID;
    }
  /* seq first, so that every later error reply can name the message it answers. */
  if (member (root, "seq") && get_int (ctx, root, "seq", 1, UINT32_MAX, &seq))
    {
      ctx->error->has_seq = true;
      ctx->error->seq = msg->seq = (uint32_t) seq;
    }
  type = member (root, "type");
  if (!type || !json_object_is_type (type, json_type_string))
    {
      fail (ctx, "\"type\" must be a string");
      return AGENT_PARSE_INVALID;
    }
  if (!get_enum (ctx, root, "type", msg_types, &t))
    {
      fail (ctx, "unknown type \"%.32s\"", json_object_get_string (type));
      return AGENT_PARSE_UNSUPPORTED;
    }
  msg->type = t;
  if (!ctx->error->has_seq)
    {
      fail (ctx, "\"seq\" must be an integer from 1 to %u", UINT32_MAX);
      return AGENT_PARSE_INVALID;
    }
  return parse_body (ctx, root, msg) ? AGENT_PARSE_OK : AGENT_PARSE_INVALID;
}

AgentParseResult
agent_msg_parse (const char *line, size_t len, AgentMsg *msg, AgentParseError *error)
{
  Ctx ctx = { error };
  json_tokener *tok;
  json_object *root;
  AgentParseResult result = AGENT_PARSE_INVALID;

  memset (msg, 0, sizeof *msg);
  memset (error, 0, sizeof *error);
  if (len >= AGENT_PROTO_MAX_LINE)
    {
      fail (&ctx, "line longer than %d bytes", AGENT_PROTO_MAX_LINE);
      return AGENT_PARSE_INVALID;
    }
  if (memchr (line, '\0', len))
    {
      fail (&ctx, "NUL byte in line");
      return AGENT_PARSE_INVALID;
    }

  tok = json_tokener_new_ex (MAX_DEPTH);
  if (!tok)
    {
      fail (&ctx, "out of memory");
      return AGENT_PARSE_INVALID;
    }
  /* Strict: no trailing garbage, no NaN, no single quotes; the protocol is UTF-8. */
  json_tokener_set_flags (tok, JSON_TOKENER_STRICT | JSON_TOKENER_VALIDATE_UTF8);
  root = json_tokener_parse_ex (tok, line, (int) len);
  if (!root)
    {
      enum json_tokener_error jerr = json_tokener_get_error (tok);
      if (jerr == json_tokener_continue)
        fail (&ctx, "incomplete JSON");
      else
        fail (&ctx, "not JSON: %s", json_tokener_error_desc (jerr));
    }
  else
    {
      /* Only whitespace may follow the object. */
      size_t end = json_tokener_get_parse_end (tok);
      while (end < len && strchr (" \t\r", line[end]))
        end++;
      if (end < len)
        fail (&ctx, "data after the JSON object");
      else
        result = parse_root (&ctx, root, msg);
      json_object_put (root);
    }
  json_tokener_free (tok);
  return result;
}

const char *
agent_parse_result_code (AgentParseResult result)
{
  switch (result)
    {
    case AGENT_PARSE_OK:
      return "ok";
    case AGENT_PARSE_UNSUPPORTED:
      return "unsupported";
    case AGENT_PARSE_INVALID:
      break;
    }
  return "invalid";
}

/* --- replies --------------------------------------------------------------------------- */

static size_t
finish_line (json_object *obj, char *buf, size_t size)
{
  const char *text;
  size_t len;

  if (!obj)
    return 0;
  text = json_object_to_json_string_ext (obj, JSON_C_TO_STRING_PLAIN |
                                              JSON_C_TO_STRING_NOSLASHESCAPE);
  len = text ? strlen (text) : 0;
  if (!text || len + 2 > size || len + 1 > AGENT_PROTO_MAX_LINE)
    len = 0;
  else
    {
      memcpy (buf, text, len);
      buf[len++] = '\n';
      buf[len] = '\0';
    }
  json_object_put (obj);
  return len;
}

static json_object *
new_reply (const char *type)
{
  json_object *obj = json_object_new_object ();

  if (obj)
    json_object_object_add (obj, "type", json_object_new_string (type));
  return obj;
}

size_t
agent_format_hello (char *buf, size_t size, unsigned caps)
{
  static const struct { unsigned bit; const char *name; } cap_names[] = {
    { AGENT_CAP_POWER, "power" }, { AGENT_CAP_LID, "lid" }, { AGENT_CAP_BUTTON, "button" },
    { AGENT_CAP_SLEEP, "sleep" }, { AGENT_CAP_TIME, "time" },
  };
  json_object *obj = new_reply ("hello");
  json_object *list;

  if (!obj)
    return 0;
  json_object_object_add (obj, "version", json_object_new_int (AGENT_PROTO_VERSION));
  json_object_object_add (obj, "agent", json_object_new_string (AGENT_NAME));
  list = json_object_new_array ();
  for (size_t i = 0; list && i < sizeof cap_names / sizeof cap_names[0]; i++)
    if (caps & cap_names[i].bit)
      json_object_array_add (list, json_object_new_string (cap_names[i].name));
  json_object_object_add (obj, "caps", list);
  return finish_line (obj, buf, size);
}

size_t
agent_format_ack (char *buf, size_t size, uint32_t seq)
{
  json_object *obj = new_reply ("ack");

  if (obj)
    json_object_object_add (obj, "seq", json_object_new_int64 (seq));
  return finish_line (obj, buf, size);
}

/* Up to max bytes of s as valid UTF-8: each byte of an invalid sequence becomes '?'.
 * Overlong forms and surrogates count as invalid, as the JSON side demands. */
static void
copy_utf8 (char *out, size_t max, const char *s)
{
  const unsigned char *p = (const unsigned char *) s;
  size_t o = 0;

  while (*p && o < max)
    {
      size_t n = 0;
      unsigned cp = 0;

      if (p[0] < 0x80)
        n = 1;
      else if (p[0] >= 0xc2 && p[0] <= 0xdf)
        n = 2, cp = p[0] & 0x1f;
      else if (p[0] >= 0xe0 && p[0] <= 0xef)
        n = 3, cp = p[0] & 0x0f;
      else if (p[0] >= 0xf0 && p[0] <= 0xf4)
        n = 4, cp = p[0] & 0x07;

      for (size_t i = 1; i < n; i++)
        {
          if ((p[i] & 0xc0) != 0x80)
            {
              n = 0;
              break;
            }
          cp = (cp << 6) | (p[i] & 0x3f);
        }
      if (n == 3 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff)))
        n = 0;
      if (n == 4 && (cp < 0x10000 || cp > 0x10ffff))
        n = 0;
      if (n == 0 || o + n > max)
        {
          if (n != 0)
            break;   /* a valid character that no longer fits */
          out[o++] = '?';
          p++;
          continue;
        }
      memcpy (out + o, p, n);
      o += n;
      p += n;
    }
  out[o] = '\0';
}

size_t
agent_format_error (char *buf, size_t size, bool has_seq, uint32_t seq, const char *code,
                    const char *message)
{
  char text[200];
  json_object *obj = new_reply ("error");

  if (!obj)
    return 0;
  copy_utf8 (text, sizeof text - 1, message ? message : "");
  if (has_seq)
    json_object_object_add (obj, "seq", json_object_new_int64 (seq));
  json_object_object_add (obj, "code", json_object_new_string (code));
  json_object_object_add (obj, "message", json_object_new_string (text));
  return finish_line (obj, buf, size);
}
