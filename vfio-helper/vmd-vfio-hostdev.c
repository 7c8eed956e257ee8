/* vmd-vfio-hostdev.c: the libvirt <hostdev> element for a function vmdesk bound. Built with
 * libxml2 from a parsed BDF, so nothing from outside is ever spliced into markup. */
#include "vmd-vfio-private.h"

#include <string.h>

xmlNode *
vmd_vfio_hostdev_new (const char *bdf, GError **error)
{
  VmdVfioBdf addr;
  xmlNode *hostdev, *source, *address, *alias;
  char domain[16], bus[8], slot[8], function[8], name[64];

  if (!vmd_vfio_bdf_parse (bdf, &addr, error))
    return NULL;
  g_snprintf (domain, sizeof domain, "0x%04x", addr.domain);
  g_snprintf (bus, sizeof bus, "0x%02x", addr.bus);
  g_snprintf (slot, sizeof slot, "0x%02x", addr.slot);
  g_snprintf (function, sizeof function, "0x%x", addr.function);
  /* libvirt accepts user aliases "ua-" followed by [A-Za-z0-9_-]. */
  g_snprintf (name, sizeof name, VMD_VFIO_ALIAS_PREFIX "pci-%04x-%02x-%02x-%x", addr.domain,
              addr.bus, addr.slot, addr.function);

  hostdev = xmlNewNode (NULL, BAD_CAST "hostdev");
  xmlNewProp (hostdev, BAD_CAST "mode", BAD_CAST "subsystem");
  xmlNewProp (hostdev, BAD_CAST "type", BAD_CAST "pci");
  /* vmdesk did the binding: libvirt must neither detach nor reattach the device. */
  xmlNewProp (hostdev, BAD_CAST "managed", BAD_CAST "no");
  source = xmlNewChild (hostdev, NULL, BAD_CAST "source", NULL);
  address = xmlNewChild (source, NULL, BAD_CAST "address", NULL);
  xmlNewProp (address, BAD_CAST "domain", BAD_CAST domain);
  xmlNewProp (address, BAD_CAST "bus", BAD_CAST bus);
  xmlNewProp (address, BAD_CAST "slot", BAD_CAST slot);
  xmlNewProp (address, BAD_CAST "function", BAD_CAST function);
  alias = xmlNewChild (hostdev, NULL, BAD_CAST "alias", NULL);
  xmlNewProp (alias, BAD_CAST "name", BAD_CAST name);
  return hostdev;
}

gboolean
vmd_vfio_hostdev_is_ours (const xmlNode *hostdev)
{
  if (hostdev == NULL || hostdev->type != XML_ELEMENT_NODE
      || !xmlStrEqual (hostdev->name, BAD_CAST "hostdev"))
    return FALSE;
  for (const xmlNode *n = hostdev->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "alias"))
      {
        xmlChar *name = xmlGetProp (n, BAD_CAST "name");
        gboolean ours = name && g_str_has_prefix ((const char *) name, VMD_VFIO_ALIAS_PREFIX);
        xmlFree (name);
        return ours;
      }
  return FALSE;
}
