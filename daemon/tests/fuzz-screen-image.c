/* libFuzzer target: a screendump as libvirt's stream delivers it (PPM or PNG), decoded and
 * scaled to a thumbnail the way Screenshot does. The last two bytes choose the thumbnail's
 * bounds, so odd sizes and "no limit" are exercised too. */
#include "vmd-screen-image.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GBytes) bytes = g_bytes_new (data, size);
  g_auto(VmdRgbImage) image = { 0 };
  g_auto(VmdRgbImage) thumb = { 0 };
  guint max_w = size >= 2 ? data[size - 2] % 64 : 16, max_h = size >= 1 ? data[size - 1] % 64 : 16;
  guint w, h;

  if (!vmd_screen_image_decode (bytes, &image, NULL))
    return 0;
  if (image.width == 0 || image.height == 0 || image.width > VMD_SCREEN_MAX_DIMENSION
      || image.height > VMD_SCREEN_MAX_DIMENSION
      || g_bytes_get_size (image.rgb) != (gsize) image.width * image.height * 3)
    abort ();
  vmd_screen_fit (image.width, image.height, max_w, max_h, &w, &h);
  if (w < 1 || h < 1 || w > image.width || h > image.height || (max_w && w > max_w)
      || (max_h && h > max_h))
    abort ();
  vmd_rgb_scale_down (&image, w, h, &thumb);
  if (g_bytes_get_size (thumb.rgb) != (gsize) w * h * 3)
    abort ();
  return 0;
}
