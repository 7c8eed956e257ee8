/* test-agent-clock.c: when the guest clock is set from the host's. */
#include "agent-clock.h"
#include "agent-test.h"

static struct timespec
ts (time_t sec, long nsec)
{
  return (struct timespec) { .tv_sec = sec, .tv_nsec = nsec };
}

static void
test_offset (void)
{
  CHECK (agent_clock_offset_ns (ts (100, 0), ts (100, 0)) == 0);
  CHECK (agent_clock_offset_ns (ts (101, 100), ts (100, 900000100)) == 100000000);
  CHECK (agent_clock_offset_ns (ts (100, 0), ts (101, 500)) == -1000000500);
}

static void
test_threshold (void)
{
  /* Exactly at the threshold: left alone; one nanosecond beyond: set. */
  CHECK (!agent_clock_needs_set (ts (100, 500000000), ts (100, 0)));
  CHECK (agent_clock_needs_set (ts (100, 500000001), ts (100, 0)));
  CHECK (!agent_clock_needs_set (ts (100, 0), ts (100, 500000000)));
  CHECK (agent_clock_needs_set (ts (99, 999999999), ts (100, 500000000)));
  /* A guest that slept an hour. */
  CHECK (agent_clock_needs_set (ts (1763903600, 0), ts (1763900000, 0)));
}

static void
test_saturates (void)
{
  CHECK (agent_clock_offset_ns (ts (253402300799, 0), ts (-253402300799, 0)) > 0);
  CHECK (agent_clock_offset_ns (ts (INT64_MAX / 2, 0), ts (0, 0)) == INT64_MAX);
  CHECK (agent_clock_offset_ns (ts (0, 0), ts (INT64_MAX / 2, 0)) == -INT64_MAX);
}

int
main (void)
{
  RUN (test_offset);
  RUN (test_threshold);
  RUN (test_saturates);
  return TEST_RESULT ();
}
