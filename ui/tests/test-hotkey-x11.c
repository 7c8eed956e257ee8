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

/* Xvfb picks a free display and writes its number to the pipe (-displayfd). */
static GSubprocess *
start_xvfb (void)
{
  g_autoptr(GSubprocessLauncher) launcher = g_subprocess_launcher_new (G_SUBPROCESS_FLAGS_NONE);
  g_autoptr(GError) error = NULL;
  g_autofree char *display = NULL;
  char buf[32] = { 0 };
  GSubprocess *xvfb;
  int fds[2];
  ssize_t n;

  g_assert_cmpint (pipe (fds), ==, 0);
  g_subprocess_launcher_take_fd (launcher, fds[1], 3);
  g_subprocess_launcher_set_child_setup (launcher, die_with_parent, NULL, NULL);
  xvfb = g_subprocess_launcher_spawn (launcher, &error, "Xvfb", "-displayfd", "3",
                                      "-nolisten", "tcp", "-screen", "0", "640x480x24", NULL);
  g_assert_no_error (error);
  g_clear_object (&launcher); /* closes our copy of the write end */
  n = read (fds[0], buf, sizeof buf - 1);
  close (fds[0]);
  g_assert_cmpint (n, >, 0);
  g_strstrip (buf);
  display = g_strdup_printf (":%s", buf);
  g_setenv ("DISPLAY", display, TRUE);
  return xvfb;
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
