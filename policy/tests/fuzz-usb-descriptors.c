/* libFuzzer: raw USB descriptors, as a device hands them to sysfs. The first byte picks the
 * active configuration; whatever the rest, the parser stays inside the buffer. */
#include "vmdesk-policy.h"

#include <stdint.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GArray) interfaces = g_array_new (FALSE, FALSE, sizeof (guint32));

  if (size == 0)
    return 0;
  vmd_usb_interfaces_from_descriptors (data + 1, size - 1, data[0], interfaces);
  /* Each interface descriptor is 9 bytes at least: more interfaces means a read past. */
  g_assert (interfaces->len <= (size - 1) / 9);
  return 0;
}
