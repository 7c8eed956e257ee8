/* uevent_stamp.c: an LD_PRELOAD shim for bench/usb_attach.py's own process, so that the
 * bench can measure vmdeskd from the moment a uevent was sent, not only from the moment the
 * daemon got to it. umockdev sends each uevent with one sendmsg() per listening process;
 * this notes, per uevent sent, "SEQNUM ACTION DEVPATH MICROSECONDS" in the file named by
 * $VMDESK_UEVENT_STAMPS, the time taken on CLOCK_MONOTONIC (g_get_monotonic_time()'s clock)
 * just before the send. Not for anything but the bench. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

static int stamps_fd = -1;

__attribute__((constructor)) static void
open_stamps (void)
{
  const char *path = getenv ("VMDESK_UEVENT_STAMPS");

  if (path != NULL)
    stamps_fd = open (path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0600);
}

/* The value of `key` ("ACTION=") in a uevent's NUL-separated properties, or "". */
static const char *
property (const char *props, size_t length, const char *key)
{
  size_t key_length = strlen (key);

  for (size_t at = 0; at < length; at += strnlen (props + at, length - at) + 1)
    if (length - at > key_length && strncmp (props + at, key, key_length) == 0 &&
        memchr (props + at, '\0', length - at) != NULL)
      return props + at + key_length;
  return "";
}

/* umockdev's uevents are libudev's format: a header starting "libudev\0", then the
 * properties in the second buffer. */
static void
note (const struct msghdr *msg, const struct timespec *sent)
{
  char line[1024];
  const char *props;
  size_t length;
  int n;

  if (msg->msg_iovlen != 2 || msg->msg_iov[0].iov_len < 8 || memcmp (msg->msg_iov[0].iov_base, "libudev", 8) != 0)
    return;
  props = msg->msg_iov[1].iov_base;
  length = msg->msg_iov[1].iov_len;
  n = snprintf (line, sizeof line, "%s %s %s %lld\n", property (props, length, "SEQNUM="),
                property (props, length, "ACTION="), property (props, length, "DEVPATH="),
                (long long) sent->tv_sec * 1000000 + sent->tv_nsec / 1000);
  if (n > 0 && (size_t) n < sizeof line && write (stamps_fd, line, (size_t) n) < 0)
    perror ("uevent_stamp: write");
}

ssize_t
sendmsg (int fd, const struct msghdr *msg, int flags)
{
  static ssize_t (*next) (int, const struct msghdr *, int);
  struct timespec sent;
  ssize_t result;

  if (next == NULL)
    next = (ssize_t (*) (int, const struct msghdr *, int)) dlsym (RTLD_NEXT, "sendmsg");
  clock_gettime (CLOCK_MONOTONIC, &sent);
  result = next (fd, msg, flags);
  if (stamps_fd >= 0 && result > 0)
    note (msg, &sent);
  return result;
}
