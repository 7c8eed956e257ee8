/* The switcher's settings file: defaults, commands, and errors that name the place. */
#include "vmd-ui-private.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static char *
write_config (const char *text)
{
  g_autoptr(GError) error = NULL;
  char *path = NULL;
  int fd = g_file_open_tmp ("switcher-XXXXXX.conf", &path, &error);

  g_assert_no_error (error);
  close (fd);
  g_assert_true (g_file_set_contents (path, text, -1, NULL));
  return path;
}

static void
test_missing_file_gives_defaults (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdSwitcherConfig) config = vmd_switcher_config_load ("/nonexistent/switcher.conf", &error);

  g_assert_no_error (error);
  g_assert_cmpstr (config->hotkey, ==, VMD_SWITCHER_DEFAULT_HOTKEY);
  g_assert_cmpuint (g_hash_table_size (config->commands), ==, 0);
}

static void
test_commands_and_hotkey (void)
{
  g_autofree char *path = write_config ("[switcher]\nhotkey=<Control><Alt>space\n"
                                        "[vm gaming]\non-screen-command=ddcutil setvcp 60 0x0f\n"
                                        "[host]\non-screen-command=ddcutil setvcp 60 \"0x11\"\n"
                                        "[vm quiet]\n");
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdSwitcherConfig) config = vmd_switcher_config_load (path, &error);
  GStrv gaming, host;

  g_assert_no_error (error);
  g_assert_cmpstr (config->hotkey, ==, "<Control><Alt>space");
  gaming = g_hash_table_lookup (config->commands, "gaming");
  host = g_hash_table_lookup (config->commands, "");
  g_assert_nonnull (gaming);
  g_assert_cmpstr (gaming[0], ==, "ddcutil");
  g_assert_cmpstr (gaming[3], ==, "0x0f");
  g_assert_null (gaming[4]);
  g_assert_cmpstr (host[3], ==, "0x11");
  g_assert_false (g_hash_table_contains (config->commands, "quiet"));
  g_unlink (path);
}

static void
assert_rejected (const char *text, const char *expected)
{
  g_autofree char *path = write_config (text);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdSwitcherConfig) config = vmd_switcher_config_load (path, &error);

  g_assert_null (config);
  g_assert_nonnull (error);
  g_assert_true (strstr (error->message, path) != NULL);
  if (strstr (error->message, expected) == NULL)
    g_error ("\"%s\" does not mention \"%s\"", error->message, expected);
  g_unlink (path);
}

static void
test_bad_files (void)
{
  assert_rejected ("[switcher]\nhotkey=<Super>\n", "[switcher] hotkey");
  assert_rejected ("[vm gaming]\non-screen-command=ddcutil \"unterminated\n", "[vm gaming]");
  assert_rejected ("[vm ../etc]\non-screen-command=true\n", "[vm ../etc]");
  assert_rejected ("not a key file\n", "");
}

int
main (int argc, char **argv)
{
  gtk_disable_setlocale ();
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/ui/config/missing-file", test_missing_file_gives_defaults);
  g_test_add_func ("/ui/config/commands-and-hotkey", test_commands_and_hotkey);
  g_test_add_func ("/ui/config/bad-files", test_bad_files);
  return g_test_run ();
}
