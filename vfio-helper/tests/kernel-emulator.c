/* kernel-emulator.c: an LD_PRELOAD shim that plays the kernel's part when a process under
 * umockdev writes sysfs control files. umockdev redirects /sys into a testbed of plain
 * files, so a write to `unbind` would just land in a file; this shim intercepts write(2),
 * looks up where the fd really points, and when that is inside the testbed's sys/ does what
 * the kernel would, synchronously, before write returns, with the kernel's errno:
 *
 *   bus/B/drivers/D/unbind   DEV  device bound to D: drop the `driver` link, the driver's
 *                                 link back and DRIVER= in uevent; else ENODEV
 *   bus/B/drivers/D/bind     DEV  device unbound and D matches it: bind; EBUSY if bound,
 *                                 ENODEV if D does not match
 *   bus/B/drivers_probe      DEV  unbound device: bind the driver that matches, if loaded
 *   .../driver_override      VAL  stored as the kernel shows it ("(null)" when empty)
 *   any other attribute      VAL  stored with a newline (vtconsole bind, ...)
 *
 * A driver matches a device when the device's driver_override names it, or, without an
 * override, when it is the device's native driver: TESTBED/kernel-emulator/native/DEV holds
 * that name (the tests write it). A driver is loaded when bus/B/drivers/D exists.
 *
 * Test controls (environment, read once):
 *   VMDESK_KEMU_FAIL=N[:MODE],...  the Nth sysfs write of this process fails: MODE errno
 *                                  (EIO, the default), busy (EBUSY), or noop (write reports
 *                                  success, nothing happens: the caller's check must notice)
 *   VMDESK_KEMU_KILL_BEFORE=N      SIGKILL this process just before the Nth sysfs write
 *   VMDESK_KEMU_KILL_AFTER=N       ... just after the Nth sysfs write took effect
 *   VMDESK_KEMU_LOG=FILE           append "N<TAB>/sys/path<TAB>value<TAB>result" per write
 *
 * Why a preload and not a process watching the testbed with inotify: the kernel answers a
 * write before write(2) returns, and the code under test reads the `driver` link right
 * after. A watcher would race with that read; the shim cannot (docs/testing.md).
 *
 * Build note: this file is never compiled with sanitizers, and uses only raw syscalls and
 * the next write(2) for its own I/O, so it can sit in front of umockdev's preload. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#define MAX_FAILS 16
#define VALUE_MAX 256

typedef ssize_t (*WriteFunc) (int, const void *, size_t);

static WriteFunc real_write;
static int initialised;
static unsigned long counter;
static unsigned long fail_at[MAX_FAILS];
static char fail_mode[MAX_FAILS][8];
static int n_fails;
static unsigned long kill_before, kill_after;
static const char *log_path;

static void
init (void)
{
  const char *fail = getenv ("VMDESK_KEMU_FAIL");
  const char *kb = getenv ("VMDESK_KEMU_KILL_BEFORE");
  const char *ka = getenv ("VMDESK_KEMU_KILL_AFTER");

  real_write = (WriteFunc) dlsym (RTLD_NEXT, "write");
  kill_before = kb ? strtoul (kb, NULL, 10) : 0;
  kill_after = ka ? strtoul (ka, NULL, 10) : 0;
  log_path = getenv ("VMDESK_KEMU_LOG");
  while (fail && *fail && n_fails < MAX_FAILS)
    {
      char *end;
      unsigned long n = strtoul (fail, &end, 10);
      size_t len;

      fail_at[n_fails] = n;
      strcpy (fail_mode[n_fails], "errno");
      if (*end == ':')
        {
          len = strcspn (end + 1, ",");
          if (len < sizeof fail_mode[0])
            {
              memcpy (fail_mode[n_fails], end + 1, len);
              fail_mode[n_fails][len] = '\0';
            }
          end += 1 + len;
        }
      n_fails++;
      fail = *end == ',' ? end + 1 : end;
    }
  initialised = 1;
}

/* snprintf without gcc's truncation warnings: the paths here are far below PATH_MAX, and a
 * truncated one simply names nothing. */
__attribute__ ((format (printf, 3, 4))) static int
fmt (char *out, size_t size, const char *format, ...)
{
  va_list ap;
  int n;

  va_start (ap, format);
  n = vsnprintf (out, size, format, ap);
  va_end (ap);
  return n < 0 ? 0 : n;
}

/* --- small file helpers on real paths (never through write() wrappers) --------------- */

static int
write_all (const char *path, const char *data, size_t len, int flags)
{
  int fd = (int) syscall (SYS_openat, AT_FDCWD, path, O_WRONLY | O_CLOEXEC | flags, 0644);

  if (fd < 0)
    return -1;
  while (len > 0)
    {
      ssize_t n = real_write (fd, data, len);
      if (n <= 0)
        {
          close (fd);
          return -1;
        }
      data += n;
      len -= (size_t) n;
    }
  close (fd);
  return 0;
}

static ssize_t
read_small (const char *path, char *buf, size_t size)
{
  int fd = (int) syscall (SYS_openat, AT_FDCWD, path, O_RDONLY | O_CLOEXEC);
  ssize_t n;

  if (fd < 0)
    return -1;
  n = read (fd, buf, size - 1);
  close (fd);
  if (n < 0)
    return -1;
  buf[n] = '\0';
  return n;
}

static void
chomp (char *s)
{
  size_t len = strlen (s);

  while (len > 0 && (s[len - 1] == '\n' || s[len - 1] == ' '))
    s[--len] = '\0';
}

static int
exists (const char *path)
{
  struct stat st;

  return syscall (SYS_newfstatat, AT_FDCWD, path, &st, 0) == 0;
}

/* The last component of a link's target, or "" when there is no link. */
static void
link_name (const char *path, char *out, size_t size)
{
  char target[PATH_MAX];
  ssize_t n = syscall (SYS_readlinkat, AT_FDCWD, path, target, sizeof target - 1);
  const char *base;

  out[0] = '\0';
  if (n <= 0)
    return;
  target[n] = '\0';
  base = strrchr (target, '/');
  fmt (out, size, "%s", base ? base + 1 : target);
}

/* "../" once per component of `rel` (a path relative to sys/), to climb back to sys/. */
static void
climb (const char *rel, char *out, size_t size)
{
  size_t pos = 0;

  out[0] = '\0';
  for (const char *p = rel; *p && pos + 4 < size; p++)
    if (*p == '/')
      pos += (size_t) fmt (out + pos, size - pos, "../");
  if (pos + 4 < size)
    fmt (out + pos, size - pos, "../");
}

/* --- the emulated kernel ---------------------------------------------------------------- */

typedef struct {
  const char *root;      /* $UMOCKDEV_DIR */
  char        sys[PATH_MAX];
} Kernel;

/* The device's real directory relative to sys/: bus/B/devices/DEV is a relative link,
 * resolved here by hand (realpath would go through umockdev's wrapper, which rewrites
 * testbed paths). */
static int
device_dir (Kernel *k, const char *bus, const char *dev, char *out, size_t size)
{
  char link[PATH_MAX], target[PATH_MAX], path[PATH_MAX];
  char *save = NULL;
  ssize_t n;
  size_t len;

  if (strchr (dev, '/') || strcmp (dev, "..") == 0 || strcmp (dev, ".") == 0 || !*dev)
    return -1;
  fmt (link, sizeof link, "%s/bus/%s/devices/%s", k->sys, bus, dev);
  n = syscall (SYS_readlinkat, AT_FDCWD, link, target, sizeof target - 1);
  if (n <= 0 || target[0] == '/')
    return -1;
  target[n] = '\0';
  len = (size_t) fmt (path, sizeof path, "/bus/%s/devices", bus);
  for (char *part = strtok_r (target, "/", &save); part; part = strtok_r (NULL, "/", &save))
    {
      if (strcmp (part, ".") == 0)
        continue;
      if (strcmp (part, "..") == 0)
        {
          char *slash = strrchr (path, '/');
          if (slash == NULL || len == 0)
            return -1;   /* above sys/ */
          *slash = '\0';
          len = (size_t) (slash - path);
          continue;
        }
      if (len + strlen (part) + 2 >= sizeof path)
        return -1;
      len += (size_t) fmt (path + len, sizeof path - len, "/%s", part);
    }
  if (len == 0)
    return -1;
  fmt (link, sizeof link, "%s%s", k->sys, path);
  if (!exists (link))
    return -1;
  fmt (out, size, "%s", path + 1);
  return 0;
}

static void
set_uevent_driver (Kernel *k, const char *devrel, const char *driver)
{
  char path[PATH_MAX], buf[8192], out[8192];
  size_t pos = 0;

  fmt (path, sizeof path, "%s/%s/uevent", k->sys, devrel);
  if (read_small (path, buf, sizeof buf) < 0)
    return;
  char *save = NULL;

  for (char *line = strtok_r (buf, "\n", &save); line; line = strtok_r (NULL, "\n", &save))
    if (strncmp (line, "DRIVER=", 7) != 0 && pos + strlen (line) + 2 < sizeof out)
      pos += (size_t) fmt (out + pos, sizeof out - pos, "%s\n", line);
  if (driver && pos + strlen (driver) + 9 < sizeof out)
    pos += (size_t) fmt (out + pos, sizeof out - pos, "DRIVER=%s\n", driver);
  write_all (path, out, pos, O_TRUNC);
}

static void
do_unbind (Kernel *k, const char *bus, const char *devrel, const char *dev, const char *driver)
{
  char path[PATH_MAX];

  fmt (path, sizeof path, "%s/%s/driver", k->sys, devrel);
  unlink (path);
  fmt (path, sizeof path, "%s/bus/%s/drivers/%s/%s", k->sys, bus, driver, dev);
  unlink (path);
  set_uevent_driver (k, devrel, NULL);
}

static void
do_bind (Kernel *k, const char *bus, const char *devrel, const char *dev, const char *driver)
{
  char path[PATH_MAX], target[PATH_MAX], up[PATH_MAX];

  climb (devrel, up, sizeof up);
  fmt (path, sizeof path, "%s/%s/driver", k->sys, devrel);
  fmt (target, sizeof target, "%sbus/%s/drivers/%s", up, bus, driver);
  symlink (target, path);
  fmt (path, sizeof path, "%s/bus/%s/drivers/%s/%s", k->sys, bus, driver, dev);
  fmt (target, sizeof target, "../../../../%s", devrel);
  symlink (target, path);
  set_uevent_driver (k, devrel, driver);
}

static void
current_driver (Kernel *k, const char *devrel, char *out, size_t size)
{
  char path[PATH_MAX];

  fmt (path, sizeof path, "%s/%s/driver", k->sys, devrel);
  link_name (path, out, size);
}

static int
driver_loaded (Kernel *k, const char *bus, const char *driver)
{
  char path[PATH_MAX];

  fmt (path, sizeof path, "%s/bus/%s/drivers/%s", k->sys, bus, driver);
  return exists (path);
}

/* The driver the kernel would pick: the override, else the native one. "" if none. */
static void
matching_driver (Kernel *k, const char *devrel, const char *dev, char *out, size_t size)
{
  char path[PATH_MAX], buf[VALUE_MAX];

  out[0] = '\0';
  fmt (path, sizeof path, "%s/%s/driver_override", k->sys, devrel);
  if (read_small (path, buf, sizeof buf) > 0)
    {
      chomp (buf);
      if (*buf && strcmp (buf, "(null)") != 0)
        {
          fmt (out, size, "%s", buf);
          return;
        }
    }
  fmt (path, sizeof path, "%s/kernel-emulator/native/%s", k->root, dev);
  if (read_small (path, buf, sizeof buf) > 0)
    {
      chomp (buf);
      fmt (out, size, "%s", buf);
    }
}

/* Returns 0 or an errno. `rel` is the written file relative to sys/. */
static int
emulate (Kernel *k, const char *rel, const char *value)
{
  char bus[64], driver[128], file[32], devrel[PATH_MAX], now[128], want[128];
  char path[PATH_MAX], stored[VALUE_MAX + 2];
  const char *base = strrchr (rel, '/');

  base = base ? base + 1 : rel;
  if (sscanf (rel, "bus/%63[^/]/drivers/%127[^/]/%31s", bus, driver, file) == 3
      && (strcmp (file, "bind") == 0 || strcmp (file, "unbind") == 0))
    {
      if (device_dir (k, bus, value, devrel, sizeof devrel) < 0)
        return ENODEV;
      current_driver (k, devrel, now, sizeof now);
      if (strcmp (file, "unbind") == 0)
        {
          if (strcmp (now, driver) != 0)
            return ENODEV;
          do_unbind (k, bus, devrel, value, driver);
          return 0;
        }
      if (*now)
        return EBUSY;
      matching_driver (k, devrel, value, want, sizeof want);
      if (strcmp (want, driver) != 0)
        return ENODEV;
      do_bind (k, bus, devrel, value, driver);
      return 0;
    }
  if (sscanf (rel, "bus/%63[^/]/%31s", bus, file) == 2 && strcmp (file, "drivers_probe") == 0)
    {
      if (device_dir (k, bus, value, devrel, sizeof devrel) < 0)
        return ENODEV;
      current_driver (k, devrel, now, sizeof now);
      if (*now)
        return 0;
      matching_driver (k, devrel, value, want, sizeof want);
      if (*want && driver_loaded (k, bus, want))
        do_bind (k, bus, devrel, value, want);
      return 0;
    }
  /* A plain attribute: the kernel shows what was stored, with a newline. */
  if (strcmp (base, "driver_override") == 0 && *value == '\0')
    fmt (stored, sizeof stored, "(null)\n");
  else
    fmt (stored, sizeof stored, "%s\n", value);
  fmt (path, sizeof path, "%s/%s", k->sys, rel);
  return write_all (path, stored, strlen (stored), O_TRUNC) == 0 ? 0 : EIO;
}

static void
log_write (unsigned long n, const char *rel, const char *value, const char *result)
{
  char line[PATH_MAX + VALUE_MAX + 64];
  int len;

  if (log_path == NULL)
    return;
  len = fmt (line, sizeof line, "%lu\t/sys/%s\t%s\t%s\n", n, rel, value, result);
  if (len > 0)
    write_all (log_path, line, (size_t) len < sizeof line ? (size_t) len : sizeof line - 1,
               O_APPEND | O_CREAT);
}

static const char *
fail_for (unsigned long n)
{
  for (int i = 0; i < n_fails; i++)
    if (fail_at[i] == n)
      return fail_mode[i];
  return NULL;
}

ssize_t
write (int fd, const void *buf, size_t count)
{
  char proc[64], real[PATH_MAX], value[VALUE_MAX + 1];
  const char *root = getenv ("UMOCKDEV_DIR");
  const char *mode;
  Kernel k;
  ssize_t n;
  size_t root_len;
  unsigned long me;
  int err;

  if (!initialised)
    init ();
  if (root == NULL || fd < 0)
    return real_write (fd, buf, count);
  fmt (proc, sizeof proc, "/proc/self/fd/%d", fd);
  n = syscall (SYS_readlinkat, AT_FDCWD, proc, real, sizeof real - 1);
  root_len = strlen (root);
  if (n <= 0 || (size_t) n <= root_len + 5)
    return real_write (fd, buf, count);
  real[n] = '\0';
  if (strncmp (real, root, root_len) != 0 || strncmp (real + root_len, "/sys/", 5) != 0)
    return real_write (fd, buf, count);

  k.root = root;
  fmt (k.sys, sizeof k.sys, "%s/sys", root);
  me = ++counter;
  /* sysfs takes one value per write; the kernel strips one trailing newline. */
  fmt (value, sizeof value, "%.*s", (int) (count < VALUE_MAX ? count : VALUE_MAX),
            (const char *) buf);
  chomp (value);

  if (kill_before == me)
    {
      log_write (me, real + root_len + 5, value, "killed-before");
      kill (getpid (), SIGKILL);
    }
  mode = fail_for (me);
  if (mode && strcmp (mode, "noop") == 0)
    {
      log_write (me, real + root_len + 5, value, "injected-noop");
      return (ssize_t) count;
    }
  if (mode)
    {
      err = strcmp (mode, "busy") == 0 ? EBUSY : EIO;
      log_write (me, real + root_len + 5, value, "injected-error");
      errno = err;
      return -1;
    }
  err = emulate (&k, real + root_len + 5, value);
  log_write (me, real + root_len + 5, value, err ? strerror (err) : "ok");
  if (kill_after == me)
    kill (getpid (), SIGKILL);
  if (err)
    {
      errno = err;
      return -1;
    }
  return (ssize_t) count;
}
