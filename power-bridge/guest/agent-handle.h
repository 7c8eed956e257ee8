/* agent-handle.h: one host line in, its effect and reply out. The effects are callbacks,
 * so the whole exchange is tested without a port, sysfs or uinput. */
#pragma once

#include "agent-proto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct {
  /* Each returns false and fills `error` when the guest could not do it. */
  bool (*power) (void *user, const AgentPower *power, char *error, size_t error_size);
  bool (*lid) (void *user, bool closed, char *error, size_t error_size);
  bool (*button) (void *user, AgentButton button, char *error, size_t error_size);
  bool (*time) (void *user, int64_t sec, int32_t nsec, char *error, size_t error_size);
  void (*sleep) (void *user, AgentSleepPhase phase);
  unsigned (*caps) (void *user);                       /* AgentCaps for the hello */
  void (*send) (void *user, const char *line, size_t len);
  void (*log) (void *user, const char *message);       /* message may hold host bytes */
  void *user;
} AgentEffects;

typedef struct {
  uint64_t lines;       /* every line, oversized ones included */
  uint64_t handled;     /* acked */
  uint64_t rejected;    /* answered with an error */
} AgentStats;

/* line: NUL-terminated without its '\n', or NULL for an oversized line (AgentLineFn). */
void agent_handle_line (const AgentEffects *fx, AgentStats *stats,
                        const char *line, size_t len);

/* The agent's own hello, sent when it (re)connects. */
void agent_send_hello (const AgentEffects *fx);
