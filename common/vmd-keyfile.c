/* vmd-keyfile.c: small state files that a crash at any moment leaves either old or new,
 * never torn; an unreadable one is set aside, not fatal. */
#include "vmdesk-common.h"

#include <errno.h>
#include <glib/gstdio.h>

GKeyFile *
vmd_keyfile_load_or_quarantine (const char *path)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();
  g_autoptr(GError) error = NULL;

  if (g_key_file_load_from_file (kf, path, G_KEY_FILE_NONE, &error))
    return g_steal_pointer (&kf);
  if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    {
      g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
      g_warning ("%s is unreadable (%s); moved to %s and starting fresh", path, error->message, aside);
      g_rename (path, aside);
    }
  return g_key_file_new ();
}

gboolean
vmd_keyfile_save (GKeyFile *kf, const char *path, GError **error)
{
  gsize len = 0;
  g_autofree char *data = g_key_file_to_data (kf, &len, NULL);

  return g_file_set_contents_full (path, data, len,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}

gboolean
vmd_state_dir_ensure (const char *dir, GError **error)
{
  if (g_mkdir_with_parents (dir, 0700) == 0)
    return TRUE;
  int e = errno;
  g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
               "creating state directory %s: %s", dir, g_strerror (e));
  return FALSE;
}
