/* vmd-bus-peer.c: UPower and logind as moving targets: either may restart at any time, and
 * what the old instance said, or still answers, must not mix with the new one. */
#include "vmd-power-private.h"

static void
on_name_appeared (GDBusConnection *bus, const char *name, const char *owner, gpointer data)
{
  VmdBusPeer *peer = data;

  g_cancellable_cancel (peer->cancellable);
  g_clear_object (&peer->cancellable);
  peer->cancellable = g_cancellable_new ();
  g_free (peer->owner);
  peer->owner = g_strdup (owner);
  peer->appeared (peer->user_data);
}

static void
on_name_vanished (GDBusConnection *bus, const char *name, gpointer data)
{
  VmdBusPeer *peer = data;

  g_cancellable_cancel (peer->cancellable);
  g_clear_pointer (&peer->owner, g_free);
  peer->vanished (peer->user_data);
}

void
vmd_bus_peer_init (VmdBusPeer *peer, GDBusConnection *bus, const char *name,
                   void (*appeared) (gpointer), void (*vanished) (gpointer), gpointer user_data)
{
  memset (peer, 0, sizeof *peer);
  peer->bus = g_object_ref (bus);
  peer->name = g_strdup (name);
  peer->subscriptions = g_array_new (FALSE, FALSE, sizeof (guint));
  peer->appeared = appeared;
  peer->vanished = vanished;
  peer->user_data = user_data;
}

void
vmd_bus_peer_subscribe (VmdBusPeer *peer, const char *iface, const char *member,
                        const char *path, GDBusSignalCallback callback)
{
  guint id = g_dbus_connection_signal_subscribe (peer->bus, peer->name, iface, member, path,
                                                 NULL, G_DBUS_SIGNAL_FLAGS_NONE, callback,
                                                 peer->user_data, NULL);
  g_array_append_val (peer->subscriptions, id);
}

/* After the subscriptions, so nothing between the first read and the first signal is lost. */
void
vmd_bus_peer_watch (VmdBusPeer *peer)
{
  peer->watch_id = g_bus_watch_name_on_connection (peer->bus, peer->name,
                                                   G_BUS_NAME_WATCHER_FLAGS_NONE,
                                                   on_name_appeared, on_name_vanished,
                                                   peer, NULL);
}

void
vmd_bus_peer_call (VmdBusPeer *peer, const char *path, const char *iface, const char *method,
                   GVariant *params, const GVariantType *reply, GAsyncReadyCallback callback,
                   gpointer user_data)
{
  g_return_if_fail (peer->owner != NULL);

  g_dbus_connection_call (peer->bus, peer->owner, path, iface, method, params, reply,
                          G_DBUS_CALL_FLAGS_NO_AUTO_START, -1, peer->cancellable, callback,
                          user_data);
}

void
vmd_bus_peer_clear (VmdBusPeer *peer)
{
  g_cancellable_cancel (peer->cancellable);
  g_clear_object (&peer->cancellable);
  if (peer->watch_id != 0)
    g_bus_unwatch_name (peer->watch_id);
  peer->watch_id = 0;
  for (guint i = 0; peer->subscriptions != NULL && i < peer->subscriptions->len; i++)
    g_dbus_connection_signal_unsubscribe (peer->bus, g_array_index (peer->subscriptions, guint, i));
  g_clear_pointer (&peer->subscriptions, g_array_unref);
  g_clear_object (&peer->bus);
  g_clear_pointer (&peer->owner, g_free);
  g_clear_pointer (&peer->name, g_free);
}
