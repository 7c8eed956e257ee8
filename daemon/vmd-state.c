/* vmd-state.c: the daemon's small persistent state, written so a crash at any moment
 * leaves either the old or the new file, never a torn one. */
#include "vmd-state.h"

#include <errno.h>
#include <glib/gstdio.h>

struct _VmdState {
  char     *path;
  GKeyFile *kf;
  char     *on_screen;
};

void
vmd_state_free (VmdState *state)
{
  if (state == NULL)
    return;
  g_free (state->path);
  g_clear_pointer (&state->kf, g_key_file_unref);
  g_free (state->on_screen);
  g_free (state);
}

VmdState *
vmd_state_load (const char *dir, GError **error)
{
  g_autoptr(VmdState) state = g_new0 (VmdState, 1);
  g_autoptr(GError) local = NULL;

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int e = errno;
      g_set_error (error, G_FILE_ERROR, g_file_error_from_errno (e),
                   "creating state directory %s: %s", dir, g_strerror (e));
      return NULL;
    }
  state->path = g_build_filename (dir, "state.ini", NULL);
  state->kf = g_key_file_new ();
  if (!g_key_file_load_from_file (state->kf, state->path, G_KEY_FILE_NONE, &local))
    {
      if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_autofree char *aside = g_strconcat (state->path, ".corrupt", NULL);
          g_warning ("state file %s is unreadable (%s); moved to %s and starting fresh",
                     state->path, local->message, aside);
          g_rename (state->path, aside);
        }
      g_clear_pointer (&state->kf, g_key_file_unref);
      state->kf = g_key_file_new ();
    }
  state->on_screen = g_key_file_get_string (state->kf, "screen", "on-screen", NULL);
  if (state->on_screen == NULL)
    state->on_screen = g_strdup ("");
  return g_steal_pointer (&state);
}

const char *
vmd_state_get_on_screen (VmdState *state)
{
  return state->on_screen;
}

gboolean
vmd_state_set_on_screen (VmdState *state, const char *name, GError **error)
{
  g_autofree char *data = NULL;
  gsize len;

  g_free (state->on_screen);
  state->on_screen = g_strdup (name);
  g_key_file_set_string (state->kf, "screen", "on-screen", name);
  data = g_key_file_to_data (state->kf, &len, NULL);
  return g_file_set_contents_full (state->path, data, len,
                                   G_FILE_SET_CONTENTS_CONSISTENT | G_FILE_SET_CONTENTS_DURABLE,
                                   0600, error);
}
