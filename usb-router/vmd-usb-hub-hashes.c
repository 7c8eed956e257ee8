/* vmd-usb-hub-hashes.c: each hub's identity hash, kept from its first use until its next
 * uevent (see the header for why that is enough). */
#include "vmd-usb-hub-hashes.h"

struct _VmdUsbHubHashes {
  GHashTable *hashes;   /* syspath -> hash, or NULL for a parent without one */
};

VmdUsbHubHashes *
vmd_usb_hub_hashes_new (void)
{
  VmdUsbHubHashes *self = g_new0 (VmdUsbHubHashes, 1);

  self->hashes = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  return self;
}

void
vmd_usb_hub_hashes_free (VmdUsbHubHashes *self)
{
  if (self == NULL)
    return;
  g_hash_table_unref (self->hashes);
  g_free (self);
}

gboolean
vmd_usb_hub_hashes_lookup (VmdUsbHubHashes *self, const char *syspath, const char **hash, GError **error)
{
  gpointer key, value;
  char *read = NULL;

  if (g_hash_table_lookup_extended (self->hashes, syspath, &key, &value))
    {
      *hash = value;
      return TRUE;
    }
  if (!vmd_usb_device_hash_from_sysfs (syspath, &read, error))
    return FALSE;
  g_hash_table_insert (self->hashes, g_strdup (syspath), read);
  *hash = read;
  return TRUE;
}

void
vmd_usb_hub_hashes_forget (VmdUsbHubHashes *self, const char *syspath)
{
  g_hash_table_remove (self->hashes, syspath);
}
