/* vmd-vfio-watchdog.c: after a single-GPU hand-over the host has no screen; if the VM never
 * starts, nobody could see why. The watchdog gives the display back when the journal's
 * deadline passes without a confirm. It is driven by two events: a file monitor on the
 * journal (a confirm or release by any process disarms it) and one timer for the deadline
 * itself, which is the whole point of a watchdog. */
#include "vmd-vfio-private.h"

struct _VmdVfioWatchdog {
  char               *bdf;
  char               *state_dir;
  char               *path;
  GFileMonitor       *monitor;
  GSource            *timer;
  GMainContext       *context;
  VmdVfioWatchdogFunc done;
  gpointer            user_data;
  gboolean            armed;
};

static void
disarm (VmdVfioWatchdog *w)
{
  w->armed = FALSE;
  if (w->timer)
    {
      g_source_destroy (w->timer);
      g_clear_pointer (&w->timer, g_source_unref);
    }
  if (w->monitor)
    {
      g_signal_handlers_disconnect_by_data (w->monitor, w);
      g_file_monitor_cancel (w->monitor);
      g_clear_object (&w->monitor);
    }
}

/* Still armed according to the journal? */
static gboolean
journal_says_armed (VmdVfioWatchdog *w, gint64 *deadline)
{
  g_autoptr(VmdTransaction) txn = vmd_journal_load (w->path, NULL);

  if (txn == NULL || !txn->bound || txn->undoing || txn->done || txn->confirmed
      || !txn->handover || txn->deadline <= 0)
    return FALSE;
  if (deadline)
    *deadline = txn->deadline;
  return TRUE;
}

static void arm_timer (VmdVfioWatchdog *w, gint64 deadline);

static gboolean
on_deadline (gpointer data)
{
  VmdVfioWatchdog *w = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *bdf = g_strdup (w->bdf);
  gint64 deadline;

  g_clear_pointer (&w->timer, g_source_unref);
  if (!journal_says_armed (w, &deadline))
    {
      disarm (w);
      w->done (bdf, FALSE, NULL, w->user_data);
      return G_SOURCE_REMOVE;
    }
  /* GLib's clock stops during suspend, CLOCK_BOOTTIME does not: they can disagree. */
  if (vmd_boottime_us () < deadline)
    {
      arm_timer (w, deadline);
      return G_SOURCE_REMOVE;
    }
  g_message ("%s: the VM did not start before the watchdog of %s; giving the display back", bdf,
             w->path);
  disarm (w);
  vmd_vfio_release (bdf, w->state_dir, VMD_VFIO_RELEASE_DEFAULT, &error);
  w->done (bdf, TRUE, error, w->user_data);
  return G_SOURCE_REMOVE;
}

static void
arm_timer (VmdVfioWatchdog *w, gint64 deadline)
{
  gint64 left_ms = MAX (0, (deadline - vmd_boottime_us () + 999) / 1000);

  w->timer = g_timeout_source_new ((guint) MIN (left_ms, G_MAXUINT));
  g_source_set_callback (w->timer, on_deadline, w, NULL);
  g_source_attach (w->timer, w->context);
}

static void
on_journal_changed (GFileMonitor *monitor, GFile *file, GFile *other, GFileMonitorEvent event,
                    gpointer data)
{
  VmdVfioWatchdog *w = data;
  g_autofree char *bdf = NULL;

  if (!w->armed || journal_says_armed (w, NULL))
    return;
  bdf = g_strdup (w->bdf);
  disarm (w);
  w->done (bdf, FALSE, NULL, w->user_data);
}

VmdVfioWatchdog *
vmd_vfio_watchdog_new (const char *bdf, const char *state_dir, VmdVfioWatchdogFunc done,
                       gpointer user_data, GError **error)
{
  g_autoptr(VmdVfioWatchdog) w = g_new0 (VmdVfioWatchdog, 1);
  g_autoptr(GFile) file = NULL;
  char buf[VMD_VFIO_BDF_BUFSIZE];
  VmdVfioBdf addr;
  gint64 deadline;

  if (!vmd_vfio_bdf_parse (bdf, &addr, error))
    return NULL;
  w->bdf = g_strdup (vmd_vfio_bdf_format (&addr, buf));
  w->state_dir = g_strdup (state_dir);
  w->path = vmd_journal_path (state_dir, w->bdf);
  w->done = done;
  w->user_data = user_data;
  w->context = g_main_context_ref_thread_default ();

  /* Monitor first, then read: a confirm landing in between is seen by one or the other. */
  file = g_file_new_for_path (w->path);
  w->monitor = g_file_monitor_file (file, G_FILE_MONITOR_NONE, NULL, error);
  if (w->monitor == NULL)
    return NULL;
  g_signal_connect (w->monitor, "changed", G_CALLBACK (on_journal_changed), w);
  if (!journal_says_armed (w, &deadline))
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_NOT_FOUND,
                   "%s has no armed watchdog (no single-GPU bind with --watchdog awaiting "
                   "confirm in %s)", w->bdf, w->path);
      return NULL;
    }
  w->armed = TRUE;
  arm_timer (w, deadline);
  return g_steal_pointer (&w);
}

gboolean
vmd_vfio_watchdog_is_armed (const VmdVfioWatchdog *watchdog)
{
  return watchdog->armed;
}

void
vmd_vfio_watchdog_free (VmdVfioWatchdog *w)
{
  if (w == NULL)
    return;
  disarm (w);
  g_clear_pointer (&w->context, g_main_context_unref);
  g_free (w->bdf);
  g_free (w->state_dir);
  g_free (w->path);
  g_free (w);
}
