/* vmd-usb-port.c: the name users give a USB device, its port ("1-2.3"): what the daemon's
 * methods and vmdeskctl accept, checked the same way on both sides. */
#include "vmdesk-common.h"

#include <string.h>

#define USB_PORT_MAX 64

gboolean
vmd_usb_port_validate (const char *port, GError **error)
{
  gsize len = strlen (port);
  const char *dash = strchr (port, '-');

  /* "<bus>-<port>[.<port>]...": digits, one '-', then digits and '.'. */
  if (len > 0 && len <= USB_PORT_MAX && dash != NULL && dash != port && dash[1] != '\0'
      && strspn (port, "0123456789") == (gsize) (dash - port)
      && strspn (dash + 1, "0123456789.") == strlen (dash + 1)
      && strstr (port, "..") == NULL && port[len - 1] != '.' && dash[1] != '.')
    return TRUE;
  g_set_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS, "'%s' is not a USB port such as 1-2.3",
               len <= USB_PORT_MAX && g_utf8_validate (port, -1, NULL) && strcspn (port, "\n\t\r") == len
               ? port : "(unprintable)");
  return FALSE;
}
