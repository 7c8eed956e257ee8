/* Screenshots as QEMU sends them (PPM, PNG) to RGB, and the box filter that makes thumbnails. */
#include "vmd-screen-image.h"

#include "vmdesk-common.h"

#include <png.h>
#include <string.h>

/* A PPM of `header` followed by width*height*3 pixel bytes 0, 1, 2, ... (mod 251). */
static GBytes *
ppm (const char *header, gsize pixel_bytes)
{
  GByteArray *a = g_byte_array_new ();

  g_byte_array_append (a, (const guint8 *) header, (guint) strlen (header));
  for (gsize i = 0; i < pixel_bytes; i++)
    {
      guint8 b = (guint8) (i % 251);
      g_byte_array_append (a, &b, 1);
    }
  return g_byte_array_free_to_bytes (a);
}

static void
assert_ppm_fails (GBytes *data, const char *message_part)
{
  g_auto(VmdRgbImage) image = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_false (vmd_ppm_decode (data, &image, &error));
  g_assert_error (error, VMD_ERROR, VMD_ERROR_FAILED);
  if (strstr (error->message, message_part) == NULL)
    g_error ("'%s' does not say '%s'", error->message, message_part);
  g_assert_null (image.rgb);
}

static void
test_ppm_reads_pixels (void)
{
  g_autoptr(GBytes) data = ppm ("P6\n3 2\n255\n", 18);
  g_auto(VmdRgbImage) image = { 0 };
  g_autoptr(GError) error = NULL;
  gsize len;
  const guint8 *px;

  g_assert_true (vmd_ppm_decode (data, &image, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (image.width, ==, 3);
  g_assert_cmpuint (image.height, ==, 2);
  px = g_bytes_get_data (image.rgb, &len);
  g_assert_cmpuint (len, ==, 18);
  for (gsize i = 0; i < len; i++)
    g_assert_cmpuint (px[i], ==, i);
}

static void
test_ppm_comments_and_trailing_bytes (void)
{
  /* Comments anywhere between fields, CR/LF/tab as blanks; bytes after the pixels ignored. */
  g_autoptr(GBytes) data = ppm ("P6# made by QEMU\r\n#\n\t2#w\n 1 #h\n255\n", 6 + 5);
  g_auto(VmdRgbImage) image = { 0 };
  g_autoptr(GError) error = NULL;
  const guint8 *px;

  g_assert_true (vmd_ppm_decode (data, &image, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (image.width, ==, 2);
  g_assert_cmpuint (image.height, ==, 1);
  g_assert_cmpuint (g_bytes_get_size (image.rgb), ==, 6);
  px = g_bytes_get_data (image.rgb, NULL);
  g_assert_cmpuint (px[0], ==, 0);
  g_assert_cmpuint (px[5], ==, 5);
}

static void
test_ppm_truncated (void)
{
  g_autoptr(GBytes) whole = ppm ("P6\n4 3\n255\n", 36);
  gsize len;
  const guint8 *bytes = g_bytes_get_data (whole, &len);

  /* Every proper prefix fails, wherever it ends: in the magic, a field, or the pixels. */
  for (gsize n = 0; n < len; n++)
    {
      g_autoptr(GBytes) part = g_bytes_new (bytes, n);
      g_auto(VmdRgbImage) image = { 0 };
      g_autoptr(GError) error = NULL;

      g_assert_false (vmd_ppm_decode (part, &image, &error));
      g_assert_error (error, VMD_ERROR, VMD_ERROR_FAILED);
    }
  {
    g_autoptr(GBytes) part = g_bytes_new (bytes, len - 1);
    assert_ppm_fails (part, "truncated: 35 of 36 pixel bytes");
  }
}

static void
test_ppm_huge_dimensions (void)
{
  g_autoptr(GBytes) wide = ppm ("P6 16385 1 255\n", 0);
  g_autoptr(GBytes) tall = ppm ("P6 1 16385 255\n", 0);
  /* Within the side limit, but 768 MiB of pixels: refused before anything is allocated. */
  g_autoptr(GBytes) area = ppm ("P6 16384 16384 255\n", 0);
  g_autoptr(GBytes) overflow = ppm ("P6 184467440737095516160 1 255\n", 0);
  g_autoptr(GBytes) zero = ppm ("P6 0 7 255\n", 0);

  assert_ppm_fails (wide, "too large");
  assert_ppm_fails (tall, "too large");
  assert_ppm_fails (area, "too large");
  assert_ppm_fails (overflow, "width is larger than");
  assert_ppm_fails (zero, "empty");
}

static void
test_ppm_rejects_other_formats (void)
{
  g_autoptr(GBytes) maxval16 = ppm ("P6\n1 1\n65535\n", 6);
  g_autoptr(GBytes) maxval15 = ppm ("P6\n1 1\n15\n", 3);
  g_autoptr(GBytes) maxval_big = ppm ("P6\n1 1\n65536\n", 6);
  g_autoptr(GBytes) ascii = ppm ("P3\n1 1\n255\n0 0 0\n", 0);
  g_autoptr(GBytes) negative = ppm ("P6\n-1 1\n255\n", 3);
  g_autoptr(GBytes) no_separator = ppm ("P6\n1 1\n255", 0);
  g_autoptr(GBytes) comment_after_maxval = ppm ("P6\n1 1\n255#x\n", 3);

  assert_ppm_fails (maxval16, "maxval 65535 is not supported");
  assert_ppm_fails (maxval15, "maxval 15 is not supported");
  assert_ppm_fails (maxval_big, "maxval is larger than 65535");
  assert_ppm_fails (ascii, "no P6 magic");
  assert_ppm_fails (negative, "width at byte 3 is not a number");
  assert_ppm_fails (no_separator, "does not end with a whitespace");
  assert_ppm_fails (comment_after_maxval, "does not end with a whitespace");
}

/* --- PNG --- */

static GBytes *
png_encode (guint width, guint height, guint32 format, const guint8 *pixels)
{
  png_image png = { 0 };
  png_alloc_size_t size = 0;
  guint8 *out;

  png.version = PNG_IMAGE_VERSION;
  png.width = width;
  png.height = height;
  png.format = format;
  g_assert_true (png_image_write_to_memory (&png, NULL, &size, 0, pixels, 0, NULL));
  out = g_malloc (size);
  g_assert_true (png_image_write_to_memory (&png, out, &size, 0, pixels, 0, NULL));
  return g_bytes_new_take (out, size);
}

static void
test_png_reads_pixels (void)
{
  guint8 pixels[5 * 3 * 3];
  g_autoptr(GBytes) data = NULL;
  g_auto(VmdRgbImage) image = { 0 };
  g_autoptr(GError) error = NULL;

  for (gsize i = 0; i < sizeof pixels; i++)
    pixels[i] = (guint8) (i * 5);
  data = png_encode (5, 3, PNG_FORMAT_RGB, pixels);
  /* Through the sniffing entry point, as the daemon calls it. */
  g_assert_true (vmd_screen_image_decode (data, &image, &error));
  g_assert_no_error (error);
  g_assert_cmpuint (image.width, ==, 5);
  g_assert_cmpuint (image.height, ==, 3);
  g_assert_cmpmem (g_bytes_get_data (image.rgb, NULL), g_bytes_get_size (image.rgb),
                   pixels, sizeof pixels);
}

static void
test_png_alpha_on_black (void)
{
  /* Opaque white, then fully transparent white: composed onto black. */
  const guint8 rgba[] = { 255, 255, 255, 255, 255, 255, 255, 0 };
  const guint8 expected[] = { 255, 255, 255, 0, 0, 0 };
  g_autoptr(GBytes) data = png_encode (2, 1, PNG_FORMAT_RGBA, rgba);
  g_auto(VmdRgbImage) image = { 0 };
  g_autoptr(GError) error = NULL;

  g_assert_true (vmd_png_decode (data, &image, &error));
  g_assert_no_error (error);
  g_assert_cmpmem (g_bytes_get_data (image.rgb, NULL), g_bytes_get_size (image.rgb),
                   expected, sizeof expected);
}

static void
test_png_bad (void)
{
  g_autofree guint8 *row = g_malloc0 (20000 * 3);
  g_autoptr(GBytes) wide = png_encode (20000, 1, PNG_FORMAT_RGB, row);
  g_autoptr(GBytes) small = png_encode (4, 4, PNG_FORMAT_RGB, row);
  gsize len;
  const guint8 *bytes = g_bytes_get_data (small, &len);

  {
    g_auto(VmdRgbImage) image = { 0 };
    g_autoptr(GError) error = NULL;
    g_assert_false (vmd_png_decode (wide, &image, &error));
    g_assert_error (error, VMD_ERROR, VMD_ERROR_FAILED);
    g_assert_nonnull (strstr (error->message, "too large"));
  }
  /* Cut anywhere before the end of its pixel data (IEND is 12 bytes, the IDAT's CRC 4),
   * it is an error: libpng longjmps out, and nothing leaks under ASan. */
  for (gsize n = 0; n < len - 12 - 4; n++)
    {
      g_autoptr(GBytes) part = g_bytes_new (bytes, n);
      g_auto(VmdRgbImage) image = { 0 };
      g_autoptr(GError) error = NULL;

      if (vmd_screen_image_decode (part, &image, &error))
        g_error ("a PNG cut to %" G_GSIZE_FORMAT " of %" G_GSIZE_FORMAT " bytes was read", n, len);
      g_assert_error (error, VMD_ERROR, VMD_ERROR_FAILED);
      g_assert_null (image.rgb);
    }
}

/* --- fitting and scaling --- */

static void
assert_fit (guint w, guint h, guint max_w, guint max_h, guint want_w, guint want_h)
{
  guint ow, oh;

  vmd_screen_fit (w, h, max_w, max_h, &ow, &oh);
  if (ow != want_w || oh != want_h)
    g_error ("%ux%u in %ux%u: got %ux%u, want %ux%u", w, h, max_w, max_h, ow, oh, want_w, want_h);
}

static void
test_fit_keeps_aspect (void)
{
  assert_fit (720, 400, 180, 180, 180, 100);    /* VGA text mode, width-bound */
  assert_fit (720, 400, 1000, 100, 180, 100);   /* height-bound */
  assert_fit (720, 400, 0, 100, 180, 100);      /* 0: no limit that way */
  assert_fit (720, 400, 180, 0, 180, 100);
  assert_fit (720, 400, 0, 0, 720, 400);
  assert_fit (1920, 1080, 256, 256, 256, 144);
  assert_fit (1366, 768, 200, 200, 200, 112);   /* 112.4 rounds down */
  assert_fit (100, 50, 1000, 1000, 100, 50);    /* never up */
  assert_fit (16384, 1, 100, 100, 100, 1);      /* never below one pixel */
  assert_fit (1, 16384, 100, 100, 1, 100);
  assert_fit (3, 3, 1, 1, 1, 1);
}

static void
test_fit_bounds_the_result (void)
{
  guint ow, oh;

  vmd_screen_fit (16384, 16384, 0, 0, &ow, &oh);
  g_assert_cmpuint ((guint64) ow * oh, <=, VMD_SCREEN_MAX_RESULT_PIXELS);
  g_assert_cmpuint (ow, ==, oh);
  g_assert_cmpuint ((guint64) ow * oh, >, VMD_SCREEN_MAX_RESULT_PIXELS / 2);
  vmd_screen_fit (5120, 2880, 0, 0, &ow, &oh);
  g_assert_cmpuint ((guint64) ow * oh, <=, VMD_SCREEN_MAX_RESULT_PIXELS);
  g_assert_cmpfloat (ABS ((double) ow / oh - 5120.0 / 2880.0), <, 0.01);
}

static VmdRgbImage
image_of (guint width, guint height, const guint8 *pixels)
{
  VmdRgbImage image = { width, height, g_bytes_new (pixels, (gsize) width * height * 3) };

  return image;
}

static void
test_scale_box_filter (void)
{
  /* 5 x 1 grey ramp to 2 x 1: columns {0,1} and {2,3,4}. */
  const guint8 ramp[] = { 0, 0, 0,  10, 10, 10,  20, 20, 20,  30, 30, 30,  40, 40, 40 };
  const guint8 halves[] = { 5, 5, 5,  30, 30, 30 };
  /* 2 x 2 of red, green, blue, white to 1 x 1: the mean, rounded. */
  const guint8 quad[] = { 255, 0, 0,  0, 255, 0,  0, 0, 255,  255, 255, 255 };
  const guint8 mean[] = { 128, 128, 128 };
  g_auto(VmdRgbImage) in1 = image_of (5, 1, ramp);
  g_auto(VmdRgbImage) in2 = image_of (2, 2, quad);
  g_auto(VmdRgbImage) out1 = { 0 };
  g_auto(VmdRgbImage) out2 = { 0 };
  g_auto(VmdRgbImage) same = { 0 };

  vmd_rgb_scale_down (&in1, 2, 1, &out1);
  g_assert_cmpmem (g_bytes_get_data (out1.rgb, NULL), g_bytes_get_size (out1.rgb), halves, sizeof halves);
  vmd_rgb_scale_down (&in2, 1, 1, &out2);
  g_assert_cmpmem (g_bytes_get_data (out2.rgb, NULL), g_bytes_get_size (out2.rgb), mean, sizeof mean);
  vmd_rgb_scale_down (&in2, 2, 2, &same);
  g_assert_true (same.rgb == in2.rgb);
}

static void
test_scale_odd_sizes_stay_uniform (void)
{
  /* A solid colour stays exactly that colour at every size, and the result is packed. */
  for (guint w = 1; w <= 13; w += 3)
    for (guint h = 1; h <= 11; h += 2)
      {
        g_autofree guint8 *px = g_malloc ((gsize) w * h * 3);
        g_auto(VmdRgbImage) in = { 0 };

        for (gsize i = 0; i < (gsize) w * h; i++)
          memcpy (px + i * 3, (guint8[]) { 0, 0, 170 }, 3);
        in = image_of (w, h, px);
        for (guint ow = 1; ow <= w; ow++)
          for (guint oh = 1; oh <= h; oh++)
            {
              g_auto(VmdRgbImage) out = { 0 };
              gsize len;
              const guint8 *o;

              vmd_rgb_scale_down (&in, ow, oh, &out);
              o = g_bytes_get_data (out.rgb, &len);
              g_assert_cmpuint (len, ==, (gsize) ow * oh * 3);
              for (gsize i = 0; i < len; i += 3)
                g_assert_true (o[i] == 0 && o[i + 1] == 0 && o[i + 2] == 170);
            }
      }
}

static void
test_scale_keeps_left_right (void)
{
  /* 7 x 3, left 3 columns red, right 4 blue, to 2 x 1: red, blue, no bleeding. */
  guint8 px[7 * 3 * 3];
  const guint8 want[] = { 255, 0, 0,  0, 0, 255 };
  g_auto(VmdRgbImage) in = { 0 };
  g_auto(VmdRgbImage) out = { 0 };

  for (guint y = 0; y < 3; y++)
    for (guint x = 0; x < 7; x++)
      memcpy (px + (y * 7 + x) * 3, x < 3 ? (guint8[]) { 255, 0, 0 } : (guint8[]) { 0, 0, 255 }, 3);
  in = image_of (7, 3, px);
  /* 7 / 2: the first output column covers x 0..2, the second 3..6. */
  vmd_rgb_scale_down (&in, 2, 1, &out);
  g_assert_cmpmem (g_bytes_get_data (out.rgb, NULL), g_bytes_get_size (out.rgb), want, sizeof want);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/screen-image/ppm/pixels", test_ppm_reads_pixels);
  g_test_add_func ("/screen-image/ppm/comments", test_ppm_comments_and_trailing_bytes);
  g_test_add_func ("/screen-image/ppm/truncated", test_ppm_truncated);
  g_test_add_func ("/screen-image/ppm/huge", test_ppm_huge_dimensions);
  g_test_add_func ("/screen-image/ppm/other-formats", test_ppm_rejects_other_formats);
  g_test_add_func ("/screen-image/png/pixels", test_png_reads_pixels);
  g_test_add_func ("/screen-image/png/alpha", test_png_alpha_on_black);
  g_test_add_func ("/screen-image/png/bad", test_png_bad);
  g_test_add_func ("/screen-image/fit/aspect", test_fit_keeps_aspect);
  g_test_add_func ("/screen-image/fit/bounded", test_fit_bounds_the_result);
  g_test_add_func ("/screen-image/scale/box", test_scale_box_filter);
  g_test_add_func ("/screen-image/scale/uniform", test_scale_odd_sizes_stay_uniform);
  g_test_add_func ("/screen-image/scale/left-right", test_scale_keeps_left_right);
  return g_test_run ();
}
