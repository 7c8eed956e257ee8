/* vmd-state.c: the daemon's small persistent state, written so a crash at any moment
 * leaves either the old or the new file, never a torn one. */
#include "vmd-state.h"

#include "vmdesk-common.h"

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

  if (!vmd_state_dir_ensure (dir, error))
    return NULL;
  state->path = g_build_filename (dir, "state.ini", NULL);
  state->kf = vmd_keyfile_load_or_quarantine (state->path);
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
  g_free (state->on_screen);
  state->on_screen = g_strdup (name);
  g_key_file_set_string (state->kf, "screen", "on-screen", name);
  return vmd_keyfile_save (state->kf, state->path, error);
}
