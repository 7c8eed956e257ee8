/* vmdeskd: wires libvirt, polkit and the on-disk state to org.vmdesk.Manager1.
 * The name is taken only after the first libvirt sync, so a client that sees the name
 * also sees a complete VM list. */
#include "vmd-display.h"
#include "vmd-input-follow.h"
#include "vmd-manager.h"
#include "vmd-power.h"
#include "vmd-usb.h"
#include "vmd-vfio.h"

#include <glib-unix.h>
#include <libvirt-glib/libvirt-glib.h>
#include <locale.h>
#include <systemd/sd-daemon.h>

/* How long a single-GPU hand-over may wait for its VM to run before recovery gives the
 * host its display back (docs/vfio.md). */
#define VFIO_WATCHDOG_S 120

typedef struct {
  GMainLoop  *loop;
  VmdLibvirt *libvirt;
  VmdManager *manager;
  VmdUsb     *usb;
  VmdVfio    *vfio;
  VmdPower   *power;
  VmdInputFollow *inputs;
  VmdDisplay *display;
  guint       owner_id;
  int         exit_code;
  gboolean    stopping;   /* SIGTERM came; waiting for a host shutdown's VMs */
} Daemon;

static void
on_bus_acquired (GDBusConnection *bus, const char *name, gpointer data)
{
  Daemon *d = data;
  g_autoptr(GError) error = NULL;

  if (!vmd_manager_export (d->manager, bus, &error))
    {
      g_critical ("exporting %s: %s", VMD_DBUS_PATH, error->message);
      d->exit_code = 1;
      g_main_loop_quit (d->loop);
    }
}

static void
on_name_acquired (GDBusConnection *bus, const char *name, gpointer data)
{
  Daemon *d = data;

  g_message ("vmdeskd %s ready on %s (libvirt %s, %s)", VMDESK_VERSION, name,
             vmd_libvirt_get_uri (d->libvirt),
             vmd_libvirt_is_connected (d->libvirt) ? "connected" : "not connected yet");
  sd_notifyf (0, "READY=1\nSTATUS=%s", vmd_libvirt_is_connected (d->libvirt)
                                          ? "Managing VMs" : "Waiting for libvirt");
}

static void
on_name_lost (GDBusConnection *bus, const char *name, gpointer data)
{
  Daemon *d = data;

  g_critical (bus ? "lost or could not own the name %s (is another vmdeskd running?)"
                  : "cannot connect to the system bus to own %s", name);
  d->exit_code = 1;
  g_main_loop_quit (d->loop);
}

static void
on_first_sync (VmdLibvirt *libvirt, Daemon *d)
{
  d->owner_id = g_bus_own_name (G_BUS_TYPE_SYSTEM, VMD_DBUS_NAME, G_BUS_NAME_OWNER_FLAGS_NONE,
                                on_bus_acquired, on_name_acquired, on_name_lost, d, NULL);
}

static void
on_drained (GObject *source, GAsyncResult *result, gpointer data)
{
  Daemon *d = data;

  vmd_power_drain_finish (VMD_POWER (source), result, NULL);
  g_message ("stopping: the VMs' host-shutdown is over");
  g_main_loop_quit (d->loop);
}

/* During a host power-off systemd stops vmdeskd (before libvirtd) while the guests may
 * still be shutting down or saving: the stop waits for them, within their deadline (the
 * unit's TimeoutStopSec is longer; EXTEND_TIMEOUT_USEC covers a longer
 * --host-shutdown-timeout). A second signal stops at once. */
static gboolean
on_sigterm (gpointer data)
{
  Daemon *d = data;
  gint64 left_us = 0;

  if (d->stopping || !vmd_power_get_host_shutdown (d->power, &left_us))
    {
      g_message ("stopping");
      sd_notify (0, "STOPPING=1");
      g_main_loop_quit (d->loop);
      return G_SOURCE_CONTINUE;
    }
  d->stopping = TRUE;
  g_message ("stopping once the VMs' host-shutdown is over (%.0f s at most; a second signal "
             "stops at once)", left_us / (double) G_USEC_PER_SEC);
  sd_notifyf (0, "STOPPING=1\nEXTEND_TIMEOUT_USEC=%" G_GINT64_FORMAT,
              left_us + 10 * G_USEC_PER_SEC);
  vmd_power_drain_async (d->power, on_drained, d);
  return G_SOURCE_CONTINUE;
}

static gboolean
on_sighup (gpointer data)
{
  Daemon *d = data;

  g_message ("SIGHUP: re-reading every VM from libvirt, and the USB policy");
  vmd_libvirt_resync (d->libvirt);
  /* A bad policy is logged and reported over D-Bus; the old one stays. */
  vmd_usb_reload_policy (d->usb, NULL);
  return G_SOURCE_CONTINUE;
}

int
main (int argc, char **argv)
{
  g_autofree char *uri = NULL;
  g_autofree char *state_dir = NULL;
  g_autofree char *config_dir = NULL;
  int ask_timeout_s = 30;
  double critical_percent = 0;
  int host_shutdown_timeout_s = 60;
  gboolean version = FALSE;
  const GOptionEntry entries[] = {
    { "libvirt-uri", 'c', 0, G_OPTION_ARG_STRING, &uri,
      "libvirt URI to manage (default: $VMDESK_LIBVIRT_URI or qemu:///system)", "URI" },
    { "state-dir", 0, 0, G_OPTION_ARG_FILENAME, &state_dir,
      "where to keep state (default: $STATE_DIRECTORY or /var/lib/vmdesk)", "DIR" },
    { "config-dir", 0, 0, G_OPTION_ARG_FILENAME, &config_dir,
      "where usb.rules and usb.rules.d/ are (default: $VMDESK_CONFIG_DIR or " VMDESK_SYSCONFDIR ")", "DIR" },
    { "usb-ask-timeout", 0, 0, G_OPTION_ARG_INT, &ask_timeout_s,
      "seconds a USB question waits for an answer before the device stays on the host (default 30)", "S" },
    { "critical-battery-percent", 0, 0, G_OPTION_ARG_DOUBLE, &critical_percent,
      "on battery at or below this percentage, save the VMs as for UPower's critical action "
      "(default 0: only UPower's WarningLevel decides)", "P" },
    { "host-shutdown-timeout", 0, 0, G_OPTION_ARG_INT, &host_shutdown_timeout_s,
      "seconds a host power-off or reboot gives the VMs to shut down or save before they are "
      "left to libvirt (default 60; keep the unit's TimeoutStopSec above it)", "S" },
    { "version", 0, 0, G_OPTION_ARG_NONE, &version, "print the version and exit", NULL },
    G_OPTION_ENTRY_NULL
  };
  g_autoptr(GOptionContext) ctx = g_option_context_new ("- the vmdesk daemon");
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdBouncer) bouncer = NULL;
  g_autoptr(VmdState) state = NULL;
  g_autoptr(GDBusConnection) system_bus = NULL;
  Daemon d = { 0 };

  setlocale (LC_ALL, "");
  g_option_context_add_main_entries (ctx, entries, NULL);
  if (!g_option_context_parse (ctx, &argc, &argv, &error))
    {
      g_printerr ("vmdeskd: %s\n", error->message);
      return 2;
    }
  if (version)
    {
      g_print ("vmdeskd %s\n", VMDESK_VERSION);
      return 0;
    }
  if (uri == NULL)
    uri = g_strdup (g_getenv ("VMDESK_LIBVIRT_URI") ? g_getenv ("VMDESK_LIBVIRT_URI") : "qemu:///system");
  if (state_dir == NULL)
    {
      /* systemd may pass several directories separated by ':'; ours is the first. */
      const char *env = g_getenv ("STATE_DIRECTORY");
      g_auto(GStrv) dirs = g_strsplit (env && *env ? env : "/var/lib/vmdesk", ":", 2);
      state_dir = g_strdup (dirs[0]);
    }

  if (config_dir == NULL)
    config_dir = g_strdup (g_getenv ("VMDESK_CONFIG_DIR") ? g_getenv ("VMDESK_CONFIG_DIR") : VMDESK_SYSCONFDIR);
  if (ask_timeout_s < 1 || ask_timeout_s > 3600)
    {
      g_printerr ("vmdeskd: --usb-ask-timeout must be 1..3600 seconds\n");
      return 2;
    }
  if (!(critical_percent >= 0 && critical_percent < 100))
    {
      g_printerr ("vmdeskd: --critical-battery-percent must be 0..99\n");
      return 2;
    }
  if (host_shutdown_timeout_s < 1 || host_shutdown_timeout_s > 3600)
    {
      g_printerr ("vmdeskd: --host-shutdown-timeout must be 1..3600 seconds\n");
      return 2;
    }

  state = vmd_state_load (state_dir, &error);
  if (state == NULL)
    {
      g_printerr ("vmdeskd: %s\n", error->message);
      return 1;
    }

  /* libvirt's events run on the GLib main loop: no libvirt thread, no polling. */
  if (virInitialize () < 0)
    {
      g_printerr ("vmdeskd: cannot initialize libvirt\n");
      return 1;
    }
  /* Every libvirt error reaches its caller, which reports it with context; libvirt's own
   * handler would also print each to stderr, the expected ones too (a VM without vmdesk
   * metadata, a domain gone while it was read). libvirt-glib's sends them to debug. */
  gvir_init_check (&argc, &argv, NULL);
  gvir_event_register ();

  d.loop = g_main_loop_new (NULL, FALSE);
  d.libvirt = vmd_libvirt_new (uri);
  bouncer = vmd_bouncer_new ();
  d.manager = vmd_manager_new (d.libvirt, bouncer, g_steal_pointer (&state));
  d.usb = vmd_usb_new (d.manager, d.libvirt, config_dir, state_dir, (guint) ask_timeout_s * 1000, &error);
  if (d.usb == NULL)
    {
      g_printerr ("vmdeskd: %s\n", error->message);
      return 1;
    }
  vmd_usb_start (d.usb);
  /* UPower and logind are on the system bus, the one the name is owned on later. */
  system_bus = g_bus_get_sync (G_BUS_TYPE_SYSTEM, NULL, &error);
  if (system_bus == NULL
      || (d.power = vmd_power_new (d.manager, d.libvirt, system_bus, state_dir, critical_percent,
                                   &error)) == NULL)
    {
      g_printerr ("vmdeskd: %s\n", error->message);
      return 1;
    }
  vmd_power_set_host_shutdown_timeout (d.power, (guint) host_shutdown_timeout_s);
  vmd_power_start (d.power);
  /* Recovery is queued before libvirt starts, so it runs before any StartVM can bind. A
   * single-GPU hand-over whose VM has not started within the deadline gets the host display
   * back at the next daemon start (the daemon itself gives devices back on a failed start). */
  d.vfio = vmd_vfio_new (d.manager, d.libvirt, vmd_vfio_library_ops (),
                         vmd_vfio_library_new (state_dir, system_bus, VFIO_WATCHDOG_S),
                         (GDestroyNotify) vmd_vfio_library_free);
  vmd_vfio_start (d.vfio);
  d.inputs = vmd_input_follow_new (d.manager, d.libvirt);
  d.display = vmd_display_new (d.manager, d.libvirt);
  g_signal_connect (d.libvirt, "first-sync", G_CALLBACK (on_first_sync), &d);
  g_unix_signal_add (SIGTERM, on_sigterm, &d);
  g_unix_signal_add (SIGINT, on_sigterm, &d);
  g_unix_signal_add (SIGHUP, on_sighup, &d);

  vmd_libvirt_start (d.libvirt);
  g_main_loop_run (d.loop);

  /* Signals sent while stopping (a host shutdown's SleepReport) reach the bus before the
   * connection goes with the process. */
  g_dbus_connection_flush_sync (system_bus, NULL, NULL);
  if (d.owner_id)
    g_bus_unown_name (d.owner_id);
  g_signal_handlers_disconnect_by_data (d.libvirt, &d);
  g_clear_object (&d.usb);
  g_clear_object (&d.vfio);
  g_clear_object (&d.inputs);
  g_clear_object (&d.display);
  g_clear_object (&d.power);
  g_clear_object (&d.manager);
  g_clear_object (&d.libvirt);
  g_main_loop_unref (d.loop);
  return d.exit_code;
}
