/* vmd-vfio-report.c: the check report as JSON (the stable schema of docs/vfio.md) and as
 * text for people. Every string in it is either vmdesk's own or a validated or escaped
 * sysfs value, so both forms are valid UTF-8 without control characters. */
#include "vmd-vfio-private.h"

void
vmd_json_add_string_or_null (JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name (b, key);
  if (value == NULL)
    json_builder_add_null_value (b);
  else if (g_utf8_validate (value, -1, NULL))
    json_builder_add_string_value (b, value);
  else
    {
      /* Everything here should be valid already; a path given on the command line may not. */
      g_autofree char *valid = g_utf8_make_valid (value, -1);
      json_builder_add_string_value (b, valid);
    }
}

void
vmd_json_add_strings (JsonBuilder *b, const char *key, GPtrArray *strings)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (guint i = 0; strings && i < strings->len; i++)
    {
      g_autofree char *valid = g_utf8_make_valid (strings->pdata[i], -1);
      json_builder_add_string_value (b, valid);
    }
  json_builder_end_array (b);
}

static void
add_hex_or_null (JsonBuilder *b, const char *key, gint64 value, int digits)
{
  g_autofree char *text = value >= 0 ? g_strdup_printf ("%0*" G_GINT64_MODIFIER "x", digits,
                                                        value) : NULL;

  vmd_json_add_string_or_null (b, key, text);
}

/* The identity of a function: shared by report devices, group members and plan functions. */
void
vmd_json_add_function (JsonBuilder *b, const VmdPciFunction *fn)
{
  g_autofree char *desc = vmd_pci_function_describe (fn);

  vmd_json_add_string_or_null (b, "bdf", fn->bdf);
  add_hex_or_null (b, "vendor", fn->present ? fn->vendor : -1, 4);
  add_hex_or_null (b, "device", fn->present ? fn->device : -1, 4);
  add_hex_or_null (b, "class", fn->present ? fn->class_code : -1, 6);
  vmd_json_add_string_or_null (b, "description", fn->present ? desc : NULL);
  vmd_json_add_string_or_null (b, "driver", fn->driver);
}

static void
add_host (JsonBuilder *b, const VmdHost *host)
{
  static const char *const vfio_pci[] = {
    [VMD_VFIO_PCI_LOADED] = "loaded",
    [VMD_VFIO_PCI_AVAILABLE] = "available",
    [VMD_VFIO_PCI_MISSING] = "missing",
  };

  json_builder_set_member_name (b, "host");
  json_builder_begin_object (b);
  vmd_json_add_string_or_null (b, "cpu_vendor", host->cpu_vendor);
  vmd_json_add_string_or_null (b, "cpu_virtualization", host->virt_flag);
  json_builder_set_member_name (b, "kvm");
  json_builder_add_boolean_value (b, host->kvm_loaded);
  json_builder_set_member_name (b, "dev_kvm");
  json_builder_add_boolean_value (b, host->dev_kvm);
  vmd_json_add_string_or_null (b, "vfio_pci", vfio_pci[host->vfio_pci]);
  vmd_json_add_string_or_null (b, "root_device", host->root_device);
  vmd_json_add_strings (b, "root_path", host->root_path);
  json_builder_end_object (b);

  json_builder_set_member_name (b, "iommu");
  json_builder_begin_object (b);
  json_builder_set_member_name (b, "enabled");
  json_builder_add_boolean_value (b, host->iommu_groups > 0);
  json_builder_set_member_name (b, "groups");
  json_builder_add_int_value (b, host->iommu_groups);
  vmd_json_add_string_or_null (b, "cmdline", host->cmdline_read ? host->cmdline.tokens : NULL);
  json_builder_end_object (b);
}

static void
add_members (JsonBuilder *b, const VmdAnalysis *a)
{
  json_builder_set_member_name (b, "group_members");
  json_builder_begin_array (b);
  for (guint i = 0; a->group && i < a->group->members->len; i++)
    {
      VmdMemberKind kind = g_array_index (a->group->kinds, VmdMemberKind, i);

      json_builder_begin_object (b);
      vmd_json_add_function (b, a->group->members->pdata[i]);
      vmd_json_add_string_or_null (b, "kind", vmd_member_kind_to_string (kind));
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
}

static void
add_device (JsonBuilder *b, const VmdAnalysis *a)
{
  const VmdPciFunction *fn = a->fn;

  json_builder_begin_object (b);
  vmd_json_add_function (b, fn);
  json_builder_set_member_name (b, "present");
  json_builder_add_boolean_value (b, fn->present);
  vmd_json_add_string_or_null (b, "driver_override", fn->driver_override);
  json_builder_set_member_name (b, "iommu_group");
  if (fn->iommu_group >= 0)
    json_builder_add_int_value (b, fn->iommu_group);
  else
    json_builder_add_null_value (b);
  add_members (b, a);
  json_builder_set_member_name (b, "group_viable");
  json_builder_add_boolean_value (b, a->group && a->group->viable);
  json_builder_set_member_name (b, "functions");
  json_builder_begin_array (b);
  for (guint i = 0; fn->present && i < a->functions->len; i++)
    json_builder_add_string_value (b, ((VmdPciFunction *) a->functions->pdata[i])->bdf);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "boot_vga");
  if (fn->boot_vga >= 0)
    json_builder_add_boolean_value (b, fn->boot_vga);
  else
    json_builder_add_null_value (b);
  vmd_json_add_strings (b, "console", a->console);
  json_builder_set_member_name (b, "drm_connectors");
  json_builder_begin_array (b);
  for (guint i = 0; i < fn->connectors->len; i++)
    {
      VmdDrmConnector *c = fn->connectors->pdata[i];
      json_builder_begin_object (b);
      vmd_json_add_string_or_null (b, "name", c->name);
      vmd_json_add_string_or_null (b, "status", c->status);
      json_builder_set_member_name (b, "internal");
      json_builder_add_boolean_value (b, c->internal);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "reset_methods");
  json_builder_begin_array (b);
  for (guint i = 0; fn->reset_methods && fn->reset_methods[i]; i++)
    json_builder_add_string_value (b, fn->reset_methods[i]);
  json_builder_end_array (b);
  vmd_json_add_string_or_null (b, "power_state", fn->power_state);
  json_builder_set_member_name (b, "only_display");
  json_builder_add_boolean_value (b, a->only_display);
  json_builder_set_member_name (b, "holds_root");
  json_builder_add_boolean_value (b, a->holds_root != NULL);
  vmd_json_add_strings (b, "keyboards", a->keyboards_lost);
  vmd_json_add_strings (b, "problems", fn->problems);
  json_builder_end_object (b);
}

JsonNode *
vmd_vfio_report_to_json (const VmdVfioReport *r)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_int_value (b, 1);
  vmd_json_add_string_or_null (b, "worst",
                               vmd_vfio_severity_to_string (vmd_vfio_report_worst (r)));
  add_host (b, r->host);
  json_builder_set_member_name (b, "devices");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->analyses->len; i++)
    add_device (b, r->analyses->pdata[i]);
  json_builder_end_array (b);
  json_builder_set_member_name (b, "findings");
  json_builder_begin_array (b);
  for (guint i = 0; i < r->findings->len; i++)
    {
      VmdVfioFinding *f = r->findings->pdata[i];
      json_builder_begin_object (b);
      vmd_json_add_string_or_null (b, "id", f->id);
      vmd_json_add_string_or_null (b, "severity", vmd_vfio_severity_to_string (f->severity));
      vmd_json_add_string_or_null (b, "bdf", f->bdf);
      vmd_json_add_string_or_null (b, "message", f->message);
      vmd_json_add_string_or_null (b, "fix", f->fix);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

static void
append_findings (GString *out, const VmdVfioReport *r, const char *bdf)
{
  for (guint i = 0; i < r->findings->len; i++)
    {
      VmdVfioFinding *f = r->findings->pdata[i];

      if (g_strcmp0 (f->bdf, bdf) != 0)
        continue;
      g_string_append_printf (out, "  %-5s %-19s %s\n", vmd_vfio_severity_to_string (f->severity),
                              f->id, f->message);
      if (f->fix && f->severity != VMD_VFIO_OK)
        g_string_append_printf (out, "  %-5s %-19s fix: %s\n", "", "", f->fix);
    }
}

char *
vmd_vfio_report_to_text (const VmdVfioReport *r)
{
  GString *out = g_string_new ("Host\n");

  append_findings (out, r, NULL);
  if (r->analyses->len == 0)
    g_string_append (out, "\nNo display devices found (give a PCI address to check another "
                     "device).\n");
  for (guint i = 0; i < r->analyses->len; i++)
    {
      const VmdAnalysis *a = r->analyses->pdata[i];

      g_string_append_printf (out, "\n%s\n", a->fn->bdf);
      append_findings (out, r, a->fn->bdf);
    }
  g_string_append_printf (out, "\nResult: %s\n",
                          vmd_vfio_severity_to_string (vmd_vfio_report_worst (r)));
  return g_string_free (out, FALSE);
}
