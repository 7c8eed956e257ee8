/* vmd-live-xml.c: host devices, a channel's state and the display from a domain's XML. libvirt
 * writes state='connected' on a virtio channel's <target> while the guest has the port
 * open (QEMU's VSERPORT_CHANGE): for qemu-ga's channel, that is qemu-ga running. */
#include "vmd-live-xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

static gboolean
is_element (xmlNode *node, const char *name)
{
  return node->type == XML_ELEMENT_NODE && xmlStrEqual (node->name, BAD_CAST name);
}

static void
read_channel (xmlNode *chan, const char *channel, VmdLiveDevices *out)
{
  for (xmlNode *t = chan->children; t; t = t->next)
    {
      g_autofree xmlChar *name = NULL;
      g_autofree xmlChar *state = NULL;

      if (!is_element (t, "target"))
        continue;
      name = xmlGetProp (t, BAD_CAST "name");
      if (name == NULL || !xmlStrEqual (name, BAD_CAST channel))
        continue;
      state = xmlGetProp (t, BAD_CAST "state");
      out->has_channel = TRUE;
      out->channel_connected = state != NULL && xmlStrEqual (state, BAD_CAST "connected");
    }
}

void
vmd_live_xml_read_devices (const char *xml, const char *channel, VmdLiveDevices *out)
{
  g_autoptr(xmlDoc) doc = xmlReadMemory (xml, (int) strlen (xml), "domain.xml", NULL,
                                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;

  memset (out, 0, sizeof *out);
  for (xmlNode *devices = root ? root->children : NULL; devices; devices = devices->next)
    {
      if (!is_element (devices, "devices"))
        continue;
      for (xmlNode *dev = devices->children; dev; dev = dev->next)
        {
          if (is_element (dev, "hostdev"))
            out->has_hostdev = TRUE;
          else if (is_element (dev, "channel"))
            read_channel (dev, channel, out);
        }
    }
}

const char *
vmd_live_xml_display (const char *xml, guint *index)
{
  g_autoptr(xmlDoc) doc = xmlReadMemory (xml, (int) strlen (xml), "domain.xml", NULL,
                                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;
  guint n = 0;

  for (xmlNode *devices = root ? root->children : NULL; devices; devices = devices->next)
    {
      if (!is_element (devices, "devices"))
        continue;
      for (xmlNode *dev = devices->children; dev; dev = dev->next)
        {
          g_autofree xmlChar *type = NULL;

          if (!is_element (dev, "graphics"))
            continue;
          type = xmlGetProp (dev, BAD_CAST "type");
          if (type && (xmlStrEqual (type, BAD_CAST "spice") || xmlStrEqual (type, BAD_CAST "vnc")))
            {
              if (index)
                *index = n;
              return xmlStrEqual (type, BAD_CAST "spice") ? "spice" : "vnc";
            }
          n++;
        }
    }
  return "none";
}
