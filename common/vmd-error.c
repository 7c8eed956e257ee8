/* vmd-error.c: the VMD_ERROR domain and its D-Bus names, registered once so that both
 * ends of the bus see the same GError codes. */
#include "vmdesk-common.h"

#include <gio/gio.h>

static const GDBusErrorEntry vmd_dbus_errors[] = {
  { VMD_ERROR_FAILED,         "org.vmdesk.Error.Failed" },
  { VMD_ERROR_INVALID_ARGS,   "org.vmdesk.Error.InvalidArgs" },
  { VMD_ERROR_UNKNOWN_VM,     "org.vmdesk.Error.UnknownVM" },
  { VMD_ERROR_NOT_RUNNING,    "org.vmdesk.Error.NotRunning" },
  { VMD_ERROR_NOT_AUTHORIZED, "org.vmdesk.Error.NotAuthorized" },
  { VMD_ERROR_NOT_CONNECTED,  "org.vmdesk.Error.NotConnected" },
  { VMD_ERROR_LIBVIRT,        "org.vmdesk.Error.Libvirt" },
  { VMD_ERROR_CONFLICT,       "org.vmdesk.Error.Conflict" },
  { VMD_ERROR_UNKNOWN_DEVICE, "org.vmdesk.Error.UnknownDevice" },
  { VMD_ERROR_DENIED,         "org.vmdesk.Error.Denied" },
  { VMD_ERROR_AMBIGUOUS,      "org.vmdesk.Error.Ambiguous" },
  { VMD_ERROR_INVALID_POLICY, "org.vmdesk.Error.InvalidPolicy" },
};

GQuark
vmd_error_quark (void)
{
  static gsize quark;

  g_dbus_error_register_error_domain ("vmd-error-quark", &quark, vmd_dbus_errors,
                                      G_N_ELEMENTS (vmd_dbus_errors));
  return (GQuark) quark;
}
