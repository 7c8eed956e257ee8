/* VM names reach the daemon from any D-Bus caller. */
#include "vmdesk-common.h"

#include <gio/gio.h>

static void
test_names (void)
{
  const char *good[] = { "work", "personal-2", "Windows 11 (GPU)", "ü", NULL };
  const char *bad[] = { "", "a/b", "tab\there", "nl\n", "\x7f", NULL };
  g_autofree char *longest = g_strnfill (VMD_VM_NAME_MAX, 'x');
  g_autofree char *too_long = g_strnfill (VMD_VM_NAME_MAX + 1, 'x');

  for (int i = 0; good[i]; i++)
    g_assert_true (vmd_vm_name_validate (good[i], NULL));
  for (int i = 0; bad[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_false (vmd_vm_name_validate (bad[i], &error));
      g_assert_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS);
    }
  g_assert_true (vmd_vm_name_validate (longest, NULL));
  g_assert_false (vmd_vm_name_validate (too_long, NULL));
  g_assert_false (vmd_vm_name_validate (NULL, NULL));
  g_assert_false (vmd_vm_name_validate ("\xff\xfe", NULL));
}

static void
test_dbus_error_names (void)
{
  g_autoptr(GError) error = g_error_new_literal (VMD_ERROR, VMD_ERROR_UNKNOWN_VM, "x");
  g_autofree char *name = g_dbus_error_encode_gerror (error);

  g_assert_cmpstr (name, ==, "org.vmdesk.Error.UnknownVM");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vm-name/validate", test_names);
  g_test_add_func ("/vm-name/dbus-errors", test_dbus_error_names);
  return g_test_run ();
}
