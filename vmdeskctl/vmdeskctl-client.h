/* vmdeskctl-client.h: the calls vmdeskctl makes to org.vmdesk.Manager1 on the system bus
 * (DBUS_SYSTEM_BUS_ADDRESS is honoured). No call starts the daemon by bus activation, so a
 * missing daemon is reported at once; see vmdeskctl-error.h for how errors become exit codes. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

/* Fails with VMCTL_ERROR / VMCTL_EXIT_DAEMON_ABSENT when the bus cannot be reached. */
GDBusConnection *vmctl_client_connect (GError **error);

/* All Manager1 properties as a{sv}. */
GVariant *vmctl_client_get_properties (GDBusConnection *bus, GError **error);
/* aa{sv} */
GVariant *vmctl_client_list_vms (GDBusConnection *bus, GError **error);
/* a{sv} */
GVariant *vmctl_client_get_vm (GDBusConnection *bus, const char *name, GError **error);
/* "" puts the host back. May prompt through a polkit agent. */
gboolean  vmctl_client_switch (GDBusConnection *bus, const char *name, GError **error);
/* May prompt through a polkit agent. */
/* expected_old: the preview's old_xml, so the daemon refuses if the definition changed
 * since (VMD_ERROR_CONFLICT); "" for no check. */
gboolean  vmctl_client_setup_vm (GDBusConnection *bus, const char *name, gboolean dry_run,
                                 const char *expected_old,
                                 char **old_xml, char **new_xml, GError **error);

/* a{sv}: the power summary (GetPower). */
GVariant *vmctl_client_get_power (GDBusConnection *bus, GError **error);

/* aa{sv}: the USB device records. */
GVariant *vmctl_client_list_usb (GDBusConnection *bus, GError **error);
/* A state-changing call that returns nothing (AttachUSBDevice, ...); may prompt. */
gboolean  vmctl_client_request (GDBusConnection *bus, const char *method, GVariant *params,
                                GError **error);
gboolean  vmctl_client_get_policy (GDBusConnection *bus, char **text, GStrv *files,
                                   char **last_error, GError **error);
/* May prompt (org.vmdesk.policy-reload). */
gboolean  vmctl_client_reload_policy (GDBusConnection *bus, guint *rules, GStrv *files,
                                      GError **error);

/* CheckPassthrough: vfio-helper's check report (JSON text) for `bdfs` (none: every display
 * device). */
char     *vmctl_client_check_passthrough (GDBusConnection *bus, const char *const *bdfs,
                                          GError **error);
/* PlanPassthrough: the plan (JSON text) for one device. */
char     *vmctl_client_plan_passthrough (GDBusConnection *bus, const char *bdf,
                                         gboolean single_gpu, GError **error);
/* aa{sv}: ListPassthrough's records. */
GVariant *vmctl_client_list_passthrough (GDBusConnection *bus, GError **error);

G_END_DECLS
