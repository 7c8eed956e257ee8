/* vmd-usb-present.c: one USB device of the host, read from sysfs, and the one write the
 * router makes to sysfs (de-authorizing a denied device). Hubs are never routed: they
 * carry other devices, and the policy decides for each of those. */
#include "vmdesk-usb-router.h"

#include "vmd-usb-hub-hashes.h"

#include <errno.h>
#include <fcntl.h>
#include <string.h>
#include <unistd.h>

#define USB_CLASS_HUB 0x09

VmdUsbPresent *
vmd_usb_present_copy (const VmdUsbPresent *present)
{
  VmdUsbPresent *copy = g_new0 (VmdUsbPresent, 1);

  copy->syspath = g_strdup (present->syspath);
  copy->id = g_strdup (present->id);
  copy->bus = present->bus;
  copy->devnum = present->devnum;
  copy->device = vmd_usb_device_copy (present->device);
  copy->uevent_us = present->uevent_us;
  return copy;
}

void
vmd_usb_present_free (VmdUsbPresent *present)
{
  if (present == NULL)
    return;
  g_free (present->syspath);
  g_free (present->id);
  vmd_usb_device_free (present->device);
  g_free (present);
}

/* A small decimal or hex attribute; sysfs strings are untrusted like any other input. */
static gboolean
read_uint_attr (const char *syspath, const char *name, guint base, guint max, guint *out,
                GError **error)
{
  g_autofree char *path = g_build_filename (syspath, name, NULL);
  g_autofree char *text = vmd_read_sysfs_bounded (path, 31, NULL, error);
  guint64 value;

  if (text == NULL)
    return FALSE;
  if (!g_ascii_string_to_unsigned (g_strstrip (text), base, 0, max, &value, NULL))
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "%s: not a number", path);
      return FALSE;
    }
  *out = (guint) value;
  return TRUE;
}

/* Reads the device; its parent's hash comes from `hubs` if given, else from sysfs. */
static VmdUsbPresent *
present_from_sysfs (const char *syspath, VmdUsbHubHashes *hubs, GError **error)
{
  g_autoptr(VmdUsbPresent) present = g_new0 (VmdUsbPresent, 1);
  g_autofree char *name = g_path_get_basename (syspath);
  guint device_class = 0;

  /* Root hubs are "usbN"; interfaces "1-2:1.0": neither is a device users plug. */
  if (g_str_has_prefix (name, "usb") || strchr (name, ':') != NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "%s: not a USB device", syspath);
      return NULL;
    }
  if (!read_uint_attr (syspath, "bDeviceClass", 16, 0xff, &device_class, error))
    return NULL;
  if (device_class == USB_CLASS_HUB)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED, "%s: a hub is never routed", syspath);
      return NULL;
    }
  if (!read_uint_attr (syspath, "busnum", 10, 0xffff, &present->bus, error) ||
      !read_uint_attr (syspath, "devnum", 10, 0xffff, &present->devnum, error))
    return NULL;
  if (hubs == NULL)
    present->device = vmd_usb_device_from_sysfs (syspath, error);
  else
    {
      g_autofree char *parent = g_path_get_dirname (syspath);
      const char *parent_hash = NULL;

      if (!vmd_usb_hub_hashes_lookup (hubs, parent, &parent_hash, error))
        return NULL;
      present->device = vmd_usb_device_from_sysfs_with_parent_hash (syspath, parent_hash, error);
    }
  if (present->device == NULL)
    return NULL;
  present->syspath = g_strdup (syspath);
  present->id = g_steal_pointer (&name);
  return g_steal_pointer (&present);
}

VmdUsbPresent *
vmd_usb_present_from_sysfs (const char *syspath, GError **error)
{
  return present_from_sysfs (syspath, NULL, error);
}

VmdUsbPresent *
vmd_usb_present_from_sysfs_cached (const char *syspath, VmdUsbHubHashes *hubs, GError **error)
{
  return present_from_sysfs (syspath, hubs, error);
}

gboolean
vmd_usb_deauthorize (const char *syspath, GError **error)
{
  g_autofree char *path = g_build_filename (syspath, "authorized", NULL);
  int fd = open (path, O_WRONLY | O_CLOEXEC);
  gboolean ok;

  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "opening %s: %s", path, g_strerror (e));
      return FALSE;
    }
  ok = write (fd, "0\n", 2) == 2;
  if (!ok)
    {
      int e = errno;
      g_set_error (error, G_IO_ERROR, g_io_error_from_errno (e), "writing %s: %s", path, g_strerror (e));
    }
  close (fd);
  return ok;
}
