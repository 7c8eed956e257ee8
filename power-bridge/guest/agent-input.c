/* agent-input.c: a uinput device with SW_LID, KEY_POWER and KEY_SLEEP. */
#include "agent-input.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/uinput.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

static bool
fail_errno (char *error, size_t error_size, const char *what)
{
  snprintf (error, error_size, "%s: %s", what, strerror (errno));
  return false;
}

bool
agent_input_open (AgentInput *input, char *error, size_t error_size)
{
  static const char *const paths[] = { "/dev/uinput", "/dev/input/uinput" };
  struct uinput_setup setup = {
    .id = { .bustype = BUS_VIRTUAL, .vendor = 0, .product = 0, .version = 1 },
    .name = AGENT_INPUT_NAME,
  };
  int fd = -1;

  input->fd = -1;
  for (size_t i = 0; fd < 0 && i < sizeof paths / sizeof paths[0]; i++)
    fd = open (paths[i], O_WRONLY | O_NONBLOCK | O_CLOEXEC);
  if (fd < 0)
    return fail_errno (error, error_size, "/dev/uinput");

  if (ioctl (fd, UI_SET_EVBIT, EV_SW) < 0 || ioctl (fd, UI_SET_SWBIT, SW_LID) < 0 ||
      ioctl (fd, UI_SET_EVBIT, EV_KEY) < 0 || ioctl (fd, UI_SET_KEYBIT, KEY_POWER) < 0 ||
      ioctl (fd, UI_SET_KEYBIT, KEY_SLEEP) < 0 || ioctl (fd, UI_SET_EVBIT, EV_SYN) < 0 ||
      ioctl (fd, UI_DEV_SETUP, &setup) < 0 || ioctl (fd, UI_DEV_CREATE) < 0)
    {
      fail_errno (error, error_size, "creating the uinput device");
      close (fd);
      return false;
    }
  input->fd = fd;
  return true;
}

void
agent_input_close (AgentInput *input)
{
  if (input->fd >= 0)
    {
      ioctl (input->fd, UI_DEV_DESTROY);
      close (input->fd);
    }
  input->fd = -1;
}

/* The events and their SYN_REPORT in one write: readers see them as one frame. */
static bool
emit (AgentInput *input, const struct input_event *events, size_t n,
      char *error, size_t error_size)
{
  ssize_t len = (ssize_t) (n * sizeof events[0]);
  ssize_t written;

  if (input->fd < 0)
    {
      snprintf (error, error_size, "no uinput device");
      return false;
    }
  do
    written = write (input->fd, events, (size_t) len);
  while (written < 0 && errno == EINTR);
  if (written != len)
    return written < 0 ? fail_errno (error, error_size, "uinput write")
                       : (snprintf (error, error_size, "uinput: short write"), false);
  return true;
}

bool
agent_input_lid (AgentInput *input, bool closed, char *error, size_t error_size)
{
  struct input_event events[] = {
    { .type = EV_SW, .code = SW_LID, .value = closed },
    { .type = EV_SYN, .code = SYN_REPORT, .value = 0 },
  };

  return emit (input, events, 2, error, error_size);
}

bool
agent_input_key (AgentInput *input, int code, char *error, size_t error_size)
{
  struct input_event events[] = {
    { .type = EV_KEY, .code = code, .value = 1 },
    { .type = EV_SYN, .code = SYN_REPORT, .value = 0 },
    { .type = EV_KEY, .code = code, .value = 0 },
    { .type = EV_SYN, .code = SYN_REPORT, .value = 0 },
  };

  return emit (input, events, 4, error, error_size);
}
