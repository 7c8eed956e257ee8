/* vmd-vfio-logind.c: graphical sessions, for the single-GPU hand-over. vmdesk never kills
 * a process itself: it asks logind to end the sessions (TerminateSession) and waits for
 * logind to say they are gone, because a compositor still holding the GPU would make the
 * driver's unbind hang. */
#include "vmd-vfio-private.h"

#define LOGIND_NAME      "org.freedesktop.login1"
#define LOGIND_PATH      "/org/freedesktop/login1"
#define LOGIND_MANAGER   "org.freedesktop.login1.Manager"
#define LOGIND_SESSION   "org.freedesktop.login1.Session"
#define CALL_TIMEOUT_MS  5000
/* logind sends SIGTERM, then SIGKILL after its own stop timeout; this bounds our wait. */
#define REMOVE_TIMEOUT_S 20
#define MAX_SESSIONS     256

void
vmd_session_free (VmdSession *s)
{
  if (s == NULL)
    return;
  g_free (s->id);
  g_free (s->type);
  g_free (s->klass);
  g_free (s->seat);
  g_free (s->user);
  g_free (s);
}

static char *
session_property (GDBusConnection *bus, const char *path, const char *name, GError **error)
{
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariant) value = NULL;

  reply = g_dbus_connection_call_sync (bus, LOGIND_NAME, path, "org.freedesktop.DBus.Properties",
                                       "Get", g_variant_new ("(ss)", LOGIND_SESSION, name),
                                       G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE,
                                       CALL_TIMEOUT_MS, NULL, error);
  if (reply == NULL)
    return NULL;
  g_variant_get (reply, "(v)", &value);
  if (!g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    return g_strdup ("");
  return vmd_shown (g_variant_get_string (value, NULL), VMD_NAME_MAX);
}

GPtrArray *
vmd_logind_graphical_sessions (GDBusConnection *bus, GError **error)
{
  g_autoptr(GPtrArray) sessions = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_session_free);
  g_autoptr(GVariant) reply = NULL;
  g_autoptr(GVariantIter) iter = NULL;
  const char *id, *user, *seat, *path;
  guint32 uid;
  guint n = 0;

  reply = g_dbus_connection_call_sync (bus, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER,
                                       "ListSessions", NULL, G_VARIANT_TYPE ("(a(susso))"),
                                       G_DBUS_CALL_FLAGS_NO_AUTO_START, CALL_TIMEOUT_MS, NULL,
                                       error);
  if (reply == NULL)
    {
      g_prefix_error (error, "asking logind for the sessions: ");
      return NULL;
    }
  g_variant_get (reply, "(a(susso))", &iter);
  while (g_variant_iter_next (iter, "(&su&s&s&o)", &id, &uid, &user, &seat, &path))
    {
      g_autoptr(GError) local = NULL;
      g_autofree char *type = NULL;
      VmdSession *s;

      if (++n > MAX_SESSIONS)
        break;
      type = session_property (bus, path, "Type", &local);
      if (type == NULL)
        {
          /* A session that ended between the list and the question is no obstacle. */
          g_debug ("session %s: %s", id, local->message);
          continue;
        }
      if (!g_str_equal (type, "x11") && !g_str_equal (type, "wayland")
          && !g_str_equal (type, "mir"))
        continue;
      s = g_new0 (VmdSession, 1);
      s->id = vmd_shown (id, VMD_NAME_MAX);
      s->type = g_steal_pointer (&type);
      s->klass = session_property (bus, path, "Class", NULL);
      s->seat = vmd_shown (seat, VMD_NAME_MAX);
      s->user = vmd_shown (user, VMD_NAME_MAX);
      g_ptr_array_add (sessions, s);
    }
  return g_steal_pointer (&sessions);
}

typedef struct {
  GHashTable *waiting;   /* session ids not yet removed */
  gboolean    timed_out;
} Wait;

static void
on_session_removed (GDBusConnection *bus, const char *sender, const char *path,
                    const char *iface, const char *signal, GVariant *params, gpointer data)
{
  Wait *wait = data;
  const char *id;

  if (g_variant_is_of_type (params, G_VARIANT_TYPE ("(so)")))
    {
      g_variant_get (params, "(&so)", &id, NULL);
      g_hash_table_remove (wait->waiting, id);
    }
}

static gboolean
on_timeout (gpointer data)
{
  ((Wait *) data)->timed_out = TRUE;
  return G_SOURCE_REMOVE;
}

gboolean
vmd_logind_terminate (GDBusConnection *bus, GPtrArray *sessions, GError **error)
{
  g_autoptr(GMainContext) context = g_main_context_new ();
  g_autoptr(GHashTable) waiting = g_hash_table_new (g_str_hash, g_str_equal);
  g_autoptr(GSource) timeout = NULL;
  Wait wait = { waiting, FALSE };
  guint subscription;
  gboolean ok = TRUE;

  if (sessions->len == 0)
    return TRUE;
  if (bus == NULL)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_LOGIND,
                   "cannot end the graphical sessions: no system bus");
      return FALSE;
    }
  g_main_context_push_thread_default (context);
  /* Subscribe first, so a removal that follows the call at once is not missed. */
  subscription = g_dbus_connection_signal_subscribe (bus, LOGIND_NAME, LOGIND_MANAGER,
                                                     "SessionRemoved", LOGIND_PATH, NULL,
                                                     G_DBUS_SIGNAL_FLAGS_NONE,
                                                     on_session_removed, &wait, NULL);
  for (guint i = 0; i < sessions->len; i++)
    g_hash_table_add (waiting, ((VmdSession *) sessions->pdata[i])->id);
  for (guint i = 0; i < sessions->len && ok; i++)
    {
      VmdSession *s = sessions->pdata[i];
      g_autoptr(GVariant) reply = NULL;

      g_info ("asking logind to end %s session %s of %s", s->type, s->id, s->user);
      reply = g_dbus_connection_call_sync (bus, LOGIND_NAME, LOGIND_PATH, LOGIND_MANAGER,
                                           "TerminateSession", g_variant_new ("(s)", s->id),
                                           NULL, G_DBUS_CALL_FLAGS_NO_AUTO_START,
                                           CALL_TIMEOUT_MS, NULL, error);
      if (reply == NULL)
        {
          g_prefix_error (error, "logind TerminateSession(%s): ", s->id);
          ok = FALSE;
        }
    }
  if (ok)
    {
      timeout = g_timeout_source_new_seconds (REMOVE_TIMEOUT_S);
      g_source_set_callback (timeout, on_timeout, &wait, NULL);
      g_source_attach (timeout, context);
      while (g_hash_table_size (waiting) > 0 && !wait.timed_out)
        g_main_context_iteration (context, TRUE);
      g_source_destroy (timeout);
      if (g_hash_table_size (waiting) > 0)
        {
          g_autoptr(GPtrArray) left = g_ptr_array_new ();
          g_autofree char *list = NULL;
          GHashTableIter it;
          gpointer key;

          g_hash_table_iter_init (&it, waiting);
          while (g_hash_table_iter_next (&it, &key, NULL))
            g_ptr_array_add (left, key);
          list = vmd_join (left, ", ");
          g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_LOGIND,
                       "logind did not end session(s) %s within %d s", list, REMOVE_TIMEOUT_S);
          ok = FALSE;
        }
    }
  g_dbus_connection_signal_unsubscribe (bus, subscription);
  g_main_context_pop_thread_default (context);
  return ok;
}
