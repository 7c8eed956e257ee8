/* vmd-usb-hostdev.c: the <hostdev type='usb'> vmdesk adds to a VM, and finding its own
 * hostdevs again in a live domain XML. Built and read with libxml2 only. The address pins
 * the physical device (two identical sticks differ only there); vendor and product let
 * libvirt refuse an address that now holds another device. */
#include "vmdesk-usb-router.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

void
vmd_usb_hostdev_free (VmdUsbHostdev *hostdev)
{
  if (hostdev == NULL)
    return;
  g_free (hostdev->alias);
  g_free (hostdev);
}

VmdUsbHostdev *
vmd_usb_hostdev_copy (const VmdUsbHostdev *hostdev)
{
  VmdUsbHostdev *copy = g_memdup2 (hostdev, sizeof *hostdev);

  copy->alias = g_strdup (hostdev->alias);
  return copy;
}

char *
vmd_usb_alias_for_port (const char *port)
{
  GString *alias = g_string_new (VMD_USB_ALIAS_PREFIX);

  for (const char *p = port; *p; p++)
    g_string_append_c (alias, g_ascii_isalnum (*p) || *p == '-' ? *p : '_');
  return g_string_free (alias, FALSE);
}

static void
add_hex_prop (xmlNode *node, const char *name, guint value)
{
  char text[16];

  g_snprintf (text, sizeof text, "0x%04x", value);
  xmlNewProp (node, BAD_CAST name, BAD_CAST text);
}

static void
add_uint_prop (xmlNode *node, const char *name, guint value)
{
  char text[16];

  g_snprintf (text, sizeof text, "%u", value);
  xmlNewProp (node, BAD_CAST name, BAD_CAST text);
}

char *
vmd_usb_hostdev_to_xml (const VmdUsbHostdev *hostdev)
{
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNode *root = xmlNewNode (NULL, BAD_CAST "hostdev");
  xmlNode *source, *node;
  xmlChar *buffer = NULL;
  int size = 0;
  char *xml;

  xmlDocSetRootElement (doc, root);
  xmlNewProp (root, BAD_CAST "mode", BAD_CAST "subsystem");
  xmlNewProp (root, BAD_CAST "type", BAD_CAST "usb");
  xmlNewProp (root, BAD_CAST "managed", BAD_CAST "yes");
  source = xmlNewChild (root, NULL, BAD_CAST "source", NULL);
  add_hex_prop (xmlNewChild (source, NULL, BAD_CAST "vendor", NULL), "id", hostdev->vendor_id);
  add_hex_prop (xmlNewChild (source, NULL, BAD_CAST "product", NULL), "id", hostdev->product_id);
  node = xmlNewChild (source, NULL, BAD_CAST "address", NULL);
  add_uint_prop (node, "bus", hostdev->bus);
  add_uint_prop (node, "device", hostdev->devnum);
  node = xmlNewChild (root, NULL, BAD_CAST "alias", NULL);
  xmlNewProp (node, BAD_CAST "name", BAD_CAST hostdev->alias);

  xmlDocDumpFormatMemoryEnc (doc, &buffer, &size, "UTF-8", 0);
  /* Drop the XML declaration: libvirt takes the element alone. */
  xml = g_strdup (strstr ((const char *) buffer, "<hostdev"));
  xmlFree (buffer);
  return g_strchomp (xml);
}

static xmlNode *
child (xmlNode *parent, const char *name)
{
  for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST name))
      return n;
  return NULL;
}

/* Reads an unsigned attribute in the base libvirt writes it (hex with 0x, else decimal). */
static gboolean
uint_prop (xmlNode *node, const char *name, guint max, guint *out)
{
  g_autofree xmlChar *text = node ? xmlGetProp (node, BAD_CAST name) : NULL;
  guint64 value;
  const char *s = (const char *) text;
  guint base = 10;

  if (s == NULL)
    return FALSE;
  if (g_str_has_prefix (s, "0x"))
    {
      s += 2;
      base = 16;
    }
  if (!g_ascii_string_to_unsigned (s, base, 0, max, &value, NULL))
    return FALSE;
  *out = (guint) value;
  return TRUE;
}

static VmdUsbHostdev *
hostdev_from_node (xmlNode *node)
{
  g_autoptr(VmdUsbHostdev) hostdev = g_new0 (VmdUsbHostdev, 1);
  g_autofree xmlChar *type = xmlGetProp (node, BAD_CAST "type");
  g_autofree xmlChar *alias = xmlGetProp (child (node, "alias"), BAD_CAST "name");
  xmlNode *source = child (node, "source");
  guint vendor = 0, product = 0;

  if (type == NULL || !xmlStrEqual (type, BAD_CAST "usb") || alias == NULL ||
      !g_str_has_prefix ((const char *) alias, VMD_USB_ALIAS_PREFIX))
    return NULL;
  hostdev->alias = g_strdup ((const char *) alias);
  /* A hostdev without a full address is not one vmdesk wrote; it is still vmdesk's
   * (by alias), so it is returned with zeros and reconcile removes it. */
  uint_prop (child (source, "vendor"), "id", G_MAXUINT16, &vendor);
  uint_prop (child (source, "product"), "id", G_MAXUINT16, &product);
  uint_prop (child (source, "address"), "bus", G_MAXUINT16, &hostdev->bus);
  uint_prop (child (source, "address"), "device", G_MAXUINT16, &hostdev->devnum);
  hostdev->vendor_id = vendor;
  hostdev->product_id = product;
  return g_steal_pointer (&hostdev);
}

GPtrArray *
vmd_usb_hostdevs_from_domain_xml (const char *xml, GError **error)
{
  g_autoptr(xmlDoc) doc = xmlReadMemory (xml, (int) strlen (xml), "domain.xml", NULL,
                                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_usb_hostdev_free);
  xmlNode *devices;

  if (doc == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_DATA, "domain XML does not parse");
      return NULL;
    }
  devices = child (xmlDocGetRootElement (doc), "devices");
  for (xmlNode *n = devices ? devices->children : NULL; n; n = n->next)
    {
      VmdUsbHostdev *hostdev;

      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "hostdev"))
        continue;
      if ((hostdev = hostdev_from_node (n)) != NULL)
        g_ptr_array_add (found, hostdev);
    }
  return g_steal_pointer (&found);
}
