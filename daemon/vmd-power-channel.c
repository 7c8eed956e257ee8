/* vmd-power-channel.c: the pump between a libvirt channel stream and a socketpair.
 *
 * libvirt-glib runs libvirt's event loop on the GLib main loop, so the stream's events and
 * the socket's arrive on the same thread. Each event moves what it can in both directions
 * (one buffer's worth at most) and then sets what to wait for next: a side is read only
 * while its buffer has room, written only while there is something to write. */
#include "vmd-power-channel.h"

#include "vmd-libvirt.h"
#include "vmd-live-xml.h"

#include <errno.h>
#include <libvirt/virterror.h>
#include <sys/socket.h>
#include <unistd.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)

typedef struct {
  guint8 data[VMD_POWER_CHANNEL_BUFFER];
  gsize  len;
} Buffer;

struct _VmdPowerChannel {
  char         *vm;
  virStreamPtr  stream;
  int           stream_events;   /* what the stream callback waits for now; -1: none registered */
  GSocket      *socket;          /* our end of the pair */
  GSource      *socket_source;
  GIOCondition  socket_events;
  Buffer        to_guest;        /* read from the socket, not yet sent to the stream */
  Buffer        to_host;         /* received from the stream, not yet written to the socket */
  gboolean      closed;
};

/* ---- opening, on a worker thread ---- */

typedef struct {
  virConnectPtr conn;
  char         *vm;
  char         *channel;
} OpenData;

static void
open_data_free (OpenData *data)
{
  virConnectClose (data->conn);
  g_free (data->vm);
  g_free (data->channel);
  g_free (data);
}

/* What the thread hands back: the open stream and both socket ends. */
typedef struct {
  virStreamPtr stream;
  int          fds[2];
} Opened;

static void
opened_free (Opened *opened)
{
  if (opened->stream)
    {
      virStreamAbort (opened->stream);
      virStreamFree (opened->stream);
    }
  for (int i = 0; i < 2; i++)
    if (opened->fds[i] >= 0)
      close (opened->fds[i]);
  g_free (opened);
}

static void
open_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpenData *data = task_data;
  g_autoptr(virDomain) dom = virDomainLookupByName (data->conn, data->vm);
  g_autofree char *xml = NULL;
  g_autoptr(GError) error = NULL;
  VmdLiveDevices devices;
  Opened *opened;

  if (dom == NULL)
    {
      vmd_set_libvirt_error (&error, "%s: looking up the VM", data->vm);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if ((xml = virDomainGetXMLDesc (dom, 0)) == NULL)
    {
      vmd_set_libvirt_error (&error, "%s: reading its definition", data->vm);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  vmd_live_xml_read_devices (xml, data->channel, &devices);
  if (!devices.has_channel)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_FOUND,
                               "%s has no %s channel (vmdeskctl setup adds it; it appears at "
                               "the next boot)", data->vm, data->channel);
      return;
    }
  opened = g_new0 (Opened, 1);
  opened->fds[0] = opened->fds[1] = -1;
  opened->stream = virStreamNew (data->conn, VIR_STREAM_NONBLOCK);
  if (opened->stream == NULL
      || virDomainOpenChannel (dom, data->channel, opened->stream, VIR_DOMAIN_CHANNEL_FORCE) < 0)
    {
      vmd_set_libvirt_error (&error, "%s: opening the %s channel", data->vm, data->channel);
      if (opened->stream)
        virStreamFree (g_steal_pointer (&opened->stream));
      opened_free (opened);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, opened->fds) < 0)
    {
      int saved = errno;
      opened_free (opened);
      g_task_return_new_error (task, G_IO_ERROR, g_io_error_from_errno (saved),
                               "%s: socketpair for the power channel: %s", data->vm,
                               g_strerror (saved));
      return;
    }
  g_task_return_pointer (task, opened, (GDestroyNotify) opened_free);
}

void
vmd_power_channel_open_async (virConnectPtr conn, const char *vm, const char *channel,
                              GCancellable *cancellable, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, cancellable, callback, user_data);
  OpenData *data = g_new0 (OpenData, 1);

  virConnectRef (conn);
  data->conn = conn;
  data->vm = g_strdup (vm);
  data->channel = g_strdup (channel);
  g_task_set_task_data (task, data, (GDestroyNotify) open_data_free);
  g_task_run_in_thread (task, open_thread);
}

/* ---- pumping, on the main loop ---- */

static void update_interest (VmdPowerChannel *self);

/* Our end goes: the link reads EOF and reports the channel closed. The stream stays
 * until the owner frees the pump (never freed from inside its own callback). */
static void
pump_close (VmdPowerChannel *self, const char *why)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  g_debug ("%s: power channel stream ended: %s", self->vm, why);
  if (self->socket_source)
    {
      g_source_destroy (self->socket_source);
      g_clear_pointer (&self->socket_source, g_source_unref);
    }
  g_socket_close (self->socket, NULL);
  if (self->stream_events >= 0)
    {
      virStreamEventRemoveCallback (self->stream);
      self->stream_events = -1;
    }
}

static void
buffer_consume (Buffer *b, gsize n)
{
  memmove (b->data, b->data + n, b->len - n);
  b->len -= n;
}

/* One pass in each direction; returns FALSE once the pump closed. */
static gboolean
pump (VmdPowerChannel *self)
{
  g_autoptr(GError) error = NULL;
  gssize n;

  /* guest -> host: stream into to_host, to_host into the socket */
  if (self->to_host.len < sizeof self->to_host.data)
    {
      n = virStreamRecv (self->stream, (char *) self->to_host.data + self->to_host.len,
                         sizeof self->to_host.data - self->to_host.len);
      if (n == 0)
        {
          pump_close (self, "end of stream");
          return FALSE;
        }
      if (n == -1)
        {
          pump_close (self, virGetLastErrorMessage ());
          return FALSE;
        }
      if (n > 0)
        self->to_host.len += (gsize) n;
    }
  if (self->to_host.len > 0)
    {
      n = g_socket_send_with_blocking (self->socket, (const char *) self->to_host.data,
                                       self->to_host.len, FALSE, NULL, &error);
      if (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          pump_close (self, error->message);
          return FALSE;
        }
      if (n > 0)
        buffer_consume (&self->to_host, (gsize) n);
      g_clear_error (&error);
    }

  /* host -> guest: the socket into to_guest, to_guest into the stream */
  if (self->to_guest.len < sizeof self->to_guest.data)
    {
      n = g_socket_receive_with_blocking (self->socket,
                                          (char *) self->to_guest.data + self->to_guest.len,
                                          sizeof self->to_guest.data - self->to_guest.len,
                                          FALSE, NULL, &error);
      if (n == 0)
        {
          pump_close (self, "the link closed");
          return FALSE;
        }
      if (n < 0 && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        {
          pump_close (self, error->message);
          return FALSE;
        }
      if (n > 0)
        self->to_guest.len += (gsize) n;
      g_clear_error (&error);
    }
  if (self->to_guest.len > 0)
    {
      n = virStreamSend (self->stream, (const char *) self->to_guest.data, self->to_guest.len);
      if (n == -1)
        {
          pump_close (self, virGetLastErrorMessage ());
          return FALSE;
        }
      if (n > 0)
        buffer_consume (&self->to_guest, (gsize) n);
    }
  return TRUE;
}

static void
on_stream_event (virStreamPtr stream, int events, void *opaque)
{
  VmdPowerChannel *self = opaque;

  if (self->closed)
    return;
  if (!pump (self))
    return;
  /* Gone or broken: what could be moved was; the rest has nowhere to go. */
  if (events & (VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP))
    {
      pump_close (self, events & VIR_STREAM_EVENT_ERROR ? "stream error" : "stream hangup");
      return;
    }
  update_interest (self);
}

static gboolean
on_socket_event (GSocket *socket, GIOCondition condition, gpointer data)
{
  VmdPowerChannel *self = data;
  GSource *current = g_main_current_source ();

  if (pump (self))
    update_interest (self);
  /* update_interest replaced this source when the conditions changed. */
  return self->socket_source == current ? G_SOURCE_CONTINUE : G_SOURCE_REMOVE;
}

static void
update_interest (VmdPowerChannel *self)
{
  int stream_events = VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
  GIOCondition socket_events = 0;

  if (self->to_host.len < sizeof self->to_host.data)
    stream_events |= VIR_STREAM_EVENT_READABLE;
  if (self->to_guest.len > 0)
    stream_events |= VIR_STREAM_EVENT_WRITABLE;
  if (stream_events != self->stream_events)
    {
      virStreamEventUpdateCallback (self->stream, stream_events);
      self->stream_events = stream_events;
    }

  if (self->to_guest.len < sizeof self->to_guest.data)
    socket_events |= G_IO_IN;
  if (self->to_host.len > 0)
    socket_events |= G_IO_OUT;
  if (self->socket_source && socket_events == self->socket_events)
    return;
  if (self->socket_source)
    {
      g_source_destroy (self->socket_source);
      g_clear_pointer (&self->socket_source, g_source_unref);
    }
  self->socket_events = socket_events;
  self->socket_source = g_socket_create_source (self->socket, socket_events | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->socket_source, G_SOURCE_FUNC (on_socket_event), self, NULL);
  g_source_attach (self->socket_source, NULL);
}

VmdPowerChannel *
vmd_power_channel_open_finish (GAsyncResult *result, int *link_fd, GError **error)
{
  OpenData *data = g_task_get_task_data (G_TASK (result));
  Opened *opened = g_task_propagate_pointer (G_TASK (result), error);
  g_autoptr(VmdPowerChannel) self = NULL;
  g_autoptr(GError) local = NULL;

  if (opened == NULL)
    return NULL;
  self = g_new0 (VmdPowerChannel, 1);
  self->vm = g_strdup (data->vm);
  self->stream = g_steal_pointer (&opened->stream);
  self->stream_events = -1;
  self->socket = g_socket_new_from_fd (opened->fds[0], &local);
  if (self->socket == NULL)
    {
      opened_free (opened);
      g_set_error (error, local->domain, local->code, "%s: power channel socket: %s",
                   self->vm, local->message);
      return NULL;
    }
  opened->fds[0] = -1;
  g_socket_set_blocking (self->socket, FALSE);
  if (virStreamEventAddCallback (self->stream, VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR
                                                 | VIR_STREAM_EVENT_HANGUP,
                                 on_stream_event, self, NULL) < 0)
    {
      vmd_set_libvirt_error (error, "%s: watching the power channel stream", self->vm);
      opened_free (opened);
      return NULL;
    }
  self->stream_events = VIR_STREAM_EVENT_READABLE | VIR_STREAM_EVENT_ERROR | VIR_STREAM_EVENT_HANGUP;
  update_interest (self);
  *link_fd = opened->fds[1];
  opened->fds[1] = -1;
  opened_free (opened);
  return g_steal_pointer (&self);
}

void
vmd_power_channel_free (VmdPowerChannel *self)
{
  if (self == NULL)
    return;
  if (self->socket_source)
    {
      g_source_destroy (self->socket_source);
      g_source_unref (self->socket_source);
    }
  if (self->stream)
    {
      if (self->stream_events >= 0)
        virStreamEventRemoveCallback (self->stream);
      virStreamAbort (self->stream);
      virStreamFree (self->stream);
    }
  g_clear_object (&self->socket);
  g_free (self->vm);
  g_free (self);
}
