/* vmd-read-file.c: one bounded file read for rule files and sysfs attributes. sysfs reports
 * a size of 4096 for every attribute, so the bound is enforced while reading, not by stat.
 * sysfs hands out an attribute whole: a read that returns less than asked is its end, so a
 * small attribute takes one read (no second one to see the end, no stat), which matters
 * because the USB router reads a dozen of them on the way from a plug to its attach. */
#include "vmd-policy-private.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

static void
set_errno_error (GError **error, int errsv, const char *path, const char *what)
{
  g_autofree char *shown = vmd_policy_escape_for_message (path);

  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (errsv), "%s: %s: %s", shown, what,
               g_strerror (errsv));
}

static char *
read_bounded (const char *path, gsize max_size, gboolean sysfs, gsize *length, GError **error)
{
  g_autoptr(GString) buffer = g_string_sized_new (MIN (max_size + 1, 4096));
  struct stat st;
  int fd = open (path, O_RDONLY | O_CLOEXEC | O_NOCTTY);

  if (fd < 0)
    {
      set_errno_error (error, errno, path, "cannot open");
      return NULL;
    }
  /* (In sysfs, read() itself fails on a directory, with EISDIR.) */
  if (!sysfs && fstat (fd, &st) == 0 && S_ISDIR (st.st_mode))
    {
      close (fd);
      set_errno_error (error, EISDIR, path, "cannot read");
      return NULL;
    }
  for (;;)
    {
      char chunk[4096];
      ssize_t n = read (fd, chunk, sizeof chunk);

      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0)
        {
          int errsv = errno;
          close (fd);
          set_errno_error (error, errsv, path, "cannot read");
          return NULL;
        }
      if (n == 0)
        break;
      g_string_append_len (buffer, chunk, n);
      if (buffer->len > max_size)
        {
          g_autofree char *shown = vmd_policy_escape_for_message (path);
          close (fd);
          g_set_error (error, G_FILE_ERROR, G_FILE_ERROR_FAILED,
                       "%s: larger than %" G_GSIZE_FORMAT " bytes", shown, max_size);
          return NULL;
        }
      if (sysfs && (gsize) n < sizeof chunk)
        break;
    }
  close (fd);
  if (length)
    *length = buffer->len;
  return g_string_free (g_steal_pointer (&buffer), FALSE);
}

char *
vmd_read_file_bounded (const char *path, gsize max_size, gsize *length, GError **error)
{
  return read_bounded (path, max_size, FALSE, length, error);
}

char *
vmd_read_sysfs_bounded (const char *path, gsize max_size, gsize *length, GError **error)
{
  return read_bounded (path, max_size, TRUE, length, error);
}
