/* The line reader: framing across reads, the 4 KiB limit, the token bucket and the
 * malformed threshold, each at its exact edge. */
#include "vmdesk-power.h"

#include <string.h>

#define SEC ((gint64) G_USEC_PER_SEC)

typedef struct {
  GPtrArray *lines;
  gboolean   refuse;     /* the line function counts every line as malformed */
} Sink;

static gboolean
collect (const char *line, gsize len, gpointer data, GError **error)
{
  Sink *sink = data;

  g_assert_cmpuint (strlen (line), ==, len);   /* NUL-terminated, no NUL inside here */
  g_ptr_array_add (sink->lines, g_strndup (line, len));
  if (sink->refuse)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "refused \"%s\"", line);
      return FALSE;
    }
  return TRUE;
}

static void
sink_init (Sink *sink)
{
  sink->lines = g_ptr_array_new_with_free_func (g_free);
  sink->refuse = FALSE;
}

static gboolean
feed (VmdLineReader *r, Sink *sink, const char *data, gint64 now_us)
{
  return vmd_line_reader_feed (r, data, strlen (data), now_us, collect, sink);
}

static void
test_framing (void)
{
  g_autoptr(VmdLineReader) r = vmd_line_reader_new (NULL);
  g_autoptr(GPtrArray) lines = NULL;
  Sink sink;

  sink_init (&sink);
  lines = sink.lines;
  g_assert_true (feed (r, &sink, "{\"a\"", 0));
  g_assert_cmpuint (lines->len, ==, 0);
  g_assert_true (feed (r, &sink, ":1}\n{\"b\":2}\n\n{\"c\"", 1));
  g_assert_true (feed (r, &sink, ":3}\n", 2));
  g_assert_cmpuint (lines->len, ==, 4);
  g_assert_cmpstr (lines->pdata[0], ==, "{\"a\":1}");
  g_assert_cmpstr (lines->pdata[1], ==, "{\"b\":2}");
  g_assert_cmpstr (lines->pdata[2], ==, "");
  g_assert_cmpstr (lines->pdata[3], ==, "{\"c\":3}");
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->lines, ==, 4);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->malformed, ==, 0);
  g_assert_null (vmd_line_reader_get_last_error (r));
}

/* 4096 bytes with the "\n" is a line; 4097 is not, and what follows its "\n" is. */
static void
test_line_limit (void)
{
  g_autoptr(VmdLineReader) r = vmd_line_reader_new (NULL);
  g_autoptr(GPtrArray) lines = NULL;
  g_autofree char *fits = g_malloc (VMD_GUEST_LINE_MAX + 1);
  g_autofree char *over = g_malloc (VMD_GUEST_LINE_MAX + 2);
  Sink sink;

  sink_init (&sink);
  lines = sink.lines;
  memset (fits, 'f', VMD_GUEST_LINE_MAX - 1);
  fits[VMD_GUEST_LINE_MAX - 1] = '\n';
  fits[VMD_GUEST_LINE_MAX] = '\0';
  memset (over, 'o', VMD_GUEST_LINE_MAX);
  over[VMD_GUEST_LINE_MAX] = '\n';
  over[VMD_GUEST_LINE_MAX + 1] = '\0';

  g_assert_true (feed (r, &sink, fits, 0));
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpuint (strlen (lines->pdata[0]), ==, VMD_GUEST_LINE_MAX - 1);

  /* The overlong line in pieces: dropped as soon as it cannot fit, up to its "\n". */
  g_assert_true (vmd_line_reader_feed (r, over, 3000, 1, collect, &sink));
  g_assert_true (vmd_line_reader_feed (r, over + 3000, strlen (over) - 3000, 2, collect, &sink));
  g_assert_true (feed (r, &sink, "after\n", 3));
  g_assert_cmpuint (lines->len, ==, 2);
  g_assert_cmpstr (lines->pdata[1], ==, "after");
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->overlong, ==, 1);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->malformed, ==, 1);
  g_assert_nonnull (strstr (vmd_line_reader_get_last_error (r), "longer"));
}

/* A line that never ends counts again for every further 4 KiB, so it ends the
 * connection instead of being read forever. */
static void
test_endless_line (void)
{
  VmdLineLimits limits;
  g_autoptr(VmdLineReader) r = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  char chunk[1000];
  Sink sink;
  guint feeds = 0;

  vmd_line_limits_init_default (&limits);
  r = vmd_line_reader_new (&limits);
  sink_init (&sink);
  lines = sink.lines;
  memset (chunk, 'x', sizeof chunk);
  while (vmd_line_reader_feed (r, chunk, sizeof chunk, feeds, collect, &sink))
    g_assert_cmpuint (++feeds, <, 1000);
  /* 33 counts (one more than the limit of 32), at 4096 bytes each. */
  g_assert_cmpuint ((feeds + 1) * sizeof chunk, >=, 33 * limits.line_max);
  g_assert_cmpuint (feeds * sizeof chunk, <, 34 * limits.line_max);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->overlong, ==, 1);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->malformed, ==, 33);
  g_assert_cmpuint (lines->len, ==, 0);
}

/* One feed of a megabyte without a newline: the buffer never holds more than a line. */
static void
test_big_feed (void)
{
  VmdLineLimits limits;
  g_autoptr(VmdLineReader) r = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  gsize size = 1024 * 1024;
  g_autofree char *big = g_malloc (size + 8);
  Sink sink;

  vmd_line_limits_init_default (&limits);
  limits.malformed_max = G_MAXUINT;
  r = vmd_line_reader_new (&limits);
  sink_init (&sink);
  lines = sink.lines;
  memset (big, 'y', size);
  memcpy (big + size, "\n{}\n", 5);
  g_assert_true (vmd_line_reader_feed (r, big, size + 4, 0, collect, &sink));
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_cmpstr (lines->pdata[0], ==, "{}");
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->overlong, ==, 1);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->malformed, ==, size / limits.line_max);
}

static void
test_rate_limit (void)
{
  VmdLineLimits limits;
  g_autoptr(VmdLineReader) r = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  Sink sink;
  gint64 t = 1000 * SEC;

  vmd_line_limits_init_default (&limits);
  g_assert_cmpfloat (limits.rate_per_s, ==, 20.0);
  g_assert_cmpuint (limits.burst, ==, 40);
  r = vmd_line_reader_new (&limits);
  sink_init (&sink);
  lines = sink.lines;

  /* A full bucket takes a burst of 40 at once; the 41st is over the rate. */
  for (int i = 0; i < 40; i++)
    g_assert_true (feed (r, &sink, "{}\n", t));
  g_assert_cmpuint (lines->len, ==, 40);
  g_assert_true (feed (r, &sink, "{}\n", t));
  g_assert_cmpuint (lines->len, ==, 40);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->rate_limited, ==, 1);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->malformed, ==, 1);

  /* 20 per second: 49 ms earns nothing, 50 ms one line. */
  g_assert_true (feed (r, &sink, "{}\n", t + 49 * 1000));
  g_assert_cmpuint (lines->len, ==, 40);
  g_assert_true (feed (r, &sink, "{}\n", t + 50 * 1000));
  g_assert_cmpuint (lines->len, ==, 41);
  /* Time that goes backwards earns nothing. */
  g_assert_true (feed (r, &sink, "{}\n", t));
  g_assert_cmpuint (lines->len, ==, 41);
  /* A long quiet spell refills no more than the burst. */
  t += (gint64) 3600 * SEC;
  for (int i = 0; i < 41; i++)
    feed (r, &sink, "{}\n", t);
  g_assert_cmpuint (lines->len, ==, 81);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->rate_limited, ==, 4);
}

/* A steady 20 lines per second is fine forever; 40 per second is not. */
static void
test_rate_sustained (void)
{
  g_autoptr(VmdLineReader) ok = vmd_line_reader_new (NULL);
  g_autoptr(VmdLineReader) flood = vmd_line_reader_new (NULL);
  g_autoptr(GPtrArray) lines_ok = NULL, lines_flood = NULL;
  Sink sink_ok, sink_flood;
  gboolean alive = TRUE;
  int i;

  sink_init (&sink_ok);
  sink_init (&sink_flood);
  lines_ok = sink_ok.lines;
  lines_flood = sink_flood.lines;
  for (i = 0; i < 20 * 60; i++)
    g_assert_true (feed (ok, &sink_ok, "{}\n", (gint64) i * SEC / 20));
  g_assert_cmpuint (lines_ok->len, ==, 20 * 60);
  for (i = 0; i < 40 * 60 && alive; i++)
    alive = feed (flood, &sink_flood, "{}\n", (gint64) i * SEC / 40);
  g_assert_false (alive);
  /* The burst and its refill carry the first ~80 lines; after that every other line is
   * over the rate, and the 33rd of those ends it. */
  g_assert_cmpuint (vmd_line_reader_get_stats (flood)->rate_limited, ==, 33);
  g_assert_cmpuint (lines_flood->len, >=, 100);
  g_assert_cmpuint (lines_flood->len, <=, 120);
}

static void
test_malformed_threshold (void)
{
  VmdLineLimits limits;
  g_autoptr(VmdLineReader) r = NULL;
  g_autoptr(GPtrArray) lines = NULL;
  Sink sink;

  vmd_line_limits_init_default (&limits);
  limits.rate_per_s = 1e9;   /* only the line function's verdict counts here */
  r = vmd_line_reader_new (&limits);
  sink_init (&sink);
  lines = sink.lines;
  sink.refuse = TRUE;
  for (guint i = 0; i < limits.malformed_max; i++)
    g_assert_true (feed (r, &sink, "junk\n", i));
  g_assert_cmpstr (vmd_line_reader_get_last_error (r), ==, "refused \"junk\"");
  /* One past the limit: reset, and the rest of the same read is not even looked at. */
  g_assert_false (feed (r, &sink, "junk\nlater\n", 100));
  g_assert_cmpuint (lines->len, ==, limits.malformed_max + 1);
  g_assert_false (feed (r, &sink, "{}\n", 101));
  g_assert_cmpuint (lines->len, ==, limits.malformed_max + 1);
  g_assert_cmpuint (vmd_line_reader_get_stats (r)->malformed, ==, limits.malformed_max + 1);
}

/* Custom limits are honoured, and nonsense ones made workable. */
static void
test_custom_limits (void)
{
  VmdLineLimits limits = { .line_max = 0, .rate_per_s = 0, .burst = 0, .malformed_max = 0 };
  g_autoptr(VmdLineReader) r = vmd_line_reader_new (&limits);
  g_autoptr(GPtrArray) lines = NULL;
  Sink sink;

  sink_init (&sink);
  lines = sink.lines;
  g_assert_true (feed (r, &sink, "{}\n", 0));    /* a 3-byte line, one token */
  g_assert_cmpuint (lines->len, ==, 1);
  g_assert_false (feed (r, &sink, "{}\n", 0));   /* no token left, no malformed allowed */
  g_assert_cmpuint (lines->len, ==, 1);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/line-reader/framing", test_framing);
  g_test_add_func ("/line-reader/line-limit", test_line_limit);
  g_test_add_func ("/line-reader/endless-line", test_endless_line);
  g_test_add_func ("/line-reader/big-feed", test_big_feed);
  g_test_add_func ("/line-reader/rate-limit", test_rate_limit);
  g_test_add_func ("/line-reader/rate-sustained", test_rate_sustained);
  g_test_add_func ("/line-reader/malformed-threshold", test_malformed_threshold);
  g_test_add_func ("/line-reader/custom-limits", test_custom_limits);
  return g_test_run ();
}
