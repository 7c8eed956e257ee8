/* The <hostdev> vmdesk adds: managed='no', the function's address, a ua-vmdesk- alias. */
#include "vmdesk-vfio.h"

#include <libxml/parser.h>
#include <string.h>

static char *
dump (xmlNode *node)
{
  xmlBuffer *buf = xmlBufferCreate ();
  char *out;

  xmlNodeDump (buf, NULL, node, 0, 0);
  out = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return out;
}

static void
test_element (void)
{
  g_autoptr(GError) error = NULL;
  xmlNode *hostdev = vmd_vfio_hostdev_new ("0000:0B:00.1", &error);
  g_autofree char *xml = NULL;

  g_assert_no_error (error);
  xml = dump (hostdev);
  g_assert_cmpstr (xml, ==,
                   "<hostdev mode=\"subsystem\" type=\"pci\" managed=\"no\"><source>"
                   "<address domain=\"0x0000\" bus=\"0x0b\" slot=\"0x00\" function=\"0x1\"/>"
                   "</source><alias name=\"ua-vmdesk-pci-0000-0b-00-1\"/></hostdev>");
  g_assert_true (vmd_vfio_hostdev_is_ours (hostdev));
  xmlFreeNode (hostdev);

  hostdev = vmd_vfio_hostdev_new ("10000:e1:1f.7", NULL);
  g_clear_pointer (&xml, g_free);
  xml = dump (hostdev);
  g_assert_nonnull (g_strstr_len (xml, -1, "domain=\"0x10000\""));
  g_assert_nonnull (g_strstr_len (xml, -1, "name=\"ua-vmdesk-pci-10000-e1-1f-7\""));
  xmlFreeNode (hostdev);
}

static void
test_refuses_bad_bdf (void)
{
  g_autoptr(GError) error = NULL;

  g_assert_null (vmd_vfio_hostdev_new ("0000:01:00.0'/><evil/>", &error));
  g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_INVALID_BDF);
}

static void
test_is_ours (void)
{
  const char *docs[][2] = {
    { "<hostdev mode='subsystem' type='pci'><alias name='ua-vmdesk-pci-0000-01-00-0'/></hostdev>", "1" },
    { "<hostdev mode='subsystem' type='pci'><alias name='ua-user-gpu'/></hostdev>", "0" },
    { "<hostdev mode='subsystem' type='pci'><alias name='hostdev0'/></hostdev>", "0" },
    { "<hostdev mode='subsystem' type='pci'><source/></hostdev>", "0" },
    { "<hostdev><alias/></hostdev>", "0" },
    { "<disk><alias name='ua-vmdesk-pci-0000-01-00-0'/></disk>", "0" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (docs); i++)
    {
      xmlDoc *doc = xmlReadMemory (docs[i][0], (int) strlen (docs[i][0]), "t.xml", NULL,
                                   XML_PARSE_NONET);
      g_assert_nonnull (doc);
      g_assert_cmpint (vmd_vfio_hostdev_is_ours (xmlDocGetRootElement (doc)), ==,
                       docs[i][1][0] == '1');
      xmlFreeDoc (doc);
    }
  g_assert_false (vmd_vfio_hostdev_is_ours (NULL));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vfio/hostdev/element", test_element);
  g_test_add_func ("/vfio/hostdev/refuses-bad-bdf", test_refuses_bad_bdf);
  g_test_add_func ("/vfio/hostdev/is-ours", test_is_ours);
  return g_test_run ();
}
