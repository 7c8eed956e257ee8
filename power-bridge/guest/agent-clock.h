/* agent-clock.h: the guest's wall clock from the host's, after the host resumed (a guest
 * that was paused or suspended keeps the time it stopped at). */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Below this, a difference is transit delay or NTP's business, not a missed sleep. */
#define AGENT_CLOCK_THRESHOLD_NS 500000000LL

/* Nanoseconds host minus guest, saturated to +-INT64_MAX. */
int64_t agent_clock_offset_ns (struct timespec host, struct timespec guest);
bool agent_clock_needs_set (struct timespec host, struct timespec guest);

typedef enum {
  AGENT_CLOCK_UNCHANGED,
  AGENT_CLOCK_SET,
  AGENT_CLOCK_FAILED,
} AgentClockResult;

/* Sets CLOCK_REALTIME to `host` when it differs by more than the threshold. *offset_ns
 * gets the difference found. */
AgentClockResult agent_clock_sync (struct timespec host, int64_t *offset_ns,
                                   char *error, size_t error_size);
