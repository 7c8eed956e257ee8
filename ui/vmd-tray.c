/* vmd-tray.c: the status icon and its menu, rebuilt from VmdUiClient on every change.
 *
 * The menu is small (a few VMs and devices), so a rebuild is cheaper to get right than
 * patching items; appindicator sends the new layout to the StatusNotifier host itself. */
#include "vmd-ui-private.h"

#include <libayatana-appindicator/app-indicator.h>

#define ICON_NAME "video-display"
#define ICON_NO_DAEMON "dialog-warning"
/* Shown while the USB router waits for the user's answer. */
#define ICON_ASKING "dialog-question"

struct _VmdTray {
  GObject       parent;
  VmdUiClient  *client;
  AppIndicator *indicator;
  GtkMenu      *menu;
  char         *shown;  /* what the menu shows now (menu_signature) */
};

enum { SIGNAL_OPEN_SWITCHER, SIGNAL_QUIT, SIGNAL_FAILED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (VmdTray, vmd_tray, G_TYPE_OBJECT)

/* ---- actions ---- */

static void
report (VmdTray *self, const char *what, GError *error)
{
  g_autofree char *message = g_strdup_printf ("%s: %s", what, error->message);

  g_warning ("%s", message);
  g_signal_emit (self, signals[SIGNAL_FAILED], 0, message);
}

static void
on_switched (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VmdTray) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!vmd_ui_client_switch_finish (VMD_UI_CLIENT (source), result, &error))
    report (self, "Switch", error);
}

static void
on_switch_activate (GtkMenuItem *item, VmdTray *self)
{
  const char *vm = g_object_get_data (G_OBJECT (item), "vm");

  vmd_ui_client_switch (self->client, vm, NULL, on_switched, g_object_ref (self));
}

static void
on_moved (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(VmdTray) self = user_data;
  g_autoptr(GError) error = NULL;

  if (!vmd_ui_client_move_usb_finish (VMD_UI_CLIENT (source), result, &error))
    report (self, "Move USB device", error);
}

static void
on_move_activate (GtkMenuItem *item, VmdTray *self)
{
  const char *id = g_object_get_data (G_OBJECT (item), "usb");
  const char *vm = g_object_get_data (G_OBJECT (item), "vm");

  vmd_ui_client_move_usb (self->client, id, vm, on_moved, g_object_ref (self));
}

static void
on_open_switcher (GtkMenuItem *item, VmdTray *self)
{
  g_signal_emit (self, signals[SIGNAL_OPEN_SWITCHER], 0);
}

static void
on_quit (GtkMenuItem *item, VmdTray *self)
{
  g_signal_emit (self, signals[SIGNAL_QUIT], 0);
}

/* ---- the menu ---- */

static GtkWidget *
append_item (GtkWidget *menu, const char *label, gboolean sensitive)
{
  GtkWidget *item = gtk_menu_item_new_with_label (label);

  gtk_widget_set_sensitive (item, sensitive);
  gtk_menu_shell_append (GTK_MENU_SHELL (menu), item);
  return item;
}

/* An item that carries its arguments, freed with it. */
static GtkWidget *
append_action (GtkWidget *menu, const char *label, gboolean sensitive, GCallback callback,
               VmdTray *self, const char *usb, const char *vm)
{
  GtkWidget *item = append_item (menu, label, sensitive);

  g_object_set_data_full (G_OBJECT (item), "usb", g_strdup (usb), g_free);
  g_object_set_data_full (G_OBJECT (item), "vm", g_strdup (vm), g_free);
  g_signal_connect (item, "activate", callback, self);
  return item;
}

static void
append_separator (GtkWidget *menu)
{
  gtk_menu_shell_append (GTK_MENU_SHELL (menu), gtk_separator_menu_item_new ());
}

static void
append_vm (VmdTray *self, GtkWidget *menu, const VmdUiVm *vm)
{
  g_autofree char *label = g_strdup_printf ("%s — %s%s", vm->name, vm->state,
                                            vm->on_screen ? ", on screen" : "");
  g_autofree char *action = g_strdup_printf ("Switch to %s", vm->name);
  GtkWidget *item = append_item (menu, label, TRUE);
  GtkWidget *submenu = gtk_menu_new ();

  append_action (submenu, action, g_str_equal (vm->state, "running") && !vm->on_screen,
                 G_CALLBACK (on_switch_activate), self, NULL, vm->name);
  gtk_menu_item_set_submenu (GTK_MENU_ITEM (item), submenu);
}

static void
append_usb (VmdTray *self, GtkWidget *menu, const VmdUiUsb *usb)
{
  GPtrArray *vms = vmd_ui_client_get_vms (self->client);
  const char *where = usb->vm[0] ? usb->vm : "host";
  gboolean settled = g_str_equal (usb->state, "attached") || g_str_equal (usb->state, "host");
  g_autofree char *label = settled ? g_strdup_printf ("%s — %s", usb->label, where)
                                   : g_strdup_printf ("%s — %s, %s", usb->label, where, usb->state);
  GtkWidget *item = append_item (menu, label, TRUE);
  GtkWidget *submenu = gtk_menu_new ();

  append_action (submenu, "Keep on host", usb->vm[0] != '\0', G_CALLBACK (on_move_activate),
                 self, usb->id, "");
  for (guint i = 0; i < vms->len; i++)
    {
      const VmdUiVm *vm = vms->pdata[i];
      g_autofree char *action = NULL;

      if (!g_str_equal (vm->state, "running"))
        continue;
      action = g_strdup_printf ("Move to %s", vm->name);
      append_action (submenu, action, !g_str_equal (vm->name, usb->vm),
                     G_CALLBACK (on_move_activate), self, usb->id, vm->name);
    }
  gtk_menu_item_set_submenu (GTK_MENU_ITEM (item), submenu);
}

/* Everything the menu shows. A rebuild gives every item a new dbusmenu id, so a panel
 * showing the old menu would click ids that are gone: rebuild only when it differs. */
static char *
menu_signature (VmdTray *self)
{
  GPtrArray *vms = vmd_ui_client_get_vms (self->client);
  GPtrArray *usb = vmd_ui_client_get_usb (self->client);
  GString *text = g_string_new (NULL);

  g_string_append_printf (text, "%d|%s|%s\n", vmd_ui_client_has_daemon (self->client),
                          vmd_ui_client_get_on_screen (self->client),
                          vmd_ui_client_get_power_summary (self->client) ?: "");
  for (guint i = 0; i < vms->len; i++)
    {
      const VmdUiVm *vm = vms->pdata[i];

      g_string_append_printf (text, "vm|%s|%s|%d\n", vm->name, vm->state, vm->on_screen);
    }
  for (guint i = 0; i < usb->len; i++)
    {
      const VmdUiUsb *device = usb->pdata[i];

      g_string_append_printf (text, "usb|%s|%s|%s|%s\n", device->id, device->label,
                              device->state, device->vm);
    }
  return g_string_free (text, FALSE);
}

static void
update_icon (VmdTray *self, const char *header)
{
  GPtrArray *usb = vmd_ui_client_get_usb (self->client);
  g_autofree char *title = g_strdup_printf ("vmdesk — %s", header);
  gboolean asking = FALSE;

  for (guint i = 0; i < usb->len && !asking; i++)
    asking = g_str_equal (((VmdUiUsb *) usb->pdata[i])->state, "asking");
  app_indicator_set_title (self->indicator, title);
  app_indicator_set_icon_full (self->indicator,
                               vmd_ui_client_has_daemon (self->client) ? ICON_NAME : ICON_NO_DAEMON,
                               header);
  app_indicator_set_status (self->indicator, asking ? APP_INDICATOR_STATUS_ATTENTION
                                                    : APP_INDICATOR_STATUS_ACTIVE);
}

static void
rebuild_menu (VmdTray *self)
{
  GtkWidget *menu = GTK_WIDGET (self->menu);
  g_autoptr(GList) old = gtk_container_get_children (GTK_CONTAINER (menu));
  GPtrArray *vms = vmd_ui_client_get_vms (self->client);
  GPtrArray *usb = vmd_ui_client_get_usb (self->client);
  const char *on_screen = vmd_ui_client_get_on_screen (self->client);
  const char *power = vmd_ui_client_get_power_summary (self->client);
  g_autofree char *header = NULL;
  g_autofree char *signature = menu_signature (self);

  if (g_strcmp0 (signature, self->shown) == 0)
    return;
  g_free (self->shown);
  self->shown = g_steal_pointer (&signature);
  for (GList *l = old; l; l = l->next)
    gtk_widget_destroy (l->data);

  if (!vmd_ui_client_has_daemon (self->client))
    header = g_strdup ("vmdesk: the daemon is not running");
  else
    header = g_strdup_printf ("On screen: %s", on_screen[0] ? on_screen : "host desktop");
  append_item (menu, header, FALSE);
  append_separator (menu);
  for (guint i = 0; i < vms->len; i++)
    append_vm (self, menu, vms->pdata[i]);
  if (usb->len > 0)
    {
      append_separator (menu);
      append_item (menu, "USB devices", FALSE);
      for (guint i = 0; i < usb->len; i++)
        append_usb (self, menu, usb->pdata[i]);
    }
  if (power)
    {
      append_separator (menu);
      append_item (menu, power, FALSE);
    }
  append_separator (menu);
  append_action (menu, "Show host desktop", on_screen[0] != '\0',
                 G_CALLBACK (on_switch_activate), self, NULL, "");
  g_signal_connect (append_item (menu, "Open switcher", TRUE), "activate",
                    G_CALLBACK (on_open_switcher), self);
  g_signal_connect (append_item (menu, "Quit", TRUE), "activate", G_CALLBACK (on_quit), self);
  gtk_widget_show_all (menu);

  update_icon (self, header);
}

static void
on_client_changed (VmdUiClient *client, VmdTray *self)
{
  rebuild_menu (self);
}

/* ---- object ---- */

static void
vmd_tray_dispose (GObject *object)
{
  VmdTray *self = VMD_TRAY (object);

  if (self->client)
    g_signal_handlers_disconnect_by_data (self->client, self);
  g_clear_object (&self->client);
  g_clear_object (&self->indicator);
  g_clear_pointer (&self->shown, g_free);
  if (self->menu)
    {
      GtkWidget *menu = GTK_WIDGET (g_steal_pointer (&self->menu));

      gtk_widget_destroy (menu);
      g_object_unref (menu);  /* our reference from ref_sink */
    }
  G_OBJECT_CLASS (vmd_tray_parent_class)->dispose (object);
}

static void
vmd_tray_init (VmdTray *self)
{
}

static void
vmd_tray_class_init (VmdTrayClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_tray_dispose;
  signals[SIGNAL_OPEN_SWITCHER] = g_signal_new ("open-switcher", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                G_TYPE_NONE, 0);
  signals[SIGNAL_QUIT] = g_signal_new ("quit", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                       NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_FAILED] = g_signal_new ("failed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

VmdTray *
vmd_tray_new (VmdUiClient *client)
{
  VmdTray *self = g_object_new (VMD_TYPE_TRAY, NULL);

  self->client = g_object_ref (client);
  self->indicator = app_indicator_new ("vmdesk-switcher", ICON_NAME,
                                       APP_INDICATOR_CATEGORY_SYSTEM_SERVICES);
  app_indicator_set_attention_icon_full (self->indicator, ICON_ASKING,
                                         "a USB device waits for your answer");
  self->menu = GTK_MENU (g_object_ref_sink (gtk_menu_new ()));
  rebuild_menu (self);
  app_indicator_set_menu (self->indicator, self->menu);
  g_signal_connect (client, "changed", G_CALLBACK (on_client_changed), self);
  return self;
}
