/* The hostdev vmdesk writes, and finding vmdesk's own hostdevs (never the user's). */
#include "vmdesk-usb-router.h"

#include <string.h>

static void
test_alias (void)
{
  g_autofree char *a = vmd_usb_alias_for_port ("1-2.3");
  g_autofree char *b = vmd_usb_alias_for_port ("3-1");
  g_autofree char *c = vmd_usb_alias_for_port ("1-1\"/><x");

  g_assert_cmpstr (a, ==, "ua-vmdesk-usb-1-2_3");
  g_assert_cmpstr (b, ==, "ua-vmdesk-usb-3-1");
  /* Whatever a port name holds, the alias stays within libvirt's alias alphabet. */
  g_assert_cmpstr (c, ==, "ua-vmdesk-usb-1-1____x");
}

static void
test_round_trip (void)
{
  VmdUsbHostdev in = { .alias = (char *) "ua-vmdesk-usb-1-2_3", .vendor_id = 0x1050,
                       .product_id = 0x0407, .bus = 1, .devnum = 17 };
  g_autofree char *xml = vmd_usb_hostdev_to_xml (&in);
  g_autofree char *domain = g_strdup_printf (
    "<domain type='qemu'><name>w</name><devices>"
    "<hostdev mode='subsystem' type='usb'><source><vendor id='0x046d'/><product id='0xc52b'/>"
    "<address bus='1' device='4'/></source></hostdev>"                      /* the user's, no alias */
    "<hostdev mode='subsystem' type='usb'><source><address bus='1' device='5'/></source>"
    "<alias name='ua-mine'/></hostdev>"                                      /* the user's alias */
    "<hostdev mode='subsystem' type='pci'><alias name='ua-vmdesk-usb-9'/></hostdev>"  /* not USB */
    "%s</devices></domain>", xml);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = vmd_usb_hostdevs_from_domain_xml (domain, &error);
  VmdUsbHostdev *out;

  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (xml, "<hostdev mode=\"subsystem\" type=\"usb\""));
  g_assert_nonnull (strstr (xml, "<address bus=\"1\" device=\"17\"/>"));
  g_assert_cmpuint (found->len, ==, 1);
  out = found->pdata[0];
  g_assert_cmpstr (out->alias, ==, in.alias);
  g_assert_cmpuint (out->vendor_id, ==, 0x1050);
  g_assert_cmpuint (out->product_id, ==, 0x0407);
  g_assert_cmpuint (out->bus, ==, 1);
  g_assert_cmpuint (out->devnum, ==, 17);
}

static void
test_bad_domain_xml (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = vmd_usb_hostdevs_from_domain_xml ("<domain><devices>", &error);

  g_assert_null (found);
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/usb-hostdev/alias", test_alias);
  g_test_add_func ("/usb-hostdev/round-trip", test_round_trip);
  g_test_add_func ("/usb-hostdev/bad-domain-xml", test_bad_domain_xml);
  return g_test_run ();
}
