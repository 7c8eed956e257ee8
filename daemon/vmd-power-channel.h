/* vmd-power-channel.h: a VM's power channel reached through libvirt. virDomainOpenChannel
 * gives a virStream; VmdGuestLink wants a socket. The pump copies between the stream and
 * one end of a socketpair, through two bounded buffers, and the link gets the other end. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

typedef struct _VmdPowerChannel VmdPowerChannel;

/* Bytes buffered in each direction; the pump stops reading a side while its buffer is full,
 * so a guest that floods or a link that does not read costs no more than this. */
#define VMD_POWER_CHANNEL_BUFFER 16384

/* Looks up `vm` and opens its virtio-serial channel `channel` (VIR_DOMAIN_CHANNEL_FORCE: a
 * stale stream of a previous daemon is taken over) on a worker thread. */
void             vmd_power_channel_open_async (virConnectPtr conn, const char *vm,
                                               const char *channel, GCancellable *cancellable,
                                               GAsyncReadyCallback callback, gpointer user_data);
/* The running pump and, in `link_fd`, the socket end for vmd_guest_link_new_for_fd (owned
 * by the caller). When the stream ends the pump closes its end (the link reads EOF); when
 * the link closes its end the pump aborts the stream. Either way: free the pump then.
 * Errors: G_IO_ERROR_NOT_FOUND when the VM has no such channel. */
VmdPowerChannel *vmd_power_channel_open_finish (GAsyncResult *result, int *link_fd,
                                                GError **error);
void             vmd_power_channel_free (VmdPowerChannel *channel);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdPowerChannel, vmd_power_channel_free)
