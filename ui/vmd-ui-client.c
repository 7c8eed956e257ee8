/* vmd-ui-client.c: vmdeskd's state as the switcher sees it, kept current from its signals.
 *
 * Everything the daemon sends is read defensively (types checked, strings bounded), and
 * the model starts from scratch whenever the daemon's name gets a new owner: a restarted
 * daemon is read again in full, never merged with what the old one said. */
#include "vmdesk-ui.h"
#include "vmd-ui-private.h"

#include <gio/gunixfdlist.h>

#include "vmdesk-common.h"

#define MANAGER_NAME "org.vmdesk.Manager1"
#define MANAGER_PATH "/org/vmdesk/Manager1"
#define MANAGER_IFACE "org.vmdesk.Manager1"
/* Calls that may wait for a polkit password prompt. */
#define INTERACTIVE_TIMEOUT_MS (5 * 60 * 1000)
#define ASK_TIMEOUT_UNKNOWN_MS (60 * 1000)

struct _VmdUiClient {
  GObject          parent;
  GDBusConnection *bus;
  guint            watch_id;
  guint            signal_id;
  GCancellable    *reading;     /* the current owner's reads; cancelled when it goes */
  gboolean         has_daemon;
  guint            reads_pending; /* the full read after the daemon appeared */
  char            *owner;       /* the daemon's unique name: signals only from it */
  GPtrArray       *vms;         /* VmdUiVm, sorted by name */
  GPtrArray       *usb;         /* VmdUiUsb, sorted by id */
  char            *on_screen;
  char            *power_summary;
};

enum { SIGNAL_CHANGED, SIGNAL_ASK, SIGNAL_ASK_DONE, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (VmdUiClient, vmd_ui_client, G_TYPE_OBJECT)

/* ---- the model ---- */

static gint
compare_vm (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(VmdUiVm *const *) a)->name, (*(VmdUiVm *const *) b)->name);
}

static gint
compare_usb (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(VmdUiUsb *const *) a)->id, (*(VmdUiUsb *const *) b)->id);
}

static guint
find_vm_index (VmdUiClient *self, const char *name)
{
  for (guint i = 0; i < self->vms->len; i++)
    if (g_str_equal (((VmdUiVm *) self->vms->pdata[i])->name, name))
      return i;
  return G_MAXUINT;
}

static guint
find_usb_index (VmdUiClient *self, const char *id)
{
  for (guint i = 0; i < self->usb->len; i++)
    if (g_str_equal (((VmdUiUsb *) self->usb->pdata[i])->id, id))
      return i;
  return G_MAXUINT;
}

static void
emit_changed (VmdUiClient *self)
{
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
}

static void
upsert_vm (VmdUiClient *self, VmdUiVm *vm)
{
  guint i = find_vm_index (self, vm->name);

  /* The record's on-screen flag can be older than a FocusChanged already seen. */
  vm->on_screen = g_strcmp0 (vm->name, self->on_screen) == 0;
  if (i != G_MAXUINT)
    g_ptr_array_remove_index (self->vms, i);
  g_ptr_array_add (self->vms, vm);
  g_ptr_array_sort (self->vms, compare_vm);
}

static void
upsert_usb (VmdUiClient *self, VmdUiUsb *usb)
{
  guint i = find_usb_index (self, usb->id);
  gboolean was_asking = FALSE;

  if (i != G_MAXUINT)
    {
      was_asking = g_str_equal (((VmdUiUsb *) self->usb->pdata[i])->state, "asking");
      g_ptr_array_remove_index (self->usb, i);
    }
  g_ptr_array_add (self->usb, usb);
  g_ptr_array_sort (self->usb, compare_usb);
  if (was_asking && !g_str_equal (usb->state, "asking"))
    g_signal_emit (self, signals[SIGNAL_ASK_DONE], 0, usb->id);
}

static void
set_on_screen (VmdUiClient *self, const char *name)
{
  g_free (self->on_screen);
  self->on_screen = vmd_ui_text_bounded (name, 256);
  for (guint i = 0; i < self->vms->len; i++)
    {
      VmdUiVm *vm = self->vms->pdata[i];
      vm->on_screen = g_str_equal (vm->name, self->on_screen);
    }
}

static void
set_power (VmdUiClient *self, GVariant *summary)
{
  g_free (self->power_summary);
  self->power_summary = vmd_ui_power_summary (summary);
}

/* ---- reading the daemon ---- */

typedef void (*ReplyHandler) (VmdUiClient *self, GVariant *reply);

static void
on_read_reply (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  VmdUiClient *self = g_task_get_source_object (task);
  ReplyHandler handler = g_task_get_task_data (task);

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self->reads_pending--;
  if (reply == NULL)
    g_warning ("vmdeskd: %s", error->message);
  else
    handler (self, reply);
  if (self->reads_pending == 0)
    g_debug ("vmdeskd read: %u VMs, %u USB devices, on screen \"%s\"", self->vms->len,
             self->usb->len, self->on_screen);
  emit_changed (self);
}

static void
read_from_daemon (VmdUiClient *self, const char *method, const char *reply_type,
                  ReplyHandler handler)
{
  GTask *task = g_task_new (self, self->reading, NULL, NULL);

  self->reads_pending++;
  g_task_set_task_data (task, handler, NULL);
  g_dbus_connection_call (self->bus, MANAGER_NAME, MANAGER_PATH, MANAGER_IFACE, method, NULL,
                          G_VARIANT_TYPE (reply_type), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          self->reading, on_read_reply, task);
}

/* The questions of a daemon that went (or was read again) are not asked any more; the
 * daemon that answers now asks again for what is still pending. */
static void
withdraw_asks (VmdUiClient *self)
{
  for (guint i = 0; i < self->usb->len; i++)
    {
      const VmdUiUsb *usb = self->usb->pdata[i];

      if (g_str_equal (usb->state, "asking"))
        g_signal_emit (self, signals[SIGNAL_ASK_DONE], 0, usb->id);
    }
}

/* candidates: the signal's, or (NULL) the record's "candidates" key. */
static void
emit_ask_with (VmdUiClient *self, const VmdUiUsb *usb, const char *const *raw, guint timeout_ms)
{
  g_autoptr(GPtrArray) candidates = g_ptr_array_new_with_free_func (g_free);

  for (guint i = 0; raw && raw[i] && candidates->len < 16; i++)
    if (vmd_vm_name_validate (raw[i], NULL))
      g_ptr_array_add (candidates, g_strdup (raw[i]));
  g_ptr_array_add (candidates, NULL);
  g_signal_emit (self, signals[SIGNAL_ASK], 0, usb->id, usb->label,
                 (char **) candidates->pdata, timeout_ms);
}

static void
emit_ask (VmdUiClient *self, const VmdUiUsb *usb, GVariant *record, guint timeout_ms)
{
  g_autofree const char **raw = NULL;

  if (!g_variant_lookup (record, "candidates", "^a&s", &raw))
    return;
  emit_ask_with (self, usb, raw, timeout_ms);
}

static void
on_usb_ask (VmdUiClient *self, GVariant *params)
{
  g_autoptr(GVariant) record = NULL;
  g_autofree const char **raw = NULL;
  guint32 timeout_ms = 0;
  g_autoptr(VmdUiUsb) usb = NULL;

  g_variant_get (params, "(@a{sv}^a&su)", &record, &raw, &timeout_ms);
  usb = vmd_ui_usb_from_record (record);
  if (usb == NULL)
    return;
  emit_ask_with (self, usb, raw, timeout_ms);
  upsert_usb (self, g_steal_pointer (&usb));
}

static void
got_vms (VmdUiClient *self, GVariant *reply)
{
  g_autoptr(GVariant) list = g_variant_get_child_value (reply, 0);
  GVariantIter iter;
  GVariant *record;

  g_ptr_array_set_size (self->vms, 0);
  g_variant_iter_init (&iter, list);
  while ((record = g_variant_iter_next_value (&iter)))
    {
      VmdUiVm *vm = vmd_ui_vm_from_record (record);

      if (vm)
        upsert_vm (self, vm);
      g_variant_unref (record);
    }
}

static void
got_usb (VmdUiClient *self, GVariant *reply)
{
  g_autoptr(GVariant) list = g_variant_get_child_value (reply, 0);
  GVariantIter iter;
  GVariant *record;

  withdraw_asks (self);
  g_ptr_array_set_size (self->usb, 0);
  g_variant_iter_init (&iter, list);
  while ((record = g_variant_iter_next_value (&iter)))
    {
      VmdUiUsb *usb = vmd_ui_usb_from_record (record);

      if (usb)
        {
          /* Asked about before we were here (the switcher or the daemon restarted):
           * prompt now. The daemon's deadline is not in the record; the prompt is
           * withdrawn anyway ("ask-done") when the daemon stops asking. */
          if (g_str_equal (usb->state, "asking"))
            emit_ask (self, usb, record, ASK_TIMEOUT_UNKNOWN_MS);
          upsert_usb (self, usb);
        }
      g_variant_unref (record);
    }
}

static void
got_power (VmdUiClient *self, GVariant *reply)
{
  g_autoptr(GVariant) summary = g_variant_get_child_value (reply, 0);

  set_power (self, summary);
}

static void
got_on_screen (VmdUiClient *self, GVariant *reply)
{
  g_autoptr(GVariant) boxed = g_variant_get_child_value (reply, 0);
  g_autoptr(GVariant) value = g_variant_get_variant (boxed);

  if (g_variant_is_of_type (value, G_VARIANT_TYPE_STRING))
    set_on_screen (self, g_variant_get_string (value, NULL));
}

static void
read_on_screen (VmdUiClient *self)
{
  GTask *task = g_task_new (self, self->reading, NULL, NULL);

  self->reads_pending++;
  g_task_set_task_data (task, got_on_screen, NULL);
  g_dbus_connection_call (self->bus, MANAGER_NAME, MANAGER_PATH,
                          "org.freedesktop.DBus.Properties", "Get",
                          g_variant_new ("(ss)", MANAGER_IFACE, "OnScreen"),
                          G_VARIANT_TYPE ("(v)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1,
                          self->reading, on_read_reply, task);
}

static void
forget_daemon (VmdUiClient *self)
{
  withdraw_asks (self);
  g_clear_pointer (&self->owner, g_free);
  g_cancellable_cancel (self->reading);
  g_clear_object (&self->reading);
  self->has_daemon = FALSE;
  self->reads_pending = 0;
  g_ptr_array_set_size (self->vms, 0);
  g_ptr_array_set_size (self->usb, 0);
  set_on_screen (self, "");
  g_clear_pointer (&self->power_summary, g_free);
}

static void
on_name_appeared (GDBusConnection *bus, const char *name, const char *owner, gpointer user_data)
{
  VmdUiClient *self = user_data;

  forget_daemon (self);
  self->reading = g_cancellable_new ();
  self->has_daemon = TRUE;
  self->owner = g_strdup (owner);
  g_debug ("vmdeskd appeared as %s", owner);
  /* OnScreen first: the VM records' on-screen flags are corrected against it. */
  read_on_screen (self);
  read_from_daemon (self, "ListVMs", "(aa{sv})", got_vms);
  read_from_daemon (self, "ListUSBDevices", "(aa{sv})", got_usb);
  read_from_daemon (self, "GetPower", "(a{sv})", got_power);
  emit_changed (self);
}

static void
on_name_vanished (GDBusConnection *bus, const char *name, gpointer user_data)
{
  VmdUiClient *self = user_data;

  if (!self->has_daemon && self->vms->len == 0)
    return;
  g_debug ("vmdeskd went away");
  forget_daemon (self);
  emit_changed (self);
}

/* ---- signals ---- */



static void
on_signal (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
           const char *name, GVariant *params, gpointer user_data)
{
  VmdUiClient *self = user_data;

  /* Only the current owner of the name: not a late signal of the daemon that went, and
   * not another peer sending signals to us. */
  if (!self->has_daemon || g_strcmp0 (sender, self->owner) != 0)
    return;
  if (g_str_equal (name, "VMChanged") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(a{sv})")))
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (params, 0);
      VmdUiVm *vm = vmd_ui_vm_from_record (record);

      if (vm == NULL)
        return;
      upsert_vm (self, vm);
    }
  else if (g_str_equal (name, "VMStateChanged") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(sss)")))
    {
      const char *vm_name, *state;
      guint i;

      g_variant_get (params, "(&s&s&s)", &vm_name, &state, NULL);
      if ((i = find_vm_index (self, vm_name)) == G_MAXUINT)
        return;
      g_free (((VmdUiVm *) self->vms->pdata[i])->state);
      ((VmdUiVm *) self->vms->pdata[i])->state = vmd_ui_text_bounded (state, 32);
    }
  else if (g_str_equal (name, "VMRemoved") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(s)")))
    {
      const char *vm_name;
      guint i;

      g_variant_get (params, "(&s)", &vm_name);
      if ((i = find_vm_index (self, vm_name)) == G_MAXUINT)
        return;
      g_ptr_array_remove_index (self->vms, i);
    }
  else if (g_str_equal (name, "FocusChanged") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(ss)")))
    {
      const char *vm_name;

      g_variant_get (params, "(&s&s)", &vm_name, NULL);
      set_on_screen (self, vm_name);
    }
  else if (g_str_equal (name, "USBDeviceChanged") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(a{sv})")))
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (params, 0);
      VmdUiUsb *usb = vmd_ui_usb_from_record (record);

      if (usb == NULL)
        return;
      upsert_usb (self, usb);
    }
  else if (g_str_equal (name, "USBDeviceRemoved") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(s)")))
    {
      const char *id;
      guint i;
      gboolean was_asking;

      g_variant_get (params, "(&s)", &id);
      if ((i = find_usb_index (self, id)) == G_MAXUINT)
        return;
      was_asking = g_str_equal (((VmdUiUsb *) self->usb->pdata[i])->state, "asking");
      g_ptr_array_remove_index (self->usb, i);
      if (was_asking)
        g_signal_emit (self, signals[SIGNAL_ASK_DONE], 0, id);
    }
  else if (g_str_equal (name, "USBAsk") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(a{sv}asu)")))
    on_usb_ask (self, params);
  else if (g_str_equal (name, "PowerChanged") && g_variant_is_of_type (params, G_VARIANT_TYPE ("(a{sv})")))
    {
      g_autoptr(GVariant) summary = g_variant_get_child_value (params, 0);

      set_power (self, summary);
    }
  else
    return;
  emit_changed (self);
}

/* ---- calls ---- */

static void
on_call_done (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, error);
      return;
    }
  g_task_return_boolean (task, TRUE);
}

static void
call_daemon (VmdUiClient *self, const char *method, GVariant *args, gpointer tag,
             GCancellable *cancellable, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  g_task_set_source_tag (task, tag);
  g_dbus_connection_call (self->bus, MANAGER_NAME, MANAGER_PATH, MANAGER_IFACE, method, args,
                          NULL, G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION,
                          INTERACTIVE_TIMEOUT_MS, cancellable, on_call_done, task);
}

void
vmd_ui_client_switch (VmdUiClient *self, const char *vm, GCancellable *cancellable,
                      GAsyncReadyCallback callback, gpointer user_data)
{
  call_daemon (self, "Switch", g_variant_new ("(s)", vm), vmd_ui_client_switch,
               cancellable, callback, user_data);
}

gboolean
vmd_ui_client_switch_finish (VmdUiClient *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
vmd_ui_client_move_usb (VmdUiClient *self, const char *id, const char *vm,
                        GAsyncReadyCallback callback, gpointer user_data)
{
  if (vm[0] == '\0')
    call_daemon (self, "DetachUSBDevice", g_variant_new ("(s)", id), vmd_ui_client_move_usb,
                 NULL, callback, user_data);
  else
    call_daemon (self, "AttachUSBDevice", g_variant_new ("(ssb)", id, vm, FALSE),
                 vmd_ui_client_move_usb, NULL, callback, user_data);
}

gboolean
vmd_ui_client_move_usb_finish (VmdUiClient *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
vmd_ui_client_answer_ask (VmdUiClient *self, const char *id, const char *vm, gboolean remember,
                          GAsyncReadyCallback callback, gpointer user_data)
{
  call_daemon (self, "AnswerUSBAsk", g_variant_new ("(ssb)", id, vm, remember),
               vmd_ui_client_answer_ask, NULL, callback, user_data);
}

gboolean
vmd_ui_client_answer_ask_finish (VmdUiClient *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
vmd_ui_client_start (VmdUiClient *self, const char *vm, GAsyncReadyCallback callback,
                     gpointer user_data)
{
  call_daemon (self, "StartVM", g_variant_new ("(s)", vm), vmd_ui_client_start, NULL,
               callback, user_data);
}

gboolean
vmd_ui_client_start_finish (VmdUiClient *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
on_screenshot_reply (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), result, &error);
  g_autoptr(GVariant) pixels = NULL;
  g_autoptr(GBytes) bytes = NULL;
  guint32 width, height;
  const guint *limit;
  GdkPixbuf *pixbuf;

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, error);
      return;
    }
  g_variant_get (reply, "(uu@ay)", &width, &height, &pixels);
  limit = g_task_get_task_data (task);
  if (!vmd_ui_fits (width, height, limit[0], limit[1]))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "vmdeskd sent a %ux%u screenshot, larger than asked for", width, height);
      return;
    }
  bytes = g_variant_get_data_as_bytes (pixels);
  pixbuf = vmd_ui_pixbuf_from_rgb (bytes, width, height, &error);
  if (pixbuf == NULL)
    g_task_return_error (task, error);
  else
    g_task_return_pointer (task, pixbuf, g_object_unref);
}

void
vmd_ui_client_screenshot (VmdUiClient *self, const char *vm, guint max_width, guint max_height,
                          GCancellable *cancellable, GAsyncReadyCallback callback,
                          gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);
  guint *limit = g_new (guint, 2);

  /* What was asked for: a reply larger than that is refused. */
  limit[0] = max_width;
  limit[1] = max_height;
  g_task_set_task_data (task, limit, g_free);
  g_dbus_connection_call (self->bus, MANAGER_NAME, MANAGER_PATH, MANAGER_IFACE, "Screenshot",
                          g_variant_new ("(suu)", vm, max_width, max_height),
                          G_VARIANT_TYPE ("(uuay)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, 30000,
                          cancellable, on_screenshot_reply, task);
}

GdkPixbuf *
vmd_ui_client_screenshot_finish (VmdUiClient *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_pointer (G_TASK (result), error);
}

static void
on_open_display_reply (GObject *source, GAsyncResult *result, gpointer user_data)
{
  g_autoptr(GTask) task = user_data;
  GError *error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_finish (G_DBUS_CONNECTION (source),
                                                                               &fds, result, &error);
  gint32 index;
  int fd;

  if (reply == NULL)
    {
      g_dbus_error_strip_remote_error (error);
      g_task_return_error (task, error);
      return;
    }
  g_variant_get (reply, "(h)", &index);
  if (fds == NULL || index < 0 || index >= g_unix_fd_list_get_length (fds))
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                               "vmdeskd's OpenDisplay reply carries no file descriptor");
      return;
    }
  fd = g_unix_fd_list_get (fds, index, &error);
  if (fd < 0)
    g_task_return_error (task, error);
  else
    g_task_return_int (task, fd);
}

void
vmd_ui_client_open_display (VmdUiClient *self, const char *vm, GCancellable *cancellable,
                            GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task = g_task_new (self, cancellable, callback, user_data);

  /* Once the reply came, the fd is the caller's: a late cancel must not drop it. */
  g_task_set_check_cancellable (task, FALSE);
  g_dbus_connection_call_with_unix_fd_list (self->bus, MANAGER_NAME, MANAGER_PATH, MANAGER_IFACE,
                                            "OpenDisplay", g_variant_new ("(s)", vm),
                                            G_VARIANT_TYPE ("(h)"),
                                            G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION,
                                            INTERACTIVE_TIMEOUT_MS, NULL, cancellable,
                                            on_open_display_reply, task);
}

int
vmd_ui_client_open_display_finish (VmdUiClient *self, GAsyncResult *result, GError **error)
{
  return g_task_propagate_int (G_TASK (result), error);
}

/* ---- reading the model ---- */

gboolean
vmd_ui_client_has_daemon (VmdUiClient *self)
{
  return self->has_daemon;
}

gboolean
vmd_ui_client_is_loaded (VmdUiClient *self)
{
  return self->has_daemon && self->reads_pending == 0;
}

GPtrArray *
vmd_ui_client_get_vms (VmdUiClient *self)
{
  return self->vms;
}

GPtrArray *
vmd_ui_client_get_usb (VmdUiClient *self)
{
  return self->usb;
}

const VmdUiVm *
vmd_ui_client_find_vm (VmdUiClient *self, const char *name)
{
  guint i = find_vm_index (self, name);

  return i == G_MAXUINT ? NULL : self->vms->pdata[i];
}

const char *
vmd_ui_client_get_on_screen (VmdUiClient *self)
{
  return self->on_screen;
}

const char *
vmd_ui_client_get_power_summary (VmdUiClient *self)
{
  return self->power_summary;
}

/* ---- object ---- */

static void
vmd_ui_client_dispose (GObject *object)
{
  VmdUiClient *self = VMD_UI_CLIENT (object);

  if (self->watch_id)
    g_bus_unwatch_name (self->watch_id);
  self->watch_id = 0;
  if (self->signal_id)
    g_dbus_connection_signal_unsubscribe (self->bus, self->signal_id);
  self->signal_id = 0;
  g_cancellable_cancel (self->reading);
  g_clear_object (&self->reading);
  g_clear_object (&self->bus);
  G_OBJECT_CLASS (vmd_ui_client_parent_class)->dispose (object);
}

static void
vmd_ui_client_finalize (GObject *object)
{
  VmdUiClient *self = VMD_UI_CLIENT (object);

  g_ptr_array_unref (self->vms);
  g_ptr_array_unref (self->usb);
  g_free (self->on_screen);
  g_free (self->power_summary);
  g_free (self->owner);
  G_OBJECT_CLASS (vmd_ui_client_parent_class)->finalize (object);
}

static void
vmd_ui_client_init (VmdUiClient *self)
{
  self->vms = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_ui_vm_free);
  self->usb = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_ui_usb_free);
  self->on_screen = g_strdup ("");
}

static void
vmd_ui_client_class_init (VmdUiClientClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vmd_ui_client_dispose;
  object_class->finalize = vmd_ui_client_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIGNAL_ASK] = g_signal_new ("ask", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                      NULL, NULL, NULL, G_TYPE_NONE, 4, G_TYPE_STRING,
                                      G_TYPE_STRING, G_TYPE_STRV, G_TYPE_UINT);
  signals[SIGNAL_ASK_DONE] = g_signal_new ("ask-done", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                           1, G_TYPE_STRING);
}

VmdUiClient *
vmd_ui_client_new (GDBusConnection *system_bus)
{
  VmdUiClient *self = g_object_new (VMD_TYPE_UI_CLIENT, NULL);

  self->bus = g_object_ref (system_bus);
  self->signal_id = g_dbus_connection_signal_subscribe (system_bus, MANAGER_NAME, MANAGER_IFACE,
                                                        NULL, MANAGER_PATH, NULL,
                                                        G_DBUS_SIGNAL_FLAGS_NONE, on_signal,
                                                        self, NULL);
  self->watch_id = g_bus_watch_name_on_connection (system_bus, MANAGER_NAME,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   on_name_appeared, on_name_vanished, self, NULL);
  return self;
}
