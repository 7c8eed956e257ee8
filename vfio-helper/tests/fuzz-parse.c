/* Fuzz every parser of sysfs and /proc text with the same input: attribute values (hex,
 * names, word lists, capability bitmaps), the kernel command line, cpuinfo, mountinfo. */
#include "vmd-vfio-private.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = NULL;
  g_autofree char *vendor = NULL;
  g_autofree char *source = NULL;
  g_autofree char *shown = NULL;
  g_auto(GStrv) words = NULL;
  VmdCmdlineIommu cmdline;
  guint64 value, bits[4];
  guint major, minor;

  if (size > 64 * 1024)
    return 0;
  text = g_strndup ((const char *) data, size);
  if (vmd_parse_hex (text, 0xffffff, &value) && value > 0xffffff)
    abort ();
  vmd_parse_name_is_valid (text);
  words = vmd_parse_words (text, 8);
  for (guint i = 0; words && words[i]; i++)
    if (!vmd_parse_name_is_valid (words[i]) || i >= 8)
      abort ();
  vmd_parse_bitmap (text, bits, G_N_ELEMENTS (bits));
  vmd_parse_cmdline_iommu (text, &cmdline);
  if (!g_utf8_validate (cmdline.tokens, -1, NULL))
    abort ();
  vmd_cmdline_iommu_clear (&cmdline);
  vmd_parse_cpuinfo_virt (text);
  vendor = vmd_parse_cpuinfo_vendor (text);
  vmd_parse_mountinfo_root (text, &major, &minor, &source);
  shown = vmd_shown (text, 4096);
  if (!g_utf8_validate (shown, -1, NULL))
    abort ();
  return 0;
}
