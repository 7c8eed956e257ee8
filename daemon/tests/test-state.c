/* The state file must survive restarts and never stop the daemon from starting. */
#include "vmd-state.h"

#include <glib/gstdio.h>

static void
test_round_trip (void)
{
  g_autofree char *dir = g_dir_make_tmp ("vmd-state-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdState) a = vmd_state_load (dir, &error);
  g_autoptr(VmdState) b = NULL;
  g_autofree char *path = g_build_filename (dir, "state.ini", NULL);
  GStatBuf st;

  g_assert_no_error (error);
  g_assert_cmpstr (vmd_state_get_on_screen (a), ==, "");
  g_assert_true (vmd_state_set_on_screen (a, "work", &error));
  g_assert_no_error (error);

  b = vmd_state_load (dir, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (vmd_state_get_on_screen (b), ==, "work");
  g_assert_cmpint (g_stat (path, &st), ==, 0);
  g_assert_cmpint (st.st_mode & 0777, ==, 0600);
  g_remove (path);
  g_rmdir (dir);
}

static void
test_corrupt_is_set_aside (void)
{
  g_autofree char *dir = g_dir_make_tmp ("vmd-state-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "state.ini", NULL);
  g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdState) s = NULL;

  g_assert_true (g_file_set_contents (path, "[screen\non-screen=\xff", -1, NULL));
  g_test_expect_message (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "*unreadable*");
  s = vmd_state_load (dir, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpstr (vmd_state_get_on_screen (s), ==, "");
  g_assert_true (g_file_test (aside, G_FILE_TEST_EXISTS));
  g_assert_false (g_file_test (path, G_FILE_TEST_EXISTS));
  g_remove (aside);
  g_rmdir (dir);
}

static void
test_unwritable_dir (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdState) s = vmd_state_load ("/proc/vmdesk-cannot-exist", &error);

  g_assert_null (s);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, "/proc/vmdesk-cannot-exist"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/state/round-trip", test_round_trip);
  g_test_add_func ("/state/corrupt", test_corrupt_is_set_aside);
  g_test_add_func ("/state/unwritable", test_unwritable_dir);
  return g_test_run ();
}
