/* vmd-vfio-sysfs.c: bounded reads and checked writes of sysfs (and /proc) files. Plain
 * open/read/write/readlink, so umockdev's preload (and the tests' kernel emulator) see
 * exactly what the kernel would. Anything odd (huge, binary, not a regular file, a link to
 * nowhere) is an error naming the path, never a crash. */
#include "vmd-vfio-private.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIR_ENTRIES 4096

static gboolean
set_errno_error (GError **error, int err, const char *what, const char *path)
{
  g_autofree char *shown = vmd_shown (path, PATH_MAX);

  g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS, "%s %s: %s", what, shown,
               g_strerror (err));
  return FALSE;
}

/* At most `max` bytes; with `whole`, a longer file is an error, else its head is enough. */
static char *
read_bounded (const char *path, gsize max, gboolean whole, GError **error)
{
  g_autofree char *buf = g_malloc (max + 1);
  struct stat st;
  gsize len = 0;
  int fd;

  /* O_NONBLOCK: a FIFO planted where an attribute should be must not hang us. */
  fd = open (path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY);
  if (fd < 0)
    {
      int e = errno;
      set_errno_error (error, e, "reading", path);
      return NULL;
    }
  if (fstat (fd, &st) < 0 || !S_ISREG (st.st_mode))
    {
      g_autofree char *shown = vmd_shown (path, PATH_MAX);
      close (fd);
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS, "%s is not a regular file",
                   shown);
      return NULL;
    }
  while (len <= max)
    {
      ssize_t n = read (fd, buf + len, max + 1 - len);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int e = errno;
          close (fd);
          set_errno_error (error, e, "reading", path);
          return NULL;
        }
      if (n == 0)
        break;
      len += (gsize) n;
    }
  close (fd);
  if (len > max && !whole)
    len = max;
  if (len > max)
    {
      g_autofree char *shown = vmd_shown (path, PATH_MAX);
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS,
                   "%s is larger than %" G_GSIZE_FORMAT " bytes", shown, max);
      return NULL;
    }
  buf[len] = '\0';
  if (memchr (buf, '\0', len) != NULL)
    {
      g_autofree char *shown = vmd_shown (path, PATH_MAX);
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS, "%s holds binary data", shown);
      return NULL;
    }
  return g_steal_pointer (&buf);
}

char *
vmd_sysfs_read (const char *path, gsize max, GError **error)
{
  return read_bounded (path, max, TRUE, error);
}

char *
vmd_sysfs_read_head (const char *path, gsize max, GError **error)
{
  return read_bounded (path, max, FALSE, error);
}

char *
vmd_sysfs_read_attr (const char *dir, const char *name, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *text = vmd_sysfs_read (path, VMD_SYSFS_ATTR_MAX, error);
  gsize len;

  if (text == NULL)
    return NULL;
  if (!g_utf8_validate (text, -1, NULL))
    {
      g_autofree char *shown = vmd_shown (text, 64);
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS, "%s/%s is not text (\"%s\")",
                   dir, name, shown);
      return NULL;
    }
  len = strlen (text);
  if (len > 0 && text[len - 1] == '\n')
    text[len - 1] = '\0';
  return g_steal_pointer (&text);
}

char *
vmd_sysfs_link_name (const char *path, GError **error)
{
  char target[PATH_MAX];
  ssize_t n = readlink (path, target, sizeof target - 1);
  const char *base;

  if (n < 0)
    {
      int e = errno;
      if (e == ENOENT)
        return NULL;
      set_errno_error (error, e, "reading link", path);
      return NULL;
    }
  target[n] = '\0';
  base = strrchr (target, '/');
  return g_strdup (base ? base + 1 : target);
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

GPtrArray *
vmd_sysfs_list (const char *dir, GError **error)
{
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GError) local = NULL;
  g_autoptr(GDir) d = g_dir_open (dir, 0, &local);
  const char *name;

  if (d == NULL)
    {
      if (g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        return NULL;
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS, "%s", local->message);
      return NULL;
    }
  while ((name = g_dir_read_name (d)) != NULL)
    {
      if (names->len >= MAX_DIR_ENTRIES)
        {
          g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS,
                       "%s has more than %d entries", dir, MAX_DIR_ENTRIES);
          return NULL;
        }
      g_ptr_array_add (names, g_strdup (name));
    }
  g_ptr_array_sort (names, compare_names);
  return g_steal_pointer (&names);
}

gboolean
vmd_sysfs_exists (const char *path)
{
  return access (path, F_OK) == 0;
}

gboolean
vmd_sysfs_write (const char *path, const char *value, GError **error)
{
  gsize len = strlen (value);
  ssize_t n;
  int fd;

  fd = open (path, O_WRONLY | O_CLOEXEC | O_NOCTTY);
  if (fd < 0)
    {
      int e = errno;
      return set_errno_error (error, e, "opening", path);
    }
  /* A sysfs store takes one write; the kernel's verdict is this write's result. */
  do
    n = write (fd, value, len);
  while (n < 0 && errno == EINTR);
  if (n < 0 || (gsize) n != len)
    {
      int e = n < 0 ? errno : EIO;
      g_autofree char *shown_value = vmd_shown (value, 64);
      g_autofree char *shown_path = vmd_shown (path, PATH_MAX);
      close (fd);
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS, "writing \"%s\" to %s: %s",
                   g_strchomp (shown_value), shown_path, g_strerror (e));
      return FALSE;
    }
  if (close (fd) < 0)
    {
      int e = errno;
      return set_errno_error (error, e, "closing", path);
    }
  return TRUE;
}
