/* vmd-usb-descriptors.c: a device's interfaces from its raw descriptors (the sysfs
 * `descriptors` attribute: the device descriptor, then each configuration's descriptors).
 * The kernel announces a usb_device before it creates the interface directories, so at
 * "add" time the descriptors are the only complete source; USBGuard reads them too.
 * The bytes come from the device: every length is checked before it is used. */
#include "vmdesk-policy.h"

#define DT_DEVICE     1
#define DT_CONFIG     2
#define DT_INTERFACE  4
#define DEVICE_DESC_LEN 18

gboolean
vmd_usb_interfaces_from_descriptors (const guint8 *data, gsize length, guint active_config,
                                     GArray *interfaces)
{
  gsize pos;
  gboolean in_active = FALSE, seen_config = FALSE;

  if (length < DEVICE_DESC_LEN || data[0] != DEVICE_DESC_LEN || data[1] != DT_DEVICE)
    return FALSE;
  for (pos = DEVICE_DESC_LEN; pos + 2 <= length;)
    {
      guint len = data[pos], type = data[pos + 1];

      if (len < 2 || pos + len > length)
        return FALSE;
      if (type == DT_CONFIG && len >= 9)
        {
          /* Without an active configuration (unconfigured device) the first one counts. */
          in_active = active_config ? data[pos + 5] == active_config : !seen_config;
          seen_config = TRUE;
        }
      /* Alternate setting 0 only: the others are the same interface. */
      else if (type == DT_INTERFACE && len >= 9 && in_active && data[pos + 3] == 0)
        {
          guint32 value = (guint32) data[pos + 5] << 16 | (guint32) data[pos + 6] << 8 | data[pos + 7];
          g_array_append_val (interfaces, value);
        }
      pos += len;
    }
  return seen_config;
}
