/* agent-port.c: open the virtio-serial port and tell whether the host is on the other end. */
#define _GNU_SOURCE
#include "agent-port.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int
agent_port_open (const char *path, bool *sigio, char *error, size_t error_size)
{
  int fd = open (path, O_RDWR | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  int flags;

  *sigio = false;
  if (fd < 0)
    {
      snprintf (error, error_size, "%s: %s", path, strerror (errno));
      return -1;
    }
  flags = fcntl (fd, F_GETFL);
  if (flags >= 0 && fcntl (fd, F_SETOWN, getpid ()) == 0 &&
      fcntl (fd, F_SETFL, flags | O_ASYNC) == 0)
    *sigio = true;
  return fd;
}

AgentPortState
agent_port_state (int fd, const char *path)
{
  struct pollfd pfd = { .fd = fd, .events = POLLIN };
  struct stat open_st, path_st;
  int n;

  do
    n = poll (&pfd, 1, 0);
  while (n < 0 && errno == EINTR);
  if (n < 0 || (pfd.revents & (POLLERR | POLLNVAL)))
    return AGENT_PORT_GONE;
  if (fstat (fd, &open_st) < 0 || stat (path, &path_st) < 0 ||
      open_st.st_rdev != path_st.st_rdev || open_st.st_ino != path_st.st_ino)
    return AGENT_PORT_GONE;
  /* Before the 2025 "lost wakeup" fix the kernel also reports POLLIN while the host is
   * away (a read then returns 0); after it, only when data is queued. Either way POLLHUP
   * is what says the host side is closed. */
  if (pfd.revents & POLLHUP)
    return AGENT_PORT_HOST_ABSENT;
  return AGENT_PORT_HOST_CONNECTED;
}
