/* vmd-guest-link.c: one VM's power channel. Non-blocking both ways: what the guest sends
 * is framed and bounded by a VmdLineReader, what the host sends waits in a fixed set of
 * slots where a newer state replaces an older one, so a guest that floods, babbles or
 * never reads costs a bounded amount of memory and time and is eventually dropped. */
#include "vmd-power-private.h"

#include <gio/gunixsocketaddress.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>

#define BUTTONS_MAX     8
/* Per dispatch: a flooding guest gets this much of one main-loop iteration, no more. */
#define READS_PER_WAKE  4
#define READ_SIZE       4096

/* Pending messages, written in this order; power and lid keep only the latest state. */
enum {
  PENDING_HELLO = 1 << 0,
  PENDING_POWER = 1 << 1,
  PENDING_LID   = 1 << 2,
  PENDING_SLEEP = 1 << 3,
  PENDING_TIME  = 1 << 4,
};

struct _VmdGuestLink {
  GObject           parent;
  char             *vm;
  GSocket          *socket;
  GMainContext     *context;
  GSource          *in_source;
  GSource          *out_source;
  VmdLineLimits     limits;
  VmdLineReader    *reader;
  gboolean          started;
  gboolean          closed;
  gboolean          ready;
  VmdGuestCaps      caps;
  guint32           seq;          /* the last one sent */

  gboolean          have_power;
  VmdPowerState     power;
  gboolean          have_lid;
  gboolean          lid_closed;
  VmdSleepPhase     sleep_phase;
  guint             pending;
  VmdButton         buttons[BUTTONS_MAX];
  guint             buttons_first;
  guint             buttons_len;

  char             *out;          /* the line being written */
  gsize             out_len;
  gsize             out_done;
  VmdGuestLinkStats stats;
};

G_DEFINE_TYPE (VmdGuestLink, vmd_guest_link, G_TYPE_OBJECT)

enum { SIGNAL_HELLO, SIGNAL_ACKED, SIGNAL_CLOSED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void link_log (VmdGuestLink *self, GLogLevelFlags level, const char *format, ...)
  G_GNUC_PRINTF (3, 4);

static void
link_log (VmdGuestLink *self, GLogLevelFlags level, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_log_structured (G_LOG_DOMAIN, level, "VMDESK_VM", self->vm, "MESSAGE", "%s: %s",
                    self->vm, text);
}

static void
stop_sources (VmdGuestLink *self)
{
  if (self->in_source != NULL)
    {
      g_source_destroy (self->in_source);
      g_clear_pointer (&self->in_source, g_source_unref);
    }
  if (self->out_source != NULL)
    {
      g_source_destroy (self->out_source);
      g_clear_pointer (&self->out_source, g_source_unref);
    }
}

/* Only ever called from a dispatch of this link's sources, so the owner never sees
 * "closed" re-entrantly from one of its own calls. */
static void
close_with (VmdGuestLink *self, const char *reason)
{
  if (self->closed)
    return;
  self->closed = TRUE;
  self->ready = FALSE;
  stop_sources (self);
  g_socket_close (self->socket, NULL);
  link_log (self, G_LOG_LEVEL_MESSAGE, "power channel closed: %s", reason);
  g_signal_emit (self, signals[SIGNAL_CLOSED], 0, reason);
}

/* ---- host -> guest ---- */

static char *
next_line (VmdGuestLink *self)
{
  struct timespec now;
  guint32 seq;

  if (self->pending == 0 && self->buttons_len == 0)
    return NULL;
  seq = self->seq == G_MAXUINT32 ? 1 : self->seq + 1;
  if (self->pending & PENDING_HELLO)
    {
      self->pending &= ~PENDING_HELLO;
      self->seq = seq;
      return vmd_guest_encode_hello (seq, "vmdeskd/" VMDESK_VERSION);
    }
  self->seq = seq;
  if (self->pending & PENDING_POWER)
    {
      self->pending &= ~PENDING_POWER;
      return vmd_guest_encode_power (seq, &self->power);
    }
  if (self->pending & PENDING_LID)
    {
      self->pending &= ~PENDING_LID;
      return vmd_guest_encode_lid (seq, self->lid_closed);
    }
  if (self->pending & PENDING_SLEEP)
    {
      self->pending &= ~PENDING_SLEEP;
      return vmd_guest_encode_sleep (seq, self->sleep_phase);
    }
  if (self->pending & PENDING_TIME)
    {
      self->pending &= ~PENDING_TIME;
      clock_gettime (CLOCK_REALTIME, &now);
      return vmd_guest_encode_time (seq, now.tv_sec, (guint32) now.tv_nsec);
    }
  {
    VmdButton button = self->buttons[self->buttons_first];
    self->buttons_first = (self->buttons_first + 1) % BUTTONS_MAX;
    self->buttons_len--;
    return vmd_guest_encode_button (seq, button);
  }
}

/* Writes until the socket is full or nothing is left. The next line is built only when
 * the previous one is out, so a state update that arrives meanwhile replaces the older. */
static gboolean
on_writable (GSocket *socket, GIOCondition condition, gpointer data)
{
  VmdGuestLink *self = data;

  for (;;)
    {
      g_autoptr(GError) error = NULL;
      gssize n;

      if (self->out == NULL)
        {
          self->out = next_line (self);
          if (self->out == NULL)
            break;
          self->out_len = strlen (self->out);
          self->out_done = 0;
        }
      n = g_socket_send_with_blocking (socket, self->out + self->out_done,
                                       self->out_len - self->out_done, FALSE, NULL, &error);
      if (n < 0)
        {
          g_autofree char *reason = NULL;

          if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
            return G_SOURCE_CONTINUE;   /* the guest does not read: wait, queue bounded */
          reason = g_strdup_printf ("write error: %s", error->message);
          g_clear_pointer (&self->out_source, g_source_unref);
          close_with (self, reason);
          return G_SOURCE_REMOVE;
        }
      self->out_done += (gsize) n;
      if (self->out_done == self->out_len)
        {
          g_clear_pointer (&self->out, g_free);
          self->stats.sent++;
        }
    }
  g_clear_pointer (&self->out_source, g_source_unref);
  return G_SOURCE_REMOVE;
}

/* Writing happens from the main loop, never inside the caller's set/send call. */
static void
schedule_write (VmdGuestLink *self)
{
  if (self->closed || !self->started || self->out_source != NULL)
    return;
  self->out_source = g_socket_create_source (self->socket, G_IO_OUT, NULL);
  g_source_set_callback (self->out_source, G_SOURCE_FUNC (on_writable), self, NULL);
  g_source_attach (self->out_source, self->context);
}

static void
queue_state (VmdGuestLink *self)
{
  if (self->have_power && (self->caps & VMD_GUEST_CAP_POWER))
    self->pending |= PENDING_POWER;
  if (self->have_lid && (self->caps & VMD_GUEST_CAP_LID))
    self->pending |= PENDING_LID;
}

void
vmd_guest_link_set_power (VmdGuestLink *self, const VmdPowerState *state)
{
  g_return_if_fail (VMD_IS_GUEST_LINK (self));

  /* Byte copies both ways, so equal states compare equal, padding included. */
  if (self->have_power && memcmp (&self->power, state, sizeof *state) == 0)
    return;
  memcpy (&self->power, state, sizeof *state);
  self->have_power = TRUE;
  if (!self->ready || !(self->caps & VMD_GUEST_CAP_POWER))
    return;
  if (self->pending & PENDING_POWER)
    self->stats.coalesced++;
  self->pending |= PENDING_POWER;
  schedule_write (self);
}

void
vmd_guest_link_set_lid (VmdGuestLink *self, gboolean closed)
{
  g_return_if_fail (VMD_IS_GUEST_LINK (self));

  closed = !!closed;
  if (self->have_lid && self->lid_closed == closed)
    return;
  self->lid_closed = closed;
  self->have_lid = TRUE;
  if (!self->ready || !(self->caps & VMD_GUEST_CAP_LID))
    return;
  if (self->pending & PENDING_LID)
    self->stats.coalesced++;
  self->pending |= PENDING_LID;
  schedule_write (self);
}

static gboolean
can_send (VmdGuestLink *self, VmdGuestCaps cap)
{
  return self->ready && (self->caps & cap);
}

void
vmd_guest_link_send_button (VmdGuestLink *self, VmdButton button)
{
  g_return_if_fail (VMD_IS_GUEST_LINK (self));

  if (!can_send (self, VMD_GUEST_CAP_BUTTON))
    return;
  if (self->buttons_len == BUTTONS_MAX)
    {
      self->buttons_first = (self->buttons_first + 1) % BUTTONS_MAX;
      self->buttons_len--;
      self->stats.dropped++;
    }
  self->buttons[(self->buttons_first + self->buttons_len) % BUTTONS_MAX] = button;
  self->buttons_len++;
  schedule_write (self);
}

void
vmd_guest_link_send_sleep (VmdGuestLink *self, VmdSleepPhase phase)
{
  g_return_if_fail (VMD_IS_GUEST_LINK (self));

  if (!can_send (self, VMD_GUEST_CAP_SLEEP))
    return;
  if (self->pending & PENDING_SLEEP)
    self->stats.coalesced++;
  self->sleep_phase = phase;
  self->pending |= PENDING_SLEEP;
  schedule_write (self);
}

void
vmd_guest_link_send_time (VmdGuestLink *self)
{
  g_return_if_fail (VMD_IS_GUEST_LINK (self));

  if (!can_send (self, VMD_GUEST_CAP_TIME))
    return;
  if (self->pending & PENDING_TIME)
    self->stats.coalesced++;
  self->pending |= PENDING_TIME;
  schedule_write (self);
}

guint
vmd_guest_link_get_queued (VmdGuestLink *self)
{
  g_return_val_if_fail (VMD_IS_GUEST_LINK (self), 0);

  return (self->out != NULL) + (guint) __builtin_popcount (self->pending) + self->buttons_len;
}

/* ---- guest -> host ---- */

static void
on_hello (VmdGuestLink *self, const VmdGuestMessage *msg)
{
  g_autofree char *agent = g_strescape (msg->agent, NULL);

  if (msg->version != VMD_GUEST_PROTOCOL_VERSION)
    {
      /* Another protocol: no state until a hello we understand; the link stays. */
      link_log (self, G_LOG_LEVEL_MESSAGE,
                "guest agent \"%s\" speaks protocol version %" G_GINT64_FORMAT ", not %d; "
                "waiting for a new hello", agent, msg->version, VMD_GUEST_PROTOCOL_VERSION);
      self->ready = FALSE;
      self->pending &= PENDING_HELLO;
      self->buttons_len = 0;
      return;
    }
  link_log (self, G_LOG_LEVEL_INFO, "guest agent \"%s\" is ready (caps 0x%x)", agent,
            msg->caps);
  self->ready = TRUE;
  self->caps = msg->caps;
  queue_state (self);
  schedule_write (self);
  g_signal_emit (self, signals[SIGNAL_HELLO], 0, (guint) msg->caps);
}

static gboolean
on_line (const char *line, gsize len, gpointer data, GError **error)
{
  VmdGuestLink *self = data;
  g_autoptr(VmdGuestMessage) msg = vmd_guest_message_parse (line, len, error);

  if (msg == NULL)
    return FALSE;
  self->stats.received++;
  switch (msg->type)
    {
    case VMD_GUEST_MSG_HELLO:
      on_hello (self, msg);
      break;
    case VMD_GUEST_MSG_ACK:
      if (msg->seq > self->seq)
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                       "ack: seq %u was never sent (last %u)", msg->seq, self->seq);
          return FALSE;
        }
      g_signal_emit (self, signals[SIGNAL_ACKED], 0, (guint) msg->seq);
      break;
    case VMD_GUEST_MSG_ERROR:
      {
        g_autofree char *text = g_strescape (msg->message, NULL);
        g_autofree char *about = msg->has_seq ? g_strdup_printf (" about seq %u", msg->seq)
                                              : g_strdup ("");
        link_log (self, G_LOG_LEVEL_MESSAGE, "guest agent reports an error%s: %s", about, text);
      }
      break;
    case VMD_GUEST_MSG_UNKNOWN:
    default:
      self->stats.unknown++;
      break;
    }
  return TRUE;
}

static gboolean
on_readable (GSocket *socket, GIOCondition condition, gpointer data)
{
  g_autoptr(VmdGuestLink) self = g_object_ref (data);   /* handlers may drop theirs */
  char buf[READ_SIZE];

  for (int i = 0; i < READS_PER_WAKE && !self->closed; i++)
    {
      g_autoptr(GError) error = NULL;
      gssize n = g_socket_receive_with_blocking (socket, buf, sizeof buf, FALSE, NULL, &error);

      if (n < 0 && g_error_matches (error, G_IO_ERROR, G_IO_ERROR_WOULD_BLOCK))
        break;
      if (n <= 0)
        {
          g_autofree char *reason = n == 0 ? g_strdup ("the guest side closed the channel")
                                           : g_strdup_printf ("read error: %s", error->message);
          close_with (self, reason);
          break;
        }
      if (!vmd_line_reader_feed (self->reader, buf, (gsize) n, g_get_monotonic_time (),
                                 on_line, self) && !self->closed)
        {
          g_autofree char *why = g_strescape (vmd_line_reader_get_last_error (self->reader), NULL);
          g_autofree char *reason =
            g_strdup_printf ("too much malformed input from the guest (%" G_GUINT64_FORMAT
                             " lines; the last: %s)",
                             vmd_line_reader_get_stats (self->reader)->malformed, why);
          close_with (self, reason);
        }
    }
  return self->closed ? G_SOURCE_REMOVE : G_SOURCE_CONTINUE;
}

/* ---- life cycle ---- */

void
vmd_guest_link_set_limits (VmdGuestLink *self, const VmdLineLimits *limits)
{
  g_return_if_fail (VMD_IS_GUEST_LINK (self));
  g_return_if_fail (!self->started);

  self->limits = *limits;
}

void
vmd_guest_link_start (VmdGuestLink *self)
{
  g_return_if_fail (VMD_IS_GUEST_LINK (self));

  if (self->started || self->closed)
    return;
  self->started = TRUE;
  self->reader = vmd_line_reader_new (&self->limits);
  self->in_source = g_socket_create_source (self->socket, G_IO_IN | G_IO_HUP | G_IO_ERR, NULL);
  g_source_set_callback (self->in_source, G_SOURCE_FUNC (on_readable), self, NULL);
  g_source_attach (self->in_source, self->context);
  self->pending |= PENDING_HELLO;
  schedule_write (self);
}

gboolean
vmd_guest_link_is_ready (VmdGuestLink *self)
{
  g_return_val_if_fail (VMD_IS_GUEST_LINK (self), FALSE);
  return self->ready;
}

VmdGuestCaps
vmd_guest_link_get_caps (VmdGuestLink *self)
{
  g_return_val_if_fail (VMD_IS_GUEST_LINK (self), 0);
  return self->caps;
}

const VmdGuestLinkStats *
vmd_guest_link_get_stats (VmdGuestLink *self)
{
  g_return_val_if_fail (VMD_IS_GUEST_LINK (self), NULL);

  if (self->reader != NULL)
    self->stats.input = *vmd_line_reader_get_stats (self->reader);
  return &self->stats;
}

static VmdGuestLink *
link_new (GSocket *socket, const char *vm)
{
  VmdGuestLink *self = g_object_new (VMD_TYPE_GUEST_LINK, NULL);

  self->socket = socket;
  self->vm = g_strdup (vm != NULL ? vm : "?");
  g_socket_set_blocking (socket, FALSE);
  return self;
}

VmdGuestLink *
vmd_guest_link_new_for_fd (int fd, const char *vm, GError **error)
{
  g_autoptr(GError) local = NULL;
  GSocket *socket = g_socket_new_from_fd (fd, &local);

  if (socket == NULL)
    {
      g_close (fd, NULL);
      g_set_error (error, local->domain, local->code, "%s: power channel fd %d: %s",
                   vm, fd, local->message);
      return NULL;
    }
  if (g_socket_get_socket_type (socket) != G_SOCKET_TYPE_STREAM)
    {
      g_object_unref (socket);
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                   "%s: power channel fd %d is not a stream socket", vm, fd);
      return NULL;
    }
  return link_new (socket, vm);
}

VmdGuestLink *
vmd_guest_link_connect_unix (const char *path, const char *vm, GError **error)
{
  g_autoptr(GSocket) socket = NULL;
  g_autoptr(GSocketAddress) address = NULL;
  g_autoptr(GError) local = NULL;

  if (strlen (path) >= sizeof (((struct sockaddr_un *) NULL)->sun_path))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                   "%s: power channel socket path is too long: %s", vm, path);
      return NULL;
    }
  socket = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM, G_SOCKET_PROTOCOL_DEFAULT,
                         &local);
  if (socket != NULL)
    {
      /* Non-blocking even here: a listener with a full backlog fails at once (EAGAIN)
       * instead of holding up the daemon; the owner simply tries again later. */
      g_socket_set_blocking (socket, FALSE);
      address = g_unix_socket_address_new (path);
      if (g_socket_connect (socket, address, NULL, &local))
        return link_new (g_steal_pointer (&socket), vm);
    }
  g_set_error (error, local->domain, local->code, "%s: connecting to the power channel %s: %s",
               vm, path, local->message);
  return NULL;
}

static void
vmd_guest_link_dispose (GObject *object)
{
  VmdGuestLink *self = VMD_GUEST_LINK (object);

  stop_sources (self);
  if (self->socket != NULL && !self->closed)
    g_socket_close (self->socket, NULL);
  self->closed = TRUE;
  G_OBJECT_CLASS (vmd_guest_link_parent_class)->dispose (object);
}

static void
vmd_guest_link_finalize (GObject *object)
{
  VmdGuestLink *self = VMD_GUEST_LINK (object);

  g_clear_object (&self->socket);
  g_clear_pointer (&self->reader, vmd_line_reader_free);
  g_clear_pointer (&self->context, g_main_context_unref);
  g_free (self->out);
  g_free (self->vm);
  G_OBJECT_CLASS (vmd_guest_link_parent_class)->finalize (object);
}

static void
vmd_guest_link_class_init (VmdGuestLinkClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vmd_guest_link_dispose;
  object_class->finalize = vmd_guest_link_finalize;
  signals[SIGNAL_HELLO] = g_signal_new ("hello", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                        0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[SIGNAL_ACKED] = g_signal_new ("acked", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                        0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_UINT);
  signals[SIGNAL_CLOSED] = g_signal_new ("closed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                         0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vmd_guest_link_init (VmdGuestLink *self)
{
  self->context = g_main_context_ref_thread_default ();
  vmd_line_limits_init_default (&self->limits);
}
