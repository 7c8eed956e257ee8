/* vmd-vfio-pci.c: one PCI function as /sys/bus/pci/devices/<bdf> shows it. Reading never
 * fails: what cannot be read, or reads as nonsense, becomes "unknown" plus one line in
 * `problems`, so a hostile or half-populated sysfs yields a report, not an abort. */
#include "vmd-vfio-private.h"

#include <string.h>

#define PCI_DEVICES "/sys/bus/pci/devices"
#define PCI_DRIVERS "/sys/bus/pci/drivers"

static void
drm_connector_free (gpointer data)
{
  VmdDrmConnector *c = data;

  g_free (c->name);
  g_free (c->status);
  g_free (c);
}

void
vmd_pci_function_free (VmdPciFunction *fn)
{
  if (fn == NULL)
    return;
  g_free (fn->bdf);
  g_free (fn->driver);
  g_free (fn->driver_override);
  g_strfreev (fn->reset_methods);
  g_free (fn->power_state);
  g_clear_pointer (&fn->connectors, g_ptr_array_unref);
  g_clear_pointer (&fn->framebuffers, g_ptr_array_unref);
  g_clear_pointer (&fn->problems, g_ptr_array_unref);
  g_free (fn);
}

G_GNUC_PRINTF (2, 3) static void
problem (VmdPciFunction *fn, const char *format, ...)
{
  va_list ap;

  va_start (ap, format);
  g_ptr_array_add (fn->problems, g_strdup_vprintf (format, ap));
  va_end (ap);
}

/* A hex attribute, or -1 with a problem noted. */
static gint64
read_hex (VmdPciFunction *fn, const char *dir, const char *name, guint64 max)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = vmd_sysfs_read_attr (dir, name, &error);
  guint64 value;

  if (text == NULL)
    {
      problem (fn, "%s: %s", name, error->message);
      return -1;
    }
  if (!vmd_parse_hex (text, max, &value))
    {
      g_autofree char *shown = vmd_shown (text, 32);
      problem (fn, "%s: \"%s\" is not a hex number up to 0x%" G_GINT64_MODIFIER "x", name,
               shown, max);
      return -1;
    }
  return (gint64) value;
}

/* An optional attribute that must be one name (power_state, boot_vga): NULL when absent. */
static char *
read_name_attr (VmdPciFunction *fn, const char *dir, const char *name)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  if (!vmd_sysfs_exists (path))
    return NULL;
  text = vmd_sysfs_read_attr (dir, name, &error);
  if (text == NULL)
    {
      problem (fn, "%s: %s", name, error->message);
      return NULL;
    }
  if (!vmd_parse_name_is_valid (text))
    {
      g_autofree char *shown = vmd_shown (text, 32);
      problem (fn, "%s: unexpected value \"%s\"", name, shown);
      return NULL;
    }
  return g_steal_pointer (&text);
}

static void
read_driver (VmdPciFunction *fn, const char *dir)
{
  g_autofree char *link = g_build_filename (dir, "driver", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *name = vmd_sysfs_link_name (link, &error);
  g_autofree char *override = NULL;

  if (error)
    problem (fn, "driver: %s", error->message);
  if (name)
    {
      g_autofree char *driver_dir = NULL;

      fn->driver_valid = vmd_parse_name_is_valid (name);
      if (!fn->driver_valid)
        {
          g_autofree char *shown = vmd_shown (name, 64);
          problem (fn, "driver: the link names \"%s\", which is no driver name", shown);
          fn->driver = g_steal_pointer (&shown);
        }
      else
        {
          driver_dir = g_build_filename (PCI_DRIVERS, name, NULL);
          /* A link to nowhere: the name is all there is; no step may rely on the driver. */
          if (!vmd_sysfs_exists (driver_dir))
            {
              problem (fn, "driver: the link points to %s, which does not exist", driver_dir);
              fn->driver_valid = FALSE;
            }
          fn->driver = g_steal_pointer (&name);
        }
    }

  {
    g_autoptr(GError) override_error = NULL;
    override = vmd_pci_override_now (fn->bdf, &override_error);
    if (override == NULL)
      problem (fn, "driver_override: %s", override_error->message);
    else if (*override && !vmd_parse_name_is_valid (override))
      {
        g_autofree char *shown = vmd_shown (override, 32);
        problem (fn, "driver_override: unexpected value \"%s\"", shown);
      }
    else if (*override)
      fn->driver_override = g_steal_pointer (&override);
  }
}

static void
read_iommu_group (VmdPciFunction *fn, const char *dir)
{
  g_autofree char *link = g_build_filename (dir, "iommu_group", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *name = vmd_sysfs_link_name (link, &error);
  guint64 number;

  fn->iommu_group = -1;
  if (error)
    problem (fn, "iommu_group: %s", error->message);
  if (name == NULL)
    return;
  if (!g_ascii_string_to_unsigned (name, 10, 0, 1000000, &number, NULL))
    {
      g_autofree char *shown = vmd_shown (name, 32);
      problem (fn, "iommu_group: the link names \"%s\", which is no group number", shown);
      return;
    }
  fn->iommu_group = (int) number;
}

static void
read_reset_methods (VmdPciFunction *fn, const char *dir)
{
  g_autofree char *path = g_build_filename (dir, "reset_method", NULL);
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;

  /* The kernel hides reset_method when it knows no way to reset the function. */
  if (!vmd_sysfs_exists (path))
    return;
  text = vmd_sysfs_read_attr (dir, "reset_method", &error);
  if (text == NULL)
    {
      problem (fn, "reset_method: %s", error->message);
      return;
    }
  fn->reset_methods = vmd_parse_words (text, 8);
  if (fn->reset_methods == NULL)
    {
      g_autofree char *shown = vmd_shown (text, 64);
      problem (fn, "reset_method: unexpected value \"%s\"", shown);
    }
}

static void
read_boot_vga (VmdPciFunction *fn, const char *dir)
{
  g_autofree char *value = read_name_attr (fn, dir, "boot_vga");

  fn->boot_vga = -1;
  if (value == NULL)
    return;
  if (g_str_equal (value, "0") || g_str_equal (value, "1"))
    fn->boot_vga = value[0] == '1';
  else
    problem (fn, "boot_vga: unexpected value \"%s\"", value);
}

static gboolean
connector_is_internal (const char *name)
{
  return g_str_has_prefix (name, "eDP") || g_str_has_prefix (name, "LVDS")
      || g_str_has_prefix (name, "DSI");
}

/* drm/cardN/cardN-<connector>/status */
static void
read_connectors (VmdPciFunction *fn, const char *dir)
{
  g_autofree char *drm = g_build_filename (dir, "drm", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) cards = vmd_sysfs_list (drm, &error);

  if (error)
    problem (fn, "drm: %s", error->message);
  for (guint i = 0; cards && i < cards->len; i++)
    {
      const char *card = cards->pdata[i];
      g_autofree char *card_dir = NULL;
      g_autofree char *prefix = NULL;
      g_autoptr(GPtrArray) entries = NULL;
      g_autoptr(GError) card_error = NULL;

      if (!g_str_has_prefix (card, "card") || !vmd_parse_name_is_valid (card))
        continue;
      card_dir = g_build_filename (drm, card, NULL);
      prefix = g_strconcat (card, "-", NULL);
      entries = vmd_sysfs_list (card_dir, &card_error);
      if (card_error)
        problem (fn, "drm/%s: %s", card, card_error->message);
      for (guint j = 0; entries && j < entries->len && fn->connectors->len < 32; j++)
        {
          const char *entry = entries->pdata[j];
          g_autofree char *conn_dir = NULL;
          g_autoptr(GError) status_error = NULL;
          g_autofree char *status = NULL;
          VmdDrmConnector *c;

          if (!g_str_has_prefix (entry, prefix) || !vmd_parse_name_is_valid (entry))
            continue;
          conn_dir = g_build_filename (card_dir, entry, NULL);
          status = vmd_sysfs_read_attr (conn_dir, "status", &status_error);
          if (status == NULL || !vmd_parse_name_is_valid (status))
            {
              problem (fn, "drm/%s/%s/status: %s", card, entry,
                       status_error ? status_error->message : "unexpected value");
              g_clear_pointer (&status, g_free);
            }
          c = g_new0 (VmdDrmConnector, 1);
          c->name = g_strdup (entry + strlen (prefix));
          c->status = status ? g_steal_pointer (&status) : g_strdup ("unknown");
          c->internal = connector_is_internal (c->name);
          g_ptr_array_add (fn->connectors, c);
        }
    }
}

/* graphics/fbN: an fbdev (and so possibly the text console) drawn by this function. */
static void
read_framebuffers (VmdPciFunction *fn, const char *dir)
{
  g_autofree char *graphics = g_build_filename (dir, "graphics", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) fbs = vmd_sysfs_list (graphics, &error);

  if (error)
    problem (fn, "graphics: %s", error->message);
  for (guint i = 0; fbs && i < fbs->len && fn->framebuffers->len < 8; i++)
    {
      const char *fb = fbs->pdata[i];
      g_autofree char *fb_dir = NULL;
      g_autofree char *name = NULL;

      if (!g_str_has_prefix (fb, "fb") || !vmd_parse_name_is_valid (fb))
        continue;
      fb_dir = g_build_filename (graphics, fb, NULL);
      name = vmd_sysfs_read_attr (fb_dir, "name", NULL);
      if (name && vmd_parse_name_is_valid (name))
        g_ptr_array_add (fn->framebuffers, g_strdup_printf ("%s (%s)", fb, name));
      else
        g_ptr_array_add (fn->framebuffers, g_strdup (fb));
    }
}

VmdPciFunction *
vmd_pci_function_read (const char *bdf)
{
  g_autoptr(VmdPciFunction) fn = g_new0 (VmdPciFunction, 1);
  g_autofree char *dir = g_build_filename (PCI_DEVICES, bdf, NULL);
  gint64 value;

  fn->bdf = g_strdup (bdf);
  fn->vendor = fn->device = -1;
  fn->class_code = -1;
  fn->iommu_group = -1;
  fn->boot_vga = -1;
  fn->connectors = g_ptr_array_new_with_free_func (drm_connector_free);
  fn->framebuffers = g_ptr_array_new_with_free_func (g_free);
  fn->problems = g_ptr_array_new_with_free_func (g_free);
  if (!vmd_vfio_bdf_parse (bdf, &fn->addr, NULL))
    return g_steal_pointer (&fn);
  fn->present = vmd_sysfs_exists (dir);
  if (!fn->present)
    return g_steal_pointer (&fn);

  value = read_hex (fn, dir, "vendor", 0xffff);
  fn->vendor = (int) value;
  value = read_hex (fn, dir, "device", 0xffff);
  fn->device = (int) value;
  fn->class_code = read_hex (fn, dir, "class", 0xffffff);
  read_driver (fn, dir);
  read_iommu_group (fn, dir);
  read_boot_vga (fn, dir);
  read_reset_methods (fn, dir);
  fn->power_state = read_name_attr (fn, dir, "power_state");
  if (vmd_pci_function_is_display (fn))
    {
      read_connectors (fn, dir);
      read_framebuffers (fn, dir);
    }
  return g_steal_pointer (&fn);
}

gboolean
vmd_pci_function_is_bridge (const VmdPciFunction *fn)
{
  /* PCI-to-PCI bridges, root ports among them (0x0604, subtractive 0x0609). */
  return fn->class_code >= 0 && ((fn->class_code >> 8) == 0x0604
                                 || (fn->class_code >> 8) == 0x0609);
}

gboolean
vmd_pci_function_is_display (const VmdPciFunction *fn)
{
  return fn->class_code >= 0 && (fn->class_code >> 16) == 0x03;
}

char *
vmd_pci_function_describe (const VmdPciFunction *fn)
{
  const char *vendor = vmd_pci_vendor_name (fn->vendor);
  g_autofree char *ids = NULL;

  if (fn->vendor >= 0 && fn->device >= 0)
    ids = g_strdup_printf (" [%04x:%04x]", fn->vendor, fn->device);
  return g_strdup_printf ("%s%s%s%s", vendor ? vendor : "", vendor ? " " : "",
                          vmd_pci_class_name (fn->class_code), ids ? ids : "");
}

char *
vmd_pci_driver_now (const char *bdf, GError **error)
{
  g_autofree char *link = g_build_filename (PCI_DEVICES, bdf, "driver", NULL);

  return vmd_sysfs_link_name (link, error);
}

char *
vmd_pci_override_now (const char *bdf, GError **error)
{
  g_autofree char *dir = g_build_filename (PCI_DEVICES, bdf, NULL);
  g_autofree char *value = vmd_sysfs_read_attr (dir, "driver_override", error);

  if (value == NULL)
    return NULL;
  if (g_str_equal (value, "(null)") || *value == '\0')
    return g_strdup ("");
  return g_steal_pointer (&value);
}
