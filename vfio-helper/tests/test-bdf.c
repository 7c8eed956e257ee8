/* PCI addresses reach vfio-helper from the command line, D-Bus and VM settings. */
#include "vmd-vfio-private.h"

#include <string.h>

static void
test_valid (void)
{
  static const struct { const char *in, *out; } cases[] = {
    { "0000:01:00.0", "0000:01:00.0" },
    { "01:00.1", "0000:01:00.1" },
    { "0000:0A:1F.7", "0000:0a:1f.7" },
    { "10000:e1:00.0", "10000:e1:00.0" },       /* VMD domains have five digits */
    { "ffffffff:ff:1f.7", "ffffffff:ff:1f.7" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      char buf[VMD_VFIO_BDF_BUFSIZE];
      VmdVfioBdf bdf;

      g_assert_true (vmd_vfio_bdf_parse (cases[i].in, &bdf, &error));
      g_assert_no_error (error);
      g_assert_cmpstr (vmd_vfio_bdf_format (&bdf, buf), ==, cases[i].out);
    }
}

static void
test_invalid (void)
{
  g_autofree char *huge = g_strnfill (4096, '0');
  const char *bad[] = {
    "", "0000:01:00", "0000:01:00.8", "0000:01:20.0", "000:01:00.0", "0000:1:00.0",
    "0000:01:00.0 ", " 0000:01:00.0", "0000:01:00.0\n", "0000:01:00.00", "123456789:01:00.0",
    "0000:01:00.0/../x", "0000:01:00.-1", "g000:01:00.0", ":01:00.0", "0000::00.0",
    "0000:01:00:0", "0000:01.00.0", "0000:01:00.", "0000:01:\xc3\xa9.0", "0000:0x:00.0",
    "../../0000:01:00.0", "+000:01:00.0", huge, NULL,
  };

  for (guint i = 0; bad[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      VmdVfioBdf bdf;

      g_assert_false (vmd_vfio_bdf_parse (bad[i], &bdf, &error));
      g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_INVALID_BDF);
      /* The message quotes the input escaped: one line, valid UTF-8. */
      g_assert_null (strchr (error->message, '\n'));
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
    }
  g_assert_false (vmd_vfio_bdf_parse (NULL, &(VmdVfioBdf) { 0 }, NULL));
}

/* Every slot and function of a bus survives format and parse. */
static void
test_round_trip (void)
{
  for (guint slot = 0; slot <= 0x1f; slot++)
    for (guint function = 0; function <= 7; function++)
      {
        VmdVfioBdf in = { 0x1234, 0xab, (guint8) slot, (guint8) function }, out;
        char buf[VMD_VFIO_BDF_BUFSIZE];

        g_assert_true (vmd_vfio_bdf_parse (vmd_vfio_bdf_format (&in, buf), &out, NULL));
        g_assert_cmpuint (out.domain, ==, in.domain);
        g_assert_cmpuint (out.bus, ==, in.bus);
        g_assert_cmpuint (out.slot, ==, in.slot);
        g_assert_cmpuint (out.function, ==, in.function);
      }
}

static void
test_same_device (void)
{
  VmdVfioBdf gpu, audio, other_slot, other_domain;

  vmd_vfio_bdf_parse ("0000:01:00.0", &gpu, NULL);
  vmd_vfio_bdf_parse ("0000:01:00.1", &audio, NULL);
  vmd_vfio_bdf_parse ("0000:01:01.0", &other_slot, NULL);
  vmd_vfio_bdf_parse ("0001:01:00.1", &other_domain, NULL);
  g_assert_true (vmd_vfio_bdf_same_device (&gpu, &audio));
  g_assert_false (vmd_vfio_bdf_same_device (&gpu, &other_slot));
  g_assert_false (vmd_vfio_bdf_same_device (&gpu, &other_domain));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vfio/bdf/valid", test_valid);
  g_test_add_func ("/vfio/bdf/invalid", test_invalid);
  g_test_add_func ("/vfio/bdf/round-trip", test_round_trip);
  g_test_add_func ("/vfio/bdf/same-device", test_same_device);
  return g_test_run ();
}
