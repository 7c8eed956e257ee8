/* Interfaces from raw USB descriptors: the active configuration only, alternate setting 0
 * only, and bytes from a device that lie about their lengths are refused, not read past. */
#include "vmdesk-policy.h"

#include <string.h>

/* device (18) | config 1: iface 0 (08:06:50), iface 0 alt 1 (ff:ff:ff) | config 2: iface 0 (03:01:01) */
static const guint8 TWO_CONFIGS[] = {
  18, 1, 0x00, 0x02, 0, 0, 0, 64, 0x81, 0x07, 0x67, 0x55, 0x00, 0x01, 1, 2, 3, 2,
  9, 2, 32, 0, 1, 1, 0, 0x80, 50,
  9, 4, 0, 0, 2, 0x08, 0x06, 0x50, 0,
  9, 4, 0, 1, 2, 0xff, 0xff, 0xff, 0,
  9, 2, 18, 0, 1, 2, 0, 0x80, 50,
  9, 4, 0, 0, 1, 0x03, 0x01, 0x01, 0,
};

static GArray *
parse (const guint8 *data, gsize len, guint config, gboolean expect_ok)
{
  GArray *found = g_array_new (FALSE, FALSE, sizeof (guint32));

  g_assert_cmpint (vmd_usb_interfaces_from_descriptors (data, len, config, found), ==, expect_ok);
  return found;
}

static void
test_active_configuration (void)
{
  g_autoptr(GArray) first = parse (TWO_CONFIGS, sizeof TWO_CONFIGS, 1, TRUE);
  g_autoptr(GArray) second = parse (TWO_CONFIGS, sizeof TWO_CONFIGS, 2, TRUE);
  g_autoptr(GArray) unconfigured = parse (TWO_CONFIGS, sizeof TWO_CONFIGS, 0, TRUE);

  g_assert_cmpuint (first->len, ==, 1);   /* the alternate setting is the same interface */
  g_assert_cmphex (g_array_index (first, guint32, 0), ==, 0x080650);
  g_assert_cmpuint (second->len, ==, 1);
  g_assert_cmphex (g_array_index (second, guint32, 0), ==, 0x030101);
  g_assert_cmpuint (unconfigured->len, ==, 1);
  g_assert_cmphex (g_array_index (unconfigured, guint32, 0), ==, 0x080650);
}

static void
test_hostile_bytes (void)
{
  guint8 bad[sizeof TWO_CONFIGS];

  /* Too short for a device descriptor; not a device descriptor. */
  g_array_unref (parse (TWO_CONFIGS, 10, 1, FALSE));
  memcpy (bad, TWO_CONFIGS, sizeof bad);
  bad[1] = 2;
  g_array_unref (parse (bad, sizeof bad, 1, FALSE));
  /* A descriptor that claims more bytes than there are, or fewer than two. */
  memcpy (bad, TWO_CONFIGS, sizeof bad);
  bad[27] = 200;
  g_array_unref (parse (bad, sizeof bad, 1, FALSE));
  memcpy (bad, TWO_CONFIGS, sizeof bad);
  bad[27] = 0;
  g_array_unref (parse (bad, sizeof bad, 1, FALSE));
  /* Truncated in the middle of an interface descriptor. */
  g_array_unref (parse (TWO_CONFIGS, 18 + 9 + 5, 1, FALSE));
  /* A device descriptor alone: no configuration, nothing to say. */
  g_array_unref (parse (TWO_CONFIGS, 18, 1, FALSE));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/usb-descriptors/active-configuration", test_active_configuration);
  g_test_add_func ("/usb-descriptors/hostile-bytes", test_hostile_bytes);
  return g_test_run ();
}
