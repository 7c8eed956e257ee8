/* vmdeskctl-error.c: from a GError to an exit code and a line a person can act on. */
#include "vmdeskctl-error.h"

#include "vmdesk-common.h"
#include "vmdeskctl-output.h"

G_DEFINE_QUARK (vmctl-error-quark, vmctl_error)

/* By D-Bus name, so an error maps the same whether or not GDBus knew its domain. */
static const struct {
  const char *name;
  VmctlExit   code;
} exit_by_name[] = {
  { "org.freedesktop.DBus.Error.ServiceUnknown",   VMCTL_EXIT_DAEMON_ABSENT },
  { "org.freedesktop.DBus.Error.NameHasNoOwner",   VMCTL_EXIT_DAEMON_ABSENT },
  { "org.freedesktop.DBus.Error.NoServer",         VMCTL_EXIT_DAEMON_ABSENT },
  { "org.freedesktop.DBus.Error.FileNotFound",     VMCTL_EXIT_DAEMON_ABSENT },
  { "org.freedesktop.DBus.Error.Disconnected",     VMCTL_EXIT_DAEMON_ABSENT },
  { "org.freedesktop.DBus.Error.NoNetwork",        VMCTL_EXIT_DAEMON_ABSENT },
  { "org.freedesktop.DBus.Error.AuthFailed",       VMCTL_EXIT_DAEMON_ABSENT },
  { "org.freedesktop.DBus.Error.AccessDenied",     VMCTL_EXIT_NOT_AUTHORIZED },
  { "org.freedesktop.DBus.Error.InteractiveAuthorizationRequired", VMCTL_EXIT_NOT_AUTHORIZED },
  { "org.vmdesk.Error.NotAuthorized",              VMCTL_EXIT_NOT_AUTHORIZED },
  { "org.vmdesk.Error.UnknownVM",                  VMCTL_EXIT_UNKNOWN_VM },
  { "org.vmdesk.Error.UnknownDevice",              VMCTL_EXIT_UNKNOWN_DEVICE },
  { "org.vmdesk.Error.NotRunning",                 VMCTL_EXIT_NOT_RUNNING },
  { "org.vmdesk.Error.NotConnected",               VMCTL_EXIT_NOT_CONNECTED },
};

char *
vmctl_error_dbus_name (const GError *error)
{
  if (g_dbus_error_is_remote_error (error))
    return g_dbus_error_get_remote_error (error);
  /* Local errors in a domain with D-Bus names (our checks, GDBus's own). */
  if (error->domain == VMD_ERROR || error->domain == G_DBUS_ERROR)
    return g_dbus_error_encode_gerror (error);
  return NULL;
}

VmctlExit
vmctl_exit_code_for_error (const GError *error)
{
  g_autofree char *name = NULL;

  if (error->domain == VMCTL_ERROR)
    return (VmctlExit) error->code;
  if ((name = vmctl_error_dbus_name (error)))
    for (guint i = 0; i < G_N_ELEMENTS (exit_by_name); i++)
      if (g_str_equal (name, exit_by_name[i].name))
        return exit_by_name[i].code;
  /* The bus connection went away under us. */
  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CLOSED))
    return VMCTL_EXIT_DAEMON_ABSENT;
  return VMCTL_EXIT_FAILURE;
}

static gboolean
name_is (const char *name, const char *suffix)
{
  return name && g_str_equal (name, suffix);
}

static char *
describe_raw (const GError *error)
{
  g_autoptr(GError) copy = g_error_copy (error);
  g_autofree char *name = vmctl_error_dbus_name (error);

  g_dbus_error_strip_remote_error (copy);
  if (name_is (name, "org.freedesktop.DBus.Error.ServiceUnknown")
      || name_is (name, "org.freedesktop.DBus.Error.NameHasNoOwner"))
    return g_strdup ("vmdeskd is not running (no owner for " VMD_DBUS_NAME " on the system bus)");
  if (name_is (name, "org.freedesktop.DBus.Error.NoReply")
      || g_error_matches (error, G_IO_ERROR, G_IO_ERROR_TIMED_OUT))
    return g_strdup_printf ("vmdeskd did not reply: %s", copy->message);
  if (name_is (name, "org.freedesktop.DBus.Error.UnknownMethod")
      || name_is (name, "org.freedesktop.DBus.Error.UnknownInterface")
      || name_is (name, "org.freedesktop.DBus.Error.UnknownObject")
      || name_is (name, "org.freedesktop.DBus.Error.UnknownProperty"))
    return g_strdup_printf ("the owner of " VMD_DBUS_NAME " does not offer this (is vmdeskd "
                            "older than vmdeskctl?): %s", copy->message);
  if (vmctl_exit_code_for_error (error) == VMCTL_EXIT_NOT_AUTHORIZED
      && !g_str_has_prefix (copy->message, "not authorized"))
    return g_strdup_printf ("not authorized: %s", copy->message);
  return g_strdup (copy->message);
}

char *
vmctl_error_describe (const GError *error)
{
  g_autofree char *raw = describe_raw (error);

  /* Messages carry names and libvirt text from elsewhere; keep them to one safe line. */
  return vmctl_escape (raw, VMCTL_ESCAPE_ALL);
}
