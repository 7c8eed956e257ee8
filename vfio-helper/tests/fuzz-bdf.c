/* Fuzz the PCI address parser: whatever it accepts must format back to itself and make a
 * <hostdev> element. */
#include "vmd-vfio-private.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *text = g_strndup ((const char *) data, size);
  char buf[VMD_VFIO_BDF_BUFSIZE];
  VmdVfioBdf bdf, again;
  xmlNode *hostdev;

  if (!vmd_vfio_bdf_parse (text, &bdf, NULL))
    return 0;
  vmd_vfio_bdf_format (&bdf, buf);
  /* Field by field: the struct has a padding byte. */
  if (!vmd_vfio_bdf_parse (buf, &again, NULL) || bdf.domain != again.domain
      || bdf.bus != again.bus || bdf.slot != again.slot || bdf.function != again.function)
    abort ();
  hostdev = vmd_vfio_hostdev_new (buf, NULL);
  if (hostdev == NULL || !vmd_vfio_hostdev_is_ours (hostdev))
    abort ();
  xmlFreeNode (hostdev);
  return 0;
}
