/* vmd-screen-image.c: screenshots (PPM or PNG) to packed RGB, and box-filter downscaling.
 * Sizes are checked in 64 bits against the limits of the header before any allocation. */
#include "vmd-screen-image.h"

#include "vmdesk-common.h"

#include <math.h>
#include <png.h>
#include <string.h>

void
vmd_rgb_image_clear (VmdRgbImage *image)
{
  g_clear_pointer (&image->rgb, g_bytes_unref);
  image->width = image->height = 0;
}

static gboolean
check_size (const char *format, guint64 width, guint64 height, GError **error)
{
  if (width == 0 || height == 0)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "%s screenshot of %" G_GUINT64_FORMAT
                   " x %" G_GUINT64_FORMAT " pixels is empty", format, width, height);
      return FALSE;
    }
  if (width > VMD_SCREEN_MAX_DIMENSION || height > VMD_SCREEN_MAX_DIMENSION
      || width * height * 3 > VMD_SCREEN_MAX_BYTES)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "%s screenshot of %" G_GUINT64_FORMAT
                   " x %" G_GUINT64_FORMAT " pixels is too large (at most %d per side, %u MiB)",
                   format, width, height, VMD_SCREEN_MAX_DIMENSION, VMD_SCREEN_MAX_BYTES >> 20);
      return FALSE;
    }
  return TRUE;
}

/* --- PPM (netpbm's P6) --- */

typedef struct {
  const guint8 *data;
  gsize         len;
  gsize         pos;
} Cursor;

static void
skip_blanks_and_comments (Cursor *c)
{
  while (c->pos < c->len)
    {
      if (g_ascii_isspace (c->data[c->pos]))
        c->pos++;
      else if (c->data[c->pos] == '#')
        {
          while (c->pos < c->len && c->data[c->pos] != '\n' && c->data[c->pos] != '\r')
            c->pos++;
        }
      else
        break;
    }
}

/* A decimal header field, at most `max` (checked digit by digit, so it cannot overflow). */
static gboolean
read_field (Cursor *c, const char *what, guint64 max, guint64 *out, GError **error)
{
  guint64 value = 0;

  skip_blanks_and_comments (c);
  if (c->pos >= c->len)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "PPM header ends before its %s", what);
      return FALSE;
    }
  if (!g_ascii_isdigit (c->data[c->pos]))
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "PPM %s at byte %" G_GSIZE_FORMAT
                   " is not a number", what, c->pos);
      return FALSE;
    }
  while (c->pos < c->len && g_ascii_isdigit (c->data[c->pos]))
    {
      value = value * 10 + (guint64) (c->data[c->pos] - '0');
      if (value > max)
        {
          g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "PPM %s is larger than %" G_GUINT64_FORMAT,
                       what, max);
          return FALSE;
        }
      c->pos++;
    }
  *out = value;
  return TRUE;
}

gboolean
vmd_ppm_decode (GBytes *data, VmdRgbImage *out, GError **error)
{
  Cursor c = { 0 };
  guint64 width, height, maxval, need;

  c.data = g_bytes_get_data (data, &c.len);
  memset (out, 0, sizeof *out);
  if (c.len < 2 || c.data[0] != 'P' || c.data[1] != '6')
    {
      g_set_error_literal (error, VMD_ERROR, VMD_ERROR_FAILED, "not a binary PPM (no P6 magic)");
      return FALSE;
    }
  c.pos = 2;
  /* Bounds a little above the real limits, so the error names the real limit. */
  if (!read_field (&c, "width", (guint64) VMD_SCREEN_MAX_DIMENSION * 1000, &width, error)
      || !read_field (&c, "height", (guint64) VMD_SCREEN_MAX_DIMENSION * 1000, &height, error)
      || !read_field (&c, "maxval", 65535, &maxval, error))
    return FALSE;
  if (maxval != 255)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "PPM maxval %" G_GUINT64_FORMAT
                   " is not supported (only 255: one byte per sample)", maxval);
      return FALSE;
    }
  if (!check_size ("PPM", width, height, error))
    return FALSE;
  /* Exactly one whitespace byte separates the header from the pixels. */
  if (c.pos >= c.len || !g_ascii_isspace (c.data[c.pos]))
    {
      g_set_error_literal (error, VMD_ERROR, VMD_ERROR_FAILED,
                           "PPM header does not end with a whitespace byte after maxval");
      return FALSE;
    }
  c.pos++;
  need = width * height * 3;
  if (c.len - c.pos < need)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "PPM of %" G_GUINT64_FORMAT " x %"
                   G_GUINT64_FORMAT " is truncated: %" G_GSIZE_FORMAT " of %" G_GUINT64_FORMAT
                   " pixel bytes", width, height, c.len - c.pos, need);
      return FALSE;
    }
  out->width = (guint) width;
  out->height = (guint) height;
  out->rgb = g_bytes_new_from_bytes (data, c.pos, (gsize) need);
  return TRUE;
}

/* --- PNG, through libpng's simplified API (its own checks, plus the size limits here) --- */

gboolean
vmd_png_decode (GBytes *data, VmdRgbImage *out, GError **error)
{
  png_image png = { 0 };
  /* Composed onto black, should QEMU ever send alpha. */
  png_color black = { 0, 0, 0 };
  gsize len;
  const guint8 *bytes = g_bytes_get_data (data, &len);
  g_autofree guint8 *pixels = NULL;

  memset (out, 0, sizeof *out);
  png.version = PNG_IMAGE_VERSION;
  if (len == 0 || len > VMD_SCREEN_MAX_BYTES || !png_image_begin_read_from_memory (&png, bytes, len))
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "unreadable PNG: %s",
                   len == 0 ? "no data" : len > VMD_SCREEN_MAX_BYTES ? "too large" : png.message);
      png_image_free (&png);
      return FALSE;
    }
  if (!check_size ("PNG", png.width, png.height, error))
    {
      png_image_free (&png);
      return FALSE;
    }
  png.format = PNG_FORMAT_RGB;
  pixels = g_malloc ((gsize) png.width * png.height * 3);
  if (!png_image_finish_read (&png, &black, pixels, 0, NULL))
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "unreadable PNG: %s", png.message);
      png_image_free (&png);
      return FALSE;
    }
  out->width = png.width;
  out->height = png.height;
  out->rgb = g_bytes_new_take (g_steal_pointer (&pixels), (gsize) png.width * png.height * 3);
  png_image_free (&png);
  return TRUE;
}

gboolean
vmd_screen_image_decode (GBytes *data, VmdRgbImage *out, GError **error)
{
  static const guint8 png_magic[8] = { 0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n' };
  gsize len;
  const guint8 *bytes = g_bytes_get_data (data, &len);

  if (len >= sizeof png_magic && memcmp (bytes, png_magic, sizeof png_magic) == 0)
    return vmd_png_decode (data, out, error);
  return vmd_ppm_decode (data, out, error);
}

/* --- scaling --- */

void
vmd_screen_fit (guint width, guint height, guint max_width, guint max_height,
                guint *out_width, guint *out_height)
{
  guint64 w = MAX (width, 1), h = MAX (height, 1), ow = w, oh = h;

  if (max_width && ow > max_width)
    {
      ow = max_width;
      oh = MAX (1, (h * max_width + w / 2) / w);
    }
  if (max_height && oh > max_height)
    {
      oh = max_height;
      ow = MAX (1, (w * max_height + h / 2) / h);
    }
  if (ow * oh > VMD_SCREEN_MAX_RESULT_PIXELS)
    {
      /* Both sides by the same factor: floor keeps the product within the limit. */
      double s = sqrt ((double) VMD_SCREEN_MAX_RESULT_PIXELS / (double) (ow * oh));
      ow = MAX (1, (guint64) (ow * s));
      oh = MAX (1, (guint64) (oh * s));
    }
  *out_width = (guint) ow;
  *out_height = (guint) oh;
}

void
vmd_rgb_scale_down (const VmdRgbImage *in, guint out_width, guint out_height, VmdRgbImage *out)
{
  const guint8 *src = g_bytes_get_data (in->rgb, NULL);
  guint64 w = in->width, h = in->height;
  guint8 *dst;
  g_autofree guint *x_start = NULL;

  g_return_if_fail (out_width >= 1 && out_width <= in->width);
  g_return_if_fail (out_height >= 1 && out_height <= in->height);
  memset (out, 0, sizeof *out);
  out->width = out_width;
  out->height = out_height;
  if (out_width == in->width && out_height == in->height)
    {
      out->rgb = g_bytes_ref (in->rgb);
      return;
    }
  /* Output column ox covers input columns x_start[ox] .. x_start[ox + 1] - 1: never empty,
   * as out_width <= width. */
  x_start = g_new (guint, out_width + 1);
  for (guint64 ox = 0; ox <= out_width; ox++)
    x_start[ox] = (guint) (ox * w / out_width);
  dst = g_malloc ((gsize) out_width * out_height * 3);
  for (guint64 oy = 0; oy < out_height; oy++)
    {
      guint64 y0 = oy * h / out_height, y1 = (oy + 1) * h / out_height;

      for (guint ox = 0; ox < out_width; ox++)
        {
          guint64 sum[3] = { 0, 0, 0 };
          guint64 n = (y1 - y0) * (x_start[ox + 1] - x_start[ox]);
          guint8 *d = dst + (oy * out_width + ox) * 3;

          for (guint64 y = y0; y < y1; y++)
            {
              const guint8 *row = src + y * w * 3;
              for (guint x = x_start[ox]; x < x_start[ox + 1]; x++)
                {
                  sum[0] += row[x * 3];
                  sum[1] += row[x * 3 + 1];
                  sum[2] += row[x * 3 + 2];
                }
            }
          for (int k = 0; k < 3; k++)
            d[k] = (guint8) ((sum[k] + n / 2) / n);
        }
    }
  out->rgb = g_bytes_new_take (dst, (gsize) out_width * out_height * 3);
}
