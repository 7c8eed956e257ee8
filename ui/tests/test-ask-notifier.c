/* test-ask-notifier.c: VmdAskNotifier against python-dbusmock's notification_daemon on a
 * private session bus: what it shows, and which server signals become answers. */
#include "vmdesk-ui.h"
#include "mock-service.h"

#include <string.h>

#define NOTIFY_IFACE "org.freedesktop.Notifications"
#define NOTIFY_NAME  "org.freedesktop.Notifications"
#define NOTIFY_PATH  "/org/freedesktop/Notifications"

static const char *const two_vms[] = { "work", "personal", NULL };

typedef struct {
  TestBus        *bus;
  MockService    *server;
  VmdAskNotifier *notifier;
  GPtrArray      *answers;   /* "id|vm|remember" */
} Fixture;

static void
on_answered (VmdAskNotifier *notifier, const char *id, const char *vm, gboolean remember,
             gpointer data)
{
  Fixture *f = data;

  g_ptr_array_add (f->answers, g_strdup_printf ("%s|%s|%d", id, vm, remember));
}

static MockService *
start_server (Fixture *f, const char *params)
{
  return mock_service_start (f->bus->conn, "notification_daemon", params, NOTIFY_NAME,
                             NOTIFY_PATH);
}

static void
setup_with (Fixture *f, const char *params)
{
  f->bus = test_bus_new ();
  f->answers = g_ptr_array_new_with_free_func (g_free);
  if (params != NULL)
    f->server = start_server (f, params);
  f->notifier = vmd_ask_notifier_new (f->bus->conn);
  g_signal_connect (f->notifier, "answered", G_CALLBACK (on_answered), f);
}

static void
setup (Fixture *f, gconstpointer data)
{
  setup_with (f, "{}");
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_clear_object (&f->notifier);
  g_clear_pointer (&f->server, mock_service_free);
  g_ptr_array_unref (f->answers);
  test_bus_free (f->bus);
}

/* Shows a prompt and returns the notification id the server gave it. */
static guint32
show (Fixture *f, const char *id, const char *label, const char *const *vms, guint n_notify)
{
  g_autoptr(GVariant) calls = NULL;
  g_autoptr(GVariant) args = NULL;
  guint32 replaces;

  vmd_ask_notifier_show (f->notifier, id, label, vms, 30000);
  mock_service_wait_called (f->server, "Notify", n_notify);
  calls = mock_service_calls (f->server, "Notify");
  g_assert_cmpuint (g_variant_n_children (calls), ==, n_notify);
  g_variant_get_child (calls, n_notify - 1, "(t@av)", NULL, &args);
  {
    g_autoptr(GVariant) v = g_variant_get_child_value (args, 1);
    g_autoptr(GVariant) u = g_variant_get_variant (v);
    replaces = g_variant_get_uint32 (u);
  }
  /* dbusmock numbers from 1 and keeps a replaced id. */
  return replaces != 0 ? replaces : n_notify;
}

/* The n-th (1-based) Notify call's argument `i`, unwrapped. */
static GVariant *
notify_arg (Fixture *f, guint n, guint i)
{
  g_autoptr(GVariant) calls = mock_service_calls (f->server, "Notify");
  g_autoptr(GVariant) args = NULL;
  g_autoptr(GVariant) v = NULL;

  g_variant_get_child (calls, n - 1, "(t@av)", NULL, &args);
  v = g_variant_get_child_value (args, i);
  return g_variant_get_variant (v);
}

static char *
notify_string (Fixture *f, guint n, guint i)
{
  g_autoptr(GVariant) v = notify_arg (f, n, i);
  return g_variant_dup_string (v, NULL);
}

static void
emit_action (Fixture *f, guint32 notification, const char *key)
{
  GVariant *args[] = { g_variant_new_variant (g_variant_new_uint32 (notification)),
                       g_variant_new_variant (g_variant_new_string (key)) };

  mock_service_emit (f->server, NOTIFY_IFACE, "ActionInvoked", "us",
                     g_variant_new_array (G_VARIANT_TYPE_VARIANT, args, 2));
}

static void
emit_closed (Fixture *f, guint32 notification, guint32 reason)
{
  GVariant *args[] = { g_variant_new_variant (g_variant_new_uint32 (notification)),
                       g_variant_new_variant (g_variant_new_uint32 (reason)) };

  mock_service_emit (f->server, NOTIFY_IFACE, "NotificationClosed", "uu",
                     g_variant_new_array (G_VARIANT_TYPE_VARIANT, args, 2));
}

static void
assert_answers (Fixture *f, const char *const *expected)
{
  mock_service_sync (f->server);
  g_ptr_array_add (f->answers, NULL);
  g_assert_cmpstrv ((const char *const *) f->answers->pdata, expected);
  g_ptr_array_remove_index (f->answers, f->answers->len - 1);
}

static void
test_notify_call (Fixture *f, gconstpointer data)
{
  static const char *const actions[] = { "attach-0", "Attach to work", "attach-1",
                                         "Attach to personal", "keep-host", "Keep on host",
                                         "remember", "Remember…", NULL };
  g_autoptr(GVariant) v_actions = NULL, hints = NULL, expire = NULL, replaces = NULL;
  g_autofree char *app = NULL, *summary = NULL, *body = NULL;
  g_autofree const char **got_actions = NULL;
  guint8 urgency = 0;
  const char *category = NULL;

  show (f, "1-2", "Logitech USB Receiver", two_vms, 1);
  app = notify_string (f, 1, 0);
  replaces = notify_arg (f, 1, 1);
  summary = notify_string (f, 1, 3);
  body = notify_string (f, 1, 4);
  v_actions = notify_arg (f, 1, 5);
  hints = notify_arg (f, 1, 6);
  expire = notify_arg (f, 1, 7);
  g_assert_cmpstr (app, ==, "vmdesk");
  g_assert_cmpuint (g_variant_get_uint32 (replaces), ==, 0);
  g_assert_cmpstr (summary, ==, "New USB device");
  g_assert_cmpstr (body, ==, "Logitech USB Receiver was plugged in. Where should it go?");
  got_actions = g_variant_get_strv (v_actions, NULL);
  g_assert_cmpstrv (got_actions, actions);
  g_assert_true (g_variant_lookup (hints, "category", "&s", &category));
  g_assert_cmpstr (category, ==, "device.added");
  g_assert_true (g_variant_lookup (hints, "urgency", "y", &urgency));
  g_assert_cmpuint (urgency, ==, 1);
  /* What is left of the daemon's 30 s, not more. */
  g_assert_cmpint (g_variant_get_int32 (expire), <=, 30000);
  g_assert_cmpint (g_variant_get_int32 (expire), >, 20000);
  g_assert_cmpuint (f->answers->len, ==, 0);
}

static void
test_vm_choice (Fixture *f, gconstpointer data)
{
  guint32 n = show (f, "1-2", "Mouse", two_vms, 1);

  emit_action (f, n, "attach-1");
  emit_action (f, n, "attach-0");          /* a second click: already answered */
  emit_closed (f, n, 2);                   /* the server closes it after the action */
  assert_answers (f, (const char *const[]) { "1-2|personal|0", NULL });
}

static void
test_keep_on_host (Fixture *f, gconstpointer data)
{
  guint32 n = show (f, "3-1", "Stick", two_vms, 1);

  emit_action (f, n, "keep-host");
  assert_answers (f, (const char *const[]) { "3-1||0", NULL });
}

static void
test_remember_then_vm (Fixture *f, gconstpointer data)
{
  static const char *const actions[] = { "attach-0", "Attach to work", "attach-1",
                                         "Attach to personal", "keep-host", "Keep on host",
                                         NULL };
  guint32 n = show (f, "1-2", "Mouse", two_vms, 1);
  g_autoptr(GVariant) replaces = NULL, v_actions = NULL;
  g_autofree char *summary = NULL, *body = NULL;
  g_autofree const char **got_actions = NULL;

  emit_action (f, n, "remember");
  mock_service_wait_called (f->server, "Notify", 2);
  g_assert_cmpuint (f->answers->len, ==, 0);
  replaces = notify_arg (f, 2, 1);
  summary = notify_string (f, 2, 3);
  body = notify_string (f, 2, 4);
  v_actions = notify_arg (f, 2, 5);
  g_assert_cmpuint (g_variant_get_uint32 (replaces), ==, n);
  g_assert_cmpstr (summary, ==, "Remember where this device goes");
  g_assert_nonnull (strstr (body, "remember"));
  got_actions = g_variant_get_strv (v_actions, NULL);
  g_assert_cmpstrv (got_actions, actions);

  emit_action (f, n, "attach-0");
  assert_answers (f, (const char *const[]) { "1-2|work|1", NULL });
}

static void
test_remember_then_keep (Fixture *f, gconstpointer data)
{
  guint32 n = show (f, "1-2", "Mouse", two_vms, 1);

  emit_action (f, n, "remember");
  mock_service_wait_called (f->server, "Notify", 2);
  emit_action (f, n, "keep-host");         /* keeping on the host is never remembered */
  assert_answers (f, (const char *const[]) { "1-2||0", NULL });
}

static void
test_dismissed (Fixture *f, gconstpointer data)
{
  guint32 n = show (f, "1-2", "Mouse", two_vms, 1);

  emit_closed (f, n, 2);
  emit_action (f, n, "attach-0");          /* too late: answered */
  assert_answers (f, (const char *const[]) { "1-2||0", NULL });
}

static void
test_expired (Fixture *f, gconstpointer data)
{
  guint32 n = show (f, "1-2", "Mouse", two_vms, 1);

  emit_closed (f, n, 1);
  emit_action (f, n, "attach-0");          /* the prompt is gone */
  emit_closed (f, n, 2);
  assert_answers (f, (const char *const[]) { NULL });
}

static void
test_stray_signals (Fixture *f, gconstpointer data)
{
  guint32 n = show (f, "1-2", "Mouse", two_vms, 1);
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) impostor = g_dbus_connection_new_for_address_sync (
    g_test_dbus_get_bus_address (f->bus->dbus),
    G_DBUS_CONNECTION_FLAGS_AUTHENTICATION_CLIENT | G_DBUS_CONNECTION_FLAGS_MESSAGE_BUS_CONNECTION,
    NULL, NULL, &error);
  g_autoptr(GVariant) pong = NULL;
  GVariant *wrong_types[] = { g_variant_new_variant (g_variant_new_string ("attach-0")),
                              g_variant_new_variant (g_variant_new_uint32 (n)) };

  g_assert_no_error (error);
  emit_action (f, n + 100, "attach-0");    /* another application's notification */
  emit_closed (f, n + 100, 2);
  emit_action (f, n, "attach-2");          /* no third VM */
  emit_action (f, n, "attach--1");
  emit_action (f, n, "attach-");
  emit_action (f, n, "attach-4294967296");
  emit_action (f, n, "default");
  emit_action (f, n, "remember\n");
  mock_service_emit (f->server, NOTIFY_IFACE, "ActionInvoked", "su",
                     g_variant_new_array (G_VARIANT_TYPE_VARIANT, wrong_types, 2));

  /* The right signal from the wrong sender. Then a ping from that sender to the notifier's
   * connection: once answered, the signal has been queued there (one sender, in order). */
  g_dbus_connection_emit_signal (impostor, NULL, NOTIFY_PATH, NOTIFY_IFACE, "ActionInvoked",
                                 g_variant_new ("(us)", n, "attach-0"), &error);
  g_assert_no_error (error);
  g_dbus_connection_emit_signal (impostor, NULL, NOTIFY_PATH, NOTIFY_IFACE,
                                 "NotificationClosed", g_variant_new ("(uu)", n, 2), &error);
  g_assert_no_error (error);
  pong = g_dbus_connection_call_sync (impostor, g_dbus_connection_get_unique_name (f->bus->conn),
                                      "/", "org.freedesktop.DBus.Peer", "Ping", NULL, NULL,
                                      G_DBUS_CALL_FLAGS_NONE, -1, NULL, &error);
  g_assert_no_error (error);
  assert_answers (f, (const char *const[]) { NULL });

  /* Still asking: the real server's answer counts. */
  emit_action (f, n, "attach-1");
  assert_answers (f, (const char *const[]) { "1-2|personal|0", NULL });
  g_dbus_connection_close_sync (impostor, NULL, NULL);
}

static void
test_withdraw (Fixture *f, gconstpointer data)
{
  guint32 n = show (f, "1-2", "Mouse", two_vms, 1);
  g_autoptr(GVariant) calls = NULL;
  guint32 closed = 0;

  vmd_ask_notifier_withdraw (f->notifier, "1-2");
  vmd_ask_notifier_withdraw (f->notifier, "1-2");   /* twice is harmless */
  vmd_ask_notifier_withdraw (f->notifier, "9-9");   /* never asked */
  mock_service_wait_called (f->server, "CloseNotification", 1);
  calls = mock_service_calls (f->server, "CloseNotification");
  g_assert_cmpuint (g_variant_n_children (calls), ==, 1);
  {
    g_autoptr(GVariant) args = NULL, v = NULL, u = NULL;
    g_variant_get_child (calls, 0, "(t@av)", NULL, &args);
    v = g_variant_get_child_value (args, 0);
    u = g_variant_get_variant (v);
    /* The template declares CloseNotification(i); the spec says u. */
    closed = g_variant_is_of_type (u, G_VARIANT_TYPE_UINT32) ? g_variant_get_uint32 (u)
                                                             : (guint32) g_variant_get_int32 (u);
  }
  g_assert_cmpuint (closed, ==, n);
  emit_action (f, n, "attach-0");
  emit_closed (f, n, 2);
  assert_answers (f, (const char *const[]) { NULL });
}

static void
test_two_prompts (Fixture *f, gconstpointer data)
{
  static const char *const one_vm[] = { "work", NULL };
  guint32 a = show (f, "1-1", "Keyboard", two_vms, 1);
  guint32 b = show (f, "1-2", "Mouse", one_vm, 2);

  g_assert_cmpuint (a, !=, b);
  emit_action (f, b, "attach-1");          /* "1-2" has one candidate only */
  emit_action (f, b, "attach-0");
  emit_closed (f, a, 2);
  assert_answers (f, (const char *const[]) { "1-2|work|0", "1-1||0", NULL });
}

/* Descriptor strings are hostile: markup, newlines, invalid UTF-8, 4 KiB. */
static const char *
hostile_label (void)
{
  static char label[4200];

  if (label[0] == '\0')
    {
      memset (label, 'A', sizeof label - 1);
      memcpy (label, "<b>Evil</b> & \"co\"\n\xff\xfe\xc3", 22);
    }
  return label;
}

static void
check_hostile_body (const char *body)
{
  g_assert_true (g_utf8_validate (body, -1, NULL));
  g_assert_null (strchr (body, '\n'));
  /* Bounded: the label is cut, not the sentence around it. */
  g_assert_cmpuint (g_utf8_strlen (body, -1), <, 200);
  g_assert_true (g_str_has_suffix (body, "… was plugged in. Where should it go?"));
}

static void
test_hostile_label_markup (Fixture *f, gconstpointer data)
{
  g_autofree char *body = NULL;
  guint32 n = show (f, "1-2", hostile_label (), two_vms, 1);

  body = notify_string (f, 1, 4);
  check_hostile_body (body);
  g_assert_true (g_str_has_prefix (body, "&lt;b&gt;Evil&lt;/b&gt; &amp; &quot;co&quot; \xef\xbf\xbd"));
  g_assert_null (strchr (body, '<'));
  emit_action (f, n, "keep-host");
  assert_answers (f, (const char *const[]) { "1-2||0", NULL });
}

static void
setup_plain (Fixture *f, gconstpointer data)
{
  setup_with (f, "{\"capabilities\": \"body actions\"}");
}

static void
test_hostile_label_plain (Fixture *f, gconstpointer data)
{
  g_autofree char *body = NULL;

  show (f, "1-2", hostile_label (), two_vms, 1);
  body = notify_string (f, 1, 4);
  check_hostile_body (body);
  /* No markup capability: the text is shown as is, so escaping would show "&lt;". */
  g_assert_true (g_str_has_prefix (body, "<b>Evil</b> & \"co\" \xef\xbf\xbd"));
}

static void
setup_no_server (Fixture *f, gconstpointer data)
{
  setup_with (f, NULL);
}

/* No server yet: the prompt waits for one; when the server restarts, the new one gets the
 * prompt and only the new one is listened to. */
static void
test_server_late_and_restart (Fixture *f, gconstpointer data)
{
  guint32 n;

  vmd_ask_notifier_show (f->notifier, "1-2", "Mouse", two_vms, 30000);
  test_drain ();
  f->server = start_server (f, "{}");
  mock_service_wait_called (f->server, "Notify", 1);

  mock_service_stop (f->server);
  mock_service_free (f->server);
  f->server = start_server (f, "{}");
  mock_service_wait_called (f->server, "Notify", 1);
  g_assert_cmpuint (f->answers->len, ==, 0);
  n = 1;
  emit_action (f, n, "attach-0");
  assert_answers (f, (const char *const[]) { "1-2|work|0", NULL });
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);

#define ADD(path, fn, set) g_test_add (path, Fixture, NULL, set, fn, teardown)
  ADD ("/ask-notifier/notify-call", test_notify_call, setup);
  ADD ("/ask-notifier/vm-choice", test_vm_choice, setup);
  ADD ("/ask-notifier/keep-on-host", test_keep_on_host, setup);
  ADD ("/ask-notifier/remember-then-vm", test_remember_then_vm, setup);
  ADD ("/ask-notifier/remember-then-keep", test_remember_then_keep, setup);
  ADD ("/ask-notifier/dismissed", test_dismissed, setup);
  ADD ("/ask-notifier/expired", test_expired, setup);
  ADD ("/ask-notifier/stray-signals", test_stray_signals, setup);
  ADD ("/ask-notifier/withdraw", test_withdraw, setup);
  ADD ("/ask-notifier/two-prompts", test_two_prompts, setup);
  ADD ("/ask-notifier/hostile-label-markup", test_hostile_label_markup, setup);
  ADD ("/ask-notifier/hostile-label-plain", test_hostile_label_plain, setup_plain);
  ADD ("/ask-notifier/server-late-and-restart", test_server_late_and_restart, setup_no_server);
  return g_test_run ();
}
