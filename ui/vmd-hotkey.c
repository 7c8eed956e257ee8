/* vmd-hotkey.c: one global shortcut, through the GlobalShortcuts portal when the session
 * has it (the only way on Wayland), else a keybinder grab on X11. */
#include "vmdesk-ui.h"

#include <keybinder.h>
#include <string.h>

#define PORTAL_NAME       "org.freedesktop.portal.Desktop"
#define PORTAL_PATH       "/org/freedesktop/portal/desktop"
#define SHORTCUTS_IFACE   "org.freedesktop.portal.GlobalShortcuts"
#define REQUEST_IFACE     "org.freedesktop.portal.Request"
#define SHORTCUT_ID       "vmdesk-switcher"

struct _VmdHotkey {
  GObject          parent;
  char            *accelerator;
  const char      *backend;       /* "portal" | "x11" */
  /* portal */
  GDBusConnection *bus;
  char            *portal;        /* the portal's unique name */
  char            *trigger;       /* accelerator in the shortcuts spec's syntax */
  char            *session;       /* session handle once created */
  guint            response_sub;
  guint            activated_sub;
  GCancellable    *cancel;
  /* x11 */
  gboolean         grabbed;
};

G_DEFINE_TYPE (VmdHotkey, vmd_hotkey, G_TYPE_OBJECT)

enum { SIGNAL_ACTIVATED, N_SIGNALS };
static guint signals[N_SIGNALS];

/* "<Super>Tab" -> "LOGO+Tab": modifiers as xkbcommon names them, keys by keysym name
 * (freedesktop shortcuts specification). */
static char *
accelerator_to_trigger (guint key, GdkModifierType mods)
{
  g_autoptr(GString) trigger = g_string_new (NULL);

  if (mods & GDK_CONTROL_MASK)
    g_string_append (trigger, "CTRL+");
  if (mods & GDK_MOD1_MASK)
    g_string_append (trigger, "ALT+");
  if (mods & GDK_SHIFT_MASK)
    g_string_append (trigger, "SHIFT+");
  if (mods & (GDK_SUPER_MASK | GDK_MOD4_MASK))
    g_string_append (trigger, "LOGO+");
  g_string_append (trigger, gdk_keyval_name (key));
  return g_strdup (trigger->str);
}

static void
emit_activated (VmdHotkey *self)
{
  g_signal_emit (self, signals[SIGNAL_ACTIVATED], 0);
}

/* ---- portal ------------------------------------------------------------------------- */

static void on_response (GDBusConnection *bus, const char *sender, const char *path,
                         const char *interface, const char *signal, GVariant *params,
                         gpointer data);

/* The Request object's path is predictable from our unique name and a token, so we listen
 * before calling: the Response cannot slip past (xdg-desktop-portal's Request pattern). */
static char *
expect_response (VmdHotkey *self, GVariantBuilder *options)
{
  g_autofree char *sender = g_strdup (g_dbus_connection_get_unique_name (self->bus) + 1);
  g_autofree char *token = g_strdup_printf ("vmdesk%u", g_random_int ());
  char *path;

  g_strdelimit (sender, ".", '_');
  path = g_strdup_printf (PORTAL_PATH "/request/%s/%s", sender, token);
  g_variant_builder_add (options, "{sv}", "handle_token", g_variant_new_string (token));
  if (self->response_sub != 0)
    g_dbus_connection_signal_unsubscribe (self->bus, self->response_sub);
  self->response_sub = g_dbus_connection_signal_subscribe (
    self->bus, self->portal, REQUEST_IFACE, "Response", path, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE,
    on_response, self, NULL);
  return path;
}

static void
on_request_sent (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);

  /* A portal older than 0.9 picks its own path; none of those has GlobalShortcuts. */
  if (reply == NULL && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    g_warning ("global shortcut: the portal refused a request: %s", error->message);
}

static void
bind_shortcut (VmdHotkey *self)
{
  GVariantBuilder options, shortcuts, props;
  g_autofree char *path = NULL;

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  path = expect_response (self, &options);
  g_variant_builder_init (&props, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&props, "{sv}", "description",
                         g_variant_new_string ("Show the vmdesk switcher"));
  g_variant_builder_add (&props, "{sv}", "preferred_trigger",
                         g_variant_new_string (self->trigger));
  g_variant_builder_init (&shortcuts, G_VARIANT_TYPE ("a(sa{sv})"));
  g_variant_builder_add (&shortcuts, "(sa{sv})", SHORTCUT_ID, &props);
  g_dbus_connection_call (self->bus, self->portal, PORTAL_PATH, SHORTCUTS_IFACE,
                          "BindShortcuts",
                          g_variant_new ("(oa(sa{sv})sa{sv})", self->session, &shortcuts, "",
                                         &options),
                          G_VARIANT_TYPE ("(o)"), G_DBUS_CALL_FLAGS_NONE, -1, self->cancel,
                          on_request_sent, NULL);
}

static void
on_response (GDBusConnection *bus, const char *sender, const char *path,
             const char *interface, const char *signal, GVariant *params, gpointer data)
{
  VmdHotkey *self = data;
  g_autoptr(GVariant) results = NULL;
  const char *session = NULL;
  guint32 response;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(ua{sv})")))
    return;
  g_dbus_connection_signal_unsubscribe (bus, self->response_sub);
  self->response_sub = 0;
  g_variant_get (params, "(u@a{sv})", &response, &results);
  if (response != 0)
    {
      /* 1: the user cancelled the dialog; 2: the portal failed. */
      g_warning ("global shortcut %s: the portal answered %u (%s)", self->accelerator,
                 response, response == 1 ? "cancelled" : "failed");
      return;
    }
  if (self->session != NULL)
    {
      g_debug ("global shortcut %s bound through the portal", self->accelerator);
      return;
    }
  /* session_handle is documented as "s" but is an object path; accept either. */
  if (!g_variant_lookup (results, "session_handle", "&s", &session)
      && !g_variant_lookup (results, "session_handle", "&o", &session))
    {
      g_warning ("global shortcut: the portal created a session without a handle");
      return;
    }
  if (!g_variant_is_object_path (session))
    {
      g_warning ("global shortcut: the portal's session handle is not an object path");
      return;
    }
  self->session = g_strdup (session);
  bind_shortcut (self);
}

static void
on_activated (GDBusConnection *bus, const char *sender, const char *path,
              const char *interface, const char *signal, GVariant *params, gpointer data)
{
  VmdHotkey *self = data;
  const char *session, *id;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(osta{sv})")))
    return;
  g_variant_get (params, "(&o&sta{sv})", &session, &id, NULL, NULL);
  if (g_strcmp0 (session, self->session) == 0 && g_str_equal (id, SHORTCUT_ID))
    emit_activated (self);
}

static gboolean
use_portal (VmdHotkey *self, GDBusConnection *bus, GError **error)
{
  g_autoptr(GVariant) version = NULL;
  g_autoptr(GVariant) owner = NULL;
  g_autofree char *session_token = g_strdup_printf ("vmdesk%u", g_random_int ());
  g_autofree char *path = NULL;
  GVariantBuilder options;

  /* Only a portal that knows the interface answers its version; this also starts
   * xdg-desktop-portal if it is activatable and not running yet. */
  version = g_dbus_connection_call_sync (bus, PORTAL_NAME, PORTAL_PATH,
                                         "org.freedesktop.DBus.Properties", "Get",
                                         g_variant_new ("(ss)", SHORTCUTS_IFACE, "version"),
                                         G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                         NULL, error);
  if (version == NULL)
    return FALSE;
  owner = g_dbus_connection_call_sync (bus, "org.freedesktop.DBus", "/org/freedesktop/DBus",
                                       "org.freedesktop.DBus", "GetNameOwner",
                                       g_variant_new ("(s)", PORTAL_NAME),
                                       G_VARIANT_TYPE ("(s)"), G_DBUS_CALL_FLAGS_NONE, -1,
                                       NULL, error);
  if (owner == NULL)
    return FALSE;

  self->bus = g_object_ref (bus);
  g_variant_get (owner, "(s)", &self->portal);
  self->cancel = g_cancellable_new ();
  /* The portal's unique name as sender: nobody else can fake an activation. */
  self->activated_sub = g_dbus_connection_signal_subscribe (
    bus, self->portal, SHORTCUTS_IFACE, "Activated", PORTAL_PATH, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_activated, self, NULL);

  g_variant_builder_init (&options, G_VARIANT_TYPE_VARDICT);
  path = expect_response (self, &options);
  g_variant_builder_add (&options, "{sv}", "session_handle_token",
                         g_variant_new_string (session_token));
  g_dbus_connection_call (bus, self->portal, PORTAL_PATH, SHORTCUTS_IFACE, "CreateSession",
                          g_variant_new ("(a{sv})", &options), G_VARIANT_TYPE ("(o)"),
                          G_DBUS_CALL_FLAGS_NONE, -1, self->cancel, on_request_sent, NULL);
  self->backend = "portal";
  return TRUE;
}

/* ---- X11 ---------------------------------------------------------------------------- */

static void
on_key (const char *keystring, void *data)
{
  emit_activated (data);
}

static gboolean
use_x11 (VmdHotkey *self, GError **error)
{
  if (gdk_display_get_default () == NULL || !keybinder_supported ())
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "the display is not X11 (or GTK has no display)");
      return FALSE;
    }
  keybinder_init ();
  if (!keybinder_bind (self->accelerator, on_key, self))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_EXISTS,
                   "could not grab %s on X11 (does another application hold it?)",
                   self->accelerator);
      return FALSE;
    }
  self->grabbed = TRUE;
  self->backend = "x11";
  return TRUE;
}

/* ---- object ------------------------------------------------------------------------- */

VmdHotkey *
vmd_hotkey_new (const char *accelerator, GDBusConnection *session_bus, GError **error)
{
  g_autoptr(VmdHotkey) self = NULL;
  g_autoptr(GError) portal_error = NULL;
  g_autoptr(GError) x11_error = NULL;
  guint key = 0;
  GdkModifierType mods = 0;

  g_return_val_if_fail (accelerator != NULL, NULL);
  g_return_val_if_fail (session_bus == NULL || G_IS_DBUS_CONNECTION (session_bus), NULL);

  gtk_accelerator_parse (accelerator, &key, &mods);
  if (key == 0)
    {
      g_autofree char *escaped = g_strescape (accelerator, NULL);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "\"%s\" is not a keyboard shortcut in GTK's syntax (\"<Super>Tab\")",
                   escaped);
      return NULL;
    }
  self = g_object_new (VMD_TYPE_HOTKEY, NULL);
  self->accelerator = g_strdup (accelerator);
  self->trigger = accelerator_to_trigger (key, mods);

  if (session_bus == NULL)
    portal_error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no session bus");
  else if (use_portal (self, session_bus, &portal_error))
    return g_steal_pointer (&self);
  if (use_x11 (self, &x11_error))
    return g_steal_pointer (&self);

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
               "no way to bind the global shortcut %s: GlobalShortcuts portal: %s; X11: %s",
               accelerator, portal_error->message, x11_error->message);
  return NULL;
}

const char *
vmd_hotkey_get_backend (VmdHotkey *self)
{
  g_return_val_if_fail (VMD_IS_HOTKEY (self), NULL);
  return self->backend;
}

static void
vmd_hotkey_dispose (GObject *object)
{
  VmdHotkey *self = VMD_HOTKEY (object);

  if (self->grabbed)
    keybinder_unbind (self->accelerator, on_key);
  self->grabbed = FALSE;
  if (self->bus != NULL)
    {
      if (self->response_sub != 0)
        g_dbus_connection_signal_unsubscribe (self->bus, self->response_sub);
      if (self->activated_sub != 0)
        g_dbus_connection_signal_unsubscribe (self->bus, self->activated_sub);
      self->response_sub = self->activated_sub = 0;
      /* Closing the session releases the shortcut in the compositor. */
      if (self->session != NULL)
        g_dbus_connection_call (self->bus, self->portal, self->session,
                                "org.freedesktop.portal.Session", "Close", NULL, NULL,
                                G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
    }
  g_cancellable_cancel (self->cancel);
  g_clear_object (&self->cancel);
  g_clear_object (&self->bus);
  G_OBJECT_CLASS (vmd_hotkey_parent_class)->dispose (object);
}

static void
vmd_hotkey_finalize (GObject *object)
{
  VmdHotkey *self = VMD_HOTKEY (object);

  g_free (self->accelerator);
  g_free (self->portal);
  g_free (self->trigger);
  g_free (self->session);
  G_OBJECT_CLASS (vmd_hotkey_parent_class)->finalize (object);
}

static void
vmd_hotkey_class_init (VmdHotkeyClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vmd_hotkey_dispose;
  object_class->finalize = vmd_hotkey_finalize;
  signals[SIGNAL_ACTIVATED] = g_signal_new ("activated", G_TYPE_FROM_CLASS (klass),
                                            G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                            G_TYPE_NONE, 0);
}

static void
vmd_hotkey_init (VmdHotkey *self)
{
}
