/* The device: its identity hash (a known answer computed with Python's hashlib from the
 * layout in docs/policy.md), its strict JSON form, and the sysfs reader on a fake tree. */
#include "vmdesk-policy.h"

#include "test-util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

static const guint8 descriptors[] = { 0x12, 0x01, 0x00, 0x02, 0x00, 0x00, 0x00, 0x40,
                                      0x50, 0x10, 0x07, 0x04 };

static void
test_hash (void)
{
  g_autofree char *yubikey = vmd_usb_device_hash (0x1050, 0x0407, "0001234567", descriptors,
                                                  sizeof descriptors);
  g_autofree char *bare = vmd_usb_device_hash (0x046d, 0xc52b, NULL, NULL, 0);
  g_autofree char *empty_serial = vmd_usb_device_hash (0x046d, 0xc52b, "", NULL, 0);
  g_autofree char *other_serial = vmd_usb_device_hash (0x1050, 0x0407, "0001234568", descriptors,
                                                       sizeof descriptors);
  g_autofree char *shifted = vmd_usb_device_hash (0x1050, 0x0407, "000123456", descriptors,
                                                  sizeof descriptors);

  /* python3: base64(sha256(b"1050:0407\0" + b"0001234567\0" + descriptors)) */
  g_assert_cmpstr (yubikey, ==, "ok/tcrlHJvIOcTeiRMmLW+l6H8HXIVWV3wsGB+B0e9I=");
  g_assert_cmpstr (bare, ==, "yNHGA4zIoG/8FjbymYcyq3AbJmoSHC3cBpJYEuaj9k4=");
  g_assert_cmpstr (empty_serial, ==, bare);     /* no serial and "" are the same identity */
  g_assert_cmpstr (other_serial, !=, yubikey);
  /* The 0 byte after the serial: a byte moved from serial to descriptors changes the hash. */
  g_assert_cmpstr (shifted, !=, yubikey);
}

static VmdUsbDevice *
device_from_json (const char *json)
{
  g_autoptr(GError) error = NULL;
  VmdUsbDevice *device = vmd_usb_device_from_json (json, -1, &error);

  g_assert_no_error (error);
  return device;
}

static void
test_json (void)
{
  g_autoptr(VmdUsbDevice) full = device_from_json (
    "{\"vendor\": \"1050\", \"product\": \"04Af\", \"serial\": \"0001234567\", "
    "\"name\": \"YubiKey \\\"5\\\" <&>\\n\", \"manufacturer\": \"Yubico\", \"port\": \"1-2.3\", "
    "\"connect_type\": \"hotplug\", \"interfaces\": [\"03:01:01\", \"0B:00:00\"], "
    "\"hash\": \"h\", \"parent_hash\": null}");
  g_autoptr(VmdUsbDevice) minimal = device_from_json ("{\"vendor\": \"046d\", \"product\": \"c52b\"}");
  g_autoptr(VmdUsbDevice) copy = vmd_usb_device_copy (full);

  g_assert_cmpuint (full->vendor_id, ==, 0x1050);
  g_assert_cmpuint (full->product_id, ==, 0x04af);
  g_assert_cmpstr (full->name, ==, "YubiKey \"5\" <&>\n");
  g_assert_cmpstr (full->port, ==, "1-2.3");
  g_assert_cmpuint (full->interfaces->len, ==, 2);
  g_assert_cmpuint (g_array_index (full->interfaces, guint32, 0), ==, 0x030101);
  g_assert_cmpuint (g_array_index (full->interfaces, guint32, 1), ==, 0x0b0000);
  g_assert_cmpstr (full->hash, ==, "h");
  g_assert_null (full->parent_hash);
  g_assert_cmpstr (copy->name, ==, full->name);
  g_assert_cmpuint (copy->interfaces->len, ==, 2);
  g_assert_null (minimal->serial);
  g_assert_null (minimal->connect_type);
  g_assert_cmpuint (minimal->interfaces->len, ==, 0);
}

static void
test_json_errors (void)
{
  g_autofree char *huge = g_strnfill (VMD_USB_STRING_MAX + 1, 'x');
  g_autofree char *too_long = g_strdup_printf ("{\"vendor\": \"046d\", \"product\": \"c52b\", "
                                               "\"name\": \"%s\"}", huge);
  const struct {
    const char *json;
    const char *says;
  } cases[] = {
    { "[]", "the document must be an object" },
    { "{", "device JSON: " },
    { "{\"product\": \"c52b\"}", "\"vendor\" is missing" },
    { "{\"vendor\": \"46d\", \"product\": \"c52b\"}", "\"vendor\" must be a string of 4 hex digits" },
    { "{\"vendor\": \"046g\", \"product\": \"c52b\"}", "\"vendor\" must be a string of 4 hex digits" },
    { "{\"vendor\": \"046d\", \"product\": 1234}", "\"product\" must be a string of 4 hex digits" },
    { "{\"vendor\": \"046d\", \"product\": \"c52b\", \"serial\": 5}", "\"serial\" must be a string or null, not a number" },
    { "{\"vendor\": \"046d\", \"product\": \"c52b\", \"name\": [\"x\"]}", "\"name\" must be a string or null, not an array" },
    { "{\"vendor\": \"046d\", \"product\": \"c52b\", \"port\": true}", "\"port\" must be a string or null, not a boolean" },
    { "{\"vendor\": \"046d\", \"product\": \"c52b\", \"interfaces\": \"03:01:01\"}", "\"interfaces\" must be an array" },
    { "{\"vendor\": \"046d\", \"product\": \"c52b\", \"interfaces\": [\"03:01:01\", \"03:01\"]}", "\"interfaces\"[1] must be a string \"CC:SS:PP\"" },
    { "{\"vendor\": \"046d\", \"product\": \"c52b\", \"interfaces\": [\"03:*:*\"]}", "\"interfaces\"[0]" },
    { "{\"vendor\": \"046d\", \"product\": \"c52b\", \"interfaces\": [3]}", "\"interfaces\"[0]" },
    { "{\"vendor\": \"046d\", \"product\": \"c52b\", \"vendorid\": \"x\"}", "unknown member \"vendorid\"" },
    { too_long, "\"name\" is longer than" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VmdUsbDevice) device = vmd_usb_device_from_json (cases[i].json, -1, &error);

      g_assert_null (device);
      g_assert_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_INVALID);
      g_test_message ("%s", error->message);
      g_assert_true (g_str_has_prefix (error->message, "device JSON: "));
      g_assert_nonnull (strstr (error->message, cases[i].says));
    }
}

/* ---- sysfs ---- */

static void
put_interface (const char *device, const char *name, const char *c, const char *s, const char *p)
{
  g_autofree char *dir = g_build_filename (device, name, NULL);

  test_put_file (dir, "bInterfaceClass", c, -1);
  test_put_file (dir, "bInterfaceSubClass", s, -1);
  test_put_file (dir, "bInterfaceProtocol", p, -1);
}

typedef struct {
  char *root;
  char *usb1;
  char *key;      /* 1-2, a YubiKey */
} Sysfs;

static const guint8 root_hub_descriptors[] = { 0x12, 0x01, 0x00, 0x02, 0x09, 0x00, 0x01, 0x40 };

static void
sysfs_setup (Sysfs *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *links = NULL;
  g_autofree char *link = NULL;
  guint8 key_descriptors[sizeof descriptors + 1];

  fx->root = g_dir_make_tmp ("vmdesk-sysfs-XXXXXX", &error);
  g_assert_no_error (error);
  fx->usb1 = g_build_filename (fx->root, "devices", "pci0000:00", "usb1", NULL);
  fx->key = g_build_filename (fx->usb1, "1-2", NULL);

  test_put_file (fx->usb1, "idVendor", "1d6b\n", -1);
  test_put_file (fx->usb1, "idProduct", "0002\n", -1);
  test_put_file (fx->usb1, "serial", "0000:00:14.0\n", -1);
  test_put_file (fx->usb1, "descriptors", root_hub_descriptors, sizeof root_hub_descriptors);

  /* Binary descriptors that happen to end in '\n' are hashed whole. */
  memcpy (key_descriptors, descriptors, sizeof descriptors);
  key_descriptors[sizeof descriptors] = '\n';
  test_put_file (fx->key, "idVendor", "1050\n", -1);
  test_put_file (fx->key, "idProduct", "0407\n", -1);
  test_put_file (fx->key, "serial", "0001234567\n", -1);
  test_put_file (fx->key, "product", "YubiKey OTP+FIDO+CCID\n", -1);
  test_put_file (fx->key, "manufacturer", "Yubico\n", -1);
  test_put_file (fx->key, "descriptors", key_descriptors, sizeof key_descriptors);
  test_put_file (fx->key, "port/connect_type", "hotplug\n", -1);
  put_interface (fx->key, "1-2:1.10", "ff\n", "00\n", "00\n");
  put_interface (fx->key, "1-2:1.1", "0b\n", "00\n", "00\n");
  put_interface (fx->key, "1-2:1.0", "03\n", "01\n", "01\n");
  put_interface (fx->key, "1-2:1.2", "03\n", "00\n", "00\n");
  test_put_file (fx->key, "power/control", "auto\n", -1);                 /* not interfaces */
  test_put_file (fx->key, "1-2.4/idVendor", "046d\n", -1);

  links = g_build_filename (fx->root, "bus", "usb", "devices", NULL);
  g_assert_cmpint (g_mkdir_with_parents (links, 0700), ==, 0);
  link = g_build_filename (links, "1-2", NULL);
  g_assert_cmpint (symlink ("../../../devices/pci0000:00/usb1/1-2", link), ==, 0);
}

static void
sysfs_teardown (Sysfs *fx, gconstpointer data)
{
  test_remove_tree (fx->root);
  g_free (fx->root);
  g_free (fx->usb1);
  g_free (fx->key);
}

static void
test_sysfs_device (Sysfs *fx, gconstpointer data)
{
  g_autofree char *via_link = g_build_filename (fx->root, "bus", "usb", "devices", "1-2", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdUsbDevice) d = vmd_usb_device_from_sysfs (via_link, &error);
  g_autofree char *parent_hash = vmd_usb_device_hash (0x1d6b, 0x0002, "0000:00:14.0",
                                                      root_hub_descriptors,
                                                      sizeof root_hub_descriptors);
  guint8 with_newline[sizeof descriptors + 1];
  g_autofree char *hash = NULL;
  g_autofree char *hash_without_newline = vmd_usb_device_hash (0x1050, 0x0407, "0001234567",
                                                               descriptors, sizeof descriptors);
  const guint32 interfaces[] = { 0x030101, 0x0b0000, 0x030000, 0xff0000 };

  g_assert_no_error (error);
  memcpy (with_newline, descriptors, sizeof descriptors);
  with_newline[sizeof descriptors] = '\n';
  hash = vmd_usb_device_hash (0x1050, 0x0407, "0001234567", with_newline, sizeof with_newline);

  g_assert_cmpuint (d->vendor_id, ==, 0x1050);
  g_assert_cmpuint (d->product_id, ==, 0x0407);
  g_assert_cmpstr (d->serial, ==, "0001234567");
  g_assert_cmpstr (d->name, ==, "YubiKey OTP+FIDO+CCID");
  g_assert_cmpstr (d->manufacturer, ==, "Yubico");
  g_assert_cmpstr (d->port, ==, "1-2");
  g_assert_cmpstr (d->connect_type, ==, "hotplug");
  g_assert_cmpuint (d->interfaces->len, ==, G_N_ELEMENTS (interfaces));
  for (guint i = 0; i < G_N_ELEMENTS (interfaces); i++)   /* 1.0, 1.1, 1.2, 1.10 */
    g_assert_cmpuint (g_array_index (d->interfaces, guint32, i), ==, interfaces[i]);
  g_assert_cmpstr (d->hash, ==, hash);
  g_assert_cmpstr (d->hash, !=, hash_without_newline);
  g_assert_cmpstr (d->parent_hash, ==, parent_hash);
}

static void
test_sysfs_hostile (Sysfs *fx, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (fx->usb1, "1-3", NULL);
  g_autofree char *big = g_strnfill (4096 - 16, 'x');
  g_autofree char *product = g_strconcat ("q\"<&>\nline2\xff\xfe", big, "\n", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdUsbDevice) d = NULL;

  test_put_file (dir, "idVendor", "0781\n", -1);
  test_put_file (dir, "idProduct", "5567\n", -1);
  test_put_file (dir, "product", product, -1);
  d = vmd_usb_device_from_sysfs (dir, &error);
  g_assert_no_error (error);
  /* Raw bytes, only sysfs' final newline removed. */
  g_assert_cmpuint (strlen (d->name), ==, strlen (product) - 1);
  g_assert_true (g_str_has_prefix (d->name, "q\"<&>\nline2\xff\xfe"));
  g_assert_null (d->serial);
  g_assert_null (d->connect_type);
  g_assert_null (d->hash);                 /* no descriptors: unknown */
  g_assert_nonnull (d->parent_hash);
  g_assert_cmpuint (d->interfaces->len, ==, 0);
}

static void
test_sysfs_errors (Sysfs *fx, gconstpointer data)
{
  g_autofree char *dir = g_build_filename (fx->usb1, "1-5", NULL);
  g_autofree char *huge = g_strnfill (VMD_USB_STRING_MAX + 10, 'x');
  const struct {
    const char *file;
    const char *content;
    const char *says;
  } steps[] = {
    { "idProduct", "5567\n", "idVendor: missing" },
    { "idVendor", "zz\n", "idVendor: expected 4 hex digits" },
    { "idVendor", "0781\n", NULL },
    { "product", huge, "product: larger than" },
    { "product", "ok\n", NULL },
    { "1-5:1.0/bInterfaceClass", "08\n", "1-5:1.0/bInterfaceSubClass: missing" },
    { "1-5:1.0/bInterfaceSubClass", "06\n", "bInterfaceProtocol: missing" },
    { "1-5:1.0/bInterfaceProtocol", "5\n", "bInterfaceProtocol: expected 2 hex digits" },
    { "1-5:1.0/bInterfaceProtocol", "50\n", NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (steps); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VmdUsbDevice) d = NULL;

      test_put_file (dir, steps[i].file, steps[i].content, -1);
      d = vmd_usb_device_from_sysfs (dir, &error);
      if (steps[i].says == NULL)
        {
          g_assert_no_error (error);
          continue;
        }
      g_assert_null (d);
      g_assert_nonnull (error);
      g_test_message ("%s", error->message);
      g_assert_nonnull (strstr (error->message, steps[i].says));
    }
}

/* Attributes longer than one read (a regular file's short read is its end, a full one is
 * not) come back whole, at any length up to the bound. */
static void
test_sysfs_long_attributes (Sysfs *fx, gconstpointer data)
{
  const gsize lengths[] = { 4095, 4096, 4097, 8192, 9000, VMD_USB_STRING_MAX };

  for (guint i = 0; i < G_N_ELEMENTS (lengths); i++)
    {
      g_autofree char *dir = g_strdup_printf ("%s/1-%u", fx->usb1, 6 + i);
      g_autofree char *product = g_strnfill (lengths[i], 'p');
      g_autofree char *with_newline = g_strconcat (product, "\n", NULL);
      g_autoptr(GError) error = NULL;
      g_autoptr(VmdUsbDevice) d = NULL;

      test_put_file (dir, "idVendor", "0781\n", -1);
      test_put_file (dir, "idProduct", "5567\n", -1);
      test_put_file (dir, "product", with_newline, -1);
      d = vmd_usb_device_from_sysfs (dir, &error);
      g_assert_no_error (error);
      g_assert_cmpstr (d->name, ==, product);
    }
}

/* A hub's hash read on its own is the parent hash of the devices below it, and a device
 * read with the parent hash given is the device read whole. */
static void
test_sysfs_parent_hash_given (Sysfs *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *hub_hash = NULL;
  char *none = (char *) "set to NULL";
  g_autofree char *pci = g_path_get_dirname (fx->usb1);
  g_autoptr(VmdUsbDevice) whole = vmd_usb_device_from_sysfs (fx->key, &error);
  g_autoptr(VmdUsbDevice) given = NULL;
  g_autoptr(VmdUsbDevice) other = NULL;

  g_assert_no_error (error);
  g_assert_true (vmd_usb_device_hash_from_sysfs (fx->usb1, &hub_hash, &error));
  g_assert_no_error (error);
  g_assert_cmpstr (hub_hash, ==, whole->parent_hash);

  given = vmd_usb_device_from_sysfs_with_parent_hash (fx->key, hub_hash, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (given->parent_hash, ==, whole->parent_hash);
  g_assert_cmpstr (given->hash, ==, whole->hash);
  g_assert_cmpstr (given->serial, ==, whole->serial);
  g_assert_cmpstr (given->port, ==, whole->port);
  g_assert_cmpuint (given->interfaces->len, ==, whole->interfaces->len);
  /* What was given is what it gets, without looking at the parent. */
  other = vmd_usb_device_from_sysfs_with_parent_hash (fx->key, "given", &error);
  g_assert_no_error (error);
  g_assert_cmpstr (other->parent_hash, ==, "given");

  /* No USB ids: no hash, and no error. */
  g_assert_true (vmd_usb_device_hash_from_sysfs (pci, &none, &error));
  g_assert_no_error (error);
  g_assert_null (none);
}

/* The parent of a root hub is a PCI device: no USB ids, so no parent hash. */
static void
test_sysfs_root_hub_parent (Sysfs *fx, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdUsbDevice) d = vmd_usb_device_from_sysfs (fx->usb1, &error);

  g_assert_no_error (error);
  g_assert_cmpstr (d->port, ==, "usb1");
  g_assert_nonnull (d->hash);
  g_assert_null (d->parent_hash);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/usb-device/hash", test_hash);
  g_test_add_func ("/usb-device/json", test_json);
  g_test_add_func ("/usb-device/json-errors", test_json_errors);
  g_test_add ("/usb-device/sysfs/device", Sysfs, NULL, sysfs_setup, test_sysfs_device, sysfs_teardown);
  g_test_add ("/usb-device/sysfs/hostile", Sysfs, NULL, sysfs_setup, test_sysfs_hostile, sysfs_teardown);
  g_test_add ("/usb-device/sysfs/errors", Sysfs, NULL, sysfs_setup, test_sysfs_errors, sysfs_teardown);
  g_test_add ("/usb-device/sysfs/root-hub-parent", Sysfs, NULL, sysfs_setup, test_sysfs_root_hub_parent, sysfs_teardown);
  g_test_add ("/usb-device/sysfs/long-attributes", Sysfs, NULL, sysfs_setup, test_sysfs_long_attributes, sysfs_teardown);
  g_test_add ("/usb-device/sysfs/parent-hash-given", Sysfs, NULL, sysfs_setup, test_sysfs_parent_hash_given, sysfs_teardown);
  return g_test_run ();
}
