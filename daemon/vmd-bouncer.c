/* vmd-bouncer.c: every state-changing method passes here before its handler runs. */
#include "vmd-bouncer.h"

#include "vmdesk-common.h"

#include <polkit/polkit.h>

struct _VmdBouncer {
  GObject          parent;
  PolkitAuthority *authority;
};

G_DEFINE_TYPE (VmdBouncer, vmd_bouncer, G_TYPE_OBJECT)

typedef struct {
  char         *action_id;
  PolkitSubject *subject;
  PolkitCheckAuthorizationFlags flags;
} CheckData;

static void
check_data_free (CheckData *d)
{
  g_free (d->action_id);
  g_clear_object (&d->subject);
  g_free (d);
}

static void
on_checked (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  CheckData *d = g_task_get_task_data (task);
  g_autoptr(GError) error = NULL;
  g_autoptr(PolkitAuthorizationResult) result =
    polkit_authority_check_authorization_finish (POLKIT_AUTHORITY (source), res, &error);

  if (result == NULL)
    {
      g_task_return_new_error (task, VMD_ERROR, VMD_ERROR_NOT_AUTHORIZED,
                               "could not check authorization for %s: %s", d->action_id,
                               error->message);
      return;
    }
  if (!polkit_authorization_result_get_is_authorized (result))
    {
      g_task_return_new_error (task, VMD_ERROR, VMD_ERROR_NOT_AUTHORIZED,
                               "not authorized for %s%s", d->action_id,
                               polkit_authorization_result_get_is_challenge (result)
                                 ? " (authentication is required)" : "");
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
check_with (VmdBouncer *self, GTask *task)
{
  CheckData *d = g_task_get_task_data (task);

  polkit_authority_check_authorization (self->authority, d->subject, d->action_id, NULL, d->flags,
                                        g_task_get_cancellable (task), on_checked, task);
}

static void
on_authority (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GTask) task = data;
  VmdBouncer *self = g_task_get_source_object (task);
  g_autoptr(GError) error = NULL;
  PolkitAuthority *authority = polkit_authority_get_finish (res, &error);

  if (authority == NULL)
    {
      g_task_return_new_error (task, VMD_ERROR, VMD_ERROR_NOT_AUTHORIZED,
                               "polkit is not available: %s", error->message);
      return;
    }
  g_clear_object (&self->authority);
  self->authority = authority;
  check_with (self, g_steal_pointer (&task));
}

void
vmd_bouncer_check_async (VmdBouncer *self, GDBusMethodInvocation *invocation,
                         const char *action_id, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, NULL, callback, user_data);
  GDBusMessage *msg = g_dbus_method_invocation_get_message (invocation);
  CheckData *d = g_new0 (CheckData, 1);

  d->action_id = g_strdup (action_id);
  d->subject = polkit_system_bus_name_new (g_dbus_method_invocation_get_sender (invocation));
  /* Callers opt in to a password prompt with the standard D-Bus message flag. */
  if (g_dbus_message_get_flags (msg) & G_DBUS_MESSAGE_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION)
    d->flags = POLKIT_CHECK_AUTHORIZATION_FLAGS_ALLOW_USER_INTERACTION;
  g_task_set_task_data (task, d, (GDestroyNotify) check_data_free);

  if (self->authority)
    check_with (self, task);
  else
    polkit_authority_get_async (NULL, on_authority, task);
}

gboolean
vmd_bouncer_check_finish (VmdBouncer *self, GAsyncResult *res, GError **error)
{
  return g_task_propagate_boolean (G_TASK (res), error);
}

static void
vmd_bouncer_finalize (GObject *object)
{
  g_clear_object (&VMD_BOUNCER (object)->authority);
  G_OBJECT_CLASS (vmd_bouncer_parent_class)->finalize (object);
}

static void
vmd_bouncer_class_init (VmdBouncerClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vmd_bouncer_finalize;
}

static void
vmd_bouncer_init (VmdBouncer *self)
{
}

VmdBouncer *
vmd_bouncer_new (void)
{
  return g_object_new (VMD_TYPE_BOUNCER, NULL);
}
