/* vmd-bouncer.h: polkit authorization of D-Bus callers, asynchronous so that a password
 * dialog never blocks the daemon. */
#pragma once

#include <gio/gio.h>

#define VMD_TYPE_BOUNCER (vmd_bouncer_get_type ())
G_DECLARE_FINAL_TYPE (VmdBouncer, vmd_bouncer, VMD, BOUNCER, GObject)

VmdBouncer *vmd_bouncer_new (void);
/* Checks `action_id` for the sender of `invocation`. Finishes with TRUE, or FALSE and a
 * VMD_ERROR_NOT_AUTHORIZED error that names the action. */
void        vmd_bouncer_check_async (VmdBouncer *self, GDBusMethodInvocation *invocation,
                                     const char *action_id, GAsyncReadyCallback callback,
                                     gpointer user_data);
gboolean    vmd_bouncer_check_finish (VmdBouncer *self, GAsyncResult *res, GError **error);
