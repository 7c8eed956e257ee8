/* test-hotkey-x11.c: VmdHotkey's keybinder backend on a private Xvfb, keys typed with
 * xdotool (XTEST). The test starts and stops its own X server. */
#include "vmdesk-ui.h"
#include "mock-service.h"

#include <signal.h>
#include <sys/prctl.h>
#include <unistd.h>

static void
die_with_parent (gpointer data)
{
  prctl (PR_SET_PDEATHSIG, SIGKILL);
}

/* An Xvfb of our own on the first free display from a number of our own: the server's
 * socket appears once it accepts clients; a display taken by another server makes ours
 * exit, and the next number is tried. (Not -displayfd: its pipe write failed in CI runs
 * where several servers started together.) */
/* `data` is a reference on a g_rc_box'ed gboolean: the server may exit long after
 * start_xvfb returned, when nothing on its stack is left. */
static void
on_xvfb_exited (GObject *source, GAsyncResult *result, gpointer data)
{
  g_subprocess_wait_finish (G_SUBPROCESS (source), result, NULL);
  *(gboolean *) data = TRUE;
  g_rc_box_release (data);
}

static GSubprocess *
start_xvfb (void)
{
  guint first = 200 + (guint) getpid () % 500;

  for (guint display = first; display < first + 50; display++)
    {
      g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_STDERR_SILENCE);
      g_autoptr(GError) error = NULL;
      g_autofree char *name = g_strdup_printf (":%u", display);
      g_autofree char *socket_path = g_strdup_printf ("/tmp/.X11-unix/X%u", display);
      g_autofree char *lock_path = g_strdup_printf ("/tmp/.X%u-lock", display);
      g_autoptr(GSubprocess) xvfb = NULL;
      gboolean *exited;
      gint64 deadline;

      if (g_file_test (lock_path, G_FILE_TEST_EXISTS))
        continue;
      exited = g_rc_box_new0 (gboolean);
      g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
      xvfb = g_subprocess_launcher_spawn (launcher, &error, "Xvfb", name, "-nolisten", "tcp",
                                          "-screen", "0", "640x480x24", NULL);
      g_assert_no_error (error);
      g_subprocess_wait_async (xvfb, NULL, on_xvfb_exited, g_rc_box_acquire (exited));
      /* Test-side wait for the server's socket (the code under test never polls). */
      deadline = g_get_monotonic_time () + 10 * G_USEC_PER_SEC;
      while (!g_file_test (socket_path, G_FILE_TEST_EXISTS)
             && g_get_monotonic_time () < deadline)
        {
          GMainContext *context = g_main_context_default ();

          while (g_main_context_iteration (context, FALSE))
            ;
          if (*exited)
            break;
          g_usleep (10000);
        }
      if (!g_file_test (socket_path, G_FILE_TEST_EXISTS))
        {
          g_subprocess_force_exit (xvfb);
          while (!*exited)
            g_main_context_iteration (NULL, TRUE);
          g_rc_box_release (exited);
          continue;
        }
      g_rc_box_release (exited);
      g_setenv ("DISPLAY", name, TRUE);
      return g_steal_pointer (&xvfb);
    }
  g_error ("no free X display from :%u", first);
}

static void
type_keys (const char *keys)
{
  g_autoptr(GError) error = NULL;
  const char *argv[] = { "xdotool", "key", keys, NULL };
  int status = -1;

  g_spawn_sync (NULL, (char **) argv, NULL, G_SPAWN_SEARCH_PATH, NULL, NULL, NULL, NULL,
                &status, &error);
  g_assert_no_error (error);
  g_assert_true (g_spawn_check_wait_status (status, NULL));
}

static void
on_activated (VmdHotkey *hotkey, gpointer data)
{
  (*(guint *) data)++;
}

static gboolean
activated_once (gpointer data)
{
  return *(guint *) data >= 1;
}

/* Every key event the X server has for us has been handled. */
static void
sync_x (void)
{
  gdk_display_sync (gdk_display_get_default ());
  test_drain ();
}

static void
test_x11_activated (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdHotkey) hotkey = vmd_hotkey_new ("<Super>Tab", NULL, &error);
  guint activated = 0;

  g_assert_no_error (error);
  g_assert_cmpstr (vmd_hotkey_get_backend (hotkey), ==, "x11");
  g_signal_connect (hotkey, "activated", G_CALLBACK (on_activated), &activated);
  sync_x ();

  /* Other keys first: X delivers in order, so by the time super+Tab has fired they
   * would have too. */
  type_keys ("super+a");
  type_keys ("Tab");
  type_keys ("alt+Tab");
  type_keys ("super+Tab");
  test_wait (activated_once, &activated, "super+Tab to fire");
  sync_x ();
  g_assert_cmpuint (activated, ==, 1);

  activated = 0;
  type_keys ("super+Tab");
  test_wait (activated_once, &activated, "super+Tab again");
  sync_x ();
  g_assert_cmpuint (activated, ==, 1);
}

static void
test_x11_released (void)
{
  g_autoptr(GError) error = NULL;
  VmdHotkey *hotkey = vmd_hotkey_new ("<Control><Alt>k", NULL, &error);
  g_autoptr(VmdHotkey) again = NULL;
  guint activated = 0;

  g_assert_no_error (error);
  g_signal_connect (hotkey, "activated", G_CALLBACK (on_activated), &activated);
  g_object_unref (hotkey);
  /* The grab went with the object: the same shortcut can be bound anew. */
  again = vmd_hotkey_new ("<Control><Alt>k", NULL, &error);
  g_assert_no_error (error);
  g_signal_connect (again, "activated", G_CALLBACK (on_activated), &activated);
  type_keys ("ctrl+alt+k");
  test_wait (activated_once, &activated, "ctrl+alt+k to fire");
  sync_x ();
  g_assert_cmpuint (activated, ==, 1);
}

int
main (int argc, char **argv)
{
  g_autoptr(GSubprocess) xvfb = NULL;
  int status;

  g_test_init (&argc, &argv, NULL);
  g_unsetenv ("WAYLAND_DISPLAY");
  gdk_set_allowed_backends ("x11");
  /* Two Xvfb -displayfd starting at once can pick the same display and one then dies
   * after naming it: try again with a fresh server. */
  for (guint attempt = 0; attempt < 5; attempt++)
    {
      xvfb = start_xvfb ();
      if (gtk_init_check (&argc, &argv))  /* a second call only opens the display again */
        break;
      g_subprocess_force_exit (xvfb);
      g_subprocess_wait (xvfb, NULL, NULL);
      g_clear_object (&xvfb);
    }
  g_assert_nonnull (xvfb);

  g_test_add_func ("/hotkey/x11/activated", test_x11_activated);
  g_test_add_func ("/hotkey/x11/released", test_x11_released);
  status = g_test_run ();
  g_subprocess_send_signal (xvfb, SIGTERM);
  g_subprocess_wait (xvfb, NULL, NULL);
  return status;
}
