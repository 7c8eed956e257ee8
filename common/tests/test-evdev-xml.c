/* The <input type='evdev'> elements vmdesk adds and later finds again in live XML: the
 * builder must escape what it is given, the parser must find only vmdesk's own inputs. */
#include "vmdesk-common.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

static void
test_validate (void)
{
  const char *good[] = { "/dev/input/event0", "/dev/input/by-id/usb-Logitech_USB_Receiver-if01-event-mouse",
                         "/dev/input/by-path/pci-0000:00:14.0-usb-0:1:1.0-event-kbd" };
  const char *bad[] = { "", "/dev/input/", "/dev/input", "/dev/inputx/event0", "/dev/sda",
                        "dev/input/event0", "/dev/input/../sda", "/dev/input/by-id/../../sda",
                        "/dev/input/./event0", "/dev/input//event0", "/dev/input/by-id/",
                        "/dev/input/event 0", "/dev/input/ev'ent", "/dev/input/ev<x>",
                        "/dev/input/ev\nx", "/dev/input/\xc3\xa9v" };

  for (guint i = 0; i < G_N_ELEMENTS (good); i++)
    {
      g_autoptr(GError) error = NULL;
      g_assert_true (vmd_evdev_path_validate (good[i], &error));
      g_assert_no_error (error);
    }
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      if (vmd_evdev_path_validate (bad[i], &error))
        g_error ("\"%s\" was accepted", g_strescape (bad[i], NULL));
      g_assert_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS);
      /* The message is printable: a newline in a path never reaches a log line raw. */
      g_assert_null (strchr (error->message, '\n'));
    }
}

static void
test_keyboard_naming (void)
{
  g_assert_true (vmd_evdev_path_is_keyboard ("/dev/input/by-id/usb-Cherry-event-kbd"));
  g_assert_false (vmd_evdev_path_is_keyboard ("/dev/input/by-id/usb-Cherry-if01-event-mouse"));
  g_assert_false (vmd_evdev_path_is_keyboard ("/dev/input/event3"));
}

/* The builder's output, read back with libxml2, carries exactly the given values. */
static void
test_builder (void)
{
  g_autofree char *kbd = vmd_evdev_input_to_xml ("/dev/input/by-id/a-event-kbd", 0, TRUE);
  g_autofree char *mouse = vmd_evdev_input_to_xml ("/dev/input/x'\"<&>", 7, FALSE);
  g_autoptr(xmlDoc) doc = xmlReadMemory (mouse, (int) strlen (mouse), NULL, NULL, XML_PARSE_NONET);
  xmlNode *root = xmlDocGetRootElement (doc);
  g_autofree xmlChar *dev = NULL;

  g_assert_cmpstr (kbd, ==, "<input type=\"evdev\"><source dev=\"/dev/input/by-id/a-event-kbd\" "
                            "grab=\"all\" repeat=\"on\"/><alias name=\"ua-vmdesk-evdev-0\"/></input>");
  /* Markup in a path stays text. */
  g_assert_nonnull (root);
  g_assert_cmpstr ((const char *) root->name, ==, "input");
  dev = xmlGetProp (xmlFirstElementChild (root), BAD_CAST "dev");
  g_assert_cmpstr ((const char *) dev, ==, "/dev/input/x'\"<&>");
  g_assert_null (xmlHasProp (xmlFirstElementChild (root), BAD_CAST "grab"));
  g_assert_nonnull (strstr (mouse, "<alias name=\"ua-vmdesk-evdev-7\"/>"));
}

static const char live_xml[] =
  "<domain type='qemu' id='3'><name>gpu</name><devices>"
  "<input type='tablet' bus='usb'><alias name='input0'/></input>"
  "<input type='evdev'><source dev='/dev/input/event3'/><alias name='input1'/></input>"
  "<input type='evdev'><source dev='/dev/input/by-id/k-event-kbd' grab='all' repeat='on'/>"
  "<alias name='ua-vmdesk-evdev-0'/></input>"
  "<input type='evdev'><source dev='/dev/input/event5'/><alias name='ua-user-keyboard'/></input>"
  "<input type='mouse' bus='ps2'><alias name='ua-vmdesk-evdev-9'/></input>"
  "<input type='evdev'><alias name='ua-vmdesk-evdev-1'/></input>"
  "</devices></domain>";

static void
test_parser_finds_only_ours (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = vmd_evdev_inputs_from_domain_xml (live_xml, &error);
  VmdEvdevInput *first, *second;
  g_autoptr(GPtrArray) again = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 2);
  first = found->pdata[0];
  second = found->pdata[1];
  g_assert_cmpstr (first->alias, ==, "ua-vmdesk-evdev-0");
  g_assert_cmpstr (first->dev, ==, "/dev/input/by-id/k-event-kbd");
  g_assert_cmpstr (second->alias, ==, "ua-vmdesk-evdev-1");
  g_assert_cmpstr (second->dev, ==, "");
  /* The element handed to detach is the live one, whole: parsing it finds it again. */
  g_assert_nonnull (strstr (first->xml, "grab=\"all\""));
  {
    g_autofree char *wrapped = g_strdup_printf ("<domain><devices>%s</devices></domain>", first->xml);
    again = vmd_evdev_inputs_from_domain_xml (wrapped, &error);
  }
  g_assert_no_error (error);
  g_assert_cmpuint (again->len, ==, 1);
  g_assert_cmpstr (((VmdEvdevInput *) again->pdata[0])->dev, ==, first->dev);
}

static void
test_builder_output_is_found (void)
{
  g_autofree char *input = vmd_evdev_input_to_xml ("/dev/input/event4", 3, FALSE);
  g_autofree char *domain = g_strdup_printf ("<domain><devices>%s</devices></domain>", input);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) found = vmd_evdev_inputs_from_domain_xml (domain, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (found->len, ==, 1);
  g_assert_cmpstr (((VmdEvdevInput *) found->pdata[0])->alias, ==, "ua-vmdesk-evdev-3");
  g_assert_cmpstr (((VmdEvdevInput *) found->pdata[0])->dev, ==, "/dev/input/event4");
}

static void
test_parser_bad_xml (void)
{
  const char *bad[] = { "", "<domain>", "<notdomain/>", "<!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><domain>&e;</domain>x" };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) found = vmd_evdev_inputs_from_domain_xml (bad[i], &error);
      g_assert_null (found);
      g_assert_error (error, VMD_ERROR, VMD_ERROR_FAILED);
    }
  {
    g_autoptr(GError) error = NULL;
    g_autoptr(GPtrArray) none = vmd_evdev_inputs_from_domain_xml ("<domain><name>x</name></domain>", &error);
    g_assert_no_error (error);
    g_assert_cmpuint (none->len, ==, 0);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/evdev-xml/validate", test_validate);
  g_test_add_func ("/evdev-xml/keyboard-naming", test_keyboard_naming);
  g_test_add_func ("/evdev-xml/builder", test_builder);
  g_test_add_func ("/evdev-xml/parser-finds-only-ours", test_parser_finds_only_ours);
  g_test_add_func ("/evdev-xml/builder-output-is-found", test_builder_output_is_found);
  g_test_add_func ("/evdev-xml/parser-bad-xml", test_parser_bad_xml);
  return g_test_run ();
}
