/* agent-clock.c: set the guest clock from the host's time message. */
#include "agent-clock.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

int64_t
agent_clock_offset_ns (struct timespec host, struct timespec guest)
{
  /* Seconds are bounded by the protocol (year 9999) and by the kernel, far from overflow
   * when multiplied; saturate anyway so a bad clock cannot wrap the comparison. */
  int64_t sec = (int64_t) host.tv_sec - (int64_t) guest.tv_sec;
  int64_t nsec = (int64_t) host.tv_nsec - (int64_t) guest.tv_nsec;

  if (sec > INT64_MAX / 1000000000 - 1)
    return INT64_MAX;
  if (sec < -(INT64_MAX / 1000000000 - 1))
    return -INT64_MAX;
  return sec * 1000000000 + nsec;
}

bool
agent_clock_needs_set (struct timespec host, struct timespec guest)
{
  int64_t offset = agent_clock_offset_ns (host, guest);

  return offset > AGENT_CLOCK_THRESHOLD_NS || offset < -AGENT_CLOCK_THRESHOLD_NS;
}

AgentClockResult
agent_clock_sync (struct timespec host, int64_t *offset_ns, char *error, size_t error_size)
{
  struct timespec guest;

  *offset_ns = 0;
  if (clock_gettime (CLOCK_REALTIME, &guest) < 0)
    {
      snprintf (error, error_size, "clock_gettime: %s", strerror (errno));
      return AGENT_CLOCK_FAILED;
    }
  *offset_ns = agent_clock_offset_ns (host, guest);
  if (!agent_clock_needs_set (host, guest))
    return AGENT_CLOCK_UNCHANGED;
  if (clock_settime (CLOCK_REALTIME, &host) < 0)
    {
      snprintf (error, error_size, "clock_settime: %s", strerror (errno));
      return AGENT_CLOCK_FAILED;
    }
  return AGENT_CLOCK_SET;
}
