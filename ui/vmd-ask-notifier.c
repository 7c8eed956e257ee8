/* vmd-ask-notifier.c: "where does this USB device go?" as a desktop notification
 * (org.freedesktop.Notifications, spoken over GDBus directly so that we see exactly which
 * signals arrive from whom). */
#include "vmdesk-ui.h"

#include <string.h>

#define NOTIFY_NAME      "org.freedesktop.Notifications"
#define NOTIFY_PATH      "/org/freedesktop/Notifications"
#define NOTIFY_INTERFACE "org.freedesktop.Notifications"

#define CLOSED_EXPIRED   1
#define CLOSED_DISMISSED 2

/* Action keys carry an index, never a VM name: a key from the server is then either one
 * of ours, parsed strictly, or ignored. */
#define ACTION_ATTACH    "attach-"
#define ACTION_KEEP      "keep-host"
#define ACTION_REMEMBER  "remember"

/* USB descriptor strings may be 4 KiB of anything; a notification shows a line. */
#define LABEL_MAX_CHARS  96

typedef struct {
  VmdAskNotifier *owner;        /* not a reference: the notifier drops prompts first */
  char      *id;
  char      *label;             /* valid UTF-8, one line, bounded */
  GStrv      candidates;
  gint64     deadline;          /* g_get_monotonic_time () µs when the daemon stops asking */
  gboolean   remember;          /* "Remember…" was chosen: the next VM choice sticks */
  guint32    notification;      /* the server's id; 0 while not shown */
  guint32    replaces;          /* the id a "Remember…" re-show replaces */
  gboolean   in_flight;         /* a Notify call is out */
  gboolean   dirty;             /* changed while in flight: notify again on its reply */
  gboolean   gone;              /* answered or withdrawn; a late Notify reply closes it */
} Prompt;

struct _VmdAskNotifier {
  GObject          parent;
  GDBusConnection *bus;
  guint            watch;
  char            *server;      /* unique name of the notification server; NULL if none */
  gboolean         server_ready;/* its capabilities are known */
  gboolean         body_markup;
  GCancellable    *server_cancel;
  guint            action_sub;
  guint            closed_sub;
  GHashTable      *prompts;     /* device id -> Prompt (owned, refcounted) */
  GHashTable      *shown;       /* notification id -> Prompt (borrowed) */
};

G_DEFINE_TYPE (VmdAskNotifier, vmd_ask_notifier, G_TYPE_OBJECT)

enum { SIGNAL_ANSWERED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void notify_prompt (VmdAskNotifier *self, Prompt *prompt);

static void
prompt_clear (Prompt *prompt)
{
  g_free (prompt->id);
  g_free (prompt->label);
  g_strfreev (prompt->candidates);
}

static Prompt *
prompt_ref (Prompt *prompt)
{
  return g_rc_box_acquire (prompt);
}

static void
prompt_unref (Prompt *prompt)
{
  g_rc_box_release_full (prompt, (GDestroyNotify) prompt_clear);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (Prompt, prompt_unref)

/* Valid UTF-8 on one line, at most LABEL_MAX_CHARS characters. */
static char *
sanitize_label (const char *raw)
{
  g_autofree char *valid = g_utf8_make_valid (raw != NULL ? raw : "", -1);
  g_autoptr(GString) out = g_string_new (NULL);
  const char *p = valid;

  for (guint n = 0; *p != '\0' && n < LABEL_MAX_CHARS; p = g_utf8_next_char (p), n++)
    {
      gunichar c = g_utf8_get_char (p);

      if (g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029)
        c = ' ';
      g_string_append_unichar (out, c);
    }
  if (*p != '\0')
    g_string_append (out, "…");
  g_strstrip (out->str);
  if (out->str[0] == '\0')
    return g_strdup ("Unnamed USB device");
  return g_strdup (out->str);
}

static char *
format_body (VmdAskNotifier *self, Prompt *prompt)
{
  g_autofree char *label = self->body_markup ? g_markup_escape_text (prompt->label, -1)
                                             : g_strdup (prompt->label);

  if (prompt->remember)
    return g_strdup_printf ("%s: choose a VM and vmdesk will remember it for this device.",
                            label);
  return g_strdup_printf ("%s was plugged in. Where should it go?", label);
}

static GVariant *
build_actions (Prompt *prompt)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; prompt->candidates[i] != NULL; i++)
    {
      g_autofree char *key = g_strdup_printf (ACTION_ATTACH "%u", i);
      g_autofree char *label = g_strdup_printf ("Attach to %s", prompt->candidates[i]);

      g_variant_builder_add (&b, "s", key);
      g_variant_builder_add (&b, "s", label);
    }
  g_variant_builder_add (&b, "s", ACTION_KEEP);
  g_variant_builder_add (&b, "s", "Keep on host");
  if (!prompt->remember && prompt->candidates[0] != NULL)
    {
      g_variant_builder_add (&b, "s", ACTION_REMEMBER);
      g_variant_builder_add (&b, "s", "Remember…");
    }
  return g_variant_builder_end (&b);
}

static void
forget_notification (VmdAskNotifier *self, Prompt *prompt)
{
  if (prompt->notification != 0)
    g_hash_table_remove (self->shown, GUINT_TO_POINTER (prompt->notification));
  prompt->notification = 0;
}

static void
close_notification (VmdAskNotifier *self, guint32 notification)
{
  if (self->server == NULL || notification == 0)
    return;
  /* The server answers an error if it already closed it; nothing to do either way. */
  g_dbus_connection_call (self->bus, self->server, NOTIFY_PATH, NOTIFY_INTERFACE,
                          "CloseNotification", g_variant_new ("(u)", notification), NULL,
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
}

/* The prompt leaves the table before "answered" runs, so a handler that shows or
 * withdraws the same id again sees a clean state and the answer cannot repeat. */
static Prompt *
take_prompt (VmdAskNotifier *self, Prompt *prompt)
{
  Prompt *taken = prompt_ref (prompt);

  forget_notification (self, prompt);
  prompt->gone = TRUE;
  /* A Notify still out may answer after the notifier is gone: it must not find it. */
  prompt->owner = NULL;
  g_hash_table_remove (self->prompts, prompt->id);
  return taken;
}

static void
answer (VmdAskNotifier *self, Prompt *prompt, const char *vm, gboolean remember)
{
  g_autoptr(Prompt) taken = take_prompt (self, prompt);

  g_signal_emit (self, signals[SIGNAL_ANSWERED], 0, taken->id, vm, remember);
}

static void
on_notified (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(Prompt) prompt = data;
  VmdAskNotifier *self = prompt->owner;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  guint32 notification = 0;

  prompt->in_flight = FALSE;
  prompt->replaces = 0;
  if (self == NULL)
    {
      /* The notifier is gone: take its prompt off the screen. */
      if (reply != NULL)
        {
          g_variant_get (reply, "(u)", &notification);
          g_dbus_connection_call (G_DBUS_CONNECTION (source), NOTIFY_NAME, NOTIFY_PATH,
                                  NOTIFY_INTERFACE, "CloseNotification",
                                  g_variant_new ("(u)", notification), NULL,
                                  G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, NULL, NULL);
        }
      return;
    }
  if (reply == NULL)
    {
      /* The server went away or refused; if a new one comes, it gets the prompt. */
      g_autofree char *id = g_strescape (prompt->id, NULL);
      g_message ("could not show the prompt for USB device %s: %s", id, error->message);
      return;
    }
  g_variant_get (reply, "(u)", &notification);
  if (prompt->gone)
    {
      close_notification (self, notification);
      return;
    }
  if (notification == 0)
    return;
  if (notification != prompt->notification)
    {
      forget_notification (self, prompt);
      prompt->notification = notification;
      g_hash_table_insert (self->shown, GUINT_TO_POINTER (notification), prompt);
    }
  if (prompt->dirty)
    notify_prompt (self, prompt);
}

static void
notify_prompt (VmdAskNotifier *self, Prompt *prompt)
{
  gint64 remaining_ms = (prompt->deadline - g_get_monotonic_time ()) / 1000;
  g_autofree char *body = NULL;
  GVariantBuilder hints;

  if (prompt->in_flight)
    {
      prompt->dirty = TRUE;
      return;
    }
  if (self->server == NULL || !self->server_ready)
    return; /* shown when a server appears */
  if (remaining_ms <= 0)
    {
      /* The daemon has stopped asking: the device stayed on the host. */
      prompt_unref (take_prompt (self, prompt));
      return;
    }
  prompt->dirty = FALSE;
  prompt->in_flight = TRUE;
  body = format_body (self, prompt);
  g_variant_builder_init (&hints, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&hints, "{sv}", "category", g_variant_new_string ("device.added"));
  g_variant_builder_add (&hints, "{sv}", "urgency", g_variant_new_byte (1));
  g_dbus_connection_call (self->bus, self->server, NOTIFY_PATH, NOTIFY_INTERFACE, "Notify",
                          g_variant_new ("(susss@asa{sv}i)", "vmdesk",
                                         prompt->notification != 0 ? prompt->notification
                                                                   : prompt->replaces,
                                         "drive-removable-media-usb",
                                         prompt->remember ? "Remember where this device goes"
                                                          : "New USB device",
                                         body, build_actions (prompt), &hints,
                                         (gint32) MIN (remaining_ms, G_MAXINT32)),
                          G_VARIANT_TYPE ("(u)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL,
                          on_notified, prompt_ref (prompt));
}

static void
on_action_invoked (GDBusConnection *bus, const char *sender, const char *path,
                   const char *interface, const char *signal, GVariant *params,
                   gpointer data)
{
  VmdAskNotifier *self = data;
  guint32 notification;
  const char *key;
  Prompt *prompt;
  guint64 index;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(us)")))
    return;
  g_variant_get (params, "(u&s)", &notification, &key);
  prompt = g_hash_table_lookup (self->shown, GUINT_TO_POINTER (notification));
  if (prompt == NULL)
    return; /* another application's notification */

  if (g_str_equal (key, ACTION_KEEP))
    answer (self, prompt, "", FALSE);
  else if (g_str_equal (key, ACTION_REMEMBER) && !prompt->remember)
    {
      /* The server may close the old notification after this action; its
       * NotificationClosed must not read as a dismissal, so the old id is forgotten until
       * the server tells us the id of the replacement. */
      prompt->replaces = prompt->notification;
      forget_notification (self, prompt);
      prompt->remember = TRUE;
      notify_prompt (self, prompt);
    }
  else if (prompt->candidates[0] != NULL && g_str_has_prefix (key, ACTION_ATTACH)
           && g_ascii_string_to_unsigned (key + strlen (ACTION_ATTACH), 10, 0,
                                          g_strv_length (prompt->candidates) - 1, &index,
                                          NULL))
    answer (self, prompt, prompt->candidates[index], prompt->remember);
  else
    {
      g_autofree char *escaped = g_strescape (key, NULL);
      g_debug ("ignoring unknown action \"%s\" on notification %u", escaped, notification);
    }
}

static void
on_notification_closed (GDBusConnection *bus, const char *sender, const char *path,
                        const char *interface, const char *signal, GVariant *params,
                        gpointer data)
{
  VmdAskNotifier *self = data;
  guint32 notification, reason;
  Prompt *prompt;

  if (!g_variant_is_of_type (params, G_VARIANT_TYPE ("(uu)")))
    return;
  g_variant_get (params, "(uu)", &notification, &reason);
  prompt = g_hash_table_lookup (self->shown, GUINT_TO_POINTER (notification));
  if (prompt == NULL)
    return;
  if (reason == CLOSED_DISMISSED)
    answer (self, prompt, "", FALSE);
  else
    {
      /* Expired, or closed by someone: the daemon's timeout keeps the device on the host. */
      prompt_unref (take_prompt (self, prompt));
    }
}

static void
unsubscribe (VmdAskNotifier *self)
{
  if (self->action_sub != 0)
    g_dbus_connection_signal_unsubscribe (self->bus, self->action_sub);
  if (self->closed_sub != 0)
    g_dbus_connection_signal_unsubscribe (self->bus, self->closed_sub);
  self->action_sub = self->closed_sub = 0;
}

static void
on_capabilities (GObject *source, GAsyncResult *res, gpointer data)
{
  VmdAskNotifier *self = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res,
                                                             &error);
  g_autoptr(GPtrArray) waiting = g_ptr_array_new_with_free_func ((GDestroyNotify) prompt_unref);
  GHashTableIter iter;
  Prompt *prompt;
  g_autofree const char **caps = NULL;

  if (reply == NULL && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply != NULL)
    {
      g_variant_get (reply, "(^a&s)", &caps);
      self->body_markup = g_strv_contains (caps, "body-markup");
    }
  else
    self->body_markup = FALSE; /* plain text is safe on every server */
  self->server_ready = TRUE;

  /* notify_prompt may drop expired prompts from the table: walk a copy. */
  g_hash_table_iter_init (&iter, self->prompts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &prompt))
    g_ptr_array_add (waiting, prompt_ref (prompt));
  for (guint i = 0; i < waiting->len; i++)
    {
      prompt = waiting->pdata[i];
      if (!prompt->gone && prompt->notification == 0)
        notify_prompt (self, prompt);
    }
}

static void
on_server_appeared (GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
  VmdAskNotifier *self = data;

  g_free (self->server);
  self->server = g_strdup (owner);
  self->server_ready = FALSE;
  unsubscribe (self);
  /* A unique name as sender: signals from anyone but this server never reach us. */
  self->action_sub = g_dbus_connection_signal_subscribe (
    bus, owner, NOTIFY_INTERFACE, "ActionInvoked", NOTIFY_PATH, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_action_invoked, self, NULL);
  self->closed_sub = g_dbus_connection_signal_subscribe (
    bus, owner, NOTIFY_INTERFACE, "NotificationClosed", NOTIFY_PATH, NULL,
    G_DBUS_SIGNAL_FLAGS_NONE, on_notification_closed, self, NULL);
  g_cancellable_cancel (self->server_cancel);
  g_clear_object (&self->server_cancel);
  self->server_cancel = g_cancellable_new ();
  g_dbus_connection_call (bus, owner, NOTIFY_PATH, NOTIFY_INTERFACE, "GetCapabilities", NULL,
                          G_VARIANT_TYPE ("(as)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          self->server_cancel, on_capabilities, self);
}

static void
on_server_vanished (GDBusConnection *bus, const char *name, gpointer data)
{
  VmdAskNotifier *self = data;
  GHashTableIter iter;
  Prompt *prompt;

  /* Its notifications died with it; a new server is given the prompts still wanted. */
  g_clear_pointer (&self->server, g_free);
  self->server_ready = FALSE;
  unsubscribe (self);
  g_cancellable_cancel (self->server_cancel);
  g_clear_object (&self->server_cancel);
  g_hash_table_remove_all (self->shown);
  g_hash_table_iter_init (&iter, self->prompts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &prompt))
    prompt->notification = 0;
}

VmdAskNotifier *
vmd_ask_notifier_new (GDBusConnection *session_bus)
{
  VmdAskNotifier *self = g_object_new (VMD_TYPE_ASK_NOTIFIER, NULL);

  g_return_val_if_fail (G_IS_DBUS_CONNECTION (session_bus), self);
  self->bus = g_object_ref (session_bus);
  /* AUTO_START: desktops start their notification server on demand. */
  self->watch = g_bus_watch_name_on_connection (session_bus, NOTIFY_NAME,
                                                G_BUS_NAME_WATCHER_FLAGS_AUTO_START,
                                                on_server_appeared, on_server_vanished,
                                                self, NULL);
  return self;
}

void
vmd_ask_notifier_show (VmdAskNotifier *self, const char *id, const char *label,
                       const char *const *candidates, guint timeout_ms)
{
  Prompt *prompt;
  GPtrArray *names;

  g_return_if_fail (VMD_IS_ASK_NOTIFIER (self));
  g_return_if_fail (id != NULL);

  prompt = g_hash_table_lookup (self->prompts, id);
  if (prompt == NULL)
    {
      prompt = g_rc_box_new0 (Prompt);
      prompt->owner = self;
      prompt->id = g_strdup (id);
      g_hash_table_insert (self->prompts, prompt->id, prompt);
    }
  g_free (prompt->label);
  prompt->label = sanitize_label (label);
  names = g_ptr_array_new ();
  for (guint i = 0; candidates != NULL && candidates[i] != NULL; i++)
    g_ptr_array_add (names, g_utf8_make_valid (candidates[i], -1));
  g_ptr_array_add (names, NULL);
  g_strfreev (prompt->candidates);
  prompt->candidates = (GStrv) g_ptr_array_free (names, FALSE);
  prompt->deadline = g_get_monotonic_time () + (gint64) timeout_ms * 1000;
  prompt->remember = FALSE;
  notify_prompt (self, prompt);
}

void
vmd_ask_notifier_withdraw (VmdAskNotifier *self, const char *id)
{
  Prompt *prompt;
  guint32 notification;

  g_return_if_fail (VMD_IS_ASK_NOTIFIER (self));

  prompt = g_hash_table_lookup (self->prompts, id);
  if (prompt == NULL)
    return;
  notification = prompt->notification;
  prompt_unref (take_prompt (self, prompt));
  close_notification (self, notification);
}

static void
vmd_ask_notifier_dispose (GObject *object)
{
  VmdAskNotifier *self = VMD_ASK_NOTIFIER (object);
  GHashTableIter iter;
  Prompt *prompt;

  /* A Notify still in flight holds its prompt, not the notifier. */
  g_hash_table_iter_init (&iter, self->prompts);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &prompt))
    {
      prompt->gone = TRUE;
      prompt->owner = NULL;
    }
  g_hash_table_remove_all (self->shown);
  g_hash_table_remove_all (self->prompts);
  if (self->watch != 0)
    g_bus_unwatch_name (self->watch);
  self->watch = 0;
  if (self->bus != NULL)
    unsubscribe (self);
  g_cancellable_cancel (self->server_cancel);
  g_clear_object (&self->server_cancel);
  g_clear_object (&self->bus);
  G_OBJECT_CLASS (vmd_ask_notifier_parent_class)->dispose (object);
}

static void
vmd_ask_notifier_finalize (GObject *object)
{
  VmdAskNotifier *self = VMD_ASK_NOTIFIER (object);

  g_hash_table_unref (self->shown);
  g_hash_table_unref (self->prompts);
  g_free (self->server);
  G_OBJECT_CLASS (vmd_ask_notifier_parent_class)->finalize (object);
}

static void
vmd_ask_notifier_class_init (VmdAskNotifierClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vmd_ask_notifier_dispose;
  object_class->finalize = vmd_ask_notifier_finalize;
  signals[SIGNAL_ANSWERED] =
    g_signal_new ("answered", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0, NULL, NULL,
                  NULL, G_TYPE_NONE, 3, G_TYPE_STRING, G_TYPE_STRING, G_TYPE_BOOLEAN);
}

static void
vmd_ask_notifier_init (VmdAskNotifier *self)
{
  self->prompts = g_hash_table_new_full (g_str_hash, g_str_equal, NULL,
                                         (GDestroyNotify) prompt_unref);
  self->shown = g_hash_table_new (g_direct_hash, g_direct_equal);
}
