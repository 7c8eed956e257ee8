/* vmd-guest-protocol.c: the host's half of docs/guest-protocol.md: one JSON line per
 * host->guest message, and a strict decoder for what the guest sends. */
#include "vmd-power-private.h"

#include <json-glib/json-glib.h>
#include <math.h>

/* Guest messages are flat (the hello's caps array is the deepest part); room is left for
 * members a newer agent may add, but not for a parser-busting pile of brackets. */
#define GUEST_JSON_DEPTH_MAX 4
#define TYPE_LEN_MAX         32
#define AGENT_LEN_MAX        128
#define MESSAGE_LEN_MAX      512
#define CAPS_MAX             16
#define CAP_LEN_MAX          32
#define VERSION_MAX          65535
/* Estimates beyond ten years are noise; clamping keeps every line short. */
#define SECONDS_MAX          (10 * 365 * 24 * 3600LL)
#define ENERGY_MAX           100000.0

/* ---- host -> guest ---- */

static JsonBuilder *
begin (const char *type, guint32 seq)
{
  JsonBuilder *b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "type");
  json_builder_add_string_value (b, type);
  json_builder_set_member_name (b, "seq");
  json_builder_add_int_value (b, seq);
  return b;
}

static char *
finish (JsonBuilder *b)
{
  g_autoptr(JsonNode) root = NULL;
  g_autofree char *json = NULL;

  json_builder_end_object (b);
  root = json_builder_get_root (b);
  json = json_to_string (root, FALSE);
  g_object_unref (b);
  return g_strconcat (json, "\n", NULL);
}

/* json-glib would write NaN and infinities as bare words, which is not JSON. */
static double
clamp_double (double value, double lo, double hi)
{
  if (!isfinite (value) || value < lo)
    return lo;
  return value > hi ? hi : value;
}

static gint64
clamp_seconds (gint64 value)
{
  return CLAMP (value, 0, SECONDS_MAX);
}

char *
vmd_guest_encode_hello (guint32 seq, const char *host)
{
  JsonBuilder *b = begin ("hello", seq);

  json_builder_set_member_name (b, "version");
  json_builder_add_int_value (b, VMD_GUEST_PROTOCOL_VERSION);
  json_builder_set_member_name (b, "host");
  json_builder_add_string_value (b, host != NULL && g_utf8_validate (host, -1, NULL)
                                    && strlen (host) <= AGENT_LEN_MAX ? host : "vmdeskd");
  return finish (b);
}

static void
add_double (JsonBuilder *b, const char *name, double value, double hi)
{
  json_builder_set_member_name (b, name);
  json_builder_add_double_value (b, clamp_double (value, 0.0, hi));
}

static void
add_battery (JsonBuilder *b, const VmdBattery *bat, guint index)
{
  char fallback[16];

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "name");
  if (vmd_battery_name_is_valid (bat->name))
    json_builder_add_string_value (b, bat->name);
  else
    {
      g_snprintf (fallback, sizeof fallback, "BAT%u", index);
      json_builder_add_string_value (b, fallback);
    }
  add_double (b, "percent", bat->percent, 100.0);
  json_builder_set_member_name (b, "state");
  json_builder_add_string_value (b, vmd_battery_state_to_string (bat->state));
  add_double (b, "energy_wh", bat->energy_wh, ENERGY_MAX);
  add_double (b, "energy_full_wh", bat->energy_full_wh, ENERGY_MAX);
  add_double (b, "energy_rate_w", bat->energy_rate_w, ENERGY_MAX);
  json_builder_set_member_name (b, "time_to_empty_s");
  json_builder_add_int_value (b, clamp_seconds (bat->time_to_empty_s));
  json_builder_set_member_name (b, "time_to_full_s");
  json_builder_add_int_value (b, clamp_seconds (bat->time_to_full_s));
  json_builder_end_object (b);
}

char *
vmd_guest_encode_power (guint32 seq, const VmdPowerState *state)
{
  JsonBuilder *b = begin ("power", seq);
  guint n = MIN (state->n_batteries, VMD_POWER_MAX_BATTERIES);

  json_builder_set_member_name (b, "ac_online");
  json_builder_add_boolean_value (b, state->ac_online);
  json_builder_set_member_name (b, "batteries");
  json_builder_begin_array (b);
  for (guint i = 0; i < n; i++)
    add_battery (b, &state->batteries[i], i);
  json_builder_end_array (b);
  return finish (b);
}

char *
vmd_guest_encode_lid (guint32 seq, gboolean closed)
{
  JsonBuilder *b = begin ("lid", seq);

  json_builder_set_member_name (b, "closed");
  json_builder_add_boolean_value (b, closed);
  return finish (b);
}

char *
vmd_guest_encode_button (guint32 seq, VmdButton button)
{
  JsonBuilder *b = begin ("button", seq);

  json_builder_set_member_name (b, "button");
  json_builder_add_string_value (b, button == VMD_BUTTON_SLEEP ? "sleep" : "power");
  return finish (b);
}

char *
vmd_guest_encode_sleep (guint32 seq, VmdSleepPhase phase)
{
  JsonBuilder *b = begin ("sleep", seq);

  json_builder_set_member_name (b, "phase");
  json_builder_add_string_value (b, phase == VMD_SLEEP_PHASE_RESUME ? "resume" : "prepare");
  return finish (b);
}

char *
vmd_guest_encode_time (guint32 seq, gint64 sec, guint32 nsec)
{
  JsonBuilder *b = begin ("time", seq);

  json_builder_set_member_name (b, "sec");
  json_builder_add_int_value (b, MAX (sec, 0));
  json_builder_set_member_name (b, "nsec");
  json_builder_add_int_value (b, MIN (nsec, 999999999u));
  return finish (b);
}

/* ---- guest -> host ---- */

void
vmd_guest_message_free (VmdGuestMessage *message)
{
  if (message == NULL)
    return;
  g_free (message->agent);
  g_free (message->message);
  g_free (message->type_name);
  g_free (message);
}

static gboolean
invalid (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);

static gboolean
invalid (GError **error, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, text);
  return FALSE;
}

/* The member's node, NULL when absent. */
static JsonNode *
member (JsonObject *obj, const char *name)
{
  return json_object_has_member (obj, name) ? json_object_get_member (obj, name) : NULL;
}

static gboolean
get_int (JsonObject *obj, const char *name, gint64 min, gint64 max, gint64 *out,
         GError **error)
{
  JsonNode *node = member (obj, name);

  if (node == NULL)
    return invalid (error, "\"%s\" is missing", name);
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_INT64)
    return invalid (error, "\"%s\" is not an integer", name);
  *out = json_node_get_int (node);
  if (*out < min || *out > max)
    return invalid (error, "\"%s\" is out of range (%" G_GINT64_FORMAT "..%" G_GINT64_FORMAT ")",
                    name, min, max);
  return TRUE;
}

static const char *
get_string (JsonObject *obj, const char *name, gsize max_len, GError **error)
{
  JsonNode *node = member (obj, name);
  const char *value;

  if (node == NULL)
    {
      invalid (error, "\"%s\" is missing", name);
      return NULL;
    }
  if (!JSON_NODE_HOLDS_VALUE (node) || json_node_get_value_type (node) != G_TYPE_STRING)
    {
      invalid (error, "\"%s\" is not a string", name);
      return NULL;
    }
  value = json_node_get_string (node);
  if (strlen (value) > max_len)
    {
      invalid (error, "\"%s\" is longer than %" G_GSIZE_FORMAT " bytes", name, max_len);
      return NULL;
    }
  return value;
}

static const struct { const char *name; VmdGuestCaps cap; } known_caps[] = {
  { "power", VMD_GUEST_CAP_POWER },
  { "lid", VMD_GUEST_CAP_LID },
  { "button", VMD_GUEST_CAP_BUTTON },
  { "sleep", VMD_GUEST_CAP_SLEEP },
  { "time", VMD_GUEST_CAP_TIME },
};

static gboolean
parse_hello (JsonObject *obj, VmdGuestMessage *msg, GError **error)
{
  JsonNode *node;
  JsonArray *caps;
  const char *agent;

  if (!get_int (obj, "version", 1, VERSION_MAX, &msg->version, error))
    return FALSE;
  if ((agent = get_string (obj, "agent", AGENT_LEN_MAX, error)) == NULL)
    return FALSE;
  msg->agent = g_strdup (agent);
  node = member (obj, "caps");
  if (node == NULL)
    return invalid (error, "\"caps\" is missing");
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return invalid (error, "\"caps\" is not an array");
  caps = json_node_get_array (node);
  if (json_array_get_length (caps) > CAPS_MAX)
    return invalid (error, "\"caps\" has more than %d entries", CAPS_MAX);
  for (guint i = 0; i < json_array_get_length (caps); i++)
    {
      JsonNode *cap = json_array_get_element (caps, i);
      const char *name;

      if (!JSON_NODE_HOLDS_VALUE (cap) || json_node_get_value_type (cap) != G_TYPE_STRING)
        return invalid (error, "\"caps\"[%u] is not a string", i);
      name = json_node_get_string (cap);
      if (strlen (name) > CAP_LEN_MAX)
        return invalid (error, "\"caps\"[%u] is longer than %d bytes", i, CAP_LEN_MAX);
      /* Unknown capabilities are a newer agent's: ignored, not malformed. */
      for (gsize k = 0; k < G_N_ELEMENTS (known_caps); k++)
        if (strcmp (name, known_caps[k].name) == 0)
          msg->caps |= known_caps[k].cap;
    }
  return TRUE;
}

static gboolean
parse_seq (JsonObject *obj, VmdGuestMessage *msg, GError **error)
{
  gint64 seq;

  if (!get_int (obj, "seq", 1, G_MAXUINT32, &seq, error))
    return FALSE;
  msg->has_seq = TRUE;
  msg->seq = (guint32) seq;
  return TRUE;
}

static gboolean
parse_error (JsonObject *obj, VmdGuestMessage *msg, GError **error)
{
  static const char *const codes[] = { "unsupported", "invalid", "failed" };
  const char *code, *message;
  gsize k;

  if (member (obj, "seq") != NULL && !parse_seq (obj, msg, error))
    return FALSE;
  if ((code = get_string (obj, "code", CAP_LEN_MAX, error)) == NULL)
    return FALSE;
  for (k = 0; k < G_N_ELEMENTS (codes); k++)
    if (strcmp (code, codes[k]) == 0)
      break;
  if (k == G_N_ELEMENTS (codes))
    return invalid (error, "\"code\" is not one of unsupported, invalid, failed");
  msg->code = (VmdGuestErrorCode) k;
  if ((message = get_string (obj, "message", MESSAGE_LEN_MAX, error)) == NULL)
    return FALSE;
  msg->message = g_strdup (message);
  return TRUE;
}

VmdGuestMessage *
vmd_guest_message_parse (const char *line, gsize len, GError **error)
{
  g_autoptr(JsonParser) parser = NULL;
  g_autoptr(VmdGuestMessage) msg = g_new0 (VmdGuestMessage, 1);
  g_autoptr(GError) local = NULL;
  JsonNode *root;
  JsonObject *obj;
  const char *type;
  gboolean ok;

  if (!vmd_json_strict_check (line, len, GUEST_JSON_DEPTH_MAX, error))
    return NULL;
  parser = json_parser_new_immutable ();
  if (!json_parser_load_from_data (parser, line, (gssize) len, &local))
    {
      invalid (error, "not JSON: %s", local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      invalid (error, "not a JSON object");
      return NULL;
    }
  obj = json_node_get_object (root);
  if ((type = get_string (obj, "type", TYPE_LEN_MAX, error)) == NULL)
    return NULL;

  if (strcmp (type, "hello") == 0)
    {
      msg->type = VMD_GUEST_MSG_HELLO;
      ok = parse_hello (obj, msg, error);
    }
  else if (strcmp (type, "ack") == 0)
    {
      msg->type = VMD_GUEST_MSG_ACK;
      ok = parse_seq (obj, msg, error);
    }
  else if (strcmp (type, "error") == 0)
    {
      msg->type = VMD_GUEST_MSG_ERROR;
      ok = parse_error (obj, msg, error);
    }
  else
    {
      msg->type = VMD_GUEST_MSG_UNKNOWN;
      msg->type_name = g_strdup (type);
      ok = TRUE;
    }
  if (!ok)
    {
      g_prefix_error (error, "%s: ", type);
      return NULL;
    }
  return g_steal_pointer (&msg);
}
