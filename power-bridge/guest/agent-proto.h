/* agent-proto.h: vmdesk guest protocol v1, guest side, without I/O: line framing, parsing
 * of host messages into plain structs, and formatting of the agent's replies.
 * See docs/guest-protocol.md. Everything here is pure and bounded, so it is fuzzed whole. */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define AGENT_PROTO_VERSION 1
/* A line is at most this long, its '\n' included. */
#define AGENT_PROTO_MAX_LINE 4096
#define AGENT_PROTO_MAX_BATTERIES 8
#define AGENT_PROTO_MAX_NAME 32
#define AGENT_NAME "vmdesk-guest-agent/0.1"
/* The most the agent sends in answer to one host line (a hello and its ack, or an error
 * whose message is bounded): what a reader must have room for before it takes a line. */
#define AGENT_PROTO_MAX_REPLY 2048

/* --- framing ------------------------------------------------------------------------- */

typedef struct {
  char   buf[AGENT_PROTO_MAX_LINE];
  size_t len;
  bool   discarding;   /* inside an oversized line: drop bytes up to the next '\n' */
} AgentLineReader;

/* line is NUL-terminated without its '\n' and valid until the callback returns; NULL for
 * an oversized line (reported once, when its '\n' arrives). Returning false stops the
 * feed after this line (the caller has no room for more replies). */
typedef bool (*AgentLineFn) (const char *line, size_t len, void *user);

void agent_line_reader_reset (AgentLineReader *reader);
/* Returns the bytes consumed: all of `len`, or fewer when fn asked to stop; the caller
 * feeds the rest later. */
size_t agent_line_reader_feed (AgentLineReader *reader, const char *data, size_t len,
                               AgentLineFn fn, void *user);

/* --- host messages --------------------------------------------------------------------- */

typedef enum {
  AGENT_MSG_HELLO,
  AGENT_MSG_POWER,
  AGENT_MSG_LID,
  AGENT_MSG_BUTTON,
  AGENT_MSG_SLEEP,
  AGENT_MSG_TIME,
} AgentMsgType;

typedef enum {
  AGENT_BATTERY_UNKNOWN,
  AGENT_BATTERY_CHARGING,
  AGENT_BATTERY_DISCHARGING,
  AGENT_BATTERY_FULL,
  AGENT_BATTERY_EMPTY,
  AGENT_BATTERY_PENDING_CHARGE,
  AGENT_BATTERY_PENDING_DISCHARGE,
} AgentBatteryState;

typedef enum { AGENT_BUTTON_POWER, AGENT_BUTTON_SLEEP } AgentButton;
typedef enum { AGENT_SLEEP_PREPARE, AGENT_SLEEP_RESUME } AgentSleepPhase;

/* Optional numbers are negative when the host did not send them. */
typedef struct {
  char              name[AGENT_PROTO_MAX_NAME + 1];
  double            percent;          /* 0..100 */
  AgentBatteryState state;
  double            energy_wh;
  double            energy_full_wh;
  double            energy_rate_w;
  int64_t           time_to_empty_s;
  int64_t           time_to_full_s;
} AgentBattery;

typedef struct {
  bool         ac_online;
  size_t       n_batteries;
  AgentBattery batteries[AGENT_PROTO_MAX_BATTERIES];
} AgentPower;

typedef struct {
  AgentMsgType type;
  uint32_t     seq;
  union {
    struct { int64_t version; } hello;
    AgentPower power;
    struct { bool closed; } lid;
    AgentButton button;
    AgentSleepPhase sleep;
    struct { int64_t sec; int32_t nsec; } time;
  };
} AgentMsg;

typedef enum {
  AGENT_PARSE_OK,
  AGENT_PARSE_INVALID,       /* not JSON, not an object, a missing or bad field */
  AGENT_PARSE_UNSUPPORTED,   /* a well-formed message of a type this agent does not know */
} AgentParseResult;

typedef struct {
  bool     has_seq;   /* seq was valid, so the error reply can name it */
  uint32_t seq;
  char     message[160];
} AgentParseError;

AgentParseResult agent_msg_parse (const char *line, size_t len, AgentMsg *msg,
                                  AgentParseError *error);

const char *agent_parse_result_code (AgentParseResult result);

/* --- replies: each a complete line with its '\n' ---------------------------------------- */

typedef enum {
  AGENT_CAP_POWER  = 1 << 0,
  AGENT_CAP_LID    = 1 << 1,
  AGENT_CAP_BUTTON = 1 << 2,
  AGENT_CAP_SLEEP  = 1 << 3,
  AGENT_CAP_TIME   = 1 << 4,
} AgentCaps;

/* Each returns the length written (without the NUL), or 0 if it did not fit. */
size_t agent_format_hello (char *buf, size_t size, unsigned caps);
size_t agent_format_ack (char *buf, size_t size, uint32_t seq);
/* message: any bytes; it is cut to a bounded length and made valid UTF-8. */
size_t agent_format_error (char *buf, size_t size, bool has_seq, uint32_t seq,
                           const char *code, const char *message);
