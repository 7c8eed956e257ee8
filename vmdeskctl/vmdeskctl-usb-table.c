/* vmdeskctl-usb-table.c: `vmdeskctl usb list` for people. Device strings are whatever the
 * device says (the daemon made them valid UTF-8); they are escaped like VM names. */
#include "vmdeskctl-output.h"

enum { COL_PORT, COL_ID, COL_NAME, COL_STATE, COL_VM, COL_RULE, N_COLS };

static const char *const headings[N_COLS] = { "PORT", "ID", "NAME", "STATE", "VM", "RULE" };

/* Names longer than this are cut in the table; --json has them whole. */
#define NAME_MAX_COLUMNS 32

static char *
cell (GVariant *record, guint column)
{
  g_autofree char *vendor = NULL, *product = NULL, *name = NULL;

  switch (column)
    {
    case COL_PORT:
      return vmctl_record_field (record, "id", "?");
    case COL_ID:
      vendor = vmctl_record_field (record, "vendor", "?");
      product = vmctl_record_field (record, "product", "?");
      return g_strdup_printf ("%s:%s", vendor, product);
    case COL_NAME:
      name = vmctl_record_field (record, "name", "-");
      if (g_utf8_strlen (name, -1) > NAME_MAX_COLUMNS)
        {
          g_autofree char *cut = g_utf8_substring (name, 0, NAME_MAX_COLUMNS - 1);
          return g_strconcat (cut, "…", NULL);
        }
      return g_steal_pointer (&name);
    case COL_STATE:
      return vmctl_record_field (record, "state", "?");
    case COL_VM:
      return vmctl_record_field (record, "vm", "host");
    default:
      return vmctl_record_field (record, "rule", "-");
    }
}

char *
vmctl_usb_table (GVariant *devices)
{
  gsize n = g_variant_n_children (devices);
  g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
  GString *out = g_string_new (NULL);

  if (n == 0)
    {
      g_string_append (out, "no USB devices\n");
      return g_string_free (out, FALSE);
    }
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (devices, i);
      for (guint c = 0; c < N_COLS; c++)
        g_ptr_array_add (cells, cell (record, c));
    }
  vmctl_append_columns (out, headings, N_COLS, cells);
  return g_string_free (out, FALSE);
}
