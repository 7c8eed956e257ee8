/* vmd-switcher.c: the Alt-Tab-like overlay, one card per VM (and one for the host).
 *
 * Thumbnails are the daemon's screenshots. They are fetched only while the overlay is
 * mapped: a hidden switcher has no timer and makes no calls, so it never wakes up. */
#include "vmd-ui-private.h"

#define THUMB_WIDTH 320
#define THUMB_HEIGHT 200
/* Screenshots cannot be pushed by libvirt, so a visible switcher asks for them again
 * this often; the timer exists only while the overlay is mapped. */
#define THUMB_REFRESH_MS 1000

struct _VmdSwitcher {
  GtkWindow     parent;
  VmdUiClient  *client;
  GtkFlowBox   *cards;
  GHashTable   *thumbnails;   /* VM name -> GdkPixbuf, kept across card rebuilds */
  GHashTable   *in_flight;    /* VM names with a Screenshot call out */
  GCancellable *fetching;     /* this opening's calls; cancelled when hidden */
  guint         refresh_id;
  gint64        opened_at;
  GHashTable   *answered;     /* VMs whose Screenshot answered since the overlay opened */
  gboolean      awaiting_first_frame;
  gboolean      first_frame_due;
  gboolean      select_when_loaded;
};

enum { SIGNAL_FAILED, SIGNAL_FIRST_FRAME, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (VmdSwitcher, vmd_switcher, GTK_TYPE_WINDOW)

static const char *switcher_css =
  "window.vmdesk-switcher { background-color: rgba(30, 30, 34, 0.94); border-radius: 12px; }"
  "flowboxchild { padding: 10px; border-radius: 8px; }"
  "flowboxchild:selected { background-color: rgba(80, 140, 230, 0.55); }"
  ".vmdesk-name { color: #ffffff; font-weight: bold; font-size: 13pt; }"
  ".vmdesk-detail { color: #c8c8cc; font-size: 9pt; }";

/* ---- cards ---- */

static char *
devices_of (VmdSwitcher *self, const char *vm)
{
  GPtrArray *usb = vmd_ui_client_get_usb (self->client);
  g_autoptr(GString) text = g_string_new (NULL);

  for (guint i = 0; i < usb->len; i++)
    {
      const VmdUiUsb *device = usb->pdata[i];

      if (!g_str_equal (device->vm, vm) || !g_str_equal (device->state, "attached"))
        continue;
      if (text->len)
        g_string_append (text, ", ");
      g_string_append (text, device->label);
    }
  return g_string_free (g_steal_pointer (&text), FALSE);
}

static void
set_thumbnail (GtkImage *image, GdkPixbuf *pixbuf, const char *fallback_icon)
{
  if (pixbuf)
    gtk_image_set_from_pixbuf (image, pixbuf);
  else
    gtk_image_set_from_icon_name (image, fallback_icon, GTK_ICON_SIZE_DIALOG);
}

static GtkWidget *
card_new (VmdSwitcher *self, const char *vm, const char *title, const char *detail)
{
  GtkWidget *child = gtk_flow_box_child_new ();
  GtkWidget *box = gtk_box_new (GTK_ORIENTATION_VERTICAL, 6);
  GtkWidget *image = gtk_image_new ();
  GtkWidget *name = gtk_label_new (title);
  GtkWidget *info = gtk_label_new (detail);

  gtk_widget_set_size_request (image, THUMB_WIDTH, THUMB_HEIGHT);
  set_thumbnail (GTK_IMAGE (image), g_hash_table_lookup (self->thumbnails, vm),
                 vm[0] ? "video-display" : "user-home");
  gtk_style_context_add_class (gtk_widget_get_style_context (name), "vmdesk-name");
  gtk_style_context_add_class (gtk_widget_get_style_context (info), "vmdesk-detail");
  gtk_label_set_ellipsize (GTK_LABEL (info), PANGO_ELLIPSIZE_END);
  gtk_label_set_max_width_chars (GTK_LABEL (info), 40);
  gtk_box_pack_start (GTK_BOX (box), image, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), name, FALSE, FALSE, 0);
  gtk_box_pack_start (GTK_BOX (box), info, FALSE, FALSE, 0);
  gtk_container_add (GTK_CONTAINER (child), box);
  g_object_set_data_full (G_OBJECT (child), "vm", g_strdup (vm), g_free);
  g_object_set_data (G_OBJECT (child), "image", image);
  return child;
}

static const char *
card_vm (GtkFlowBoxChild *child)
{
  return g_object_get_data (G_OBJECT (child), "vm");
}

static GtkFlowBoxChild *
card_for (VmdSwitcher *self, const char *vm)
{
  for (int i = 0;; i++)
    {
      GtkFlowBoxChild *child = gtk_flow_box_get_child_at_index (self->cards, i);

      if (child == NULL || g_str_equal (card_vm (child), vm))
        return child;
    }
}

static char *
selected_vm (VmdSwitcher *self)
{
  g_autoptr(GList) selected = gtk_flow_box_get_selected_children (self->cards);

  return selected ? g_strdup (card_vm (selected->data)) : NULL;
}

static void
select_card (VmdSwitcher *self, GtkFlowBoxChild *child)
{
  if (child == NULL)
    return;
  gtk_flow_box_select_child (self->cards, child);
  gtk_widget_grab_focus (GTK_WIDGET (child));
}

static void
rebuild_cards (VmdSwitcher *self)
{
  GPtrArray *vms = vmd_ui_client_get_vms (self->client);
  g_autofree char *keep = selected_vm (self);
  g_autoptr(GList) old = gtk_container_get_children (GTK_CONTAINER (self->cards));
  const char *on_screen = vmd_ui_client_get_on_screen (self->client);

  for (GList *l = old; l; l = l->next)
    gtk_widget_destroy (l->data);
  /* A VM that stopped shows its icon, not its last screen. */
  for (guint i = 0; i < vms->len; i++)
    if (!g_str_equal (((VmdUiVm *) vms->pdata[i])->state, "running"))
      g_hash_table_remove (self->thumbnails, ((VmdUiVm *) vms->pdata[i])->name);
  gtk_container_add (GTK_CONTAINER (self->cards),
                     card_new (self, "", "Host desktop",
                               !vmd_ui_client_has_daemon (self->client) ? "vmdeskd is not running"
                               : on_screen[0] ? "" : "on screen"));
  for (guint i = 0; i < vms->len; i++)
    {
      const VmdUiVm *vm = vms->pdata[i];
      g_autofree char *devices = devices_of (self, vm->name);
      g_autofree char *detail = g_strdup_printf ("%s%s%s%s", vm->state,
                                                 vm->on_screen ? ", on screen" : "",
                                                 devices[0] ? " · " : "", devices);

      gtk_container_add (GTK_CONTAINER (self->cards), card_new (self, vm->name, vm->name, detail));
    }
  /* One line of up to four cards: a flow box's window would otherwise take the width of
   * one card and grow downwards. */
  gtk_flow_box_set_min_children_per_line (self->cards, MIN (vms->len + 1, 4));
  gtk_flow_box_set_max_children_per_line (self->cards, MIN (vms->len + 1, 4));
  gtk_widget_show_all (GTK_WIDGET (self->cards));
  if (keep)
    select_card (self, card_for (self, keep));
}

/* ---- thumbnails ---- */

static gboolean
is_running (VmdSwitcher *self, const char *vm)
{
  const VmdUiVm *record = vmd_ui_client_find_vm (self->client, vm);

  return record && g_str_equal (record->state, "running");
}

/* The overlay is complete once the daemon's state is read and every running VM's
 * screenshot has answered (a failed one leaves the card's icon): then the next frame drawn
 * is the first full one. */
static void
check_first_frame (VmdSwitcher *self)
{
  GPtrArray *vms = vmd_ui_client_get_vms (self->client);

  if (!self->awaiting_first_frame || !vmd_ui_client_is_loaded (self->client))
    return;
  for (guint i = 0; i < vms->len; i++)
    {
      const VmdUiVm *vm = vms->pdata[i];

      if (g_str_equal (vm->state, "running") && !g_hash_table_contains (self->answered, vm->name))
        return;
    }
  self->awaiting_first_frame = FALSE;
  self->first_frame_due = TRUE;
  gtk_widget_queue_draw (GTK_WIDGET (self));
}

typedef struct {
  VmdSwitcher *self;
  char        *vm;
} VmRequest;

static void
vm_request_free (VmRequest *request)
{
  g_object_unref (request->self);
  g_free (request->vm);
  g_free (request);
}
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmRequest, vm_request_free)

/* A call about one VM that reaches back into the overlay when it answers. */
static VmRequest *
vm_request_new (VmdSwitcher *self, const char *vm)
{
  VmRequest *request = g_new0 (VmRequest, 1);

  request->self = g_object_ref (self);
  request->vm = g_strdup (vm);
  return request;
}

static void
on_screenshot (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VmRequest) request = user_data;
  VmdSwitcher *self = request->self;
  const char *vm = request->vm;
  g_autoptr(GError) error = NULL;
  g_autoptr(GdkPixbuf) pixbuf = vmd_ui_client_screenshot_finish (VMD_UI_CLIENT (source), result, &error);
  GtkFlowBoxChild *card;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_hash_table_remove (self->in_flight, vm);
  g_hash_table_add (self->answered, g_strdup (vm));
  if (pixbuf == NULL)
    g_debug ("thumbnail of %s: %s", vm, error->message);
  else
    {
      g_hash_table_insert (self->thumbnails, g_strdup (vm), g_object_ref (pixbuf));
      if ((card = card_for (self, vm)))
        set_thumbnail (g_object_get_data (G_OBJECT (card), "image"), pixbuf, "video-display");
    }
  check_first_frame (self);
}

static void
fetch_thumbnails (VmdSwitcher *self)
{
  GPtrArray *vms = vmd_ui_client_get_vms (self->client);

  for (guint i = 0; i < vms->len; i++)
    {
      const VmdUiVm *vm = vms->pdata[i];

      if (!g_str_equal (vm->state, "running") || g_hash_table_contains (self->in_flight, vm->name))
        continue;
      g_hash_table_add (self->in_flight, g_strdup (vm->name));
      vmd_ui_client_screenshot (self->client, vm->name, THUMB_WIDTH, THUMB_HEIGHT,
                                self->fetching, on_screenshot, vm_request_new (self, vm->name));
    }
}

static gboolean
on_refresh (gpointer user_data)
{
  fetch_thumbnails (user_data);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_draw_after (GtkWidget *widget, cairo_t *cr, VmdSwitcher *self)
{
  if (self->first_frame_due)
    {
      self->first_frame_due = FALSE;
      g_debug ("switcher: first frame with every thumbnail %" G_GINT64_FORMAT " µs after opening",
               g_get_monotonic_time () - self->opened_at);
      g_signal_emit (self, signals[SIGNAL_FIRST_FRAME], 0, g_get_monotonic_time ());
    }
  return FALSE;
}

static void
vmd_switcher_map (GtkWidget *widget)
{
  VmdSwitcher *self = VMD_SWITCHER (widget);

  GTK_WIDGET_CLASS (vmd_switcher_parent_class)->map (widget);
  self->fetching = g_cancellable_new ();
  g_hash_table_remove_all (self->answered);
  self->awaiting_first_frame = TRUE;
  fetch_thumbnails (self);
  check_first_frame (self);
  self->refresh_id = g_timeout_add (THUMB_REFRESH_MS, on_refresh, self);
}

/* The overlay was asked for by the user (hotkey, tray): it takes the keyboard once it is
 * viewable. present() alone focuses too early when the window was not mapped yet, and
 * without a window manager nobody focuses it later. */
static gboolean
vmd_switcher_map_event (GtkWidget *widget, GdkEventAny *event)
{
  gdk_window_focus (gtk_widget_get_window (widget), GDK_CURRENT_TIME);
  return GTK_WIDGET_CLASS (vmd_switcher_parent_class)->map_event (widget, event);
}

static void
vmd_switcher_unmap (GtkWidget *widget)
{
  VmdSwitcher *self = VMD_SWITCHER (widget);

  if (self->refresh_id)
    g_source_remove (self->refresh_id);
  self->refresh_id = 0;
  g_cancellable_cancel (self->fetching);
  g_clear_object (&self->fetching);
  g_hash_table_remove_all (self->in_flight);
  GTK_WIDGET_CLASS (vmd_switcher_parent_class)->unmap (widget);
}

/* ---- choosing ---- */

static void
report (VmdSwitcher *self, const char *what, GError *error)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);

  g_warning ("%s", message);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, message);
}

static void
on_switched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VmdSwitcher) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!vmd_ui_client_switch_finish (VMD_UI_CLIENT (source), result, &error))
    report (self, "Switch", error);
}

static void
on_started (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VmRequest) request = user_data;
  g_autoptr(GError) error = NULL;

  if (!vmd_ui_client_start_finish (VMD_UI_CLIENT (source), result, &error))
    report (request->self, "Start", error);
  else
    vmd_ui_client_switch (request->self->client, request->vm, NULL, on_switched,
                          g_object_ref (request->self));
}

static void
choose (VmdSwitcher *self, const char *vm)
{
  gtk_widget_hide (GTK_WIDGET (self));
  if (vm[0] != '\0' && !is_running (self, vm))
    {
      /* A VM that is off is started first, then put on screen. */
      VmRequest *request = vm_request_new (self, vm);

      vmd_ui_client_start (self->client, vm, on_started, request);
      return;
    }
  vmd_ui_client_switch (self->client, vm, NULL, on_switched, g_object_ref (self));
}

static void
on_child_activated (GtkFlowBox *box, GtkFlowBoxChild *child, VmdSwitcher *self)
{
  g_autofree char *vm = g_strdup (card_vm (child));

  choose (self, vm);
}

static gboolean
vmd_switcher_key_press (GtkWidget *widget, GdkEventKey *event)
{
  if (event->keyval == GDK_KEY_Escape)
    {
      gtk_widget_hide (widget);
      return TRUE;
    }
  return GTK_WIDGET_CLASS (vmd_switcher_parent_class)->key_press_event (widget, event);
}

static void
select_after (VmdSwitcher *self, const char *current)
{
  GtkFlowBoxChild *child = card_for (self, current ? current : "");
  int next = child ? gtk_flow_box_child_get_index (child) + 1 : 0;

  if (gtk_flow_box_get_child_at_index (self->cards, next) == NULL)
    next = 0;
  select_card (self, gtk_flow_box_get_child_at_index (self->cards, next));
}

void
vmd_switcher_cycle (VmdSwitcher *self)
{
  g_autofree char *current = NULL;

  if (gtk_widget_get_visible (GTK_WIDGET (self)))
    current = selected_vm (self);
  else
    {
      self->opened_at = g_get_monotonic_time ();
      current = g_strdup (vmd_ui_client_get_on_screen (self->client));
    }
  gtk_window_present (GTK_WINDOW (self));
  select_after (self, current);
  /* Opened before the daemon's VMs were read: choose again once they are. */
  self->select_when_loaded = !vmd_ui_client_is_loaded (self->client);
}

/* ---- object ---- */

static void
on_client_changed (VmdUiClient *client, VmdSwitcher *self)
{
  rebuild_cards (self);
  if (!gtk_widget_get_mapped (GTK_WIDGET (self)))
    return;
  if (self->select_when_loaded && vmd_ui_client_is_loaded (client))
    {
      self->select_when_loaded = FALSE;
      select_after (self, vmd_ui_client_get_on_screen (client));
    }
  /* A VM that started while the overlay is open gets its thumbnail now. */
  fetch_thumbnails (self);
  check_first_frame (self);
}

static void
vmd_switcher_dispose (GObject *object)
{
  VmdSwitcher *self = VMD_SWITCHER (object);

  if (self->client)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  G_OBJECT_CLASS (vmd_switcher_parent_class)->dispose (object);
}

/* The tables outlive dispose: GtkWidget's dispose unmaps a visible overlay, and unmap
 * uses them. */
static void
vmd_switcher_finalize (GObject *object)
{
  VmdSwitcher *self = VMD_SWITCHER (object);

  g_hash_table_unref (self->thumbnails);
  g_hash_table_unref (self->in_flight);
  g_hash_table_unref (self->answered);
  G_OBJECT_CLASS (vmd_switcher_parent_class)->finalize (object);
}

static void
vmd_switcher_init (VmdSwitcher *self)
{
  g_autoptr(GtkCssProvider) css = gtk_css_provider_new ();
  GtkWindow *window = GTK_WINDOW (self);

  self->thumbnails = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_object_unref);
  self->in_flight = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  self->answered = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  gtk_window_set_title (window, "vmdesk switcher");
  gtk_window_set_decorated (window, FALSE);
  gtk_window_set_keep_above (window, TRUE);
  gtk_window_set_skip_taskbar_hint (window, TRUE);
  gtk_window_set_position (window, GTK_WIN_POS_CENTER_ALWAYS);
  gtk_window_set_type_hint (window, GDK_WINDOW_TYPE_HINT_DIALOG);
  gtk_window_set_role (window, "vmdesk-switcher");
  gtk_css_provider_load_from_data (css, switcher_css, -1, NULL);
  gtk_style_context_add_provider_for_screen (gdk_screen_get_default (), GTK_STYLE_PROVIDER (css),
                                             GTK_STYLE_PROVIDER_PRIORITY_APPLICATION);
  gtk_style_context_add_class (gtk_widget_get_style_context (GTK_WIDGET (self)), "vmdesk-switcher");

  self->cards = GTK_FLOW_BOX (gtk_flow_box_new ());
  gtk_flow_box_set_selection_mode (self->cards, GTK_SELECTION_SINGLE);
  gtk_flow_box_set_activate_on_single_click (self->cards, TRUE);
  gtk_flow_box_set_homogeneous (self->cards, TRUE);
  gtk_container_set_border_width (GTK_CONTAINER (self->cards), 16);
  g_signal_connect (self->cards, "child-activated", G_CALLBACK (on_child_activated), self);
  gtk_container_add (GTK_CONTAINER (self), GTK_WIDGET (self->cards));
  g_signal_connect_after (self, "draw", G_CALLBACK (on_draw_after), self);
}

static void
vmd_switcher_class_init (VmdSwitcherClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GtkWidgetClass *widget_class = GTK_WIDGET_CLASS (klass);

  object_class->dispose = vmd_switcher_dispose;
  object_class->finalize = vmd_switcher_finalize;
  widget_class->map = vmd_switcher_map;
  widget_class->unmap = vmd_switcher_unmap;
  widget_class->map_event = vmd_switcher_map_event;
  widget_class->key_press_event = vmd_switcher_key_press;
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_FIRST_FRAME] = g_signal_new ("first-frame", G_TYPE_FROM_CLASS (klass),
                                              G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                              G_TYPE_NONE, 1, G_TYPE_INT64);
}

VmdSwitcher *
vmd_switcher_new (VmdUiClient *client)
{
  VmdSwitcher *self = g_object_new (VMD_TYPE_SWITCHER, "type", GTK_WINDOW_TOPLEVEL, NULL);

  self->client = g_object_ref (client);
  g_signal_connect (client, "changed", G_CALLBACK (on_client_changed), self);
  rebuild_cards (self);
  return self;
}
