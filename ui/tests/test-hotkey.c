/* test-hotkey.c: VmdHotkey's portal backend against a mock GlobalShortcuts portal
 * (mock_portal.py, python-dbusmock) on a private session bus, and the "nothing works"
 * error. GTK is never initialised here: there is no display. */
#include "vmdesk-ui.h"
#include "mock-service.h"

#include <string.h>

#define PORTAL_NAME  "org.freedesktop.portal.Desktop"
#define PORTAL_PATH  "/org/freedesktop/portal/desktop"
#define SHORTCUTS    "org.freedesktop.portal.GlobalShortcuts"

typedef struct {
  TestBus     *bus;
  MockService *portal;
  guint        activated;
} Fixture;

static void
setup (Fixture *f, gconstpointer params)
{
  g_autofree char *template = g_test_build_filename (G_TEST_DIST, "mock_portal.py", NULL);

  f->bus = test_bus_new ();
  f->portal = mock_service_start (f->bus->conn, template, params, PORTAL_NAME, PORTAL_PATH);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_pointer (&f->portal, mock_service_free);
  test_bus_free (f->bus);
}

static void
on_activated (VmdHotkey *hotkey, gpointer data)
{
  ((Fixture *) data)->activated++;
}

/* The n-th call's (1-based) argument i, unwrapped. */
static GVariant *
call_arg (Fixture *f, const char *method, guint n, guint i)
{
  g_autoptr(GVariant) calls = mock_service_calls (f->portal, method);
  g_autoptr(GVariant) args = NULL, v = NULL;

  g_assert_cmpuint (g_variant_n_children (calls), >=, n);
  g_variant_get_child (calls, n - 1, "(t@av)", NULL, &args);
  v = g_variant_get_child_value (args, i);
  return g_variant_get_variant (v);
}

static void
emit_activated (Fixture *f, const char *session, const char *id)
{
  GVariant *args[] = {
    g_variant_new_variant (g_variant_new_object_path (session)),
    g_variant_new_variant (g_variant_new_string (id)),
    g_variant_new_variant (g_variant_new_uint64 (1234)),
    g_variant_new_variant (g_variant_new_array (G_VARIANT_TYPE ("{sv}"), NULL, 0)),
  };

  mock_service_emit (f->portal, SHORTCUTS, "Activated", "osta{sv}",
                     g_variant_new_array (G_VARIANT_TYPE_VARIANT, args, 4));
}

/* Binds `accelerator`, checks what the portal was asked, returns the session handle. */
static char *
bind (Fixture *f, VmdHotkey **out, const char *accelerator, const char *trigger)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) create_opts = NULL, session = NULL, shortcuts = NULL, bind_opts = NULL;
  g_autoptr(GVariant) props = NULL;
  g_autofree char *sender = NULL, *expected_session = NULL;
  const char *token = NULL, *id = NULL, *got_trigger = NULL, *description = NULL;
  VmdHotkey *hotkey = vmd_hotkey_new (accelerator, f->bus->conn, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (vmd_hotkey_get_backend (hotkey), ==, "portal");
  g_signal_connect (hotkey, "activated", G_CALLBACK (on_activated), f);
  mock_service_wait_called (f->portal, "BindShortcuts", 1);

  create_opts = call_arg (f, "CreateSession", 1, 0);
  g_assert_true (g_variant_lookup (create_opts, "handle_token", "&s", &token));
  g_assert_true (g_variant_lookup (create_opts, "session_handle_token", "&s", &token));
  sender = g_strdup (g_dbus_connection_get_unique_name (f->bus->conn) + 1);
  g_strdelimit (sender, ".", '_');
  expected_session = g_strdup_printf (PORTAL_PATH "/session/%s/%s", sender, token);

  session = call_arg (f, "BindShortcuts", 1, 0);
  shortcuts = call_arg (f, "BindShortcuts", 1, 1);
  bind_opts = call_arg (f, "BindShortcuts", 1, 3);
  g_assert_cmpstr (g_variant_get_string (session, NULL), ==, expected_session);
  g_assert_true (g_variant_lookup (bind_opts, "handle_token", "&s", &token));
  g_assert_cmpuint (g_variant_n_children (shortcuts), ==, 1);
  g_variant_get_child (shortcuts, 0, "(&s@a{sv})", &id, &props);
  g_assert_cmpstr (id, ==, "vmdesk-switcher");
  g_assert_true (g_variant_lookup (props, "preferred_trigger", "&s", &got_trigger));
  g_assert_cmpstr (got_trigger, ==, trigger);
  g_assert_true (g_variant_lookup (props, "description", "&s", &description));
  g_assert_cmpstr (description, !=, "");
  *out = hotkey;
  return g_steal_pointer (&expected_session);
}

static void
test_portal_activated (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdHotkey) hotkey = NULL;
  g_autofree char *session = bind (f, &hotkey, "<Super>Tab", "LOGO+Tab");
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) impostor = NULL;
  g_autoptr(GVariant) pong = NULL;

  emit_activated (f, session, "vmdesk-switcher");
  mock_service_sync (f->portal);
  g_assert_cmpuint (f->activated, ==, 1);

  emit_activated (f, session, "something-else");
  emit_activated (f, PORTAL_PATH "/session/1_99/other", "vmdesk-switcher");
  mock_service_sync (f->portal);
  g_assert_cmpuint (f->activated, ==, 1);

  /* The right signal from someone who is not the portal. */
  impostor = g_dbus_connection_new_for_address_sync (
    g_test_dbus_get_bus_address (f->bus->dbus),
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);
  g_assert_no_error (error);
  g_dbus_connection_emit_signal (impostor, NULL, PORTAL_PATH, SHORTCUTS, "Activated",
                                 g_variant_new ("(osta{sv})", session, "vmdesk-switcher",
                                                (guint64) 1, NULL),
                                 &error);
  g_assert_no_error (error);
  pong = g_dbus_connection_call_sync (impostor, g_dbus_connection_get_unique_name (f->bus->conn),
                                      "/", "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                      G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  test_drain ();
  g_assert_cmpuint (f->activated, ==, 1);

  emit_activated (f, session, "vmdesk-switcher");
  mock_service_sync (f->portal);
  g_assert_cmpuint (f->activated, ==, 2);
  g_dbus_connection_close_sync (impostor, NULL, NULL);
}

static void
test_portal_trigger_format (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdHotkey) hotkey = NULL;
  g_autofree char *session = bind (f, &hotkey, "<Control><Alt><Shift>F5", "CTRL+ALT+SHIFT+F5");

  g_assert_true (g_variant_is_object_path (session));
}

static void
on_response (GDBusConnection *conn, const char *sender, const char *path,
             const char *interface, const char *signal, GVariant *params, gpointer data)
{
  guint32 response;

  g_variant_get (params, "(ua{sv})", &response, NULL);
  if (response != 0)
    (*(guint *) data)++;
}

static gboolean
refused (gpointer data)
{
  return *(guint *) data > 0;
}

static void
test_portal_refused (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdHotkey) hotkey = NULL;
  guint refusals = 0;
  guint sub = g_dbus_connection_signal_subscribe (
    f->bus->conn, NULL, "org.freedesktop.portal.Request", "Response", NULL, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_response, &refusals, NULL);

  /* The user cancelled the portal's dialog: the shortcut is not bound, and says so. */
  g_test_expect_message ("vmdesk-switcher", G_LOG_LEVEL_WARNING, "*answered 1 (cancelled)*");
  hotkey = vmd_hotkey_new ("<Super>Tab", f->bus->conn, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vmd_hotkey_get_backend (hotkey), ==, "portal");
  test_wait (refused, &refusals, "the portal's refusal");
  test_drain ();
  g_test_assert_expected_messages ();
  g_dbus_connection_signal_unsubscribe (f->bus->conn, sub);
}

static void
test_no_backend (void)
{
  g_autoptr(TestBus) bus = test_bus_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdHotkey) hotkey = vmd_hotkey_new ("<Super>Tab", bus->conn, &error);
  g_autoptr(VmdHotkey) no_bus = NULL;

  /* A session bus without the portal, and no X11: Wayland without GlobalShortcuts. */
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (hotkey);
  g_assert_nonnull (strstr (error->message, "<Super>Tab"));
  g_assert_nonnull (strstr (error->message, "X11"));
  g_clear_error (&error);

  no_bus = vmd_hotkey_new ("<Super>Tab", NULL, &error);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
  g_assert_null (no_bus);
}

static void
test_bad_accelerator (void)
{
  static const char *const bad[] = { "", "<Super>", "<Super", "Tab<Super>x", "\xff", NULL };

  for (guint i = 0; bad[i] != NULL; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VmdHotkey) hotkey = vmd_hotkey_new (bad[i], NULL, &error);

      g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
      g_assert_null (hotkey);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* Neither this test nor GTK may fall back to a real display. */
  g_unsetenv ("DISPLAY");
  g_unsetenv ("WAYLAND_DISPLAY");

  g_test_add ("/hotkey/portal/activated", Fixture, "{}", setup, test_portal_activated,
              teardown);
  g_test_add ("/hotkey/portal/trigger-format", Fixture, "{}", setup,
              test_portal_trigger_format, teardown);
  g_test_add ("/hotkey/portal/refused", Fixture, "{\"refuse_bind\": true}", setup,
              test_portal_refused, teardown);
  g_test_add_func ("/hotkey/no-backend", test_no_backend);
  g_test_add_func ("/hotkey/bad-accelerator", test_bad_accelerator);
  return g_test_run ();
}
