/* mock-service.c: python-dbusmock services on a private session bus, for the ui/ tests. */
#include "mock-service.h"

#include <signal.h>
#include <sys/prctl.h>

#define MOCK_IFACE "org.freedesktop.DBus.Mock"

TestBus *
test_bus_new (void)
{
  g_autoptr(GError) error = NULL;
  TestBus *bus = g_new0 (TestBus, 1);

  bus->dbus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (bus->dbus);
  bus->conn = g_dbus_connection_new_for_address_sync (
    g_test_dbus_get_bus_address (bus->dbus),
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);
  g_assert_no_error (error);
  return bus;
}

void
test_bus_free (TestBus *bus)
{
  g_dbus_connection_close_sync (bus->conn, NULL, NULL);
  g_object_unref (bus->conn);
  test_drain ();
  g_test_dbus_down (bus->dbus);
  g_object_unref (bus->dbus);
  g_free (bus);
}

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

void
test_wait (gboolean (*cond) (gpointer data), gpointer data, const char *what)
{
  gboolean expired = FALSE;
  /* A bound on waiting for an event, so a missing one fails instead of hanging. */
  guint timeout = g_timeout_add_seconds (10, on_timeout, &expired);

  while (!cond (data))
    {
      if (expired)
        g_error ("timed out waiting for %s", what);
      g_main_context_iteration (NULL, TRUE);
    }
  g_source_remove (timeout);
}

void
test_drain (void)
{
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static void
child_setup (gpointer data)
{
  /* The mock dies with the test, even when the test crashes. */
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

static void
on_method_called (GDBusConnection *conn, const char *sender, const char *path,
                  const char *interface, const char *signal, GVariant *params, gpointer data)
{
  MockService *mock = data;
  const char *method;
  guint n;

  g_variant_get (params, "(&sav)", &method, NULL);
  n = GPOINTER_TO_UINT (g_hash_table_lookup (mock->called, method));
  g_hash_table_insert (mock->called, g_strdup (method), GUINT_TO_POINTER (n + 1));
}

static void
on_name_appeared (GDBusConnection *conn, const char *name, const char *owner, gpointer data)
{
  char **seen = data;

  g_free (*seen);
  *seen = g_strdup (owner);
}

static void
on_name_vanished (GDBusConnection *conn, const char *name, gpointer data)
{
  char **seen = data;

  g_clear_pointer (seen, g_free);
}

static gboolean
has_owner (gpointer data)
{
  return *(char **) data != NULL;
}

static gboolean
has_no_owner (gpointer data)
{
  return *(char **) data == NULL;
}

MockService *
mock_service_start (GDBusConnection *conn, const char *template, const char *params_json,
                    const char *bus_name, const char *path)
{
  g_autoptr(GSubprocessLauncher) launcher =
    g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) calls = NULL;
  MockService *mock = g_new0 (MockService, 1);
  char *owner = NULL;
  guint watch;

  mock->conn = g_object_ref (conn);
  mock->bus_name = g_strdup (bus_name);
  mock->path = g_strdup (path);
  mock->called = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_subprocess_launcher_unsetenv (launcher, "LD_PRELOAD");
  g_subprocess_launcher_set_child_setup (launcher, child_setup, NULL, NULL);
  mock->proc = g_subprocess_launcher_spawn (
    launcher, &error, "/usr/bin/python3", "-m", "dbusmock", "--session", "--template",
    template, "--parameters", params_json != NULL ? params_json : "{}", NULL);
  g_assert_no_error (error);

  /* The mock owns the name before it has loaded its template; GetCalls below is served
   * only after. */
  watch = g_bus_watch_name_on_connection (conn, bus_name, G_BUS_NAME_WATCHER_FLAGS_NONE,
                                          on_name_appeared, NULL, &owner, NULL);
  test_wait (has_owner, &owner, bus_name);
  g_bus_unwatch_name (watch);
  mock->owner = owner;
  mock->called_sub = g_dbus_connection_signal_subscribe (
    conn, mock->owner, MOCK_IFACE, "MethodCalled", NULL, NULL, G_DBUS_SIGNAL_FLAGS_NONE,
    on_method_called, mock, NULL);
  calls = g_dbus_connection_call_sync (conn, mock->owner, path, MOCK_IFACE, "GetCalls", NULL,
                                       NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  return mock;
}

void
mock_service_stop (MockService *mock)
{
  g_autoptr(GError) error = NULL;
  char *owner = NULL;
  guint watch;

  if (mock->proc == NULL)
    return;
  g_subprocess_send_signal (mock->proc, SIGTERM);
  g_subprocess_wait (mock->proc, NULL, &error);
  g_assert_no_error (error);
  g_clear_object (&mock->proc);
  /* The bus may not have seen the disconnection yet: a restart must find a new owner. */
  watch = g_bus_watch_name_on_connection (mock->conn, mock->bus_name,
                                          G_BUS_NAME_WATCHER_FLAGS_NONE, on_name_appeared,
                                          on_name_vanished, &owner, NULL);
  owner = g_strdup ("?");
  test_wait (has_no_owner, &owner, "the mock's name to leave the bus");
  g_bus_unwatch_name (watch);
  if (mock->called_sub != 0)
    g_dbus_connection_signal_unsubscribe (mock->conn, mock->called_sub);
  mock->called_sub = 0;
  g_clear_pointer (&mock->owner, g_free);
  g_hash_table_remove_all (mock->called);
}

void
mock_service_free (MockService *mock)
{
  mock_service_stop (mock);
  g_object_unref (mock->conn);
  g_hash_table_unref (mock->called);
  g_free (mock->bus_name);
  g_free (mock->path);
  g_free (mock);
}

GVariant *
mock_service_calls (MockService *mock, const char *method)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_sync (mock->conn, mock->owner, mock->path, MOCK_IFACE,
                                 "GetMethodCalls", g_variant_new ("(s)", method),
                                 G_VARIANT_TYPE ("(a(tav))"), G_DBUS_CALL_FLAGS_NONE, -1, NULL,
                                 &error);

  g_assert_no_error (error);
  return g_variant_get_child_value (reply, 0);
}

void
mock_service_emit (MockService *mock, const char *interface, const char *name,
                   const char *signature, GVariant *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_sync (mock->conn, mock->owner, mock->path, MOCK_IFACE, "EmitSignal",
                                 g_variant_new ("(sss@av)", interface, name, signature, args),
                                 NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
}

typedef struct {
  MockService *mock;
  const char  *method;
  guint        count;
} CalledWait;

static gboolean
called_enough (gpointer data)
{
  CalledWait *w = data;

  return GPOINTER_TO_UINT (g_hash_table_lookup (w->mock->called, w->method)) >= w->count;
}

void
mock_service_wait_called (MockService *mock, const char *method, guint count)
{
  CalledWait w = { mock, method, count };

  test_wait (called_enough, &w, method);
  mock_service_sync (mock);
}

void
mock_service_sync (MockService *mock)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply =
    g_dbus_connection_call_sync (mock->conn, mock->owner, mock->path, MOCK_IFACE, "GetCalls",
                                 NULL, NULL, G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);

  g_assert_no_error (error);
  g_assert_nonnull (reply);
  test_drain ();
}
