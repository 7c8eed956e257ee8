/* Errors as GDBus delivers them, mapped to exit codes and one-line messages. */
#include "vmdeskctl-error.h"

#include "vmdesk-common.h"

static GError *
remote (const char *name, const char *message)
{
  return g_dbus_error_new_for_dbus_error (name, message);
}

static void
assert_maps (GError *error, VmctlExit code, const char *message)
{
  g_autofree char *described = vmctl_error_describe (error);

  g_assert_cmpint (vmctl_exit_code_for_error (error), ==, code);
  if (message)
    g_assert_cmpstr (described, ==, message);
  g_error_free (error);
}

static void
test_daemon_absent (void)
{
  const char *absent = "vmdeskd is not running (no owner for org.vmdesk.Manager1 on the system bus)";

  assert_maps (remote ("org.freedesktop.DBus.Error.NameHasNoOwner",
                       "Name \"org.vmdesk.Manager1\" does not exist"),
               VMCTL_EXIT_DAEMON_ABSENT, absent);
  assert_maps (remote ("org.freedesktop.DBus.Error.ServiceUnknown",
                       "The name org.vmdesk.Manager1 was not provided by any .service files"),
               VMCTL_EXIT_DAEMON_ABSENT, absent);
  assert_maps (remote ("org.freedesktop.DBus.Error.Disconnected", "bye"),
               VMCTL_EXIT_DAEMON_ABSENT, "bye");
  assert_maps (g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CLOSED, "The connection is closed"),
               VMCTL_EXIT_DAEMON_ABSENT, "The connection is closed");
  assert_maps (g_error_new_literal (VMCTL_ERROR, VMCTL_EXIT_DAEMON_ABSENT,
                                    "cannot connect to the system bus: No such file or directory"),
               VMCTL_EXIT_DAEMON_ABSENT,
               "cannot connect to the system bus: No such file or directory");
}

static void
test_vmdesk_errors (void)
{
  g_autoptr(GError) mapped = NULL;

  (void) VMD_ERROR; /* registered, as vmctl_client_connect does before any call */
  mapped = remote ("org.vmdesk.Error.UnknownVM", "no VM named 'foo'");
  g_assert_error (mapped, VMD_ERROR, VMD_ERROR_UNKNOWN_VM);

  assert_maps (remote ("org.vmdesk.Error.UnknownVM", "no VM named 'foo'"),
               VMCTL_EXIT_UNKNOWN_VM, "no VM named 'foo'");
  assert_maps (remote ("org.vmdesk.Error.NotRunning", "VM 'foo' is shutoff; start it before switching to it"),
               VMCTL_EXIT_NOT_RUNNING, "VM 'foo' is shutoff; start it before switching to it");
  assert_maps (remote ("org.vmdesk.Error.NotConnected", "not connected to libvirt (qemu:///system)"),
               VMCTL_EXIT_NOT_CONNECTED, "not connected to libvirt (qemu:///system)");
  assert_maps (remote ("org.vmdesk.Error.NotAuthorized", "not authorized for org.vmdesk.switch"),
               VMCTL_EXIT_NOT_AUTHORIZED, "not authorized for org.vmdesk.switch");
  assert_maps (remote ("org.vmdesk.Error.NotAuthorized", "polkit is not available: gone"),
               VMCTL_EXIT_NOT_AUTHORIZED, "not authorized: polkit is not available: gone");
  assert_maps (remote ("org.freedesktop.DBus.Error.AccessDenied", "Rejected send message"),
               VMCTL_EXIT_NOT_AUTHORIZED, "not authorized: Rejected send message");
  assert_maps (remote ("org.vmdesk.Error.Libvirt", "defining 'foo': disk busy"),
               VMCTL_EXIT_FAILURE, "defining 'foo': disk busy");
  assert_maps (remote ("org.vmdesk.Error.InvalidArgs", "VM 'foo' is transient"),
               VMCTL_EXIT_FAILURE, "VM 'foo' is transient");
  /* Local errors in the same domain map the same way. */
  assert_maps (g_error_new_literal (VMD_ERROR, VMD_ERROR_UNKNOWN_VM, "no VM named 'x'"),
               VMCTL_EXIT_UNKNOWN_VM, "no VM named 'x'");
}

/* Before registration (or with a daemon newer than the CLI) the error arrives as
 * G_IO_ERROR_DBUS_ERROR carrying the name; it must map all the same. */
static void
test_unregistered_name (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *name = NULL;

  (void) VMD_ERROR;
  g_assert_true (g_dbus_error_unregister_error (VMD_ERROR, VMD_ERROR_UNKNOWN_VM,
                                                "org.vmdesk.Error.UnknownVM"));
  error = remote ("org.vmdesk.Error.UnknownVM", "no VM named 'foo'");
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_DBUS_ERROR);
  g_assert_cmpint (vmctl_exit_code_for_error (error), ==, VMCTL_EXIT_UNKNOWN_VM);
  name = vmctl_error_dbus_name (error);
  g_assert_cmpstr (name, ==, "org.vmdesk.Error.UnknownVM");
  g_assert_true (g_dbus_error_register_error (VMD_ERROR, VMD_ERROR_UNKNOWN_VM,
                                              "org.vmdesk.Error.UnknownVM"));

  assert_maps (remote ("org.example.Something", "odd"), VMCTL_EXIT_FAILURE, "odd");
}

static void
test_names (void)
{
  g_autoptr(GError) local = g_error_new_literal (VMD_ERROR, VMD_ERROR_NOT_RUNNING, "x");
  g_autoptr(GError) io = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_FAILED, "x");
  g_autoptr(GError) usage = g_error_new_literal (VMCTL_ERROR, VMCTL_EXIT_USAGE, "x");
  g_autoptr(GError) gdbus = g_error_new_literal (G_DBUS_ERROR, G_DBUS_ERROR_NAME_HAS_NO_OWNER, "x");
  g_autofree char *local_name = vmctl_error_dbus_name (local);
  g_autofree char *io_name = vmctl_error_dbus_name (io);
  g_autofree char *usage_name = vmctl_error_dbus_name (usage);
  g_autofree char *gdbus_name = vmctl_error_dbus_name (gdbus);

  g_assert_cmpstr (local_name, ==, "org.vmdesk.Error.NotRunning");
  g_assert_null (io_name);
  g_assert_null (usage_name);
  g_assert_cmpstr (gdbus_name, ==, "org.freedesktop.DBus.Error.NameHasNoOwner");
  g_assert_cmpint (vmctl_exit_code_for_error (usage), ==, VMCTL_EXIT_USAGE);
  g_assert_cmpint (vmctl_exit_code_for_error (gdbus), ==, VMCTL_EXIT_DAEMON_ABSENT);
  g_assert_cmpint (vmctl_exit_code_for_error (io), ==, VMCTL_EXIT_FAILURE);
}

static void
test_other_messages (void)
{
  assert_maps (remote ("org.freedesktop.DBus.Error.NoReply", "Timeout was reached"),
               VMCTL_EXIT_FAILURE, "vmdeskd did not reply: Timeout was reached");
  assert_maps (g_error_new_literal (G_IO_ERROR, G_IO_ERROR_TIMED_OUT, "Timeout was reached"),
               VMCTL_EXIT_FAILURE, "vmdeskd did not reply: Timeout was reached");
  assert_maps (remote ("org.freedesktop.DBus.Error.UnknownMethod", "No such method 'SetupVM'"),
               VMCTL_EXIT_FAILURE,
               "the owner of org.vmdesk.Manager1 does not offer this (is vmdeskd older than "
               "vmdeskctl?): No such method 'SetupVM'");
  /* Daemon text is not trusted to be one printable line. */
  assert_maps (remote ("org.vmdesk.Error.Libvirt", "bad\nline\x1b[2J"),
               VMCTL_EXIT_FAILURE, "bad\\nline\\x1b[2J");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vmdeskctl/error/daemon-absent", test_daemon_absent);
  g_test_add_func ("/vmdeskctl/error/vmdesk-errors", test_vmdesk_errors);
  g_test_add_func ("/vmdeskctl/error/unregistered-name", test_unregistered_name);
  g_test_add_func ("/vmdeskctl/error/names", test_names);
  g_test_add_func ("/vmdeskctl/error/other-messages", test_other_messages);
  return g_test_run ();
}
