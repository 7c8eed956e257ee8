/* vmd-manager.h: the exported org.vmdesk.Manager1 object. */
#pragma once

#include "vmd-bouncer.h"
#include "vmd-libvirt.h"
#include "vmd-method.h"
#include "vmd-state.h"

#define VMD_TYPE_MANAGER (vmd_manager_get_type ())
G_DECLARE_FINAL_TYPE (VmdManager, vmd_manager, VMD, MANAGER, GObject)

/* Takes ownership of `state`. */
VmdManager *vmd_manager_new (VmdLibvirt *libvirt, VmdBouncer *bouncer, VmdState *state);
gboolean    vmd_manager_export (VmdManager *self, GDBusConnection *bus, GError **error);
void        vmd_manager_unexport (VmdManager *self);
/* Adds a part's methods to org.vmdesk.Manager1; handlers get `owner`. */
void        vmd_manager_add_methods (VmdManager *self, const VmdMethod *methods, guint n_methods,
                                     gpointer owner);
/* Emits a signal of org.vmdesk.Manager1 (consumes a floating `params`). */
void        vmd_manager_emit (VmdManager *self, const char *signal, GVariant *params);
/* What must happen around StartVM besides starting (pass-through devices are bound before
 * and given back when the start fails). All run on the main context. */
typedef struct {
  void     (*prepare)        (gpointer data, const char *vm, GAsyncReadyCallback callback,
                              gpointer user_data);
  gboolean (*prepare_finish) (gpointer data, GAsyncResult *result, GError **error);
  /* The start failed after `prepare` succeeded: undo what it did. StartVM replies only
   * once `callback` has run, so its error can say how the undo went. */
  void     (*undo)           (gpointer data, const char *vm, GAsyncReadyCallback callback,
                              gpointer user_data);
  /* One line for the start's error: what was undone ("0000:01:00.0 was given back to the
   * host"), or NULL when there was nothing to undo; FALSE and `error` when some of it could
   * not be undone (the message says what and in which state it was left). */
  gboolean (*undo_finish)    (gpointer data, GAsyncResult *result, char **summary,
                              GError **error);
} VmdStartHook;
void        vmd_manager_set_start_hook (VmdManager *self, const VmdStartHook *hook, gpointer data);

/* The VM on screen, "" for the host. Signal "focus-changed" (previous, current) follows it. */
const char *vmd_manager_get_on_screen (VmdManager *self);
