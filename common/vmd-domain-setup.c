/* vmd-domain-setup.c: the edits `vmdeskctl setup` makes to a domain definition.
 * Each ensure_* step adds one thing only when it is missing, so setup is idempotent and
 * never touches what the user configured. */
#include "vmdesk-common.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#define QEMU_GA_CHANNEL     "org.qemu.guest_agent.0"
#define POWER_BRIDGE_CHANNEL "org.vmdesk.power.0"   /* VMD_GUEST_CHANNEL_NAME */

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

static xmlNode *
first_child (xmlNode *parent, const char *name)
{
  for (xmlNode *n = parent->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && n->ns == NULL && xmlStrEqual (n->name, BAD_CAST name))
      return n;
  return NULL;
}

static xmlNode *
ensure_child (xmlNode *parent, const char *name)
{
  xmlNode *n = first_child (parent, name);

  return n ? n : xmlNewChild (parent, NULL, BAD_CAST name, NULL);
}

static gboolean
attr_equals (xmlNode *node, const char *attr, const char *value)
{
  g_autofree xmlChar *v = xmlGetProp (node, BAD_CAST attr);

  return v != NULL && xmlStrEqual (v, BAD_CAST value);
}

static void
ensure_settings_metadata (xmlNode *domain)
{
  xmlNode *metadata = ensure_child (domain, "metadata");
  g_autoptr(VmdVmSettings) defaults = vmd_vm_settings_new ();
  g_autofree char *xml = NULL;
  g_autoptr(xmlDoc) doc = NULL;
  xmlNode *settings;

  for (xmlNode *n = metadata->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && n->ns && xmlStrEqual (n->ns->href, BAD_CAST VMD_SETTINGS_NS))
      return;

  /* The one serializer of settings writes them; the namespace goes on the root only,
   * the shape libvirt gives virDomainSetMetadata. */
  xml = vmd_vm_settings_to_xml (defaults);
  doc = xmlReadMemory (xml, (int) strlen (xml), "settings.xml", NULL, XML_PARSE_NONET | XML_PARSE_NOBLANKS);
  settings = xmlDocCopyNode (xmlDocGetRootElement (doc), domain->doc, 1);
  xmlAddChild (metadata, settings);
  xmlSetNs (settings, xmlNewNs (settings, BAD_CAST VMD_SETTINGS_NS, BAD_CAST VMD_SETTINGS_PREFIX));
}

/* A virtio-serial port `name` whose host side is a unix socket libvirt places itself. */
static void
ensure_virtio_channel (xmlNode *devices, const char *name)
{
  xmlNode *channel, *target;

  for (xmlNode *n = devices->children; n; n = n->next)
    {
      xmlNode *t;
      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "channel"))
        continue;
      t = first_child (n, "target");
      if (t && attr_equals (t, "type", "virtio") && attr_equals (t, "name", name))
        return;
    }
  channel = xmlNewChild (devices, NULL, BAD_CAST "channel", NULL);
  xmlNewProp (channel, BAD_CAST "type", BAD_CAST "unix");
  target = xmlNewChild (channel, NULL, BAD_CAST "target", NULL);
  xmlNewProp (target, BAD_CAST "type", BAD_CAST "virtio");
  xmlNewProp (target, BAD_CAST "name", BAD_CAST name);
}

/* Guest S3 is the only host-sleep action that is safe with pass-through devices. */
static void
ensure_suspend_to_mem (xmlNode *domain)
{
  xmlNode *pm = ensure_child (domain, "pm");
  xmlNode *mem = ensure_child (pm, "suspend-to-mem");

  xmlSetProp (mem, BAD_CAST "enabled", BAD_CAST "yes");
}

static xmlDoc *
read_domain (const char *domain_xml, GError **error)
{
  xmlDoc *doc;
  xmlNode *root;

  doc = xmlReadMemory (domain_xml, (int) strlen (domain_xml), "domain.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOBLANKS | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    {
      g_set_error_literal (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS, "domain XML is not well-formed");
      return NULL;
    }
  root = xmlDocGetRootElement (doc);
  if (root == NULL || !xmlStrEqual (root->name, BAD_CAST "domain"))
    {
      xmlFreeDoc (doc);
      g_set_error_literal (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS, "root element is not <domain>");
      return NULL;
    }
  return doc;
}

static char *
write_domain (xmlDoc *doc)
{
  xmlChar *mem = NULL;
  int size = 0;
  char *out;

  xmlDocDumpFormatMemory (doc, &mem, &size, 1);
  out = g_strndup ((const char *) mem, size);
  xmlFree (mem);
  return out;
}

char *
vmd_domain_xml_reformat (const char *domain_xml, GError **error)
{
  g_autoptr(xmlDoc) doc = read_domain (domain_xml, error);

  return doc ? write_domain (doc) : NULL;
}

char *
vmd_domain_setup_xml (const char *domain_xml, GError **error)
{
  g_autoptr(xmlDoc) doc = read_domain (domain_xml, error);
  xmlNode *domain;

  if (doc == NULL)
    return NULL;
  domain = xmlDocGetRootElement (doc);
  ensure_settings_metadata (domain);
  ensure_suspend_to_mem (domain);
  /* qemu-ga: how vmdesk suspends a guest and resyncs its clock after host sleep. */
  ensure_virtio_channel (ensure_child (domain, "devices"), QEMU_GA_CHANNEL);
  /* The power bridge's port. Always there once set up, so that turning power-channel on
   * in the settings takes effect at once, without a reboot for a new device. */
  ensure_virtio_channel (ensure_child (domain, "devices"), POWER_BRIDGE_CHANNEL);
  return write_domain (doc);
}
