/* vmd-usb-watcher.c: USB devices coming and going, from udev (GUdev). Only usb_device
 * uevents are followed; interfaces arrive with their device's descriptors. */
#include "vmdesk-usb-router.h"

#include "vmd-usb-hub-hashes.h"

#include <gudev/gudev.h>

struct _VmdUsbWatcher {
  GObject          parent;
  GUdevClient     *udev;
  VmdUsbHubHashes *hubs;
};

G_DEFINE_TYPE (VmdUsbWatcher, vmd_usb_watcher, G_TYPE_OBJECT)

enum { SIGNAL_ADDED, SIGNAL_REMOVED, N_SIGNALS };
static guint signals[N_SIGNALS];

static gboolean
is_usb_device (GUdevDevice *device)
{
  return g_strcmp0 (g_udev_device_get_devtype (device), "usb_device") == 0;
}

static void
announce (VmdUsbWatcher *self, GUdevDevice *device, gint64 uevent_us)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdUsbPresent) present = vmd_usb_present_from_sysfs_cached (g_udev_device_get_sysfs_path (device),
                                                                         self->hubs, &error);

  if (present == NULL)
    {
      const char *syspath = g_udev_device_get_sysfs_path (device);

      /* Unplugged before its "add" was read: its "remove" follows, and there is nothing
       * to route. Not a fault of the device or of vmdesk. */
      if (!g_file_test (syspath, G_FILE_TEST_EXISTS))
        g_debug ("USB device %s: gone before it could be read (%s)", syspath, error->message);
      else if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED))
        g_warning ("USB device %s: %s", syspath, error->message);
      return;
    }
  present->uevent_us = uevent_us;
  g_signal_emit (self, signals[SIGNAL_ADDED], 0, present);
}

static void
on_uevent (GUdevClient *client, const char *action, GUdevDevice *device, gpointer user_data)
{
  VmdUsbWatcher *self = user_data;
  /* The start of the daemon's part: bench/usb_attach.py measures from here to the attach
   * call (the router logs this time once the attach is done, not now, on the way). */
  gint64 now = g_get_monotonic_time ();

  if (!is_usb_device (device))
    return;
  /* Whatever happened to it, a hub's hash is read afresh next time. */
  vmd_usb_hub_hashes_forget (self->hubs, g_udev_device_get_sysfs_path (device));
  if (g_str_equal (action, "add"))
    announce (self, device, now);
  else if (g_str_equal (action, "remove"))
    g_signal_emit (self, signals[SIGNAL_REMOVED], 0, g_udev_device_get_sysfs_path (device));
  g_debug ("uevent %s %s", action, g_udev_device_get_sysfs_path (device));
}

void
vmd_usb_watcher_start (VmdUsbWatcher *self)
{
  GList *devices = g_udev_client_query_by_subsystem (self->udev, "usb");

  for (GList *l = devices; l; l = l->next)
    if (is_usb_device (l->data))
      announce (self, l->data, 0);
  g_list_free_full (devices, g_object_unref);
}

VmdUsbWatcher *
vmd_usb_watcher_new (void)
{
  return g_object_new (VMD_TYPE_USB_WATCHER, NULL);
}

static void
vmd_usb_watcher_init (VmdUsbWatcher *self)
{
  const char *subsystems[] = { "usb/usb_device", NULL };

  self->hubs = vmd_usb_hub_hashes_new ();
  self->udev = g_udev_client_new (subsystems);
  g_signal_connect (self->udev, "uevent", G_CALLBACK (on_uevent), self);
}

static void
vmd_usb_watcher_dispose (GObject *object)
{
  VmdUsbWatcher *self = VMD_USB_WATCHER (object);

  if (self->udev)
    g_signal_handlers_disconnect_by_data (self->udev, self);
  g_clear_object (&self->udev);
  g_clear_pointer (&self->hubs, vmd_usb_hub_hashes_free);
  G_OBJECT_CLASS (vmd_usb_watcher_parent_class)->dispose (object);
}

static void
vmd_usb_watcher_class_init (VmdUsbWatcherClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_usb_watcher_dispose;
  signals[SIGNAL_ADDED] = g_signal_new ("added", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                        NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_REMOVED] = g_signal_new ("removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST, 0,
                                          NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}
