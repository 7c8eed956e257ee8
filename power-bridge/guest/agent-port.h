/* agent-port.h: the virtio-serial port, as the guest sees it.
 *
 * While the host side is closed, the port reads EOF and polls POLLIN|POLLHUP at once, so a
 * plain poll loop would spin. The kernel sends SIGIO to the port's owner when the host
 * opens or closes its side (and when data arrives), so the agent keeps the port open,
 * stops polling it while the host is away and waits for SIGIO instead. */
#pragma once

#include <stdbool.h>
#include <stddef.h>

typedef enum {
  AGENT_PORT_HOST_CONNECTED,
  AGENT_PORT_HOST_ABSENT,   /* port open, nobody on the host side (or unplugged: the
                               kernel cannot tell these apart through poll) */
  AGENT_PORT_GONE,          /* broken, or `path` is no longer this port: open it again */
} AgentPortState;

/* Opens the port non-blocking with SIGIO to this process. *sigio is false when the port
 * cannot signal (not a virtio port, e.g. a pty in a test): host changes are then only
 * noticed by polling it again. Returns the fd, or -1 with `error` filled. */
int agent_port_open (const char *path, bool *sigio, char *error, size_t error_size);

/* Whether the host side is there, from poll(2) without waiting, and whether `path` still
 * names the device `fd` has open. */
AgentPortState agent_port_state (int fd, const char *path);
