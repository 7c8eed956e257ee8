/* vmd-line-reader.c: frames an untrusted byte stream into lines, within limits: a
 * bounded buffer, a maximum line length, a message rate, and a malformed count past
 * which the connection is not worth keeping. No timer: the rate limit is a token bucket
 * refilled from the receipt timestamps. */
#include "vmd-power-private.h"

struct _VmdLineReader {
  VmdLineLimits limits;
  char         *buf;          /* line_max bytes: a partial line and room for the NUL */
  gsize         len;
  gboolean      discarding;   /* inside an overlong line, until its "\n" */
  gsize         discarded;    /* bytes of it dropped and not counted yet */
  double        tokens;
  gint64        refilled_us;  /* -1 before the first feed */
  gboolean      reset;
  char         *last_error;
  VmdLineStats  stats;
};

void
vmd_line_limits_init_default (VmdLineLimits *limits)
{
  *limits = (VmdLineLimits) {
    .line_max = VMD_GUEST_LINE_MAX,
    .rate_per_s = 20.0,
    .burst = 40,
    .malformed_max = 32,
  };
}

VmdLineReader *
vmd_line_reader_new (const VmdLineLimits *limits)
{
  VmdLineReader *r = g_new0 (VmdLineReader, 1);

  if (limits != NULL)
    r->limits = *limits;
  else
    vmd_line_limits_init_default (&r->limits);
  /* A line must at least hold "{}\n"; a bucket must hold one token. */
  r->limits.line_max = MAX (r->limits.line_max, 3);
  r->limits.burst = MAX (r->limits.burst, 1);
  r->buf = g_malloc (r->limits.line_max);
  r->tokens = r->limits.burst;
  r->refilled_us = -1;
  return r;
}

void
vmd_line_reader_free (VmdLineReader *reader)
{
  if (reader == NULL)
    return;
  g_free (reader->buf);
  g_free (reader->last_error);
  g_free (reader);
}

const VmdLineStats *
vmd_line_reader_get_stats (VmdLineReader *reader)
{
  return &reader->stats;
}

const char *
vmd_line_reader_get_last_error (VmdLineReader *reader)
{
  return reader->last_error;
}

static void
count_malformed (VmdLineReader *r, const char *why)
{
  r->stats.malformed++;
  g_free (r->last_error);
  r->last_error = g_strdup (why);
  if (r->stats.malformed > r->limits.malformed_max)
    r->reset = TRUE;
}

/* Timestamps that go backwards (they should not) refill nothing. */
static void
refill (VmdLineReader *r, gint64 now_us)
{
  if (r->refilled_us >= 0 && now_us > r->refilled_us)
    {
      double earned = (double) (now_us - r->refilled_us) * r->limits.rate_per_s / G_USEC_PER_SEC;
      r->tokens = MIN ((double) r->limits.burst, r->tokens + earned);
    }
  if (now_us > r->refilled_us)
    r->refilled_us = now_us;
}

/* An overlong line counts once more for every further line_max bytes of it, so an
 * endless one cannot keep its owner reading forever. */
static void
count_discarded (VmdLineReader *r)
{
  while (r->discarded >= r->limits.line_max && !r->reset)
    {
      r->discarded -= r->limits.line_max;
      count_malformed (r, "line longer than the limit");
    }
}

static void
deliver (VmdLineReader *r, VmdLineFunc func, gpointer user_data)
{
  g_autoptr(GError) error = NULL;

  if (r->tokens < 1.0)
    {
      r->stats.rate_limited++;
      count_malformed (r, "more lines per second than allowed");
      return;
    }
  r->tokens -= 1.0;
  r->stats.lines++;
  r->buf[r->len] = '\0';
  if (!func (r->buf, r->len, user_data, &error))
    count_malformed (r, error != NULL ? error->message : "refused");
}

gboolean
vmd_line_reader_feed (VmdLineReader *r, const void *data, gsize len, gint64 now_us,
                      VmdLineFunc func, gpointer user_data)
{
  const char *p = data;
  const char *end = p + len;

  if (r->reset)
    return FALSE;
  refill (r, now_us);
  while (p < end && !r->reset)
    {
      const char *nl = memchr (p, '\n', (gsize) (end - p));
      const char *stop = nl != NULL ? nl : end;
      gsize chunk = (gsize) (stop - p);

      if (r->discarding)
        {
          r->discarded += chunk;
          count_discarded (r);
          r->discarding = (nl == NULL);
        }
      else if (r->len + chunk >= r->limits.line_max)
        {
          /* Overlong: counted, then dropped up to its "\n". */
          r->stats.overlong++;
          count_malformed (r, "line longer than the limit");
          r->discarded = r->len + chunk - r->limits.line_max;
          r->len = 0;
          count_discarded (r);
          r->discarding = (nl == NULL);
        }
      else
        {
          memcpy (r->buf + r->len, p, chunk);
          r->len += chunk;
          if (nl != NULL)
            {
              deliver (r, func, user_data);
              r->len = 0;
            }
        }
      p = nl != NULL ? nl + 1 : end;
    }
  return !r->reset;
}
