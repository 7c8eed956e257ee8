/* agent-main.c: vmdesk-guest-agent, the guest end of vmdesk's power channel.
 *
 * One thread, one poll(2) loop over three fds: the port (only while the host is there),
 * a signalfd (SIGIO from the port, SIGTERM/SIGINT) and a timerfd (reopen backoff).
 * See docs/guest-agent.md. */
#define _GNU_SOURCE
#include "agent-clock.h"
#include "agent-handle.h"
#include "agent-input.h"
#include "agent-port.h"
#include "agent-power.h"
#include "agent-proto.h"

#include <errno.h>
#include <getopt.h>
#include <linux/input-event-codes.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/timerfd.h>
#include <unistd.h>

#define DEFAULT_PORT "/dev/virtio-ports/org.vmdesk.power.0"
/* Replies wait here while the host does not read. The agent takes a host line only when
 * the answer fits (backpressure: it stops reading, the host's writes block), so nothing is
 * ever dropped and neither buffer grows. */
#define OUT_MAX (64 * 1024)
/* Reopening a missing or broken port: the device comes back by hotplug, which a static
 * agent without libudev does not see; a capped backoff costs one wakeup per 5 s at most. */
#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

typedef struct {
  const char     *port_path;
  const char     *sysfs_root;
  int             port_fd;
  bool            port_sigio;
  bool            host_connected;
  int             signal_fd;
  int             timer_fd;
  unsigned        backoff_ms;
  bool            quit;
  AgentLineReader reader;
  AgentStats      stats;
  AgentInput      input;
  AgentEffects    fx;
  char            in[AGENT_PROTO_MAX_LINE];   /* read but not yet framed */
  size_t          in_off;
  size_t          in_len;
  char            out[OUT_MAX];
  size_t          out_len;
} Agent;

/* --- logging: host bytes are escaped, so the journal and the console see plain ASCII --- */

static void __attribute__ ((format (printf, 1, 2)))
agent_log (const char *fmt, ...)
{
  char raw[512];
  char escaped[sizeof raw * 4 + 1];
  size_t o = 0;
  va_list ap;

  va_start (ap, fmt);
  vsnprintf (raw, sizeof raw, fmt, ap);
  va_end (ap);
  for (const unsigned char *p = (const unsigned char *) raw; *p; p++)
    {
      if (*p >= 0x20 && *p < 0x7f && *p != '\\')
        escaped[o++] = (char) *p;
      else
        o += (size_t) sprintf (escaped + o, "\\x%02x", *p);
    }
  escaped[o] = '\0';
  fprintf (stderr, "vmdesk-guest-agent: %s\n", escaped);
}

/* --- effects ------------------------------------------------------------------------- */

static const char *const status_names[] = {
  [AGENT_STATUS_UNKNOWN] = "unknown", [AGENT_STATUS_CHARGING] = "charging",
  [AGENT_STATUS_DISCHARGING] = "discharging", [AGENT_STATUS_NOT_CHARGING] = "not charging",
  [AGENT_STATUS_FULL] = "full",
};

static bool
do_power (void *user, const AgentPower *power, char *error, size_t error_size)
{
  Agent *a = user;
  AgentSupply supply;

  agent_supply_from_power (power, &supply);
  if (!agent_power_apply (a->sysfs_root, &supply, error, error_size))
    return false;
  agent_log ("power: ac %s, battery %s %d%% %s", supply.ac_online ? "online" : "offline",
             supply.present ? "present" : "absent", supply.capacity,
             status_names[supply.status]);
  return true;
}

/* uinput may be loaded after the agent started: try again whenever it is needed. */
static bool
ensure_input (Agent *a, char *error, size_t error_size)
{
  return a->input.fd >= 0 || agent_input_open (&a->input, error, error_size);
}

static bool
do_lid (void *user, bool closed, char *error, size_t error_size)
{
  Agent *a = user;

  if (!ensure_input (a, error, error_size) ||
      !agent_input_lid (&a->input, closed, error, error_size))
    return false;
  agent_log ("lid %s", closed ? "closed" : "open");
  return true;
}

static bool
do_button (void *user, AgentButton button, char *error, size_t error_size)
{
  Agent *a = user;
  int code = button == AGENT_BUTTON_POWER ? KEY_POWER : KEY_SLEEP;

  if (!ensure_input (a, error, error_size) ||
      !agent_input_key (&a->input, code, error, error_size))
    return false;
  agent_log ("%s button pressed", button == AGENT_BUTTON_POWER ? "power" : "sleep");
  return true;
}

static bool
do_time (void *user, int64_t sec, int32_t nsec, char *error, size_t error_size)
{
  struct timespec host = { .tv_sec = (time_t) sec, .tv_nsec = nsec };
  int64_t offset = 0;

  switch (agent_clock_sync (host, &offset, error, error_size))
    {
    case AGENT_CLOCK_FAILED:
      return false;
    case AGENT_CLOCK_SET:
      agent_log ("clock set from the host (it was %lld ms off)",
                 (long long) (offset / 1000000));
      break;
    case AGENT_CLOCK_UNCHANGED:
      break;
    }
  return true;
}

static void
do_sleep (void *user, AgentSleepPhase phase)
{
  /* Nothing to do in the guest: the host suspends or pauses it, then sends the time. */
  agent_log (phase == AGENT_SLEEP_PREPARE ? "host is about to sleep" : "host resumed");
}

static unsigned
do_caps (void *user)
{
  Agent *a = user;
  char error[128];
  unsigned caps = AGENT_CAP_SLEEP | AGENT_CAP_TIME;

  if (agent_power_backend (a->sysfs_root) != AGENT_POWER_BACKEND_NONE)
    caps |= AGENT_CAP_POWER;
  if (ensure_input (a, error, sizeof error))
    caps |= AGENT_CAP_LID | AGENT_CAP_BUTTON;
  return caps;
}

static bool
room_for_reply (const Agent *a)
{
  return a->out_len + AGENT_PROTO_MAX_REPLY <= OUT_MAX;
}

static void
do_send (void *user, const char *line, size_t len)
{
  Agent *a = user;

  /* Lines are only taken with room_for_reply(): this cannot overflow. */
  if (a->out_len + len > OUT_MAX)
    abort ();
  memcpy (a->out + a->out_len, line, len);
  a->out_len += len;
}

static void
do_log (void *user, const char *message)
{
  agent_log ("%s", message);
}

/* --- the port ------------------------------------------------------------------------ */

static void
arm_timer (Agent *a, unsigned ms)
{
  struct itimerspec when = {
    .it_value = { .tv_sec = ms / 1000, .tv_nsec = (long) (ms % 1000) * 1000000 },
  };

  timerfd_settime (a->timer_fd, 0, &when, NULL);
}

/* Input of a host that went away is dropped: half a line must not be glued to the next
 * host's first line. */
static void
drop_input (Agent *a)
{
  agent_line_reader_reset (&a->reader);
  a->in_off = a->in_len = 0;
}

static void
close_port (Agent *a)
{
  if (a->port_fd >= 0)
    close (a->port_fd);
  a->port_fd = -1;
  a->host_connected = false;
  drop_input (a);
  a->out_len = 0;
}

static void
reopen_later (Agent *a)
{
  close_port (a);
  arm_timer (a, a->backoff_ms);
  a->backoff_ms = a->backoff_ms * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : a->backoff_ms * 2;
}

/* Whoever connects says hello: the host when it opens its side, the agent whenever it
 * sees a host appear. The agent's hello also repairs a lost exchange: the port's data and
 * its host-connected events travel on different virtqueues, so a new host's first line
 * can arrive while the kernel still reports the old host gone. */
static void
host_connected (Agent *a)
{
  a->host_connected = true;
  agent_log ("host connected on %s", a->port_path);
  agent_send_hello (&a->fx);
}

static void
host_gone (Agent *a)
{
  /* Replies not yet written are kept: by the race above they are most likely answers to
   * the next host (a gone host's were written while it was there, unless it stopped
   * reading, and the output buffer bounds those). */
  a->host_connected = false;
  drop_input (a);
  agent_log ("host disconnected; waiting for it on %s", a->port_path);
  /* Without SIGIO nothing would tell us the host came back. */
  if (!a->port_sigio)
    arm_timer (a, BACKOFF_MAX_MS);
}

/* Called after SIGIO or a timer while the host is absent, and right after opening. */
static void
check_port (Agent *a)
{
  switch (agent_port_state (a->port_fd, a->port_path))
    {
    case AGENT_PORT_HOST_CONNECTED:
      host_connected (a);
      break;
    case AGENT_PORT_HOST_ABSENT:
      if (!a->port_sigio)
        arm_timer (a, BACKOFF_MAX_MS);
      break;
    case AGENT_PORT_GONE:
      agent_log ("%s went away; opening it again", a->port_path);
      reopen_later (a);
      break;
    }
}

static void
open_port (Agent *a)
{
  char error[256];

  a->port_fd = agent_port_open (a->port_path, &a->port_sigio, error, sizeof error);
  if (a->port_fd < 0)
    {
      if (a->backoff_ms == BACKOFF_MIN_MS)
        agent_log ("%s; retrying", error);
      reopen_later (a);
      return;
    }
  a->backoff_ms = BACKOFF_MIN_MS;
  /* A host already there gets our hello now (it may have been waiting all along); one
   * that comes later gets it when it connects. */
  check_port (a);
}

static void
flush_out (Agent *a)
{
  while (a->out_len > 0)
    {
      ssize_t n = write (a->port_fd, a->out, a->out_len);
      if (n < 0)
        {
          if (errno == EINTR)
            continue;
          if (errno != EAGAIN)
            {
              agent_log ("writing %s: %s", a->port_path, strerror (errno));
              reopen_later (a);
            }
          return;
        }
      memmove (a->out, a->out + n, a->out_len - (size_t) n);
      a->out_len -= (size_t) n;
    }
}

static bool
on_line (const char *line, size_t len, void *user)
{
  Agent *a = user;

  agent_handle_line (&a->fx, &a->stats, line, len);
  return room_for_reply (a);
}

/* Frames what was read, as far as there is room for the replies. */
static void
process_input (Agent *a)
{
  while (a->in_off < a->in_len && room_for_reply (a))
    a->in_off += agent_line_reader_feed (&a->reader, a->in + a->in_off,
                                         a->in_len - a->in_off, on_line, a);
  if (a->in_off == a->in_len)
    a->in_off = a->in_len = 0;
}

static void
read_port (Agent *a)
{
  ssize_t n;

  do
    n = read (a->port_fd, a->in, sizeof a->in);
  while (n < 0 && errno == EINTR);
  if (n > 0)
    {
      a->in_off = 0;
      a->in_len = (size_t) n;
      process_input (a);
    }
  else if (n == 0)
    host_gone (a);
  else if (errno != EAGAIN)
    {
      agent_log ("reading %s: %s", a->port_path, strerror (errno));
      reopen_later (a);
    }
}

static void
on_port (Agent *a, short revents)
{
  if (revents & POLLIN)
    read_port (a);
  else if (revents & POLLHUP)
    host_gone (a);
  else if (revents & (POLLERR | POLLNVAL))
    {
      agent_log ("%s failed; opening it again", a->port_path);
      reopen_later (a);
    }
  /* Flushing makes room, which lets the rest of a read through, which needs flushing. */
  while (a->port_fd >= 0 && a->host_connected && a->out_len > 0)
    {
      size_t before = a->out_len;
      flush_out (a);
      if (a->port_fd < 0 || !a->host_connected || a->out_len == before)
        break;
      process_input (a);
    }
}

static void
on_signal (Agent *a)
{
  struct signalfd_siginfo info;

  while (read (a->signal_fd, &info, sizeof info) == sizeof info)
    {
      if (info.ssi_signo == SIGTERM || info.ssi_signo == SIGINT)
        a->quit = true;
    }
  /* SIGIO: the host opened or closed its side, or data arrived. Only the first matters
   * here; while connected, poll already reports the rest. */
  if (!a->quit && a->port_fd >= 0 && !a->host_connected)
    check_port (a);
}

static void
on_timer (Agent *a)
{
  uint64_t expirations;

  if (read (a->timer_fd, &expirations, sizeof expirations) != sizeof expirations)
    return;
  if (a->port_fd < 0)
    open_port (a);
  else if (!a->host_connected)
    check_port (a);
}

static int
run (Agent *a)
{
  open_port (a);
  while (!a->quit)
    {
      struct pollfd fds[3] = {
        { .fd = a->signal_fd, .events = POLLIN },
        { .fd = a->timer_fd, .events = POLLIN },
        { .fd = -1 },
      };

      if (a->port_fd >= 0 && a->host_connected)
        {
          /* Read only when the last read is framed and its answers have room. */
          fds[2].fd = a->port_fd;
          fds[2].events = (a->in_len == 0 && room_for_reply (a) ? POLLIN : 0) |
                          (a->out_len ? POLLOUT : 0);
        }
      if (poll (fds, 3, -1) < 0)
        {
          if (errno == EINTR)
            continue;
          agent_log ("poll: %s", strerror (errno));
          return EXIT_FAILURE;
        }
      if (fds[0].revents)
        on_signal (a);
      if (fds[1].revents)
        on_timer (a);
      if (fds[2].revents && fds[2].fd == a->port_fd && a->host_connected)
        on_port (a, fds[2].revents);
    }
  agent_log ("exiting after %llu lines (%llu handled, %llu rejected)",
             (unsigned long long) a->stats.lines, (unsigned long long) a->stats.handled,
             (unsigned long long) a->stats.rejected);
  return EXIT_SUCCESS;
}

/* --- setup --------------------------------------------------------------------------- */

static void
usage (FILE *out)
{
  fprintf (out,
           "usage: vmdesk-guest-agent [--sysfs DIR] [PORT]\n"
           "  PORT        the virtio-serial port (default " DEFAULT_PORT ")\n"
           "  --sysfs DIR where vmdesk_battery/test_power parameters live (default /sys)\n"
           "  --version   print the version\n");
}

int
main (int argc, char **argv)
{
  static const struct option options[] = {
    { "sysfs", required_argument, NULL, 's' },
    { "help", no_argument, NULL, 'h' },
    { "version", no_argument, NULL, 'V' },
    { NULL, 0, NULL, 0 },
  };
  Agent agent = { 0 };
  Agent *a = &agent;
  sigset_t signals;
  char error[256];
  int opt, status;

  a->port_path = DEFAULT_PORT;
  a->sysfs_root = "/sys";
  while ((opt = getopt_long (argc, argv, "h", options, NULL)) != -1)
    {
      switch (opt)
        {
        case 's':
          a->sysfs_root = optarg;
          break;
        case 'h':
          usage (stdout);
          return EXIT_SUCCESS;
        case 'V':
          printf ("%s (protocol %d)\n", AGENT_NAME, AGENT_PROTO_VERSION);
          return EXIT_SUCCESS;
        default:
          usage (stderr);
          return 2;
        }
    }
  if (optind < argc)
    a->port_path = argv[optind++];
  if (optind < argc)
    {
      usage (stderr);
      return 2;
    }

  sigemptyset (&signals);
  sigaddset (&signals, SIGIO);
  sigaddset (&signals, SIGTERM);
  sigaddset (&signals, SIGINT);
  signal (SIGPIPE, SIG_IGN);
  signal (SIGHUP, SIG_IGN);
  sigprocmask (SIG_BLOCK, &signals, NULL);
  a->signal_fd = signalfd (-1, &signals, SFD_NONBLOCK | SFD_CLOEXEC);
  a->timer_fd = timerfd_create (CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
  if (a->signal_fd < 0 || a->timer_fd < 0)
    {
      agent_log ("signalfd/timerfd: %s", strerror (errno));
      return EXIT_FAILURE;
    }

  a->port_fd = -1;
  a->backoff_ms = BACKOFF_MIN_MS;
  a->fx = (AgentEffects) {
    .power = do_power, .lid = do_lid, .button = do_button, .time = do_time,
    .sleep = do_sleep, .caps = do_caps, .send = do_send, .log = do_log, .user = a,
  };
  if (!agent_input_open (&a->input, error, sizeof error))
    agent_log ("no lid or buttons for now: %s", error);
  agent_log ("%s starting on %s", AGENT_NAME, a->port_path);

  status = run (a);
  agent_input_close (&a->input);
  close_port (a);
  return status;
}
