/* vmdeskctl-client.c: synchronous GDBus calls; a CLI has nothing else to do meanwhile. */
#include "vmdeskctl-client.h"

#include "vmdesk-common.h"
#include "vmdeskctl-error.h"

/* A polkit password prompt can take a person far longer than D-Bus's 25 s default. */
#define INTERACTIVE_TIMEOUT_MS (10 * 60 * 1000)

GDBusConnection *
vmctl_client_connect (GError **error)
{
  g_autoptr(GError) local = NULL;
  GDBusConnection *bus;

  /* Registers org.vmdesk.Error.* before any reply arrives, so GDBus decodes them as VMD_ERROR. */
  (void) VMD_ERROR;
  bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &local);
  if (bus == NULL)
    {
      g_set_error (error, VMCTL_ERROR, VMCTL_EXIT_DAEMON_ABSENT,
                   "cannot connect to the system bus: %s", local->message);
      return NULL;
    }
  /* The default would kill vmdeskctl with SIGTERM if the bus went away mid-call. */
  g_dbus_connection_set_exit_on_close (bus, FALSE);
  return bus;
}

static GVariant *
call (GDBusConnection *bus, const char *iface, const char *method, GVariant *params,
      const char *reply_type, gboolean interactive, GError **error)
{
  GDBusCallFlags flags = G_DBUS_CALL_FLAGS_NO_AUTO_START;

  if (interactive)
    flags |= G_DBUS_CALL_FLAGS_ALLOW_INTERACTIVE_AUTHORIZATION;
  return g_dbus_connection_call_sync (bus, VMD_DBUS_NAME, VMD_DBUS_PATH, iface, method, params,
                                      G_VARIANT_TYPE (reply_type), flags,
                                      interactive ? INTERACTIVE_TIMEOUT_MS : -1, NULL, error);
}

static GVariant *
call_and_unwrap (GDBusConnection *bus, const char *method, GVariant *params,
                 const char *reply_type, GError **error)
{
  g_autoptr(GVariant) reply = call (bus, VMD_DBUS_INTERFACE, method, params, reply_type, FALSE,
                                    error);

  return reply ? g_variant_get_child_value (reply, 0) : NULL;
}

GVariant *
vmctl_client_get_properties (GDBusConnection *bus, GError **error)
{
  g_autoptr(GVariant) reply = call (bus, "org.freedesktop.DBus.Properties", "GetAll",
                                    g_variant_new ("(s)", VMD_DBUS_INTERFACE), "(a{sv})", FALSE,
                                    error);

  return reply ? g_variant_get_child_value (reply, 0) : NULL;
}

GVariant *
vmctl_client_list_vms (GDBusConnection *bus, GError **error)
{
  return call_and_unwrap (bus, "ListVMs", NULL, "(aa{sv})", error);
}

GVariant *
vmctl_client_get_vm (GDBusConnection *bus, const char *name, GError **error)
{
  return call_and_unwrap (bus, "GetVM", g_variant_new ("(s)", name), "(a{sv})", error);
}

gboolean
vmctl_client_switch (GDBusConnection *bus, const char *name, GError **error)
{
  g_autoptr(GVariant) reply = call (bus, VMD_DBUS_INTERFACE, "Switch",
                                    g_variant_new ("(s)", name), "()", TRUE, error);

  return reply != NULL;
}

gboolean
vmctl_client_setup_vm (GDBusConnection *bus, const char *name, gboolean dry_run,
                       const char *expected_old, char **old_xml, char **new_xml, GError **error)
{
  g_autoptr(GVariant) reply = call (bus, VMD_DBUS_INTERFACE, "SetupVM",
                                    g_variant_new ("(sbs)", name, dry_run, expected_old),
                                    "(ss)", TRUE, error);

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(ss)", old_xml, new_xml);
  return TRUE;
}

GVariant *
vmctl_client_get_power (GDBusConnection *bus, GError **error)
{
  return call_and_unwrap (bus, "GetPower", NULL, "(a{sv})", error);
}

GVariant *
vmctl_client_list_usb (GDBusConnection *bus, GError **error)
{
  return call_and_unwrap (bus, "ListUSBDevices", NULL, "(aa{sv})", error);
}

gboolean
vmctl_client_request (GDBusConnection *bus, const char *method, GVariant *params, GError **error)
{
  g_autoptr(GVariant) reply = call (bus, VMD_DBUS_INTERFACE, method, params, "()", TRUE, error);

  return reply != NULL;
}

gboolean
vmctl_client_get_policy (GDBusConnection *bus, char **text, GStrv *files, char **last_error,
                         GError **error)
{
  g_autoptr(GVariant) reply = call (bus, VMD_DBUS_INTERFACE, "GetPolicy", NULL, "(sass)", FALSE, error);

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(s^ass)", text, files, last_error);
  return TRUE;
}

gboolean
vmctl_client_reload_policy (GDBusConnection *bus, guint *rules, GStrv *files, GError **error)
{
  g_autoptr(GVariant) reply = call (bus, VMD_DBUS_INTERFACE, "ReloadPolicy", NULL, "(uas)", TRUE, error);

  if (reply == NULL)
    return FALSE;
  g_variant_get (reply, "(u^as)", rules, files);
  return TRUE;
}

/* A read-only call whose reply is one string. */
static char *
call_for_string (GDBusConnection *bus, const char *method, GVariant *params, GError **error)
{
  g_autoptr(GVariant) reply = call (bus, VMD_DBUS_INTERFACE, method, params, "(s)", FALSE, error);
  char *text = NULL;

  if (reply)
    g_variant_get (reply, "(s)", &text);
  return text;
}

char *
vmctl_client_check_passthrough (GDBusConnection *bus, const char *const *bdfs, GError **error)
{
  return call_for_string (bus, "CheckPassthrough", g_variant_new ("(^as)", bdfs), error);
}

char *
vmctl_client_plan_passthrough (GDBusConnection *bus, const char *bdf, gboolean single_gpu,
                               GError **error)
{
  return call_for_string (bus, "PlanPassthrough", g_variant_new ("(sb)", bdf, single_gpu), error);
}

GVariant *
vmctl_client_list_passthrough (GDBusConnection *bus, GError **error)
{
  return call_and_unwrap (bus, "ListPassthrough", NULL, "(aa{sv})", error);
}
