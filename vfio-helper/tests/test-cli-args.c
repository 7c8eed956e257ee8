/* vmdesk-vfio's command line: what each command accepts, and usage errors (exit 2). */
#include "vfio-cli.h"

static VfioArgs *
parse (GError **error, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  const char *arg;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) "vmdesk-vfio");
  va_start (ap, error);
  while ((arg = va_arg (ap, const char *)) != NULL)
    g_ptr_array_add (argv, (gpointer) arg);
  va_end (ap);
  return vfio_args_parse ((int) argv->len, (const char *const *) argv->pdata, error);
}

static void
test_accepted (void)
{
  g_autoptr(VfioArgs) check = parse (NULL, "check", NULL);
  g_autoptr(VfioArgs) check2 = parse (NULL, "--json", "check", "0000:01:00.0", "01:00.1", NULL);
  g_autoptr(VfioArgs) bind = parse (NULL, "bind", "0000:01:00.0", "--single-gpu",
                                    "--watchdog", "90", "--state-dir=/tmp/s", "--force", NULL);
  g_autoptr(VfioArgs) release = parse (NULL, "release", "--state-dir", "/x", "--",
                                       "0000:01:00.0", NULL);
  g_autoptr(VfioArgs) help = parse (NULL, "plan", "--help", NULL);

  g_assert_cmpint (check->command, ==, VFIO_CMD_CHECK);
  g_assert_cmpuint (check->bdfs->len, ==, 0);
  g_assert_cmpstr (check->state_dir, ==, VFIO_DEFAULT_STATE_DIR);
  g_assert_true (check2->json);
  g_assert_cmpuint (check2->bdfs->len, ==, 2);
  g_assert_cmpint (bind->command, ==, VFIO_CMD_BIND);
  g_assert_true (bind->single_gpu && bind->force);
  g_assert_cmpuint (bind->watchdog, ==, 90);
  g_assert_cmpstr (bind->state_dir, ==, "/tmp/s");
  g_assert_cmpstr (release->state_dir, ==, "/x");
  g_assert_cmpstr (release->bdfs->pdata[0], ==, "0000:01:00.0");
  g_assert_cmpint (help->command, ==, VFIO_CMD_HELP);
}

static void
test_refused (void)
{
  const char *const cases[][6] = {
    { NULL },
    { "bogus", NULL },
    { "check", "--bogus", NULL },
    { "plan", NULL },
    { "plan", "0000:01:00.0", "0000:02:00.0", NULL },
    { "recover", "0000:01:00.0", NULL },
    { "check", "--force", NULL },
    { "bind", "0000:01:00.0", "--watchdog", "10", NULL },
    { "bind", "0000:01:00.0", "--single-gpu", "--watchdog", "0", NULL },
    { "bind", "0000:01:00.0", "--single-gpu", "--watchdog", NULL },
    { "bind", "0000:01:00.0", "--state-dir=", NULL },
    { "bind", "0000:01:00.0", "--json=yes", NULL },
    { "hostdev", "0000:01:00.0", "--json", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GPtrArray) argv = g_ptr_array_new ();
      g_autoptr(GError) error = NULL;
      g_autoptr(VfioArgs) args = NULL;

      g_ptr_array_add (argv, (gpointer) "vmdesk-vfio");
      for (guint j = 0; cases[i][j]; j++)
        g_ptr_array_add (argv, (gpointer) cases[i][j]);
      args = vfio_args_parse ((int) argv->len, (const char *const *) argv->pdata, &error);
      g_assert_null (args);
      g_assert_error (error, VFIO_CLI_ERROR, VFIO_EXIT_USAGE);
      g_assert_cmpint (vfio_exit_for_error (error), ==, VFIO_EXIT_USAGE);
    }
}

static void
test_exit_codes (void)
{
  static const struct { VmdVfioError code; VfioExit exit; } map[] = {
    { VMD_VFIO_ERROR_INVALID_BDF,  VFIO_EXIT_USAGE },
    { VMD_VFIO_ERROR_NOT_FOUND,    VFIO_EXIT_NOT_FOUND },
    { VMD_VFIO_ERROR_REFUSED,      VFIO_EXIT_REFUSED },
    { VMD_VFIO_ERROR_INCONSISTENT, VFIO_EXIT_INCONSISTENT },
    { VMD_VFIO_ERROR_BUSY,         VFIO_EXIT_BUSY },
    { VMD_VFIO_ERROR_STEP_FAILED,  VFIO_EXIT_FAILED },
    { VMD_VFIO_ERROR_SYSFS,        VFIO_EXIT_FAILED },
  };

  for (guint i = 0; i < G_N_ELEMENTS (map); i++)
    {
      g_autoptr(GError) error = g_error_new_literal (VMD_VFIO_ERROR, map[i].code, "x");
      g_assert_cmpint (vfio_exit_for_error (error), ==, map[i].exit);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vfio/cli/accepted", test_accepted);
  g_test_add_func ("/vfio/cli/refused", test_refused);
  g_test_add_func ("/vfio/cli/exit-codes", test_exit_codes);
  return g_test_run ();
}
