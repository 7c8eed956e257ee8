/* vmd-evdev-xml.c: host input devices handed to a VM: the paths settings may name, and
 * the <input type='evdev'> elements vmdesk adds to and finds in a domain's live XML. */
#include "vmdesk-common.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

#define DEV_INPUT "/dev/input/"

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

/* udev's safe characters for names under /dev/input/by-id and by-path (it replaces the
 * rest); '/' separates components. */
static gboolean
path_char_is_valid (char c)
{
  return g_ascii_isalnum (c) || strchr ("#+-.:=@_/", c) != NULL;
}

gboolean
vmd_evdev_path_validate (const char *path, GError **error)
{
  g_autofree char *shown = g_strescape (path, NULL);
  g_auto(GStrv) parts = NULL;
  size_t len = strlen (path);

  if (len > VMD_EVDEV_PATH_MAX)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS,
                   "\"%.64s...\" is %zu bytes, more than %d", shown, len, VMD_EVDEV_PATH_MAX);
      return FALSE;
    }
  if (!g_str_has_prefix (path, DEV_INPUT) || len == strlen (DEV_INPUT))
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS,
                   "\"%s\" is not a device under " DEV_INPUT, shown);
      return FALSE;
    }
  for (const char *p = path; *p; p++)
    if (!path_char_is_valid (*p))
      {
        g_set_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS,
                     "\"%s\" has a character udev never puts in a device name", shown);
        return FALSE;
      }
  /* "/dev/input/../sda" and "/dev/input//x/" are refused, not normalized: settings name
   * one node, spelled one way. */
  parts = g_strsplit (path + strlen (DEV_INPUT), "/", -1);
  for (guint i = 0; parts[i]; i++)
    if (*parts[i] == '\0' || g_str_equal (parts[i], ".") || g_str_equal (parts[i], ".."))
      {
        g_set_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS,
                     "\"%s\" has an empty, \".\" or \"..\" component", shown);
        return FALSE;
      }
  return TRUE;
}

gboolean
vmd_evdev_path_is_keyboard (const char *path)
{
  return g_str_has_suffix (path, "-event-kbd");
}

void
vmd_evdev_input_free (VmdEvdevInput *input)
{
  if (input == NULL)
    return;
  g_free (input->alias);
  g_free (input->dev);
  g_free (input->xml);
  g_free (input);
}

static char *
node_to_string (xmlNode *node)
{
  xmlBuffer *buf = xmlBufferCreate ();
  char *out;

  xmlNodeDump (buf, node->doc, node, 0, 0);
  out = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return out;
}

char *
vmd_evdev_input_to_xml (const char *path, guint index, gboolean keyboard)
{
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNode *input = xmlNewNode (NULL, BAD_CAST "input");
  xmlNode *source;
  g_autofree char *alias = g_strdup_printf (VMD_EVDEV_ALIAS_PREFIX "%u", index);

  xmlDocSetRootElement (doc, input);
  xmlNewProp (input, BAD_CAST "type", BAD_CAST "evdev");
  source = xmlNewChild (input, NULL, BAD_CAST "source", NULL);
  xmlNewProp (source, BAD_CAST "dev", BAD_CAST path);
  if (keyboard)
    {
      xmlNewProp (source, BAD_CAST "grab", BAD_CAST "all");
      xmlNewProp (source, BAD_CAST "repeat", BAD_CAST "on");
    }
  xmlNewProp (xmlNewChild (input, NULL, BAD_CAST "alias", NULL), BAD_CAST "name", BAD_CAST alias);
  return node_to_string (input);
}

static xmlNode *
first_child (xmlNode *parent, const char *name)
{
  for (xmlNode *n = parent->children; n; n = n->next)
    if (n->type == XML_ELEMENT_NODE && xmlStrEqual (n->name, BAD_CAST name))
      return n;
  return NULL;
}

GPtrArray *
vmd_evdev_inputs_from_domain_xml (const char *xml, GError **error)
{
  g_autoptr(GPtrArray) found = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_evdev_input_free);
  g_autoptr(xmlDoc) doc = NULL;
  xmlNode *root, *devices;
  size_t len = strlen (xml);

  doc = len <= G_MAXINT ? xmlReadMemory (xml, (int) len, "domain.xml", NULL,
                                         XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING)
                        : NULL;
  root = doc ? xmlDocGetRootElement (doc) : NULL;
  if (root == NULL || !xmlStrEqual (root->name, BAD_CAST "domain"))
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "the domain XML does not parse as a <domain>");
      return NULL;
    }
  if ((devices = first_child (root, "devices")) == NULL)
    return g_steal_pointer (&found);

  for (xmlNode *n = devices->children; n; n = n->next)
    {
      g_autofree xmlChar *type = NULL;
      g_autofree xmlChar *alias = NULL;
      g_autofree xmlChar *dev = NULL;
      xmlNode *alias_node, *source;
      VmdEvdevInput *input;

      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "input"))
        continue;
      type = xmlGetProp (n, BAD_CAST "type");
      alias_node = first_child (n, "alias");
      alias = alias_node ? xmlGetProp (alias_node, BAD_CAST "name") : NULL;
      if (!xmlStrEqual (type, BAD_CAST "evdev") || alias == NULL
          || !g_str_has_prefix ((const char *) alias, VMD_EVDEV_ALIAS_PREFIX))
        continue;
      source = first_child (n, "source");
      dev = source ? xmlGetProp (source, BAD_CAST "dev") : NULL;
      input = g_new0 (VmdEvdevInput, 1);
      input->alias = g_strdup ((const char *) alias);
      input->dev = g_strdup (dev ? (const char *) dev : "");
      input->xml = node_to_string (n);
      g_ptr_array_add (found, input);
    }
  return g_steal_pointer (&found);
}
