/* vmd-vfio-domain.c: vmdesk's PCI hostdevs in a domain definition. The definition comes
 * from libvirt but anyone with libvirt access writes it, so it is parsed without network or
 * entities, and only elements carrying vmdesk's alias are ever removed. */
#include "vmd-vfio-domain.h"

#include "vmdesk-common.h"
#include "vmdesk-vfio.h"

#include <libxml/parser.h>
#include <string.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

static xmlDoc *
parse (const char *xml, GError **error)
{
  xmlDoc *doc = xmlReadMemory (xml, (int) strlen (xml), "domain.xml", NULL,
                               XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  xmlNode *root = doc ? xmlDocGetRootElement (doc) : NULL;

  if (root == NULL || !xmlStrEqual (root->name, BAD_CAST "domain"))
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED,
                   "the domain definition is not a <domain> document");
      xmlFreeDoc (doc);
      return NULL;
    }
  return doc;
}

static xmlNode *
child (xmlNode *parent, const char *name)
{
  for (xmlNode *n = parent ? parent->children : NULL; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST name))
      return n;
  return NULL;
}

static gboolean
attr_number (xmlNode *node, const char *name, guint64 max, guint64 *value)
{
  g_autofree xmlChar *text = xmlGetProp (node, BAD_CAST name);
  char *end = NULL;

  if (text == NULL || *text == '\0')
    return FALSE;
  /* libvirt writes 0x-prefixed hex; decimal is valid input too. */
  *value = g_ascii_strtoull ((const char *) text, &end, 0);
  return end && *end == '\0' && *value <= max;
}

/* "DDDD:BB:SS.F" of a <hostdev type='pci'>'s source, or NULL. */
static char *
pci_source (xmlNode *hostdev)
{
  g_autofree xmlChar *type = xmlGetProp (hostdev, BAD_CAST "type");
  xmlNode *address = child (child (hostdev, "source"), "address");
  guint64 domain = 0, bus, slot, function;

  if (type == NULL || !xmlStrEqual (type, BAD_CAST "pci") || address == NULL)
    return NULL;
  if ((xmlHasProp (address, BAD_CAST "domain") && !attr_number (address, "domain", G_MAXUINT32, &domain))
      || !attr_number (address, "bus", 0xff, &bus) || !attr_number (address, "slot", 0x1f, &slot)
      || !attr_number (address, "function", 7, &function))
    return NULL;
  return g_strdup_printf ("%04x:%02x:%02x.%x", (guint) domain, (guint) bus, (guint) slot,
                          (guint) function);
}

static gboolean
is_hostdev (xmlNode *n)
{
  return n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST "hostdev");
}

/* A PCI hostdev vmdesk added; the USB router's (ua-vmdesk-usb-) are not this file's. */
static gboolean
is_our_pci (xmlNode *hostdev)
{
  g_autofree xmlChar *type = xmlGetProp (hostdev, BAD_CAST "type");

  return type && xmlStrEqual (type, BAD_CAST "pci") && vmd_vfio_hostdev_is_ours (hostdev);
}

char *
vmd_vfio_domain_set_hostdevs (const char *domain_xml, const char *const *functions,
                              gboolean *changed, GError **error)
{
  g_autoptr(xmlDoc) doc = parse (domain_xml, error);
  g_autoptr(GHashTable) present = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  xmlNode *devices, *next;
  xmlChar *out = NULL;
  int len = 0;
  char *result;

  *changed = FALSE;
  if (doc == NULL)
    return NULL;
  devices = child (xmlDocGetRootElement (doc), "devices");
  if (devices == NULL)
    devices = xmlNewChild (xmlDocGetRootElement (doc), NULL, BAD_CAST "devices", NULL);

  for (xmlNode *n = devices->children; n; n = next)
    {
      g_autofree char *source = NULL;

      next = n->next;
      if (!is_hostdev (n))
        continue;
      source = pci_source (n);
      if (is_our_pci (n)
          && (source == NULL || !g_strv_contains (functions, source)
              || g_hash_table_contains (present, source)))
        {
          xmlUnlinkNode (n);
          xmlFreeNode (n);
          *changed = TRUE;
          continue;
        }
      if (source)
        g_hash_table_add (present, g_steal_pointer (&source));
    }

  for (guint i = 0; functions[i]; i++)
    {
      xmlNode *hostdev;

      if (g_hash_table_contains (present, functions[i]))
        continue;
      hostdev = vmd_vfio_hostdev_new (functions[i], error);
      if (hostdev == NULL)
        return NULL;
      xmlAddChild (devices, hostdev);
      g_hash_table_add (present, g_strdup (functions[i]));
      *changed = TRUE;
    }

  xmlDocDumpMemory (doc, &out, &len);
  result = g_strndup ((const char *) out, (gsize) len);
  xmlFree (out);
  return result;
}

GStrv
vmd_vfio_domain_pci_sources (const char *domain_xml, GError **error)
{
  g_autoptr(xmlDoc) doc = parse (domain_xml, error);
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func (g_free);

  if (doc == NULL)
    return NULL;
  for (xmlNode *n = child (child (xmlDocGetRootElement (doc), "devices"), "hostdev"); n; n = n->next)
    {
      char *source = is_hostdev (n) ? pci_source (n) : NULL;

      if (source)
        g_ptr_array_add (found, source);
    }
  g_ptr_array_add (found, NULL);
  return (GStrv) g_ptr_array_steal (found, NULL);
}
