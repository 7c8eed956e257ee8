/* Hub hashes: a hub's hash is read once and kept until the hub's next uevent, and a device
 * read with it is the device read whole; and the reading of a device for the router
 * (vmd_usb_present_from_sysfs*) on a fake sysfs tree. */
#include "vmd-usb-hub-hashes.h"

#include "test-util.h"   /* policy's: fake sysfs files */

#include <glib/gstdio.h>
#include <string.h>

static const guint8 hub_descriptors[] = { 0x12, 0x01, 0x00, 0x02, 0x09, 0x00, 0x01, 0x40 };
static const guint8 key_descriptors[] = { 0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40,
                                          0x50, 0x10, 0x07, 0x04, 0x00, 0x01, 0x01, 0x02,
                                          0x03, 0x01 };

typedef struct {
  char *root;
  char *hub;      /* .../usb1 */
  char *key;      /* .../usb1/1-2 */
} Tree;

static void
setup (Tree *t, gconstpointer data)
{
  t->root = g_dir_make_tmp ("vmdesk-hubs-XXXXXX", NULL);
  t->hub = g_build_filename (t->root, "devices", "pci0000:00", "usb1", NULL);
  t->key = g_build_filename (t->hub, "1-2", NULL);
  test_put_file (t->hub, "idVendor", "1d6b\n", -1);
  test_put_file (t->hub, "idProduct", "0002\n", -1);
  test_put_file (t->hub, "serial", "0000:00:14.0\n", -1);
  test_put_file (t->hub, "bDeviceClass", "09\n", -1);
  test_put_file (t->hub, "descriptors", hub_descriptors, sizeof hub_descriptors);
  test_put_file (t->key, "idVendor", "1050\n", -1);
  test_put_file (t->key, "idProduct", "0407\n", -1);
  test_put_file (t->key, "serial", "0001234567\n", -1);
  test_put_file (t->key, "bDeviceClass", "00\n", -1);
  test_put_file (t->key, "busnum", "1\n", -1);
  test_put_file (t->key, "devnum", "17\n", -1);
  test_put_file (t->key, "descriptors", key_descriptors, sizeof key_descriptors);
}

static void
teardown (Tree *t, gconstpointer data)
{
  test_remove_tree (t->root);
  g_free (t->root);
  g_free (t->hub);
  g_free (t->key);
}

static char *
hub_hash (const char *serial)
{
  return vmd_usb_device_hash (0x1d6b, 0x0002, serial, hub_descriptors, sizeof hub_descriptors);
}

static void
test_kept_until_forgotten (Tree *t, gconstpointer data)
{
  g_autoptr(VmdUsbHubHashes) hubs = vmd_usb_hub_hashes_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *first = hub_hash ("0000:00:14.0");
  g_autofree char *second = hub_hash ("0000:00:14.1");
  const char *hash = NULL;

  g_assert_true (vmd_usb_hub_hashes_lookup (hubs, t->hub, &hash, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (hash, ==, first);
  /* Another hub at the same place, but no uevent yet: the kept hash stands. */
  test_put_file (t->hub, "serial", "0000:00:14.1\n", -1);
  g_assert_true (vmd_usb_hub_hashes_lookup (hubs, t->hub, &hash, &error));
  g_assert_cmpstr (hash, ==, first);
  /* Its uevent: read again. Another hub's uevent changes nothing. */
  vmd_usb_hub_hashes_forget (hubs, t->key);
  g_assert_true (vmd_usb_hub_hashes_lookup (hubs, t->hub, &hash, &error));
  g_assert_cmpstr (hash, ==, first);
  vmd_usb_hub_hashes_forget (hubs, t->hub);
  g_assert_true (vmd_usb_hub_hashes_lookup (hubs, t->hub, &hash, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (hash, ==, second);
}

static void
test_no_hash_and_errors (Tree *t, gconstpointer data)
{
  g_autoptr(VmdUsbHubHashes) hubs = vmd_usb_hub_hashes_new ();
  g_autoptr(GError) error = NULL;
  g_autofree char *pci = g_path_get_dirname (t->hub);
  g_autofree char *descriptors = g_build_filename (t->hub, "descriptors", NULL);
  g_autofree char *expected = hub_hash ("0000:00:14.0");
  const char *hash = "unset";

  /* A root hub's parent has no USB ids: no hash, which is kept too. */
  g_assert_true (vmd_usb_hub_hashes_lookup (hubs, pci, &hash, &error));
  g_assert_no_error (error);
  g_assert_null (hash);

  /* Unreadable: an error, and nothing kept, so that it is read again next time. */
  g_assert_cmpint (g_unlink (descriptors), ==, 0);
  g_assert_cmpint (g_mkdir (descriptors, 0700), ==, 0);
  g_assert_false (vmd_usb_hub_hashes_lookup (hubs, t->hub, &hash, &error));
  g_assert_nonnull (error);
  g_clear_error (&error);
  g_assert_cmpint (g_rmdir (descriptors), ==, 0);
  test_put_file (t->hub, "descriptors", hub_descriptors, sizeof hub_descriptors);
  g_assert_true (vmd_usb_hub_hashes_lookup (hubs, t->hub, &hash, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (hash, ==, expected);
}

/* The router's reading with the kept hub hash is the reading of everything from sysfs. */
static void
test_present_cached (Tree *t, gconstpointer data)
{
  g_autoptr(VmdUsbHubHashes) hubs = vmd_usb_hub_hashes_new ();
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdUsbPresent) whole = vmd_usb_present_from_sysfs (t->key, &error);
  g_autoptr(VmdUsbPresent) cached = NULL;
  g_autoptr(VmdUsbPresent) again = NULL;
  g_autoptr(VmdUsbPresent) hub = NULL;

  g_assert_no_error (error);
  cached = vmd_usb_present_from_sysfs_cached (t->key, hubs, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (whole->id, ==, "1-2");
  g_assert_cmpuint (whole->bus, ==, 1);
  g_assert_cmpuint (whole->devnum, ==, 17);
  g_assert_cmpstr (cached->id, ==, whole->id);
  g_assert_cmpuint (cached->bus, ==, whole->bus);
  g_assert_cmpuint (cached->devnum, ==, whole->devnum);
  g_assert_cmpstr (cached->device->hash, ==, whole->device->hash);
  g_assert_nonnull (whole->device->parent_hash);
  g_assert_cmpstr (cached->device->parent_hash, ==, whole->device->parent_hash);

  /* The next device below the same hub: its hash comes from what was kept. */
  test_put_file (t->hub, "serial", "changed without a uevent\n", -1);
  again = vmd_usb_present_from_sysfs_cached (t->key, hubs, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (again->device->parent_hash, ==, whole->device->parent_hash);

  /* Hubs and root hubs are never routed. */
  hub = vmd_usb_present_from_sysfs_cached (t->hub, hubs, &error);
  g_assert_null (hub);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED);
}

static void
test_present_bad_numbers (Tree *t, gconstpointer data)
{
  const char *bad[] = { "x\n", "", "70000\n", "123456789012345678901234567890123456\n" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VmdUsbPresent) p = NULL;

      test_put_file (t->key, "devnum", bad[i], -1);
      p = vmd_usb_present_from_sysfs (t->key, &error);
      g_assert_null (p);
      /* Too long to be a number is refused while reading; the rest when parsed. */
      if (strlen (bad[i]) > 31)
        g_assert_nonnull (strstr (error->message, "devnum: larger than 31 bytes"));
      else
        g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/usb-hub-hashes/kept-until-forgotten", Tree, NULL, setup, test_kept_until_forgotten, teardown);
  g_test_add ("/usb-hub-hashes/no-hash-and-errors", Tree, NULL, setup, test_no_hash_and_errors, teardown);
  g_test_add ("/usb-hub-hashes/present-cached", Tree, NULL, setup, test_present_cached, teardown);
  g_test_add ("/usb-hub-hashes/present-bad-numbers", Tree, NULL, setup, test_present_bad_numbers, teardown);
  return g_test_run ();
}
