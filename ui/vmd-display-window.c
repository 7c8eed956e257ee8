/* vmd-display-window.c: the VM on screen, in a fullscreen spice-gtk SpiceDisplay.
 *
 * The window follows the daemon's OnScreen rather than its own clicks, so a switch made
 * with vmdeskctl or the tray shows the same thing. Every SPICE channel connects over a
 * socket the daemon opens (OpenDisplay, virDomainOpenGraphicsFD), so the switcher needs no
 * access to libvirt or QEMU. Only the VM on screen has a session, so only it gets the
 * keyboard and the clipboard, and a hidden window receives nothing. */
#include "vmd-ui-private.h"

#include <spice-client-gtk.h>
#include <unistd.h>

typedef struct {
  VmdDisplayWindow *self;   /* not a reference: the window owns its sessions */
  char             *vm;
  SpiceSession     *session;
  SpiceDisplay     *display;
} VmSession;

struct _VmdDisplayWindow {
  GtkWindow        parent;
  VmdUiClient     *client;
  GtkStack        *stack;
  GHashTable      *sessions;    /* VM name -> VmSession */
  guint            hotkey_keyval;
  GdkModifierType  hotkey_mods;
  char            *shown;       /* the VM whose display is visible, or NULL */
  gboolean         grab_suspended; /* the overlay is open over the display */
};

enum { SIGNAL_HOTKEY, SIGNAL_FAILED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (VmdDisplayWindow, vmd_display_window, GTK_TYPE_WINDOW)

static void
report (VmdDisplayWindow *self, const char *vm, const char *message)
{
  g_autofree char *text = g_strdup_printf ("Display of %s: %s", vm, message);

  g_warning ("%s", text);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, text);
}

/* ---- sessions ---- */

static void
vm_session_free (VmSession *vs)
{
  GList *channels = spice_session_get_channels (vs->session);

  /* Channels can outlive the session's last reference: none may call back into vs. */
  for (GList *l = channels; l; l = l->next)
    g_signal_handlers_disconnect_by_data (l->data, vs);
  g_list_free (channels);
  g_signal_handlers_disconnect_by_data (vs->session, vs);
  spice_session_disconnect (vs->session);
  if (vs->display)
    gtk_widget_destroy (GTK_WIDGET (vs->display));
  g_object_unref (vs->session);
  g_free (vs->vm);
  g_free (vs);
}

typedef struct {
  VmdDisplayWindow *self;
  char             *vm;
  SpiceSession     *session;   /* the session the connection is for */
  SpiceChannel     *channel;   /* NULL: the session's main channel */
} FdRequest;

static void
on_display_fd (GObject *source, GAsyncResult *result, gpointer user_data)
{
  FdRequest *request = user_data;
  g_autoptr(GError) error = NULL;
  int fd = vmd_ui_client_open_display_finish (VMD_UI_CLIENT (source), result, &error);
  GHashTable *sessions = request->self->sessions;
  VmSession *vs = sessions ? g_hash_table_lookup (sessions, request->vm) : NULL;

  /* The VM stopped, or its session was closed and opened again, while the daemon
   * answered: that connection, or its failure, belongs to nobody now. Opening the main
   * channel of a newer session with it would disconnect that session. */
  if (vs && vs->session != request->session)
    vs = NULL;
  if (vs == NULL)
    {
      if (fd >= 0)
        close (fd);
    }
  else if (fd < 0)
    report (request->self, request->vm, error->message);
  else if (!(request->channel ? spice_channel_open_fd (request->channel, fd)
                              : spice_session_open_fd (vs->session, fd)))
    {
      close (fd);
      report (request->self, request->vm, "SPICE refused the connection");
    }
  g_clear_object (&request->channel);
  g_clear_object (&request->session);
  g_object_unref (request->self);
  g_free (request->vm);
  g_free (request);
}

static void
request_fd (VmSession *vs, SpiceChannel *channel)
{
  FdRequest *request = g_new0 (FdRequest, 1);

  request->self = g_object_ref (vs->self);
  request->vm = g_strdup (vs->vm);
  request->session = g_object_ref (vs->session);
  request->channel = channel ? g_object_ref (channel) : NULL;
  vmd_ui_client_open_display (vs->self->client, vs->vm, NULL, on_display_fd, request);
}

static void
on_channel_open_fd (SpiceChannel *channel, int with_tls, VmSession *vs)
{
  /* Each channel is a connection of its own; the daemon opens one more. */
  request_fd (vs, channel);
}

static void
on_channel_new (SpiceSession *session, SpiceChannel *channel, VmSession *vs)
{
  int id = 0;

  g_signal_connect (channel, "open-fd", G_CALLBACK (on_channel_open_fd), vs);
  g_object_get (channel, "channel-id", &id, NULL);
  if (!SPICE_IS_DISPLAY_CHANNEL (channel) || id != 0 || vs->display)
    return;
  /* The widget is made once its display channel exists (as virt-viewer does); made
   * earlier it asks a channel that is not there yet. */
  vs->display = spice_display_new (session, 0);
  /* 1:1 pixels when the guest fits, scaled down only when it does not: sharp text. */
  g_object_set (vs->display, "scaling", TRUE, "only-downscale", TRUE, "resize-guest", FALSE,
                "grab-keyboard", !vs->self->grab_suspended, "grab-mouse", !vs->self->grab_suspended,
                NULL);
  gtk_stack_add_named (vs->self->stack, GTK_WIDGET (vs->display), vs->vm);
  gtk_widget_show (GTK_WIDGET (vs->display));
  if (g_strcmp0 (vs->self->shown, vs->vm) == 0)
    {
      gtk_stack_set_visible_child (vs->self->stack, GTK_WIDGET (vs->display));
      gtk_widget_grab_focus (GTK_WIDGET (vs->display));
    }
}

static VmSession *
ensure_session (VmdDisplayWindow *self, const char *vm)
{
  VmSession *vs = g_hash_table_lookup (self->sessions, vm);

  if (vs)
    return vs;
  vs = g_new0 (VmSession, 1);
  vs->self = self;
  vs->vm = g_strdup (vm);
  /* vmdesk routes USB itself, and sound is not the switcher's business. */
  vs->session = g_object_new (SPICE_TYPE_SESSION, "enable-usbredir", FALSE,
                              "enable-audio", FALSE, "enable-smartcard", FALSE, NULL);
  g_signal_connect (vs->session, "channel-new", G_CALLBACK (on_channel_new), vs);
  g_hash_table_insert (self->sessions, g_strdup (vm), vs);
  request_fd (vs, NULL);
  return vs;
}

/* Only the VM on screen keeps a connection: a hidden display would still receive and
 * decode every frame the guest draws, so a switcher in the background would never be
 * idle. Coming back costs a reconnect (~0.1 s, bench/switcher.py). */
static void
close_hidden_sessions (VmdDisplayWindow *self, const char *shown)
{
  GHashTableIter iter;
  const char *vm;

  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, (gpointer *) &vm, NULL))
    if (g_strcmp0 (vm, shown) != 0)
      g_hash_table_iter_remove (&iter);
}

/* ---- following OnScreen ---- */

/* Fullscreen is a request to the window manager; covering the monitor ourselves makes
 * it so without one too (a kiosk session, or Xvfb in the tests). */
static void
cover_monitor (VmdDisplayWindow *self)
{
  GdkDisplay *display = gtk_widget_get_display (GTK_WIDGET (self));
  GdkMonitor *monitor = gdk_display_get_primary_monitor (display);
  GdkRectangle area;

  if (monitor == NULL)
    monitor = gdk_display_get_monitor (display, 0);
  if (monitor)
    {
      gdk_monitor_get_geometry (monitor, &area);
      gtk_window_move (GTK_WINDOW (self), area.x, area.y);
      gtk_window_resize (GTK_WINDOW (self), area.width, area.height);
    }
  gtk_window_fullscreen (GTK_WINDOW (self));
}

static void
follow_on_screen (VmdDisplayWindow *self)
{
  const char *on_screen = vmd_ui_client_get_on_screen (self->client);
  const VmdUiVm *vm = on_screen[0] ? vmd_ui_client_find_vm (self->client, on_screen) : NULL;
  gboolean show = vm && g_str_equal (vm->state, "running") && g_str_equal (vm->display, "spice")
                  && !vm->physical_display;
  VmSession *vs;

  /* Most changes (battery, USB) are not about the screen: raising the window again
   * would cover the overlay and take its keyboard. */
  if (show && g_strcmp0 (self->shown, vm->name) == 0 && gtk_widget_get_visible (GTK_WIDGET (self)))
    return;
  g_clear_pointer (&self->shown, g_free);
  close_hidden_sessions (self, show ? vm->name : NULL);
  if (!show)
    {
      /* The host's desktop, or a VM on a physical output: nothing of ours in the way. */
      gtk_widget_hide (GTK_WIDGET (self));
      return;
    }
  self->shown = g_strdup (vm->name);
  vs = ensure_session (self, vm->name);
  if (vs->display)
    {
      gtk_stack_set_visible_child (self->stack, GTK_WIDGET (vs->display));
      gtk_widget_grab_focus (GTK_WIDGET (vs->display));
    }
  g_object_set (spice_gtk_session_get (vs->session), "auto-clipboard", TRUE, NULL);
  cover_monitor (self);
  gtk_window_present (GTK_WINDOW (self));
}

static void
on_client_changed (VmdUiClient *client, VmdDisplayWindow *self)
{
  follow_on_screen (self);
}

static gboolean
vmd_display_window_key_press (GtkWidget *widget, GdkEventKey *event)
{
  VmdDisplayWindow *self = VMD_DISPLAY_WINDOW (widget);
  GdkModifierType mods = event->state & gtk_accelerator_get_default_mod_mask ();

  /* Seen before the SPICE display forwards keys to the guest. */
  if (self->hotkey_keyval && gdk_keyval_to_lower (event->keyval) == self->hotkey_keyval
      && mods == self->hotkey_mods)
    {
      g_signal_emit (self, signals[SIGNAL_HOTKEY], 0);
      return TRUE;
    }
  return GTK_WIDGET_CLASS (vmd_display_window_parent_class)->key_press_event (widget, event);
}

void
vmd_display_window_set_grab (VmdDisplayWindow *self, gboolean grab)
{
  GHashTableIter iter;
  VmSession *vs;

  self->grab_suspended = !grab;
  g_hash_table_iter_init (&iter, self->sessions);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &vs))
    if (vs->display)
      g_object_set (vs->display, "grab-keyboard", grab, "grab-mouse", grab, NULL);
}

/* ---- object ---- */

static void
vmd_display_window_dispose (GObject *object)
{
  VmdDisplayWindow *self = VMD_DISPLAY_WINDOW (object);

  if (self->client)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_pointer (&self->sessions, g_hash_table_unref);
  g_clear_pointer (&self->shown, g_free);
  G_OBJECT_CLASS (vmd_display_window_parent_class)->dispose (object);
}

static void
vmd_display_window_init (VmdDisplayWindow *self)
{
  GtkWindow *window = GTK_WINDOW (self);

  self->sessions = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                          (GDestroyNotify) vm_session_free);
  gtk_window_set_title (window, "vmdesk display");
  gtk_window_set_role (window, "vmdesk-display");
  gtk_window_set_decorated (window, FALSE);
  self->stack = GTK_STACK (gtk_stack_new ());
  gtk_stack_set_transition_type (self->stack, GTK_STACK_TRANSITION_TYPE_NONE);
  gtk_container_add (GTK_CONTAINER (self), GTK_WIDGET (self->stack));
  gtk_widget_show (GTK_WIDGET (self->stack));
}

static void
vmd_display_window_class_init (VmdDisplayWindowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_display_window_dispose;
  GTK_WIDGET_CLASS (klass)->key_press_event = vmd_display_window_key_press;
  signals[SIGNAL_HOTKEY] = g_signal_new ("hotkey", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

VmdDisplayWindow *
vmd_display_window_new (VmdUiClient *client, const char *hotkey)
{
  VmdDisplayWindow *self = g_object_new (VMD_TYPE_DISPLAY_WINDOW, "type", GTK_WINDOW_TOPLEVEL, NULL);

  self->client = g_object_ref (client);
  if (hotkey)
    {
      gtk_accelerator_parse (hotkey, &self->hotkey_keyval, &self->hotkey_mods);
      self->hotkey_keyval = gdk_keyval_to_lower (self->hotkey_keyval);
    }
  g_signal_connect (client, "changed", G_CALLBACK (on_client_changed), self);
  return self;
}
