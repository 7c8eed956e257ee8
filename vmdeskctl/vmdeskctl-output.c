/* vmdeskctl-output.c: tables and JSON for VM records, status and errors. */
#include "vmdeskctl-output.h"

#include "vmdeskctl-error.h"

#include <string.h>

static gboolean
needs_escape (gunichar c)
{
  return g_unichar_iscntrl (c)
      || c == 0x061C || c == 0x200E || c == 0x200F        /* bidi marks */
      || (c >= 0x202A && c <= 0x202E)                     /* bidi embeddings, overrides */
      || (c >= 0x2066 && c <= 0x2069)                     /* bidi isolates */
      || c == 0x2028 || c == 0x2029;                      /* line, paragraph separator */
}

char *
vmctl_escape (const char *text, VmctlEscapeMode mode)
{
  const char *p = text;
  const char *end = text + strlen (text);
  GString *out = g_string_sized_new (end - text);

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }
      p = g_utf8_next_char (p);
      if (mode == VMCTL_ESCAPE_KEEP_LINES && (c == '\n' || c == '\t'))
        g_string_append_c (out, (char) c);
      else if (c == '\n')
        g_string_append (out, "\\n");
      else if (c == '\t')
        g_string_append (out, "\\t");
      else if (c == '\r')
        g_string_append (out, "\\r");
      else if (c == '\\' && mode == VMCTL_ESCAPE_ALL)
        g_string_append (out, "\\\\");
      else if (needs_escape (c))
        g_string_append_printf (out, c < 0x100 ? "\\x%02x" : "\\u%04x", c);
      else
        g_string_append_unichar (out, c);
    }
  return g_string_free (out, FALSE);
}

gsize
vmctl_display_width (const char *text)
{
  gsize width = 0;

  for (const char *p = text; *p; p = g_utf8_next_char (p))
    {
      gunichar c = g_utf8_get_char (p);
      width += g_unichar_iszerowidth (c) ? 0 : g_unichar_iswide (c) ? 2 : 1;
    }
  return width;
}

/* --- VM records --- */

static const char *
record_string (GVariant *record, const char *key)
{
  const char *value;

  /* "&s" points into `record`, which outlives every use here. */
  return g_variant_lookup (record, key, "&s", &value) ? value : NULL;
}

void
vmctl_json_add_string_or_null (JsonBuilder *b, const char *key, const char *value)
{
  json_builder_set_member_name (b, key);
  if (value)
    json_builder_add_string_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_boolean_or_null (JsonBuilder *b, GVariant *record, const char *key, const char *json_key)
{
  gboolean value;

  json_builder_set_member_name (b, json_key);
  if (g_variant_lookup (record, key, "b", &value))
    json_builder_add_boolean_value (b, value);
  else
    json_builder_add_null_value (b);
}

static void
add_strv_or_null (JsonBuilder *b, GVariant *record, const char *key, const char *json_key)
{
  g_autofree const char **values = NULL;

  json_builder_set_member_name (b, json_key);
  if (!g_variant_lookup (record, key, "^a&s", &values))
    {
      json_builder_add_null_value (b);
      return;
    }
  json_builder_begin_array (b);
  for (guint i = 0; values[i]; i++)
    json_builder_add_string_value (b, values[i]);
  json_builder_end_array (b);
}

JsonNode *
vmctl_vm_to_json (GVariant *record)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  vmctl_json_add_string_or_null (b, "name", record_string (record, "name"));
  vmctl_json_add_string_or_null (b, "uuid", record_string (record, "uuid"));
  vmctl_json_add_string_or_null (b, "state", record_string (record, "state"));
  vmctl_json_add_string_or_null (b, "state_reason", record_string (record, "state-reason"));
  add_boolean_or_null (b, record, "on-screen", "on_screen");
  vmctl_json_add_string_or_null (b, "role", record_string (record, "role"));
  add_boolean_or_null (b, record, "persistent", "persistent");
  vmctl_json_add_string_or_null (b, "display", record_string (record, "display"));
  add_boolean_or_null (b, record, "physical-display", "physical_display");
  add_strv_or_null (b, record, "passthrough", "passthrough");
  add_boolean_or_null (b, record, "passthrough-single-gpu", "passthrough_single_gpu");
  vmctl_json_add_string_or_null (b, "settings_warning", record_string (record, "settings-warning"));
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
vmctl_record_field (GVariant *record, const char *key, const char *fallback)
{
  const char *value = record_string (record, key);

  return vmctl_escape (value && *value ? value : fallback, VMCTL_ESCAPE_ALL);
}

static gboolean
record_flag (GVariant *record, const char *key)
{
  gboolean value = FALSE;

  return g_variant_lookup (record, key, "b", &value) && value;
}

void
vmctl_append_padded (GString *out, const char *text, gsize width)
{
  g_string_append (out, text);
  for (gsize w = vmctl_display_width (text); w < width; w++)
    g_string_append_c (out, ' ');
}

void
vmctl_append_columns (GString *out, const char *const *headings, guint n_cols, GPtrArray *cells)
{
  g_autofree gsize *width = g_new0 (gsize, n_cols);

  for (guint c = 0; c < n_cols; c++)
    width[c] = vmctl_display_width (headings[c]);
  for (guint i = 0; i < cells->len; i++)
    width[i % n_cols] = MAX (width[i % n_cols], vmctl_display_width (cells->pdata[i]));
  for (guint c = 0; c < n_cols; c++)
    vmctl_append_padded (out, headings[c], c + 1 < n_cols ? width[c] + 2 : 0);
  g_string_append_c (out, '\n');
  for (guint i = 0; i < cells->len; i++)
    {
      guint c = i % n_cols;

      vmctl_append_padded (out, cells->pdata[i], c + 1 < n_cols ? width[c] + 2 : 0);
      if (c + 1 == n_cols)
        g_string_append_c (out, '\n');
    }
}

typedef struct {
  char *name;
  char *state;
  char *role;
} Row;

static void
row_clear (gpointer data)
{
  Row *row = data;

  g_free (row->name);
  g_free (row->state);
  g_free (row->role);
}

char *
vmctl_vm_table (GVariant *vms)
{
  g_autoptr(GArray) rows = g_array_new (FALSE, TRUE, sizeof (Row));
  GString *out = g_string_new (NULL);
  gsize name_w = strlen ("NAME"), state_w = strlen ("STATE");
  gsize n = g_variant_n_children (vms);

  if (n == 0)
    {
      g_string_append (out, "no VMs\n");
      return g_string_free (out, FALSE);
    }
  g_array_set_clear_func (rows, row_clear);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (vms, i);
      Row row = {
        vmctl_record_field (record, "name", "?"),
        vmctl_record_field (record, "state", "?"),
        vmctl_record_field (record, "role", "-"),
      };
      name_w = MAX (name_w, vmctl_display_width (row.name));
      state_w = MAX (state_w, vmctl_display_width (row.state));
      g_array_append_val (rows, row);
    }

  /* The first column marks the VM on screen, as nmcli marks the active connection. */
  g_string_append (out, "  ");
  vmctl_append_padded (out, "NAME", name_w + 2);
  vmctl_append_padded (out, "STATE", state_w + 2);
  g_string_append (out, "ROLE\n");
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (vms, i);
      Row *row = &g_array_index (rows, Row, i);

      g_string_append (out, record_flag (record, "on-screen") ? "* " : "  ");
      vmctl_append_padded (out, row->name, name_w + 2);
      vmctl_append_padded (out, row->state, state_w + 2);
      g_string_append_printf (out, "%s\n", row->role);
    }
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (vms, i);
      g_autofree char *warning = NULL;

      if (record_string (record, "settings-warning") == NULL)
        continue;
      warning = vmctl_record_field (record, "settings-warning", "");
      g_string_append_printf (out, "warning: VM '%s' runs with default settings: %s\n",
                              g_array_index (rows, Row, i).name, warning);
    }
  return g_string_free (out, FALSE);
}

/* What being on screen means for the VM, and the devices StartVM passes to it; lines for
 * keys an older daemon does not send are left out. */
static void
append_display_details (GString *out, GVariant *record)
{
  g_autofree const char **passthrough = NULL;
  g_autofree char *display = NULL;

  if (record_string (record, "display"))
    {
      display = vmctl_record_field (record, "display", "?");
      g_string_append_printf (out, "display:     %s\n", display);
    }
  if (g_variant_lookup (record, "physical-display", "b", NULL))
    g_string_append_printf (out, "physical:    %s\n", record_flag (record, "physical-display")
                            ? "yes (on screen, it has the host's own screen and input)" : "no");
  if (g_variant_lookup (record, "passthrough", "^a&s", &passthrough))
    {
      g_autofree char *joined = g_strjoinv (", ", (char **) passthrough);
      g_autofree char *shown = vmctl_escape (joined, VMCTL_ESCAPE_ALL);

      g_string_append_printf (out, "passthrough: %s%s\n", *shown ? shown : "none",
                              record_flag (record, "passthrough-single-gpu")
                              ? " (may take the host's only display)" : "");
    }
}

char *
vmctl_vm_details (GVariant *record)
{
  GString *out = g_string_new (NULL);
  g_autofree char *name = vmctl_record_field (record, "name", "?");
  g_autofree char *uuid = vmctl_record_field (record, "uuid", "?");
  g_autofree char *state = vmctl_record_field (record, "state", "?");
  g_autofree char *reason = vmctl_record_field (record, "state-reason", "unknown");
  g_autofree char *role = vmctl_record_field (record, "role", "-");

  g_string_append_printf (out, "name:        %s\n", name);
  g_string_append_printf (out, "uuid:        %s\n", uuid);
  g_string_append_printf (out, "state:       %s (%s)\n", state, reason);
  g_string_append_printf (out, "on screen:   %s\n", record_flag (record, "on-screen") ? "yes" : "no");
  g_string_append_printf (out, "role:        %s\n", role);
  g_string_append_printf (out, "persistent:  %s\n", record_flag (record, "persistent") ? "yes" : "no");
  append_display_details (out, record);
  if (record_string (record, "settings-warning"))
    {
      g_autofree char *warning = vmctl_record_field (record, "settings-warning", "");
      g_string_append_printf (out, "warning:     runs with default settings: %s\n", warning);
    }
  return g_string_free (out, FALSE);
}

/* --- daemon status --- */

JsonNode *
vmctl_status_to_json (GVariant *properties, guint n_vms)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  const char *on_screen = record_string (properties, "OnScreen");

  json_builder_begin_object (b);
  vmctl_json_add_string_or_null (b, "version", record_string (properties, "Version"));
  vmctl_json_add_string_or_null (b, "libvirt_uri", record_string (properties, "LibvirtUri"));
  add_boolean_or_null (b, properties, "Connected", "connected");
  /* The host is null, so a script never mistakes it for a VM called "host". */
  vmctl_json_add_string_or_null (b, "on_screen", on_screen && *on_screen ? on_screen : NULL);
  json_builder_set_member_name (b, "vm_count");
  json_builder_add_int_value (b, n_vms);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
vmctl_status_text (GVariant *properties, guint n_vms)
{
  g_autofree char *version = vmctl_record_field (properties, "Version", "?");
  g_autofree char *uri = vmctl_record_field (properties, "LibvirtUri", "?");
  g_autofree char *on_screen = vmctl_record_field (properties, "OnScreen", "");

  return g_strdup_printf ("vmdeskd:    %s\n"
                          "libvirt:    %s (%s)\n"
                          "on screen:  %s\n"
                          "VMs:        %u\n",
                          version, uri,
                          record_flag (properties, "Connected") ? "connected" : "not connected",
                          *on_screen ? on_screen : "host", n_vms);
}

/* --- errors and JSON text --- */

JsonNode *
vmctl_error_to_json (const GError *error)
{
  return vmctl_error_to_json_with_exit (error, vmctl_exit_code_for_error (error));
}

JsonNode *
vmctl_error_to_json_with_exit (const GError *error, int exit_code)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autofree char *name = vmctl_error_dbus_name (error);
  g_autofree char *message = vmctl_error_describe (error);

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "error");
  json_builder_begin_object (b);
  vmctl_json_add_string_or_null (b, "name", name);
  vmctl_json_add_string_or_null (b, "message", message);
  json_builder_set_member_name (b, "exit_code");
  json_builder_add_int_value (b, exit_code);
  json_builder_end_object (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
vmctl_json_to_string (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_indent (gen, 2);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  return g_strconcat (text, "\n", NULL);
}

void
vmctl_write (FILE *stream, const char *text)
{
  fputs (text, stream);
  fflush (stream);
}

void
vmctl_print_json (JsonNode *node)
{
  g_autofree char *text = vmctl_json_to_string (node);

  vmctl_write (stdout, text);
}

void
vmctl_print_json_builder (JsonBuilder *b)
{
  g_autoptr(JsonNode) node = json_builder_get_root (b);

  vmctl_print_json (node);
}

int
vmctl_report_error (const GError *error, gboolean json)
{
  return vmctl_report_error_with_exit (error, json, vmctl_exit_code_for_error (error));
}

int
vmctl_report_error_with_exit (const GError *error, gboolean json, int exit_code)
{
  g_autofree char *message = vmctl_error_describe (error);

  if (json)
    {
      g_autoptr(JsonNode) node = vmctl_error_to_json_with_exit (error, exit_code);
      vmctl_print_json (node);
    }
  fprintf (stderr, "vmdeskctl: %s\n", message);
  return exit_code;
}
