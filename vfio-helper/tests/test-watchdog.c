/* The single-GPU watchdog: a confirm from anywhere disarms it; a passed deadline releases. */
#include "vmd-vfio-private.h"

#include <glib/gstdio.h>

typedef struct {
  GMainLoop *loop;
  int        calls;
  gboolean   fired;
  gboolean   had_error;
} Seen;

static void
on_done (const char *bdf, gboolean fired, const GError *error, gpointer data)
{
  Seen *seen = data;

  g_assert_cmpstr (bdf, ==, "0000:01:00.0");
  seen->calls++;
  seen->fired = fired;
  seen->had_error = error != NULL;
  g_main_loop_quit (seen->loop);
}

static gboolean
on_too_long (gpointer data)
{
  g_error ("the watchdog never reported (it should have within moments)");
  return G_SOURCE_REMOVE;
}

/* A completed single-GPU bind of no functions: nothing in sysfs is touched by a release. */
static char *
bound_journal (gboolean handover, gint64 deadline)
{
  char *state = g_dir_make_tmp ("vmdesk-vfio-watchdog-XXXXXX", NULL);
  g_autoptr(VmdJournal) journal = vmd_journal_create (state, "0000:01:00.0", NULL);
  g_autofree char *boot = vmd_boot_id ();
  g_autofree char *when = g_strdup_printf ("%" G_GINT64_FORMAT, deadline);
  const char *begin[] = { "v", "1", "primary", "0000:01:00.0", "boot", boot,
                          "single_gpu", handover ? "1" : "0", "watchdog", "60", NULL };
  const char *bound[] = { "deadline", when, NULL };

  g_assert_nonnull (journal);
  g_assert_true (vmd_journal_append (journal, "begin", begin, NULL));
  g_assert_true (vmd_journal_append (journal, "bound", bound, NULL));
  return state;
}

static void
remove_state (const char *state)
{
  g_autofree char *dir = g_build_filename (state, "vfio", NULL);
  g_autoptr(GPtrArray) names = vmd_sysfs_list (dir, NULL);

  for (guint i = 0; names && i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir, names->pdata[i], NULL);
      g_unlink (path);
    }
  g_rmdir (dir);
  g_rmdir (state);
}

static gboolean
confirm_now (gpointer state)
{
  g_autoptr(GError) error = NULL;

  g_assert_true (vmd_vfio_confirm ("0000:01:00.0", state, &error));
  g_assert_no_error (error);
  return G_SOURCE_REMOVE;
}

static void
test_confirm_disarms (void)
{
  g_autofree char *state = bound_journal (TRUE, vmd_boottime_us () + (gint64) 3600 * G_USEC_PER_SEC);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdVfioWatchdog) w = NULL;
  g_autofree char *path = vmd_journal_path (state, "0000:01:00.0");
  Seen seen = { loop, 0, FALSE, FALSE };
  guint guard;

  w = vmd_vfio_watchdog_new ("0000:01:00.0", state, on_done, &seen, &error);
  g_assert_no_error (error);
  g_assert_true (vmd_vfio_watchdog_is_armed (w));
  g_idle_add (confirm_now, state);
  guard = g_timeout_add_seconds (30, on_too_long, NULL);
  g_main_loop_run (loop);
  g_source_remove (guard);
  g_assert_cmpint (seen.calls, ==, 1);
  g_assert_false (seen.fired);
  g_assert_false (vmd_vfio_watchdog_is_armed (w));
  /* Disarmed, not released: the binding stays. */
  g_assert_true (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_pointer (&w, vmd_vfio_watchdog_free);
  remove_state (state);
}

static void
test_deadline_releases (void)
{
  g_autofree char *state = bound_journal (TRUE, vmd_boottime_us () - 1);
  g_autoptr(GMainLoop) loop = g_main_loop_new (NULL, FALSE);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdVfioWatchdog) w = NULL;
  g_autofree char *path = vmd_journal_path (state, "0000:01:00.0");
  Seen seen = { loop, 0, FALSE, FALSE };
  guint guard;

  w = vmd_vfio_watchdog_new ("0000:01:00.0", state, on_done, &seen, &error);
  g_assert_no_error (error);
  guard = g_timeout_add_seconds (30, on_too_long, NULL);
  g_main_loop_run (loop);
  g_source_remove (guard);
  g_assert_cmpint (seen.calls, ==, 1);
  g_assert_true (seen.fired);
  g_assert_false (seen.had_error);
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_clear_pointer (&w, vmd_vfio_watchdog_free);
  remove_state (state);
}

static void
test_needs_armed_journal (void)
{
  g_autofree char *plain = bound_journal (FALSE, 0);
  g_autofree char *empty = g_dir_make_tmp ("vmdesk-vfio-watchdog-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;

  g_assert_null (vmd_vfio_watchdog_new ("0000:01:00.0", plain, on_done, NULL, &error));
  g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (vmd_vfio_watchdog_new ("0000:01:00.0", empty, on_done, NULL, &error));
  g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_NOT_FOUND);
  g_clear_error (&error);
  g_assert_null (vmd_vfio_watchdog_new ("01:00", empty, on_done, NULL, &error));
  g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_INVALID_BDF);
  remove_state (plain);
  g_rmdir (empty);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vfio/watchdog/confirm-disarms", test_confirm_disarms);
  g_test_add_func ("/vfio/watchdog/deadline-releases", test_deadline_releases);
  g_test_add_func ("/vfio/watchdog/needs-armed-journal", test_needs_armed_journal);
  return g_test_run ();
}
