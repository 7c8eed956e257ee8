/* The Manager over a real (private) bus, against libvirt's built-in test driver: argument
 * validation happens before authorization, and authorization before any state change. */
#include "vmd-manager.h"

#include <glib/gstdio.h>
#include <libvirt-glib/libvirt-glib.h>

typedef struct {
  GTestDBus       *dbus;
  GDBusConnection *bus;
  VmdLibvirt      *libvirt;
  VmdManager      *manager;
  char            *state_dir;
} Fixture;

static void
wait_for (gboolean *flag)
{
  while (!*flag)
    g_main_context_iteration (NULL, TRUE);
}

static void
on_first_sync (VmdLibvirt *libvirt, gboolean *done)
{
  *done = TRUE;
}

static void
fixture_set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  gboolean synced = FALSE;

  f->dbus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->dbus);
  f->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);

  f->state_dir = g_dir_make_tmp ("vmd-manager-XXXXXX", NULL);
  f->libvirt = vmd_libvirt_new ("test:///default");
  f->manager = vmd_manager_new (f->libvirt, vmd_bouncer_new (),
                                vmd_state_load (f->state_dir, &error));
  g_assert_no_error (error);
  g_object_unref (f->libvirt); /* the manager holds it */
  g_assert_true (vmd_manager_export (f->manager, f->bus, &error));
  g_assert_no_error (error);
  g_signal_connect (f->libvirt, "first-sync", G_CALLBACK (on_first_sync), &synced);
  vmd_libvirt_start (f->libvirt);
  wait_for (&synced);
  g_assert_true (vmd_libvirt_is_connected (f->libvirt));
}

static void
fixture_tear_down (Fixture *f, gconstpointer data)
{
  g_autofree char *state = g_build_filename (f->state_dir, "state.ini", NULL);

  g_clear_object (&f->manager);
  g_clear_object (&f->bus);
  g_test_dbus_down (f->dbus);
  g_clear_object (&f->dbus);
  g_remove (state);
  g_rmdir (f->state_dir);
  g_free (f->state_dir);
}

typedef struct {
  GVariant *reply;
  GError   *error;
  gboolean  done;
} Call;

static void
on_reply (GObject *source, GAsyncResult *res, gpointer data)
{
  Call *c = data;

  c->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &c->error);
  c->done = TRUE;
}

/* The manager answers on this thread's main loop, so calls are async plus a wait. */
static GVariant *
call (Fixture *f, const char *method, GVariant *params, GError **error)
{
  Call c = { 0 };

  g_dbus_connection_call (f->bus, g_dbus_connection_get_unique_name (f->bus), VMD_DBUS_PATH,
                          VMD_DBUS_INTERFACE, method, params, NULL, G_DBUS_CALL_FLAGS_NONE, 5000,
                          NULL, on_reply, &c);
  wait_for (&c.done);
  if (c.error)
    g_propagate_error (error, c.error);
  return c.reply;
}

static void
assert_dbus_error (Fixture *f, const char *method, GVariant *params, const char *expected)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call (f, method, params, &error);
  g_autofree char *remote = NULL;

  g_assert_null (reply);
  g_assert_nonnull (error);
  remote = g_dbus_error_get_remote_error (error);
  g_assert_cmpstr (remote, ==, expected);
}

static void
test_list (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = call (f, "ListVMs", NULL, &error);
  g_autoptr(GVariant) vms = NULL;
  g_autoptr(GVariantDict) vm = NULL;
  const char *s;
  gboolean on_screen;

  g_assert_no_error (error);
  vms = g_variant_get_child_value (reply, 0);
  g_assert_cmpuint (g_variant_n_children (vms), ==, 1);
  vm = g_variant_dict_new (g_variant_get_child_value (vms, 0));
  g_assert_true (g_variant_dict_lookup (vm, "name", "&s", &s));
  g_assert_cmpstr (s, ==, "test");
  g_assert_true (g_variant_dict_lookup (vm, "state", "&s", &s));
  g_assert_cmpstr (s, ==, "running");
  g_assert_true (g_variant_dict_lookup (vm, "on-screen", "b", &on_screen));
  g_assert_false (on_screen);
  g_assert_false (g_variant_dict_contains (vm, "settings-warning"));
}

static void
test_bad_arguments (Fixture *f, gconstpointer data)
{
  g_autofree char *too_long = g_strnfill (VMD_VM_NAME_MAX + 1, 'a');

  assert_dbus_error (f, "GetVM", g_variant_new ("(s)", "nope"), "org.vmdesk.Error.UnknownVM");
  assert_dbus_error (f, "GetVM", g_variant_new ("(s)", ""), "org.vmdesk.Error.InvalidArgs");
  assert_dbus_error (f, "Switch", g_variant_new ("(s)", "a/b"), "org.vmdesk.Error.InvalidArgs");
  assert_dbus_error (f, "Switch", g_variant_new ("(s)", "bell\a"), "org.vmdesk.Error.InvalidArgs");
  assert_dbus_error (f, "Switch", g_variant_new ("(s)", too_long), "org.vmdesk.Error.InvalidArgs");
  assert_dbus_error (f, "SetupVM", g_variant_new ("(sbs)", "", TRUE, ""), "org.vmdesk.Error.InvalidArgs");
  /* A wrong signature never reaches the daemon's code. */
  assert_dbus_error (f, "Switch", g_variant_new ("(i)", 3), "org.freedesktop.DBus.Error.InvalidArgs");
  assert_dbus_error (f, "Reboot", NULL, "org.freedesktop.DBus.Error.UnknownMethod");
}

static GVariant *
get_property (Fixture *f, const char *name)
{
  Call c = { 0 };
  GVariant *value;

  g_dbus_connection_call (f->bus, g_dbus_connection_get_unique_name (f->bus), VMD_DBUS_PATH,
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", VMD_DBUS_INTERFACE, name), NULL,
                          G_DBUS_CALL_FLAGS_NONE, 5000, NULL, on_reply, &c);
  wait_for (&c.done);
  g_assert_no_error (c.error);
  g_variant_get (c.reply, "(v)", &value);
  g_variant_unref (c.reply);
  return value;
}

static void
test_switch_needs_polkit (Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) on_screen = NULL;
  g_autoptr(GVariant) version = NULL;

  /* DBUS_SYSTEM_BUS_ADDRESS points nowhere here: with no polkit, nothing is allowed. */
  assert_dbus_error (f, "Switch", g_variant_new ("(s)", "test"), "org.vmdesk.Error.NotAuthorized");
  assert_dbus_error (f, "SetupVM", g_variant_new ("(sbs)", "test", FALSE, ""), "org.vmdesk.Error.NotAuthorized");
  on_screen = get_property (f, "OnScreen");
  g_assert_cmpstr (g_variant_get_string (on_screen, NULL), ==, "");
  version = get_property (f, "Version");
  g_assert_cmpstr (g_variant_get_string (version, NULL), ==, VMDESK_VERSION);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  virInitialize ();
  gvir_event_register ();
  g_test_add ("/manager/list", Fixture, NULL, fixture_set_up, test_list, fixture_tear_down);
  g_test_add ("/manager/bad-arguments", Fixture, NULL, fixture_set_up, test_bad_arguments, fixture_tear_down);
  g_test_add ("/manager/switch-needs-polkit", Fixture, NULL, fixture_set_up, test_switch_needs_polkit,
              fixture_tear_down);
  return g_test_run ();
}
