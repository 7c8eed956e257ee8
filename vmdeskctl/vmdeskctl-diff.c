/* vmdeskctl-diff.c: runs diff -u over two temporary files. */
#include "vmdeskctl-diff.h"

#include <gio/gio.h>
#include <glib/gstdio.h>

typedef struct {
  char *path;
} TmpFile;

static void
tmp_file_clear (TmpFile *tmp)
{
  if (tmp->path)
    g_unlink (tmp->path);
  g_clear_pointer (&tmp->path, g_free);
}
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (TmpFile, tmp_file_clear)

static gboolean
tmp_file_write (TmpFile *tmp, const char *text, GError **error)
{
  int fd = g_file_open_tmp ("vmdeskctl-XXXXXX.xml", &tmp->path, error);

  if (fd < 0)
    return FALSE;
  g_close (fd, NULL);
  return g_file_set_contents (tmp->path, text, -1, error);
}

char *
vmctl_diff (const char *old_text, const char *new_text,
            const char *old_label, const char *new_label, GError **error)
{
  g_auto(TmpFile) old_file = { NULL };
  g_auto(TmpFile) new_file = { NULL };
  g_autoptr(GSubprocess) diff = NULL;
  g_autofree char *out = NULL;
  int status;

  if (g_str_equal (old_text, new_text))
    return g_strdup ("");
  if (!tmp_file_write (&old_file, old_text, error) || !tmp_file_write (&new_file, new_text, error))
    return NULL;
  diff = g_subprocess_new (G_SUBPROCESS_FLAGS_STDOUT_PIPE, error, "diff", "-u",
                           "--label", old_label, "--label", new_label,
                           "--", old_file.path, new_file.path, NULL);
  if (diff == NULL || !g_subprocess_communicate_utf8 (diff, NULL, NULL, &out, NULL, error))
    {
      g_prefix_error (error, "running diff: ");
      return NULL;
    }
  /* diff exits 0 for equal, 1 for different, 2 for trouble (already on its stderr). */
  status = g_subprocess_get_if_exited (diff) ? g_subprocess_get_exit_status (diff) : -1;
  if (status != 0 && status != 1)
    {
      g_set_error (error, G_SPAWN_ERROR, G_SPAWN_ERROR_FAILED, "diff failed (status %d)", status);
      return NULL;
    }
  return g_steal_pointer (&out);
}
