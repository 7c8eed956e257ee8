/* vmd-json-strict.c: JSON exactly as RFC 8259 has it, checked before json-glib sees a
 * guest's line. json-glib on its own accepts comments, single quotes, a second value
 * after the first and integers that overflow; a guest must get none of that through. */
#include "vmd-power-private.h"

/* No protocol integer needs more digits (uint32 has 10); longer ones could overflow. */
#define INTEGER_DIGITS_MAX 15
#define NUMBER_CHARS_MAX   32

typedef struct {
  const char *p;
  const char *end;
  guint       depth;
  guint       max_depth;
  const char *why;
} Scan;

static gboolean scan_value (Scan *s);

static gboolean
fail (Scan *s, const char *why)
{
  if (s->why == NULL)
    s->why = why;
  return FALSE;
}

static void
skip_space (Scan *s)
{
  while (s->p < s->end && (*s->p == ' ' || *s->p == '\t' || *s->p == '\n' || *s->p == '\r'))
    s->p++;
}

static gboolean
expect (Scan *s, char c)
{
  if (s->p >= s->end || *s->p != c)
    return FALSE;
  s->p++;
  return TRUE;
}

static int
scan_hex4 (Scan *s)
{
  int value = 0;

  if (s->end - s->p < 4)
    return -1;
  for (int i = 0; i < 4; i++)
    {
      int digit = g_ascii_xdigit_value (s->p[i]);
      if (digit < 0)
        return -1;
      value = value * 16 + digit;
    }
  s->p += 4;
  return value;
}

static gboolean
scan_escape (Scan *s)
{
  int unit;

  if (s->p >= s->end)
    return fail (s, "unterminated string");
  switch (*s->p++)
    {
    case '"': case '\\': case '/': case 'b': case 'f': case 'n': case 'r': case 't':
      return TRUE;
    case 'u':
      break;
    default:
      return fail (s, "invalid escape in a string");
    }
  unit = scan_hex4 (s);
  if (unit < 0)
    return fail (s, "invalid \\u escape");
  if (unit == 0)
    return fail (s, "\\u0000 in a string");
  if (unit >= 0xDC00 && unit <= 0xDFFF)
    return fail (s, "lone low surrogate in a string");
  if (unit >= 0xD800 && unit <= 0xDBFF)
    {
      int low;
      if (!expect (s, '\\') || !expect (s, 'u') || (low = scan_hex4 (s)) < 0xDC00 || low > 0xDFFF)
        return fail (s, "lone high surrogate in a string");
    }
  return TRUE;
}

static gboolean
scan_string (Scan *s)
{
  if (!expect (s, '"'))
    return fail (s, "expected a string");
  while (s->p < s->end)
    {
      guchar c = (guchar) *s->p++;
      if (c == '"')
        return TRUE;
      if (c < 0x20)
        return fail (s, "control character in a string");
      if (c == '\\' && !scan_escape (s))
        return FALSE;
    }
  return fail (s, "unterminated string");
}

static guint
scan_digits (Scan *s)
{
  guint n = 0;

  while (s->p < s->end && g_ascii_isdigit (*s->p))
    s->p++, n++;
  return n;
}

static gboolean
scan_number (Scan *s)
{
  const char *start = s->p;
  gboolean integer = TRUE;
  guint digits;

  expect (s, '-');
  if (s->p < s->end && *s->p == '0')
    {
      s->p++;
      digits = 1;
      if (s->p < s->end && g_ascii_isdigit (*s->p))
        return fail (s, "leading zero in a number");
    }
  else if ((digits = scan_digits (s)) == 0)
    return fail (s, "invalid number");
  if (expect (s, '.'))
    {
      integer = FALSE;
      if (scan_digits (s) == 0)
        return fail (s, "invalid number");
    }
  if (s->p < s->end && (*s->p == 'e' || *s->p == 'E'))
    {
      s->p++;
      integer = FALSE;
      if (!expect (s, '+'))
        expect (s, '-');
      if (scan_digits (s) == 0)
        return fail (s, "invalid number");
    }
  if (integer && digits > INTEGER_DIGITS_MAX)
    return fail (s, "integer too long");
  if (s->p - start > NUMBER_CHARS_MAX)
    return fail (s, "number too long");
  return TRUE;
}

static gboolean
scan_literal (Scan *s, const char *word)
{
  gsize len = strlen (word);

  if ((gsize) (s->end - s->p) < len || memcmp (s->p, word, len) != 0)
    return fail (s, "invalid literal");
  s->p += len;
  return TRUE;
}

/* Objects and arrays share one loop: members are "string : value" or plain values. */
static gboolean
scan_container (Scan *s, char close, gboolean members)
{
  if (++s->depth > s->max_depth)
    return fail (s, "nested too deeply");
  s->p++;
  skip_space (s);
  if (expect (s, close))
    goto done;
  for (;;)
    {
      if (members)
        {
          if (s->p >= s->end || *s->p != '"')
            return fail (s, "expected a member name");
          if (!scan_string (s))
            return FALSE;
          skip_space (s);
          if (!expect (s, ':'))
            return fail (s, "expected ':'");
          skip_space (s);
        }
      if (!scan_value (s))
        return FALSE;
      skip_space (s);
      if (expect (s, close))
        break;
      if (!expect (s, ','))
        return fail (s, members ? "expected ',' or '}'" : "expected ',' or ']'");
      skip_space (s);
    }
done:
  s->depth--;
  return TRUE;
}

static gboolean
scan_value (Scan *s)
{
  if (s->p >= s->end)
    return fail (s, "expected a value");
  switch (*s->p)
    {
    case '{': return scan_container (s, '}', TRUE);
    case '[': return scan_container (s, ']', FALSE);
    case '"': return scan_string (s);
    case 't': return scan_literal (s, "true");
    case 'f': return scan_literal (s, "false");
    case 'n': return scan_literal (s, "null");
    default:
      if (*s->p == '-' || g_ascii_isdigit (*s->p))
        return scan_number (s);
      return fail (s, "expected a value");
    }
}

gboolean
vmd_json_strict_check (const char *text, gsize len, guint max_depth, GError **error)
{
  Scan s = { .p = text, .end = text + len, .max_depth = max_depth };

  if (!g_utf8_validate_len (text, len, NULL))
    {
      g_set_error_literal (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA,
                           "not valid UTF-8 (or contains NUL)");
      return FALSE;
    }
  skip_space (&s);
  if (scan_value (&s))
    {
      skip_space (&s);
      if (s.p == s.end)
        return TRUE;
      fail (&s, "text after the value");
    }
  g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "not strict JSON: %s at byte %td",
               s.why, s.p - text);
  return FALSE;
}
