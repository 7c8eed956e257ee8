/* vmd-state.h: what the daemon remembers across restarts, in STATE_DIRECTORY. */
#pragma once

#include <glib.h>

typedef struct _VmdState VmdState;

/* Loads DIR/state.ini; a missing file is an empty state, a corrupt one is set aside as
 * state.ini.corrupt with a warning so the daemon still starts. */
VmdState   *vmd_state_load (const char *dir, GError **error);
void        vmd_state_free (VmdState *state);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdState, vmd_state_free)

const char *vmd_state_get_on_screen (VmdState *state);
/* Writes through at once, atomically (temp file, fsync, rename). */
gboolean    vmd_state_set_on_screen (VmdState *state, const char *name, GError **error);
