/* VmdGuestLink over a socketpair: the test plays the guest agent on the other end. */
#include "vmdesk-power.h"

#include <errno.h>
#include <fcntl.h>
#include <gio/gio.h>
#include <gio/gunixsocketaddress.h>
#include <glib/gstdio.h>
#include <glib-unix.h>
#include <json-glib/json-glib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define ALL_CAPS "[\"power\",\"lid\",\"button\",\"sleep\",\"time\"]"

/* ---- the guest's end ---- */

typedef struct {
  int      fd;
  GString *in;
  guint    watch;
  gboolean eof;
} Peer;

static gboolean
on_peer_readable (int fd, GIOCondition condition, gpointer data)
{
  Peer *p = data;
  char buf[65536];
  gssize n;

  while ((n = read (fd, buf, sizeof buf)) > 0)
    g_string_append_len (p->in, buf, n);
  if (n == 0)
    {
      p->eof = TRUE;
      p->watch = 0;
      return G_SOURCE_REMOVE;
    }
  return G_SOURCE_CONTINUE;
}

static void
peer_start_reading (Peer *p)
{
  if (p->watch == 0)
    p->watch = g_unix_fd_add (p->fd, G_IO_IN | G_IO_HUP, on_peer_readable, p);
}

static void
peer_stop_reading (Peer *p)
{
  if (p->watch != 0)
    g_source_remove (p->watch);
  p->watch = 0;
}

static void
peer_close (Peer *p)
{
  peer_stop_reading (p);
  if (p->fd >= 0)
    close (p->fd);
  p->fd = -1;
  g_string_free (p->in, TRUE);
  p->in = NULL;
}

static gboolean
on_wait_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

/* Runs the main loop until `cond` holds; a test that waits longer than 10 s has failed. */
#define WAIT_UNTIL(cond)                                                          \
  G_STMT_START {                                                                  \
    gboolean timed_out_ = FALSE;                                                  \
    guint timer_ = g_timeout_add_seconds (10, on_wait_timeout, &timed_out_);       \
    while (!(cond) && !timed_out_)                                                \
      g_main_context_iteration (NULL, TRUE);                                      \
    if (!timed_out_)                                                              \
      g_source_remove (timer_);                                                   \
    if (!(cond))                                                                  \
      g_error ("timed out waiting for %s", #cond);                                \
  } G_STMT_END

static gboolean
peer_has_line (Peer *p)
{
  return memchr (p->in->str, '\n', p->in->len) != NULL;
}

/* The next line the host sent, parsed; the parser owns the object. */
static JsonObject *
peer_next (Peer *p, JsonParser **parser)
{
  g_autoptr(GError) error = NULL;
  char *nl;
  g_autofree char *line = NULL;

  peer_start_reading (p);
  WAIT_UNTIL (peer_has_line (p));
  nl = memchr (p->in->str, '\n', p->in->len);
  line = g_strndup (p->in->str, nl - p->in->str);
  g_string_erase (p->in, 0, nl - p->in->str + 1);
  *parser = json_parser_new ();
  g_assert_true (json_parser_load_from_data (*parser, line, -1, &error));
  g_assert_no_error (error);
  return json_node_get_object (json_parser_get_root (*parser));
}

static void
peer_expect (Peer *p, const char *type, gint64 seq)
{
  g_autoptr(JsonParser) parser = NULL;
  JsonObject *o = peer_next (p, &parser);

  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, type);
  g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, seq);
}

static void
peer_send (Peer *p, const char *text)
{
  gsize len = strlen (text);

  while (len > 0)
    {
      gssize n = write (p->fd, text, len);
      if (n < 0 && errno == EAGAIN)
        {
          g_main_context_iteration (NULL, FALSE);
          continue;
        }
      g_assert_cmpint (n, >, 0);
      text += n;
      len -= (gsize) n;
    }
}

/* ---- the host's end ---- */

typedef struct {
  VmdGuestLink *link;
  Peer          peer;
  guint         hellos;
  guint         caps;
  GArray       *acked;
  guint         closed;
  char         *reason;
} Fixture;

static void
on_hello (VmdGuestLink *link, guint caps, Fixture *f)
{
  f->hellos++;
  f->caps = caps;
}

static void
on_acked (VmdGuestLink *link, guint seq, Fixture *f)
{
  g_array_append_val (f->acked, seq);
}

static void
on_closed (VmdGuestLink *link, const char *reason, Fixture *f)
{
  f->closed++;
  g_free (f->reason);
  f->reason = g_strdup (reason);
}

static void
fixture_init (Fixture *f, const VmdLineLimits *limits, int sndbuf)
{
  g_autoptr(GError) error = NULL;
  int fds[2];

  memset (f, 0, sizeof *f);
  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  if (sndbuf > 0)
    {
      g_assert_cmpint (setsockopt (fds[0], SOL_SOCKET, SO_SNDBUF, &sndbuf, sizeof sndbuf), ==, 0);
      g_assert_cmpint (setsockopt (fds[1], SOL_SOCKET, SO_RCVBUF, &sndbuf, sizeof sndbuf), ==, 0);
    }
  g_assert_true (g_unix_set_fd_nonblocking (fds[1], TRUE, NULL));
  f->peer.fd = fds[1];
  f->peer.in = g_string_new (NULL);
  f->acked = g_array_new (FALSE, FALSE, sizeof (guint));
  f->link = vmd_guest_link_new_for_fd (fds[0], "test-vm", &error);
  g_assert_no_error (error);
  if (limits != NULL)
    vmd_guest_link_set_limits (f->link, limits);
  g_signal_connect (f->link, "hello", G_CALLBACK (on_hello), f);
  g_signal_connect (f->link, "acked", G_CALLBACK (on_acked), f);
  g_signal_connect (f->link, "closed", G_CALLBACK (on_closed), f);
}

static void
fixture_clear (Fixture *f)
{
  g_clear_object (&f->link);
  if (f->peer.in != NULL)
    peer_close (&f->peer);
  g_array_unref (f->acked);
  g_free (f->reason);
  /* Nothing may be left to dispatch for a link that is gone. */
  while (g_main_context_iteration (NULL, FALSE))
    ;
}

static VmdPowerState
power_state (double percent)
{
  VmdPowerState s = { .ac_online = FALSE, .n_batteries = 1 };

  s.batteries[0] = (VmdBattery) { "BAT0", percent, VMD_BATTERY_DISCHARGING, 20, 48, 9, 3600, 0 };
  return s;
}

/* Start, the host's hello, the guest's hello with `caps`. */
static void
handshake (Fixture *f, const char *caps)
{
  g_autofree char *hello = g_strdup_printf (
    "{\"type\":\"hello\",\"version\":1,\"agent\":\"test/1\",\"caps\":%s}\n", caps);
  guint before = f->hellos;

  vmd_guest_link_start (f->link);
  peer_expect (&f->peer, "hello", 1);
  peer_send (&f->peer, hello);
  WAIT_UNTIL (f->hellos == before + 1);
}

static double
power_percent (JsonObject *o)
{
  JsonArray *bats = json_object_get_array_member (o, "batteries");
  return json_object_get_double_member (json_array_get_object_element (bats, 0), "percent");
}

/* ---- tests ---- */

static void
test_handshake (void)
{
  VmdPowerState s = power_state (42.0);
  g_autoptr(JsonParser) p1 = NULL, p2 = NULL, p3 = NULL;
  Fixture f;
  JsonObject *o;

  fixture_init (&f, NULL, 0);
  vmd_guest_link_set_power (f.link, &s);
  vmd_guest_link_set_lid (f.link, TRUE);
  g_assert_false (vmd_guest_link_is_ready (f.link));
  vmd_guest_link_start (f.link);

  o = peer_next (&f.peer, &p1);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "hello");
  g_assert_cmpint (json_object_get_int_member (o, "version"), ==, 1);
  g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, 1);
  g_assert_true (g_str_has_prefix (json_object_get_string_member (o, "host"), "vmdeskd/"));

  peer_send (&f.peer, "{\"type\":\"hello\",\"version\":1,\"agent\":\"test/1\",\"caps\":" ALL_CAPS "}\n");
  WAIT_UNTIL (f.hellos == 1);
  g_assert_true (vmd_guest_link_is_ready (f.link));
  g_assert_cmpuint (f.caps, ==, VMD_GUEST_CAP_POWER | VMD_GUEST_CAP_LID | VMD_GUEST_CAP_BUTTON
                                | VMD_GUEST_CAP_SLEEP | VMD_GUEST_CAP_TIME);
  g_assert_cmpuint (vmd_guest_link_get_caps (f.link), ==, f.caps);

  /* The full state, power then lid. */
  o = peer_next (&f.peer, &p2);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "power");
  g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, 2);
  g_assert_cmpfloat (power_percent (o), ==, 42.0);
  o = peer_next (&f.peer, &p3);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "lid");
  g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, 3);
  g_assert_true (json_object_get_boolean_member (o, "closed"));

  peer_send (&f.peer, "{\"type\":\"ack\",\"seq\":2}\n{\"type\":\"ack\",\"seq\":3}\n");
  WAIT_UNTIL (f.acked->len == 2);
  g_assert_cmpuint (g_array_index (f.acked, guint, 0), ==, 2);
  g_assert_cmpuint (g_array_index (f.acked, guint, 1), ==, 3);

  /* Events, in their order. */
  vmd_guest_link_send_sleep (f.link, VMD_SLEEP_PHASE_PREPARE);
  peer_expect (&f.peer, "sleep", 4);
  vmd_guest_link_send_time (f.link);
  peer_expect (&f.peer, "time", 5);
  vmd_guest_link_send_button (f.link, VMD_BUTTON_POWER);
  peer_expect (&f.peer, "button", 6);

  /* The same state again is not news; a new one is. */
  vmd_guest_link_set_power (f.link, &s);
  vmd_guest_link_set_lid (f.link, TRUE);
  vmd_guest_link_set_lid (f.link, FALSE);
  peer_expect (&f.peer, "lid", 7);

  /* A restarted agent says hello again and gets the whole state again. */
  peer_send (&f.peer, "{\"type\":\"hello\",\"version\":1,\"agent\":\"test/2\",\"caps\":" ALL_CAPS "}\n");
  peer_expect (&f.peer, "power", 8);
  peer_expect (&f.peer, "lid", 9);
  g_assert_cmpuint (f.hellos, ==, 2);
  g_assert_cmpuint (f.closed, ==, 0);
  g_assert_cmpuint (vmd_guest_link_get_stats (f.link)->input.malformed, ==, 0);
  fixture_clear (&f);
}

static void
test_version_mismatch (void)
{
  VmdPowerState s = power_state (10.0);
  g_autoptr(JsonParser) parser = NULL;
  Fixture f;
  JsonObject *o;

  fixture_init (&f, NULL, 0);
  vmd_guest_link_set_power (f.link, &s);
  vmd_guest_link_start (f.link);
  peer_expect (&f.peer, "hello", 1);
  peer_send (&f.peer, "{\"type\":\"hello\",\"version\":2,\"agent\":\"future\",\"caps\":" ALL_CAPS "}\n");
  WAIT_UNTIL (vmd_guest_link_get_stats (f.link)->received == 1);
  g_assert_false (vmd_guest_link_is_ready (f.link));
  g_assert_cmpuint (f.hellos, ==, 0);
  /* Not ready: state is remembered, events are dropped, nothing is written... */
  s = power_state (11.0);
  vmd_guest_link_set_power (f.link, &s);
  vmd_guest_link_send_button (f.link, VMD_BUTTON_POWER);
  g_assert_cmpuint (vmd_guest_link_get_queued (f.link), ==, 0);
  /* ...until a hello we understand: then the latest state, and seq goes on from 1. */
  peer_send (&f.peer, "{\"type\":\"hello\",\"version\":1,\"agent\":\"now\",\"caps\":[\"power\"]}\n");
  o = peer_next (&f.peer, &parser);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "power");
  g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, 2);
  g_assert_cmpfloat (power_percent (o), ==, 11.0);
  g_assert_cmpuint (f.closed, ==, 0);
  fixture_clear (&f);
}

/* What the guest did not announce, it does not get. */
static void
test_caps (void)
{
  VmdPowerState s = power_state (50.0);
  g_autoptr(JsonParser) parser = NULL;
  Fixture f;
  JsonObject *o;

  fixture_init (&f, NULL, 0);
  vmd_guest_link_set_power (f.link, &s);
  vmd_guest_link_set_lid (f.link, TRUE);
  handshake (&f, "[\"power\"]");
  peer_expect (&f.peer, "power", 2);
  vmd_guest_link_set_lid (f.link, FALSE);
  vmd_guest_link_send_button (f.link, VMD_BUTTON_SLEEP);
  vmd_guest_link_send_sleep (f.link, VMD_SLEEP_PHASE_PREPARE);
  vmd_guest_link_send_time (f.link);
  s = power_state (49.0);
  vmd_guest_link_set_power (f.link, &s);
  o = peer_next (&f.peer, &parser);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "power");
  g_assert_cmpint (json_object_get_int_member (o, "seq"), ==, 3);
  fixture_clear (&f);
}

/* A guest that does not read: every call returns at once, the queue stays bounded, the
 * newest state replaces older ones, and once it reads it gets the latest. */
static void
test_never_reading_guest (void)
{
  VmdPowerState s;
  g_autoptr(JsonParser) parser = NULL;
  const VmdGuestLinkStats *stats;
  guint max_queued = 0, lines = 0, powers = 0;
  double last_percent = -1;
  Fixture f;
  int i;

  fixture_init (&f, NULL, 4096);
  handshake (&f, ALL_CAPS);
  peer_stop_reading (&f.peer);
  for (i = 0; i < 20000; i++)
    {
      s = power_state (i % 100 + 0.5);
      vmd_guest_link_set_power (f.link, &s);
      vmd_guest_link_set_lid (f.link, i % 2);
      vmd_guest_link_send_button (f.link, VMD_BUTTON_POWER);
      vmd_guest_link_send_time (f.link);
      vmd_guest_link_send_sleep (f.link, i % 2);
      max_queued = MAX (max_queued, vmd_guest_link_get_queued (f.link));
      g_main_context_iteration (NULL, FALSE);
    }
  stats = vmd_guest_link_get_stats (f.link);
  g_assert_cmpuint (max_queued, <=, 14);
  g_assert_cmpuint (vmd_guest_link_get_queued (f.link), >, 0);   /* it really is stuck */
  g_assert_cmpuint (stats->sent, <, 2000);
  g_assert_cmpuint (stats->coalesced, >, 10000);
  g_assert_cmpuint (stats->dropped, >, 10000);
  g_assert_cmpuint (f.closed, ==, 0);

  /* The guest reads again: everything queued drains, the last power is the latest. */
  peer_start_reading (&f.peer);
  WAIT_UNTIL (vmd_guest_link_get_queued (f.link) == 0);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  while (peer_has_line (&f.peer))
    {
      JsonObject *o;
      g_clear_object (&parser);
      o = peer_next (&f.peer, &parser);
      lines++;
      if (g_strcmp0 (json_object_get_string_member (o, "type"), "power") == 0)
        {
          powers++;
          last_percent = power_percent (o);
        }
    }
  g_assert_cmpuint (lines, ==, vmd_guest_link_get_stats (f.link)->sent - 1);   /* - hello */
  g_assert_cmpuint (powers, >=, 1);
  g_assert_cmpfloat (last_percent, ==, (i - 1) % 100 + 0.5);
  fixture_clear (&f);
}

/* Garbage, overlong lines or a flood end the link with a reason; another VM's link in
 * the same main loop carries on. */
static void
flood_closes (const char *flood, gsize repeat, const char *reason_part)
{
  VmdPowerState s = power_state (30.0);
  g_autoptr(GString) data = g_string_new (NULL);
  g_autoptr(JsonParser) parser = NULL;
  Fixture bad, good;
  JsonObject *o;
  gsize sent = 0;

  fixture_init (&bad, NULL, 0);
  fixture_init (&good, NULL, 0);
  handshake (&bad, ALL_CAPS);
  handshake (&good, ALL_CAPS);
  for (gsize i = 0; i < repeat; i++)
    g_string_append (data, flood);
  /* Written as fast as the socket takes it, while the loop runs both links. */
  while (bad.closed == 0)
    {
      gssize n = sent < data->len ? write (bad.peer.fd, data->str + sent, data->len - sent) : 0;
      if (n > 0)
        sent += (gsize) n;
      g_main_context_iteration (NULL, sent >= data->len || n < 0);
    }
  g_assert_cmpuint (bad.closed, ==, 1);
  g_assert_nonnull (strstr (bad.reason, reason_part));
  g_assert_false (vmd_guest_link_is_ready (bad.link));

  vmd_guest_link_set_power (good.link, &s);
  o = peer_next (&good.peer, &parser);
  g_assert_cmpstr (json_object_get_string_member (o, "type"), ==, "power");
  g_assert_cmpuint (good.closed, ==, 0);
  g_assert_cmpuint (vmd_guest_link_get_stats (good.link)->input.malformed, ==, 0);

  /* Dead for good: the host's end is closed, further calls do nothing. */
  vmd_guest_link_set_power (bad.link, &s);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (bad.closed, ==, 1);
  fixture_clear (&bad);
  fixture_clear (&good);
}

static void
test_flood_garbage (void)
{
  flood_closes ("\x01garbage\xff{{{\n", 1000, "too much malformed input");
}

static void
test_flood_overlong (void)
{
  g_autofree char *big = g_malloc0 (300 * 1024 + 1);

  memset (big, 'a', 300 * 1024);
  flood_closes (big, 1, "longer than the limit");
}

static void
test_flood_rate (void)
{
  /* Well-formed, but far too many: a flood of replies to the hello. */
  flood_closes ("{\"type\":\"ack\",\"seq\":1}\n", 10000, "more lines per second");
}

static void
test_bad_ack_and_unknown (void)
{
  Fixture f;

  fixture_init (&f, NULL, 0);
  handshake (&f, ALL_CAPS);
  peer_send (&f.peer, "{\"type\":\"ack\",\"seq\":99}\n{\"type\":\"stats\",\"x\":1}\n"
                      "{\"type\":\"error\",\"code\":\"invalid\",\"message\":\"bad \\u001b[31m\"}\n"
                      "{\"type\":\"ack\",\"seq\":1}\n");
  WAIT_UNTIL (f.acked->len == 1);
  g_assert_cmpuint (g_array_index (f.acked, guint, 0), ==, 1);
  g_assert_cmpuint (vmd_guest_link_get_stats (f.link)->input.malformed, ==, 1);
  g_assert_cmpuint (vmd_guest_link_get_stats (f.link)->unknown, ==, 1);
  /* The hello, both acks (the bad one decodes, then is refused), stats, error. */
  g_assert_cmpuint (vmd_guest_link_get_stats (f.link)->received, ==, 5);
  g_assert_cmpuint (f.closed, ==, 0);
  fixture_clear (&f);
}

/* Tight limits, to show they are the link's: a handful of bad lines is enough. */
static void
test_custom_limits (void)
{
  VmdLineLimits limits;
  Fixture f;

  vmd_line_limits_init_default (&limits);
  limits.malformed_max = 2;
  fixture_init (&f, &limits, 0);
  handshake (&f, ALL_CAPS);
  peer_send (&f.peer, "x\ny\n");
  peer_send (&f.peer, "{\"type\":\"ack\",\"seq\":1}\n");
  WAIT_UNTIL (f.acked->len == 1);
  g_assert_cmpuint (f.closed, ==, 0);
  peer_send (&f.peer, "z\n");
  WAIT_UNTIL (f.closed == 1);
  g_assert_nonnull (strstr (f.reason, "3 lines"));
  fixture_clear (&f);
}

/* The guest side goes away: "closed" once, from the main loop, never from a call. */
static void
test_peer_closes (void)
{
  VmdPowerState s = power_state (20.0);
  Fixture f;

  fixture_init (&f, NULL, 0);
  handshake (&f, ALL_CAPS);
  peer_stop_reading (&f.peer);
  close (f.peer.fd);
  f.peer.fd = -1;
  vmd_guest_link_set_power (f.link, &s);
  vmd_guest_link_send_button (f.link, VMD_BUTTON_SLEEP);
  vmd_guest_link_send_time (f.link);
  g_assert_cmpuint (f.closed, ==, 0);
  WAIT_UNTIL (f.closed == 1);
  g_assert_true (strstr (f.reason, "closed the channel") != NULL
                 || strstr (f.reason, "error") != NULL);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_cmpuint (f.closed, ==, 1);
  fixture_clear (&f);
}

/* The owner may drop its link from the "closed" handler. */
static void
on_closed_unref (VmdGuestLink *link, const char *reason, gpointer data)
{
  VmdGuestLink **slot = data;
  g_clear_object (slot);
}

static void
test_unref_in_closed (void)
{
  g_autoptr(GError) error = NULL;
  VmdGuestLink *link;
  int fds[2];

  g_assert_cmpint (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds), ==, 0);
  link = vmd_guest_link_new_for_fd (fds[0], "test-vm", &error);
  g_assert_no_error (error);
  g_signal_connect (link, "closed", G_CALLBACK (on_closed_unref), &link);
  vmd_guest_link_start (link);
  g_assert_cmpint (write (fds[1], "junk\n", 5), ==, 5);
  close (fds[1]);
  WAIT_UNTIL (link == NULL);
}

static void
test_connect_unix (void)
{
  g_autofree char *dir = g_dir_make_tmp ("vmd-link-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "power.sock", NULL);
  g_autofree char *missing = g_build_filename (dir, "missing.sock", NULL);
  g_autofree char *too_long = g_strnfill (200, 'x');
  g_autoptr(GSocket) listener = g_socket_new (G_SOCKET_FAMILY_UNIX, G_SOCKET_TYPE_STREAM,
                                              G_SOCKET_PROTOCOL_DEFAULT, NULL);
  g_autoptr(GSocketAddress) address = g_unix_socket_address_new (path);
  g_autoptr(GError) error = NULL;
  g_autoptr(GSocket) accepted = NULL;
  g_autoptr(VmdGuestLink) link = NULL;
  g_autoptr(VmdGuestLink) none = NULL;
  char buf[256];
  gssize n;
  int pipefd[2];

  g_assert_true (g_socket_bind (listener, address, TRUE, &error));
  g_assert_true (g_socket_listen (listener, &error));
  link = vmd_guest_link_connect_unix (path, "work", &error);
  g_assert_no_error (error);
  accepted = g_socket_accept (listener, NULL, &error);
  g_assert_no_error (error);
  vmd_guest_link_start (link);
  WAIT_UNTIL (g_socket_condition_check (accepted, G_IO_IN) & G_IO_IN);
  n = g_socket_receive (accepted, buf, sizeof buf - 1, NULL, &error);
  g_assert_cmpint (n, >, 0);
  buf[n] = '\0';
  g_assert_true (g_str_has_prefix (buf, "{\"type\":\"hello\""));

  none = vmd_guest_link_connect_unix (missing, "work", &error);
  g_assert_null (none);
  g_assert_nonnull (error);
  g_assert_nonnull (strstr (error->message, missing));
  g_assert_nonnull (strstr (error->message, "work"));
  g_clear_error (&error);
  none = vmd_guest_link_connect_unix (too_long, "work", &error);
  g_assert_null (none);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);

  /* Not a socket: refused, and the fd it was given is closed all the same. */
  g_assert_cmpint (pipe (pipefd), ==, 0);
  none = vmd_guest_link_new_for_fd (pipefd[0], "work", &error);
  g_assert_null (none);
  g_assert_nonnull (error);
  g_assert_cmpint (fcntl (pipefd[0], F_GETFD), ==, -1);
  close (pipefd[1]);

  g_unlink (path);
  g_rmdir (dir);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/guest-link/handshake", test_handshake);
  g_test_add_func ("/guest-link/version-mismatch", test_version_mismatch);
  g_test_add_func ("/guest-link/caps", test_caps);
  g_test_add_func ("/guest-link/never-reading-guest", test_never_reading_guest);
  g_test_add_func ("/guest-link/flood/garbage", test_flood_garbage);
  g_test_add_func ("/guest-link/flood/overlong", test_flood_overlong);
  g_test_add_func ("/guest-link/flood/rate", test_flood_rate);
  g_test_add_func ("/guest-link/bad-ack-and-unknown", test_bad_ack_and_unknown);
  g_test_add_func ("/guest-link/custom-limits", test_custom_limits);
  g_test_add_func ("/guest-link/peer-closes", test_peer_closes);
  g_test_add_func ("/guest-link/unref-in-closed", test_unref_in_closed);
  g_test_add_func ("/guest-link/connect-unix", test_connect_unix);
  return g_test_run ();
}
