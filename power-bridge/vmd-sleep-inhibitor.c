/* vmd-sleep-inhibitor.c: a logind delay inhibitor held at all times, so that the host
 * waits for the VMs before it sleeps or shuts down. On PrepareForSleep(true) or
 * PrepareForShutdown(true) the owner takes handles; the fd goes when the last one is
 * released. On resume, on a cancelled shutdown, and whenever logind comes back, a new
 * inhibitor is taken. After NetworkManager's nm-sleep-monitor.c, which covers sleep only.
 *
 * One fd for both ("sleep:shutdown"): logind delays each operation while any delay lock
 * naming it is held, so one lock does for both, and a single set of handles cannot leave
 * one of two fds behind. */
#include "vmd-power-private.h"

#include <gio/gunixfdlist.h>

#define LOGIND_PATH  "/org/freedesktop/login1"
#define LOGIND_IFACE "org.freedesktop.login1.Manager"

struct _VmdSleepHandle {
  guint generation;
};

struct _VmdSleepInhibitor {
  GObject           parent;
  VmdLogindMonitor *logind;
  GCancellable     *taking;      /* an Inhibit call under way */
  int               fd;
  gboolean          preparing;   /* sleep or shutdown announced: the fd goes with the handles */
  /* Handles carry the generation they were taken in; a resume or a lost logind starts a
   * new one, so handles from before only need freeing. */
  guint             generation;
  guint             handles;     /* outstanding handles of this generation */
};

G_DEFINE_TYPE (VmdSleepInhibitor, vmd_sleep_inhibitor, G_TYPE_OBJECT)

enum {
  SIGNAL_SLEEPING,
  SIGNAL_RESUMING,
  SIGNAL_SHUTTING_DOWN,
  SIGNAL_SHUTDOWN_CANCELLED,
  N_SIGNALS
};
static guint signals[N_SIGNALS];
enum { PROP_0, PROP_HELD, N_PROPS };
static GParamSpec *props[N_PROPS];

static void
close_fd (VmdSleepInhibitor *self)
{
  if (self->fd < 0)
    return;
  g_close (self->fd, NULL);
  self->fd = -1;
  g_debug ("sleep inhibitor released");
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_HELD]);
}

/* While preparing, the fd goes as soon as no handle keeps it. */
static void
release_if_done (VmdSleepInhibitor *self)
{
  if (self->preparing && self->handles == 0)
    close_fd (self);
}

/* Drops the fd whatever the handles say; they become stale. */
static void
drop (VmdSleepInhibitor *self)
{
  g_cancellable_cancel (self->taking);
  g_clear_object (&self->taking);
  self->generation++;
  self->handles = 0;
  close_fd (self);
}

static void
on_inhibit (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_with_unix_fd_list_finish (
    G_DBUS_CONNECTION (source), &fds, res, &error);
  VmdSleepInhibitor *self = data;
  gint32 index;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  g_clear_object (&self->taking);
  if (reply == NULL)
    {
      g_warning ("could not take a logind sleep inhibitor: %s", error->message);
      return;
    }
  g_variant_get (reply, "(h)", &index);
  if (fds == NULL || index < 0 || index >= g_unix_fd_list_get_length (fds))
    {
      g_warning ("logind's Inhibit returned no file descriptor");
      return;
    }
  self->fd = g_unix_fd_list_get (fds, index, &error);
  if (self->fd < 0)
    {
      g_warning ("could not take a logind sleep inhibitor: %s", error->message);
      return;
    }
  g_debug ("sleep inhibitor taken");
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_HELD]);
  /* Taken too late for a sleep or shutdown already under way: logind no longer waits for
   * it (and a shutdown must not be held up by a lock logind counts again). */
  release_if_done (self);
}

static void
take (VmdSleepInhibitor *self)
{
  if (self->fd >= 0 || self->taking != NULL || !vmd_logind_monitor_is_available (self->logind))
    return;
  self->taking = g_cancellable_new ();
  g_dbus_connection_call_with_unix_fd_list (
    vmd_logind_monitor_get_connection (self->logind), "org.freedesktop.login1", LOGIND_PATH,
    LOGIND_IFACE, "Inhibit",
    g_variant_new ("(ssss)", "sleep:shutdown", "vmdesk",
                   "Suspending, saving or shutting down virtual machines", "delay"),
    G_VARIANT_TYPE ("(h)"), G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, NULL, self->taking,
    on_inhibit, self);
}

static void
on_available (VmdLogindMonitor *logind, GParamSpec *pspec, gpointer data)
{
  VmdSleepInhibitor *self = data;

  /* A new logind knows nothing of the old one's inhibitors. */
  drop (self);
  self->preparing = FALSE;
  take (self);
}

/* Shared by sleep and shutdown: `start` announces, the end (resume, or a shutdown logind
 * could not start) takes a new inhibitor. */
static void
on_prepare (VmdSleepInhibitor *self, gboolean start, guint start_signal, guint end_signal)
{
  g_object_ref (self);
  if (start)
    {
      self->preparing = TRUE;
      g_signal_emit (self, signals[start_signal], 0);
      release_if_done (self);
    }
  else
    {
      self->preparing = FALSE;
      drop (self);
      take (self);
      g_signal_emit (self, signals[end_signal], 0);
    }
  g_object_unref (self);
}

static void
on_prepare_for_sleep (VmdLogindMonitor *logind, gboolean start, gpointer data)
{
  on_prepare (data, start, SIGNAL_SLEEPING, SIGNAL_RESUMING);
}

static void
on_prepare_for_shutdown (VmdLogindMonitor *logind, gboolean start, gpointer data)
{
  on_prepare (data, start, SIGNAL_SHUTTING_DOWN, SIGNAL_SHUTDOWN_CANCELLED);
}

VmdSleepHandle *
vmd_sleep_inhibitor_take (VmdSleepInhibitor *self)
{
  VmdSleepHandle *handle;

  g_return_val_if_fail (VMD_IS_SLEEP_INHIBITOR (self), NULL);

  handle = g_new0 (VmdSleepHandle, 1);
  handle->generation = self->generation;
  self->handles++;
  return handle;
}

void
vmd_sleep_inhibitor_release (VmdSleepInhibitor *self, VmdSleepHandle *handle)
{
  g_return_if_fail (VMD_IS_SLEEP_INHIBITOR (self));
  g_return_if_fail (handle != NULL);

  if (handle->generation == self->generation)
    {
      g_return_if_fail (self->handles > 0);
      self->handles--;
      release_if_done (self);
    }
  g_free (handle);
}

gboolean
vmd_sleep_inhibitor_is_held (VmdSleepInhibitor *self)
{
  g_return_val_if_fail (VMD_IS_SLEEP_INHIBITOR (self), FALSE);
  return self->fd >= 0;
}

VmdSleepInhibitor *
vmd_sleep_inhibitor_new (VmdLogindMonitor *logind)
{
  VmdSleepInhibitor *self = g_object_new (VMD_TYPE_SLEEP_INHIBITOR, NULL);

  self->logind = g_object_ref (logind);
  g_signal_connect_object (logind, "notify::available", G_CALLBACK (on_available), self, 0);
  g_signal_connect_object (logind, "prepare-for-sleep", G_CALLBACK (on_prepare_for_sleep),
                           self, 0);
  g_signal_connect_object (logind, "prepare-for-shutdown",
                           G_CALLBACK (on_prepare_for_shutdown), self, 0);
  take (self);
  return self;
}

static void
vmd_sleep_inhibitor_dispose (GObject *object)
{
  VmdSleepInhibitor *self = VMD_SLEEP_INHIBITOR (object);

  g_cancellable_cancel (self->taking);
  g_clear_object (&self->taking);
  if (self->fd >= 0)
    g_close (self->fd, NULL);
  self->fd = -1;
  g_clear_object (&self->logind);
  G_OBJECT_CLASS (vmd_sleep_inhibitor_parent_class)->dispose (object);
}

static void
vmd_sleep_inhibitor_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  if (id == PROP_HELD)
    g_value_set_boolean (value, VMD_SLEEP_INHIBITOR (object)->fd >= 0);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
vmd_sleep_inhibitor_class_init (VmdSleepInhibitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vmd_sleep_inhibitor_dispose;
  object_class->get_property = vmd_sleep_inhibitor_get_property;
  props[PROP_HELD] = g_param_spec_boolean ("held", NULL, NULL, FALSE,
                                           G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                                           | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, props);
  signals[SIGNAL_SLEEPING] = g_signal_new ("sleeping", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);
  signals[SIGNAL_RESUMING] = g_signal_new ("resuming", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);
  signals[SIGNAL_SHUTTING_DOWN] = g_signal_new ("shutting-down", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                G_TYPE_NONE, 0);
  signals[SIGNAL_SHUTDOWN_CANCELLED] = g_signal_new ("shutdown-cancelled",
                                                     G_TYPE_FROM_CLASS (klass),
                                                     G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                     G_TYPE_NONE, 0);
}

static void
vmd_sleep_inhibitor_init (VmdSleepInhibitor *self)
{
  self->fd = -1;
}
