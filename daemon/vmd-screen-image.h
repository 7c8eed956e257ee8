/* vmd-screen-image.h: a VM's screenshot, as libvirt hands it over (binary PPM from QEMU's
 * screendump; PNG where libvirt asks QEMU for it, libvirt >= 9.0 with QEMU >= 7.1), turned
 * into packed RGB and scaled down to a thumbnail. Pure functions on bytes.
 *
 * The bytes are hostile: their size is the guest's video mode and their pixels whatever the
 * guest draws, so every size is checked against the limits below before anything is
 * allocated, and a malformed image is an error, never a crash. */
#pragma once

#include <glib.h>

/* Widest or tallest screen accepted. */
#define VMD_SCREEN_MAX_DIMENSION 16384
/* Most bytes accepted: of the image as it arrives, and of its decoded RGB (a PNG inflates).
 * Room for a 5K screen's PPM (5120 x 2880 x 3 = 42 MiB). */
#define VMD_SCREEN_MAX_BYTES     (64u << 20)
/* Most pixels a scaled result may have: a D-Bus message is at most 128 MiB (32 MiB on
 * many system buses), so an unscaled 5K screen would not get through. */
#define VMD_SCREEN_MAX_RESULT_PIXELS (8u << 20)

typedef struct {
  guint   width;
  guint   height;
  GBytes *rgb;      /* width * height * 3 bytes: rows of width * 3 bytes, no padding */
} VmdRgbImage;

void     vmd_rgb_image_clear (VmdRgbImage *image);
G_DEFINE_AUTO_CLEANUP_CLEAR_FUNC (VmdRgbImage, vmd_rgb_image_clear)

/* A binary PPM: "P6", whitespace and #-comments, width, height, maxval 255, one whitespace
 * byte, then exactly the pixels (trailing bytes are ignored, as netpbm does). The pixels
 * are a slice of `data`, not a copy. Errors: VMD_ERROR_FAILED naming what is wrong. */
gboolean vmd_ppm_decode (GBytes *data, VmdRgbImage *out, GError **error);
/* A PNG of any colour type, as 8-bit RGB (alpha composed onto black). */
gboolean vmd_png_decode (GBytes *data, VmdRgbImage *out, GError **error);
/* PPM or PNG, told apart by their first bytes (libvirt's MIME type is only a hint). */
gboolean vmd_screen_image_decode (GBytes *data, VmdRgbImage *out, GError **error);

/* The size that fits `width` x `height` into max_width x max_height (0: no limit that
 * way) keeping the aspect ratio, never larger than the original, at least 1 x 1, and at
 * most VMD_SCREEN_MAX_RESULT_PIXELS. */
void     vmd_screen_fit (guint width, guint height, guint max_width, guint max_height,
                         guint *out_width, guint *out_height);
/* `in` scaled down to out_width x out_height (each at most the original's and at least 1)
 * with a box filter: each output pixel is the mean of the input pixels it covers. The same
 * size returns a new reference to the same pixels. */
void     vmd_rgb_scale_down (const VmdRgbImage *in, guint out_width, guint out_height,
                             VmdRgbImage *out);
