/* vmdesk-switcher: the tray, the switcher overlay and the VM display of one user session.
 *
 * A GtkApplication, so there is one per session: `vmdesk-switcher --show` from a script
 * or a desktop shortcut opens the running instance's switcher. */
#include "vmd-ui-private.h"

#include <stdlib.h>

typedef struct {
  GtkApplication    *app;
  VmdSwitcherConfig *config;
  VmdUiClient       *client;
  VmdTray           *tray;
  VmdSwitcher       *switcher;
  VmdDisplayWindow  *display;
  VmdAskNotifier    *asks;
  VmdHotkey         *hotkey;
  char              *last_on_screen;
  gboolean           no_tray;
} Switcher;

static void
on_failed (GObject *source, const char *message, Switcher *s)
{
  g_autoptr(GNotification) note = g_notification_new ("vmdesk");

  g_notification_set_body (note, message);
  g_application_send_notification (G_APPLICATION (s->app), "failed", note);
}

/* A VM on a physical output is switched to by the monitor: run the user's command. */
static void
run_on_screen_command (Switcher *s, const char *on_screen)
{
  GStrv argv = g_hash_table_lookup (s->config->commands, on_screen);
  g_autoptr(GError) error = NULL;

  if (argv == NULL)
    return;
  if (!g_spawn_async (NULL, argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, &error))
    g_warning ("on-screen-command for %s: %s", on_screen[0] ? on_screen : "the host", error->message);
}

static void
on_client_changed (VmdUiClient *client, Switcher *s)
{
  const char *on_screen = vmd_ui_client_get_on_screen (client);

  /* Only once the daemon's OnScreen is read: a half-read model says "the host". */
  if (!vmd_ui_client_is_loaded (client) || g_strcmp0 (on_screen, s->last_on_screen) == 0)
    return;
  g_free (s->last_on_screen);
  s->last_on_screen = g_strdup (on_screen);
  run_on_screen_command (s, on_screen);
}

static void
on_answered (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Switcher *s = user_data;
  g_autoptr(GError) error = NULL;

  if (!vmd_ui_client_answer_ask_finish (VMD_UI_CLIENT (source), result, &error))
    on_failed (NULL, error->message, s);
}

static void
on_ask (VmdUiClient *client, const char *id, const char *label, GStrv candidates,
        guint timeout_ms, Switcher *s)
{
  vmd_ask_notifier_show (s->asks, id, label, (const char *const *) candidates, timeout_ms);
}

static void
on_ask_done (VmdUiClient *client, const char *id, Switcher *s)
{
  vmd_ask_notifier_withdraw (s->asks, id);
}

static void
on_ask_answered (VmdAskNotifier *asks, const char *id, const char *vm, gboolean remember,
                 Switcher *s)
{
  vmd_ui_client_answer_ask (s->client, id, vm, remember, on_answered, s);
}

static void
open_switcher (Switcher *s)
{
  vmd_switcher_cycle (s->switcher);
}

static void
on_first_frame (VmdSwitcher *switcher, gint64 when, Switcher *s)
{
  /* For bench/switcher.py: the moment, on the monotonic clock, the overlay was complete. */
  if (g_getenv ("VMDESK_SWITCHER_TRACE"))
    g_printerr ("vmdesk-switcher: first-frame %" G_GINT64_FORMAT "\n", when);
}

static void
on_switcher_mapped (GtkWidget *switcher, Switcher *s)
{
  vmd_display_window_set_grab (s->display, FALSE);
}

static void
on_switcher_unmapped (GtkWidget *switcher, Switcher *s)
{
  vmd_display_window_set_grab (s->display, TRUE);
}

static void
load_config (Switcher *s)
{
  g_autofree char *path = g_build_filename (g_get_user_config_dir (), "vmdesk", "switcher.conf", NULL);
  g_autoptr(GError) error = NULL;

  s->config = vmd_switcher_config_load (path, &error);
  if (s->config == NULL)
    {
      g_warning ("%s; using the defaults", error->message);
      s->config = vmd_switcher_config_new_default ();
    }
}

static void
on_startup (GApplication *app, Switcher *s)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) system_bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  GDBusConnection *session_bus = g_application_get_dbus_connection (app);

  if (system_bus == NULL)
    {
      g_printerr ("vmdesk-switcher: cannot reach the system bus: %s\n", error->message);
      exit (1);
    }
  load_config (s);
  s->client = vmd_ui_client_new (system_bus);
  s->switcher = vmd_switcher_new (s->client);
  s->display = vmd_display_window_new (s->client, s->config->hotkey);
  s->asks = vmd_ask_notifier_new (session_bus);
  if (!s->no_tray)
    {
      s->tray = vmd_tray_new (s->client);
      g_signal_connect_swapped (s->tray, "open-switcher", G_CALLBACK (open_switcher), s);
      g_signal_connect_swapped (s->tray, "quit", G_CALLBACK (g_application_quit), app);
      g_signal_connect (s->tray, "failed", G_CALLBACK (on_failed), s);
    }
  s->hotkey = vmd_hotkey_new (s->config->hotkey, session_bus, &error);
  if (s->hotkey)
    {
      g_message ("hotkey %s through %s", s->config->hotkey, vmd_hotkey_get_backend (s->hotkey));
      g_signal_connect_swapped (s->hotkey, "activated", G_CALLBACK (open_switcher), s);
    }
  else
    g_warning ("no global hotkey (%s); the tray's \"Open switcher\" and `vmdesk-switcher --show` still work",
               error->message);
  g_signal_connect_swapped (s->display, "hotkey", G_CALLBACK (open_switcher), s);
  g_signal_connect (s->display, "failed", G_CALLBACK (on_failed), s);
  g_signal_connect (s->switcher, "failed", G_CALLBACK (on_failed), s);
  g_signal_connect (s->switcher, "first-frame", G_CALLBACK (on_first_frame), s);
  g_signal_connect (s->switcher, "map", G_CALLBACK (on_switcher_mapped), s);
  g_signal_connect (s->switcher, "unmap", G_CALLBACK (on_switcher_unmapped), s);
  g_signal_connect (s->client, "changed", G_CALLBACK (on_client_changed), s);
  g_signal_connect (s->client, "ask", G_CALLBACK (on_ask), s);
  g_signal_connect (s->client, "ask-done", G_CALLBACK (on_ask_done), s);
  g_signal_connect (s->asks, "answered", G_CALLBACK (on_ask_answered), s);
  gtk_application_add_window (s->app, GTK_WINDOW (s->switcher));
  gtk_application_add_window (s->app, GTK_WINDOW (s->display));
  /* Lives in the tray: no window has to be open. */
  g_application_hold (app);
}

static int
on_command_line (GApplication *app, GApplicationCommandLine *command_line, Switcher *s)
{
  GVariantDict *options = g_application_command_line_get_options_dict (command_line);

  if (g_variant_dict_contains (options, "quit"))
    g_application_quit (app);
  else if (g_variant_dict_contains (options, "show"))
    open_switcher (s);
  return 0;
}

static const GOptionEntry options[] = {
  { "show", 0, 0, G_OPTION_ARG_NONE, NULL, "Open the switcher (of the running instance)", NULL },
  { "quit", 0, 0, G_OPTION_ARG_NONE, NULL, "Quit the running instance", NULL },
  { "no-tray", 0, 0, G_OPTION_ARG_NONE, NULL, "No status icon (another shell shows VMs)", NULL },
  { "version", 0, 0, G_OPTION_ARG_NONE, NULL, "Print the version and exit", NULL },
  { NULL, 0, 0, G_OPTION_ARG_NONE, NULL, NULL, NULL }
};

static int
on_local_options (GApplication *app, GVariantDict *dict, Switcher *s)
{
  if (g_variant_dict_contains (dict, "version"))
    {
      g_print ("vmdesk-switcher %s\n", VMDESK_VERSION);
      return 0;
    }
  s->no_tray = g_variant_dict_contains (dict, "no-tray");
  return -1;
}

int
main (int argc, char **argv)
{
  Switcher s = { 0 };
  int status;

  gdk_set_allowed_backends ("x11,wayland");
  s.app = gtk_application_new ("org.vmdesk.Switcher", G_APPLICATION_HANDLES_COMMAND_LINE);
  g_application_add_main_option_entries (G_APPLICATION (s.app), options);
  g_signal_connect (s.app, "handle-local-options", G_CALLBACK (on_local_options), &s);
  g_signal_connect (s.app, "startup", G_CALLBACK (on_startup), &s);
  g_signal_connect (s.app, "command-line", G_CALLBACK (on_command_line), &s);
  status = g_application_run (G_APPLICATION (s.app), argc, argv);

  g_clear_object (&s.hotkey);
  g_clear_object (&s.asks);
  g_clear_object (&s.tray);
  if (s.switcher)
    gtk_widget_destroy (GTK_WIDGET (s.switcher));
  if (s.display)
    gtk_widget_destroy (GTK_WIDGET (s.display));
  g_clear_object (&s.client);
  g_clear_pointer (&s.config, vmd_switcher_config_free);
  g_free (s.last_on_screen);
  g_object_unref (s.app);
  return status;
}
