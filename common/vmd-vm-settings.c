/* vmd-vm-settings.c: a VM's vmdesk settings, read from and written to libvirt metadata.
 * The metadata is editable by anyone with libvirt access, so it is untrusted input:
 * bounded, parsed without network or entity expansion, and never fatal. */
#include "vmdesk-common.h"

#include <libxml/parser.h>
#include <libxml/tree.h>
#include <string.h>

static const char *const host_sleep_names[] = {
  [VMD_HOST_SLEEP_SUSPEND] = "suspend",
  [VMD_HOST_SLEEP_PAUSE]   = "pause",
  [VMD_HOST_SLEEP_SAVE]    = "save",
  [VMD_HOST_SLEEP_NONE]    = "none",
};

static const char *const host_shutdown_names[] = {
  [VMD_HOST_SHUTDOWN_SHUTDOWN] = "shutdown",
  [VMD_HOST_SHUTDOWN_SAVE]     = "save",
  [VMD_HOST_SHUTDOWN_NONE]     = "none",
};

static const char *const lid_names[] = {
  [VMD_LID_FORWARD] = "forward",
  [VMD_LID_IGNORE]  = "ignore",
};

static const char *const bool_names[] = { "no", "yes" };

const char *
vmd_host_sleep_action_to_string (VmdHostSleepAction action)
{
  return host_sleep_names[action];
}

const char *
vmd_host_shutdown_action_to_string (VmdHostShutdownAction action)
{
  return host_shutdown_names[action];
}

const char *
vmd_lid_action_to_string (VmdLidAction action)
{
  return lid_names[action];
}

VmdVmSettings *
vmd_vm_settings_new (void)
{
  VmdVmSettings *s = g_new0 (VmdVmSettings, 1);

  s->role = g_strdup ("");
  s->auto_assign_usb = FALSE;
  s->on_host_sleep = VMD_HOST_SLEEP_SUSPEND;
  s->on_host_shutdown = VMD_HOST_SHUTDOWN_SHUTDOWN;
  s->on_lid_close = VMD_LID_FORWARD;
  s->power_channel = FALSE;
  s->passthrough_pci = g_new0 (char *, 1);
  s->passthrough_single_gpu = FALSE;
  s->evdev_inputs = g_new0 (char *, 1);
  return s;
}

VmdVmSettings *
vmd_vm_settings_copy (const VmdVmSettings *settings)
{
  VmdVmSettings *s = g_memdup2 (settings, sizeof *settings);

  s->role = g_strdup (settings->role);
  s->passthrough_pci = g_strdupv (settings->passthrough_pci);
  s->evdev_inputs = g_strdupv (settings->evdev_inputs);
  return s;
}

void
vmd_vm_settings_free (VmdVmSettings *settings)
{
  if (settings == NULL)
    return;
  g_free (settings->role);
  g_strfreev (settings->passthrough_pci);
  g_strfreev (settings->evdev_inputs);
  g_free (settings);
}

static void
add_warning (GPtrArray *warnings, const char *fmt, ...) G_GNUC_PRINTF (2, 3);

static void
add_warning (GPtrArray *warnings, const char *fmt, ...)
{
  va_list args;

  if (warnings == NULL)
    return;
  va_start (args, fmt);
  g_ptr_array_add (warnings, g_strdup_vprintf (fmt, args));
  va_end (args);
}

/* Index of `value` in `names`, or -1; the warning lists the accepted words. */
static int
parse_enum (const char *field, const char *value, const char *const *names, guint n_names,
            GPtrArray *warnings)
{
  g_autoptr(GString) accepted = g_string_new (NULL);
  g_autofree char *shown = g_strescape (value, NULL);

  for (guint i = 0; i < n_names; i++)
    if (g_str_equal (value, names[i]))
      return (int) i;

  for (guint i = 0; i < n_names; i++)
    g_string_append_printf (accepted, "%s%s", i ? ", " : "", names[i]);
  add_warning (warnings, "<%s>: \"%s\" is not one of %s; using the default", field, shown,
               accepted->str);
  return -1;
}

static gboolean
role_is_valid (const char *role)
{
  if (strlen (role) > VMD_ROLE_MAX)
    return FALSE;
  for (const char *p = role; *p; p++)
    if (!g_ascii_isalnum (*p) && *p != '-' && *p != '_')
      return FALSE;
  return TRUE;
}

static void
apply_field (VmdVmSettings *s, const char *field, const char *value, GPtrArray *warnings)
{
  int v;

  if (g_str_equal (field, "role"))
    {
      if (role_is_valid (value))
        {
          g_free (s->role);
          s->role = g_strdup (value);
        }
      else
        {
          g_autofree char *shown = g_strescape (value, NULL);
          add_warning (warnings,
                       "<role>: \"%.64s\" is not 1-%d letters, digits, '-' or '_'; ignored",
                       shown, VMD_ROLE_MAX);
        }
    }
  else if (g_str_equal (field, "auto-assign-usb"))
    {
      if ((v = parse_enum (field, value, bool_names, G_N_ELEMENTS (bool_names), warnings)) >= 0)
        s->auto_assign_usb = v;
    }
  else if (g_str_equal (field, "power-channel"))
    {
      if ((v = parse_enum (field, value, bool_names, G_N_ELEMENTS (bool_names), warnings)) >= 0)
        s->power_channel = v;
    }
  else if (g_str_equal (field, "on-host-sleep"))
    {
      if ((v = parse_enum (field, value, host_sleep_names, G_N_ELEMENTS (host_sleep_names),
                           warnings)) >= 0)
        s->on_host_sleep = v;
    }
  else if (g_str_equal (field, "on-host-shutdown"))
    {
      if ((v = parse_enum (field, value, host_shutdown_names, G_N_ELEMENTS (host_shutdown_names),
                           warnings)) >= 0)
        s->on_host_shutdown = v;
    }
  else if (g_str_equal (field, "on-lid-close"))
    {
      if ((v = parse_enum (field, value, lid_names, G_N_ELEMENTS (lid_names), warnings)) >= 0)
        s->on_lid_close = v;
    }
  /* Unknown fields are ignored: a newer vmdesk may have written them. */
}

/* `n` hex digits exactly (or 1..n with `at_most`) at *p; advances *p. */
static gboolean
take_hex (const char **p, guint n, gboolean at_most, guint32 *value)
{
  guint32 v = 0;
  guint i;

  for (i = 0; i < n && g_ascii_isxdigit ((*p)[i]); i++)
    v = v << 4 | (guint32) g_ascii_xdigit_value ((*p)[i]);
  if (i == 0 || (!at_most && i != n))
    return FALSE;
  *p += i;
  *value = v;
  return TRUE;
}

/* A PCI function as the kernel names it, "DDDD:BB:SS.F" (the domain 4 to 8 hex digits) or
 * "BB:SS.F" for domain 0; returns the kernel's own spelling, or NULL. The same grammar as
 * vfio-helper's parser, which the daemon applies again: common links no component. */
static char *
pci_address_normalize (const char *text)
{
  const char *p = text, *colon = strchr (text, ':');
  guint32 domain = 0, bus, slot, function;

  if (strlen (text) > 16)
    return NULL;
  if (colon && strchr (colon + 1, ':'))
    {
      if (!take_hex (&p, 8, TRUE, &domain) || p - text < 4 || *p++ != ':')
        return NULL;
    }
  if (!take_hex (&p, 2, FALSE, &bus) || *p++ != ':' || !take_hex (&p, 2, FALSE, &slot)
      || *p++ != '.' || !take_hex (&p, 1, FALSE, &function) || *p != '\0'
      || slot > 0x1f || function > 7)
    return NULL;
  return g_strdup_printf ("%04x:%02x:%02x.%x", domain, bus, slot, function);
}

/* <passthrough single-gpu='yes|no'><pci bdf='0000:01:00.0'/>...</passthrough>: a bad entry
 * is skipped with a warning, the good ones stay. */
static void
apply_passthrough (VmdVmSettings *s, xmlNode *element, GPtrArray *warnings)
{
  g_autoptr(GPtrArray) bdfs = g_ptr_array_new_with_free_func (g_free);
  g_autofree xmlChar *single = xmlGetProp (element, BAD_CAST "single-gpu");
  int v;

  if (single && (v = parse_enum ("passthrough single-gpu", (const char *) single, bool_names,
                                 G_N_ELEMENTS (bool_names), warnings)) >= 0)
    s->passthrough_single_gpu = v;
  for (xmlNode *n = element->children; n; n = n->next)
    {
      g_autofree xmlChar *bdf = NULL;
      g_autofree char *canonical = NULL;
      g_autofree char *shown = NULL;

      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "pci"))
        continue;
      bdf = xmlGetProp (n, BAD_CAST "bdf");
      canonical = bdf ? pci_address_normalize ((const char *) bdf) : NULL;
      if (canonical == NULL)
        {
          shown = g_strescape (bdf ? (const char *) bdf : "", NULL);
          add_warning (warnings, "<passthrough><pci bdf=\"%.64s\">: not a PCI address "
                       "(DDDD:BB:SS.F, e.g. 0000:01:00.0); ignored", shown);
        }
      else if (g_ptr_array_find_with_equal_func (bdfs, canonical, g_str_equal, NULL))
        add_warning (warnings, "<passthrough>: %s is named twice; once is enough", canonical);
      else if (bdfs->len >= VMD_PASSTHROUGH_MAX)
        add_warning (warnings, "<passthrough>: more than %d devices; %s and later ignored",
                     VMD_PASSTHROUGH_MAX, canonical);
      else
        g_ptr_array_add (bdfs, g_steal_pointer (&canonical));
    }
  g_ptr_array_add (bdfs, NULL);
  g_strfreev (s->passthrough_pci);
  s->passthrough_pci = (GStrv) g_ptr_array_steal (bdfs, NULL);
}

/* <evdev-inputs><input path='/dev/input/by-id/...-event-kbd'/>...</evdev-inputs>: like
 * <passthrough>, a bad entry is skipped with a warning and the good ones stay. */
static void
apply_evdev_inputs (VmdVmSettings *s, xmlNode *element, GPtrArray *warnings)
{
  g_autoptr(GPtrArray) paths = g_ptr_array_new_with_free_func (g_free);

  for (xmlNode *n = element->children; n; n = n->next)
    {
      g_autofree xmlChar *path = NULL;
      g_autoptr(GError) error = NULL;

      if (n->type != XML_ELEMENT_NODE || !xmlStrEqual (n->name, BAD_CAST "input"))
        continue;
      path = xmlGetProp (n, BAD_CAST "path");
      if (!vmd_evdev_path_validate (path ? (const char *) path : "", &error))
        add_warning (warnings, "<evdev-inputs><input>: %s; ignored", error->message);
      else if (g_ptr_array_find_with_equal_func (paths, path, g_str_equal, NULL))
        add_warning (warnings, "<evdev-inputs>: %s is named twice; once is enough", path);
      else if (paths->len >= VMD_EVDEV_INPUTS_MAX)
        add_warning (warnings, "<evdev-inputs>: more than %d devices; %s and later ignored",
                     VMD_EVDEV_INPUTS_MAX, path);
      else
        g_ptr_array_add (paths, g_strdup ((const char *) path));
    }
  g_ptr_array_add (paths, NULL);
  g_strfreev (s->evdev_inputs);
  s->evdev_inputs = (GStrv) g_ptr_array_steal (paths, NULL);
}

G_DEFINE_AUTOPTR_CLEANUP_FUNC (xmlDoc, xmlFreeDoc)

VmdVmSettings *
vmd_vm_settings_parse (const char *xml, GPtrArray *warnings)
{
  g_autoptr(VmdVmSettings) s = vmd_vm_settings_new ();
  g_autoptr(xmlDoc) doc = NULL;
  xmlNode *root;
  size_t len;

  if (xml == NULL)
    return g_steal_pointer (&s);

  len = strlen (xml);
  if (len > VMD_SETTINGS_MAX_SIZE)
    {
      add_warning (warnings, "metadata is %zu bytes, more than the %d allowed; using defaults",
                   len, VMD_SETTINGS_MAX_SIZE);
      return g_steal_pointer (&s);
    }

  /* No network, no entity substitution, no DTD loading; errors are reported, not printed. */
  doc = xmlReadMemory (xml, (int) len, "metadata.xml", NULL,
                       XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING);
  if (doc == NULL)
    {
      const xmlError *err = xmlGetLastError ();
      add_warning (warnings, "metadata is not well-formed XML (line %d: %s); using defaults",
                   err ? err->line : 0,
                   err && err->message ? g_strstrip (err->message) : "unknown error");
      return g_steal_pointer (&s);
    }

  root = xmlDocGetRootElement (doc);
  if (root == NULL || !xmlStrEqual (root->name, BAD_CAST "settings"))
    {
      add_warning (warnings, "metadata root is <%s>, expected <settings>; using defaults",
                   root ? (const char *) root->name : "");
      return g_steal_pointer (&s);
    }

  for (xmlNode *n = root->children; n; n = n->next)
    {
      xmlChar *content;

      if (n->type != XML_ELEMENT_NODE)
        continue;
      if (xmlStrEqual (n->name, BAD_CAST "passthrough"))
        {
          apply_passthrough (s, n, warnings);
          continue;
        }
      if (xmlStrEqual (n->name, BAD_CAST "evdev-inputs"))
        {
          apply_evdev_inputs (s, n, warnings);
          continue;
        }
      content = xmlNodeGetContent (n);
      {
        g_autofree char *value = g_strstrip (g_strdup ((const char *) (content ? content : BAD_CAST "")));
        apply_field (s, (const char *) n->name, value, warnings);
      }
      xmlFree (content);
    }
  return g_steal_pointer (&s);
}

char *
vmd_vm_settings_to_xml (const VmdVmSettings *s)
{
  g_autoptr(xmlDoc) doc = xmlNewDoc (BAD_CAST "1.0");
  xmlNode *root = xmlNewNode (NULL, BAD_CAST "settings");
  xmlBuffer *buf = xmlBufferCreate ();
  char *out;

  xmlDocSetRootElement (doc, root);
  /* xmlNewTextChild escapes the values: a role can never inject markup. */
  if (*s->role)
    xmlNewTextChild (root, NULL, BAD_CAST "role", BAD_CAST s->role);
  xmlNewTextChild (root, NULL, BAD_CAST "auto-assign-usb", BAD_CAST bool_names[!!s->auto_assign_usb]);
  xmlNewTextChild (root, NULL, BAD_CAST "on-host-sleep", BAD_CAST host_sleep_names[s->on_host_sleep]);
  xmlNewTextChild (root, NULL, BAD_CAST "on-host-shutdown",
                   BAD_CAST host_shutdown_names[s->on_host_shutdown]);
  xmlNewTextChild (root, NULL, BAD_CAST "on-lid-close", BAD_CAST lid_names[s->on_lid_close]);
  xmlNewTextChild (root, NULL, BAD_CAST "power-channel", BAD_CAST bool_names[!!s->power_channel]);
  /* Only for a VM that passes devices: most never do, and setup's defaults stay as they were. */
  if (s->passthrough_pci[0] || s->passthrough_single_gpu)
    {
      xmlNode *pt = xmlNewChild (root, NULL, BAD_CAST "passthrough", NULL);
      if (s->passthrough_single_gpu)
        xmlNewProp (pt, BAD_CAST "single-gpu", BAD_CAST "yes");
      for (guint i = 0; s->passthrough_pci[i]; i++)
        xmlNewProp (xmlNewChild (pt, NULL, BAD_CAST "pci", NULL), BAD_CAST "bdf",
                    BAD_CAST s->passthrough_pci[i]);
    }
  if (s->evdev_inputs[0])
    {
      xmlNode *inputs = xmlNewChild (root, NULL, BAD_CAST "evdev-inputs", NULL);
      for (guint i = 0; s->evdev_inputs[i]; i++)
        xmlNewProp (xmlNewChild (inputs, NULL, BAD_CAST "input", NULL), BAD_CAST "path",
                    BAD_CAST s->evdev_inputs[i]);
    }

  xmlNodeDump (buf, doc, root, 0, 1);
  out = g_strdup ((const char *) xmlBufferContent (buf));
  xmlBufferFree (buf);
  return out;
}
