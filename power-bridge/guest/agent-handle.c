/* agent-handle.c: dispatch of host messages: exactly one reply (ack or error) per line. */
#include "agent-handle.h"

#include <stdio.h>

/* A host sending garbage in a loop must not flood the guest's journal: the first few
 * rejections are logged, then one in LOG_EVERY. */
#define LOG_FIRST 10
#define LOG_EVERY 1000

static void
send_error (const AgentEffects *fx, AgentStats *stats, bool has_seq, uint32_t seq,
            const char *code, const char *message)
{
  char line[AGENT_PROTO_MAX_LINE];
  size_t len = agent_format_error (line, sizeof line, has_seq, seq, code, message);

  stats->rejected++;
  if (stats->rejected <= LOG_FIRST || stats->rejected % LOG_EVERY == 0)
    {
      char text[320];
      snprintf (text, sizeof text, "rejected message %llu (%s): %s",
                (unsigned long long) stats->lines, code, message);
      fx->log (fx->user, text);
    }
  if (len)
    fx->send (fx->user, line, len);
}

static void
send_ack (const AgentEffects *fx, AgentStats *stats, uint32_t seq)
{
  char line[64];
  size_t len = agent_format_ack (line, sizeof line, seq);

  stats->handled++;
  if (len)
    fx->send (fx->user, line, len);
}

void
agent_send_hello (const AgentEffects *fx)
{
  char line[256];
  size_t len = agent_format_hello (line, sizeof line, fx->caps (fx->user));

  if (len)
    fx->send (fx->user, line, len);
}

static bool
apply (const AgentEffects *fx, const AgentMsg *msg, char *error, size_t error_size)
{
  switch (msg->type)
    {
    case AGENT_MSG_HELLO:
      /* The host (re)connected: it gets our hello, then sends its state. */
      agent_send_hello (fx);
      return true;
    case AGENT_MSG_POWER:
      return fx->power (fx->user, &msg->power, error, error_size);
    case AGENT_MSG_LID:
      return fx->lid (fx->user, msg->lid.closed, error, error_size);
    case AGENT_MSG_BUTTON:
      return fx->button (fx->user, msg->button, error, error_size);
    case AGENT_MSG_SLEEP:
      fx->sleep (fx->user, msg->sleep);
      return true;
    case AGENT_MSG_TIME:
      return fx->time (fx->user, msg->time.sec, msg->time.nsec, error, error_size);
    }
  snprintf (error, error_size, "unhandled message type");
  return false;
}

void
agent_handle_line (const AgentEffects *fx, AgentStats *stats, const char *line, size_t len)
{
  AgentMsg msg;
  AgentParseError perr;
  AgentParseResult result;
  char error[256] = "";

  stats->lines++;
  if (!line)
    {
      char text[64];
      snprintf (text, sizeof text, "line longer than %d bytes", AGENT_PROTO_MAX_LINE);
      send_error (fx, stats, false, 0, "invalid", text);
      return;
    }
  result = agent_msg_parse (line, len, &msg, &perr);
  if (result != AGENT_PARSE_OK)
    {
      send_error (fx, stats, perr.has_seq, perr.seq, agent_parse_result_code (result),
                  perr.message);
      return;
    }
  if (!apply (fx, &msg, error, sizeof error))
    {
      send_error (fx, stats, true, msg.seq, "failed", error);
      return;
    }
  send_ack (fx, stats, msg.seq);
}
