/* vmdeskctl-passthrough.c: pass-through reports, plans and holdings for people. The JSON
 * is vfio-helper's (docs/vfio.md) as vmdeskd passes it on; nothing in it is trusted to be
 * there, of its type, or free of control characters. */
#include "vmdeskctl-passthrough.h"

#include "vmdeskctl-output.h"

JsonNode *
vmctl_passthrough_parse (const char *text, const char *what, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(GError) local = NULL;
  JsonNode *root;

  if (!json_parser_load_from_data (parser, text, -1, &local))
    {
      g_set_error (error, VMCTL_ERROR, VMCTL_EXIT_FAILURE, "vmdeskd sent a %s that is not JSON: %s",
                   what, local->message);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      g_set_error (error, VMCTL_ERROR, VMCTL_EXIT_FAILURE, "vmdeskd sent a %s that is not a "
                   "JSON object", what);
      return NULL;
    }
  return json_node_copy (root);
}

/* ---- members, whatever the document holds ---- */

static const char *
member_string (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
    ? json_node_get_string (n) : NULL;
}

static gboolean
member_boolean (JsonObject *o, const char *name, gboolean fallback)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  return n && JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_BOOLEAN
    ? json_node_get_boolean (n) : fallback;
}

static JsonArray *
member_array (JsonObject *o, const char *name)
{
  JsonNode *n = o ? json_object_get_member (o, name) : NULL;

  return n && JSON_NODE_HOLDS_ARRAY (n) ? json_node_get_array (n) : NULL;
}

static JsonObject *
element_object (JsonArray *a, guint i)
{
  JsonNode *n = json_array_get_element (a, i);

  return JSON_NODE_HOLDS_OBJECT (n) ? json_node_get_object (n) : NULL;
}

static const char *
element_string (JsonArray *a, guint i)
{
  JsonNode *n = json_array_get_element (a, i);

  return JSON_NODE_HOLDS_VALUE (n) && json_node_get_value_type (n) == G_TYPE_STRING
    ? json_node_get_string (n) : NULL;
}

static JsonObject *
root_object (JsonNode *node)
{
  return node && JSON_NODE_HOLDS_OBJECT (node) ? json_node_get_object (node) : NULL;
}

/* One line for a terminal: escaped, "?" when absent. */
static char *
shown (const char *text)
{
  return vmctl_escape (text ? text : "?", VMCTL_ESCAPE_ALL);
}

/* ---- check ---- */

typedef enum { SEVERITY_OK, SEVERITY_WARN, SEVERITY_FAIL, SEVERITY_UNKNOWN } Severity;

static Severity
severity_of (const char *name)
{
  if (g_strcmp0 (name, "ok") == 0)
    return SEVERITY_OK;
  if (g_strcmp0 (name, "warn") == 0)
    return SEVERITY_WARN;
  if (g_strcmp0 (name, "fail") == 0)
    return SEVERITY_FAIL;
  return SEVERITY_UNKNOWN;
}

/* Findings of one device (`bdf`; NULL: the host's), as `vmdesk-vfio check` lays them out. */
static void
append_findings (GString *out, JsonArray *findings, const char *bdf)
{
  for (guint i = 0; findings && i < json_array_get_length (findings); i++)
    {
      JsonObject *f = element_object (findings, i);
      const char *severity = member_string (f, "severity");
      const char *fix = member_string (f, "fix");
      g_autofree char *id = NULL, *message = NULL, *sev = NULL;

      if (f == NULL || g_strcmp0 (member_string (f, "bdf"), bdf) != 0)
        continue;
      sev = shown (severity);
      id = shown (member_string (f, "id"));
      message = shown (member_string (f, "message"));
      g_string_append_printf (out, "  %-5s ", sev);
      vmctl_append_padded (out, id, 19);
      g_string_append_printf (out, " %s\n", message);
      if (fix && severity_of (severity) != SEVERITY_OK)
        {
          g_autofree char *fix_shown = shown (fix);
          g_string_append_printf (out, "  %-5s %-19s fix: %s\n", "", "", fix_shown);
        }
    }
}

/* Every device the findings are about, the report's devices first, each once. */
static GPtrArray *
devices_in_order (JsonObject *report, JsonArray *findings)
{
  GPtrArray *bdfs = g_ptr_array_new ();
  JsonArray *devices = member_array (report, "devices");

  for (guint i = 0; devices && i < json_array_get_length (devices); i++)
    {
      const char *bdf = member_string (element_object (devices, i), "bdf");
      if (bdf && !g_ptr_array_find_with_equal_func (bdfs, bdf, g_str_equal, NULL))
        g_ptr_array_add (bdfs, (gpointer) bdf);
    }
  for (guint i = 0; findings && i < json_array_get_length (findings); i++)
    {
      const char *bdf = member_string (element_object (findings, i), "bdf");
      if (bdf && !g_ptr_array_find_with_equal_func (bdfs, bdf, g_str_equal, NULL))
        g_ptr_array_add (bdfs, (gpointer) bdf);
    }
  return bdfs;
}

char *
vmctl_passthrough_check_text (JsonNode *node)
{
  JsonObject *report = root_object (node);
  JsonArray *findings = member_array (report, "findings");
  g_autoptr(GPtrArray) bdfs = devices_in_order (report, findings);
  g_autofree char *worst = shown (member_string (report, "worst"));
  GString *out = g_string_new ("Host\n");

  append_findings (out, findings, NULL);
  if (bdfs->len == 0)
    g_string_append (out, "\nNo display devices found (name a PCI address to check another "
                     "device).\n");
  for (guint i = 0; i < bdfs->len; i++)
    {
      g_autofree char *bdf = shown (bdfs->pdata[i]);

      g_string_append_printf (out, "\n%s\n", bdf);
      append_findings (out, findings, bdfs->pdata[i]);
    }
  g_string_append_printf (out, "\nResult: %s\n", worst);
  return g_string_free (out, FALSE);
}

VmctlExit
vmctl_passthrough_check_exit (JsonNode *node)
{
  JsonObject *report = root_object (node);
  JsonArray *findings = member_array (report, "findings");
  const char *named = member_string (report, "worst");
  Severity worst = severity_of (named);

  /* A severity this CLI does not know may be worse than any it does: scripts rely on the
   * exit status before they pass a device through, so it counts as a refusal. */
  if (named != NULL && worst == SEVERITY_UNKNOWN)
    worst = SEVERITY_FAIL;
  /* A report without a worst of its own is judged by its findings. */
  if (worst == SEVERITY_UNKNOWN)
    {
      worst = SEVERITY_OK;
      for (guint i = 0; findings && i < json_array_get_length (findings); i++)
        {
          Severity s = severity_of (member_string (element_object (findings, i), "severity"));
          worst = MAX (worst, s == SEVERITY_UNKNOWN ? SEVERITY_FAIL : s);
        }
    }
  return worst == SEVERITY_FAIL ? VMCTL_EXIT_PASSTHROUGH_REFUSED
       : worst == SEVERITY_WARN ? VMCTL_EXIT_PASSTHROUGH_WARN
       : VMCTL_EXIT_OK;
}

/* ---- plan ---- */

gboolean
vmctl_passthrough_plan_allowed (JsonNode *plan)
{
  return member_boolean (root_object (plan), "allowed", FALSE);
}

GStrv
vmctl_passthrough_plan_functions (JsonNode *plan)
{
  JsonArray *functions = member_array (root_object (plan), "functions");
  GPtrArray *bdfs = g_ptr_array_new ();

  for (guint i = 0; functions && i < json_array_get_length (functions); i++)
    {
      const char *bdf = member_string (element_object (functions, i), "bdf");
      if (bdf)
        g_ptr_array_add (bdfs, g_strdup (bdf));
    }
  g_ptr_array_add (bdfs, NULL);
  return (GStrv) g_ptr_array_free (bdfs, FALSE);
}

static void
append_lines (GString *out, const char *title, JsonArray *lines, const char *none, gboolean numbered)
{
  guint n = lines ? json_array_get_length (lines) : 0;

  if (n == 0 && none == NULL)
    return;
  g_string_append_printf (out, "\n%s:\n", title);
  if (n == 0)
    g_string_append_printf (out, "  %s\n", none);
  for (guint i = 0; i < n; i++)
    {
      g_autofree char *line = shown (element_string (lines, i));
      if (numbered)
        g_string_append_printf (out, "  %2u. %s\n", i + 1, line);
      else
        g_string_append_printf (out, "  - %s\n", line);
    }
}

static void
append_functions (GString *out, JsonArray *functions)
{
  g_string_append (out, "\nFunctions:\n");
  for (guint i = 0; functions && i < json_array_get_length (functions); i++)
    {
      JsonObject *f = element_object (functions, i);
      const char *driver = member_string (f, "driver");
      g_autofree char *bdf = shown (member_string (f, "bdf"));
      g_autofree char *description = shown (member_string (f, "description"));
      g_autofree char *from = driver ? shown (driver) : g_strdup ("no driver");
      g_autofree char *target = shown (member_string (f, "target"));

      if (g_strcmp0 (member_string (f, "action"), "move") == 0)
        g_string_append_printf (out, "  %s  %s: %s -> %s\n", bdf, description, from, target);
      else
        g_string_append_printf (out, "  %s  %s: stays on %s\n", bdf, description, from);
    }
}

static void
append_sessions (GString *out, JsonArray *sessions)
{
  if (sessions == NULL || json_array_get_length (sessions) == 0)
    return;
  g_string_append (out, "\nGraphical sessions it ends:\n");
  for (guint i = 0; i < json_array_get_length (sessions); i++)
    {
      JsonObject *s = element_object (sessions, i);
      g_autofree char *id = shown (member_string (s, "id"));
      g_autofree char *type = shown (member_string (s, "type"));
      g_autofree char *user = shown (member_string (s, "user"));
      g_autofree char *seat = shown (member_string (s, "seat"));

      g_string_append_printf (out, "  - session %s (%s) of %s on %s\n", id, type, user, seat);
    }
}

static void
append_refusals (GString *out, JsonArray *refusals)
{
  if (refusals == NULL || json_array_get_length (refusals) == 0)
    return;
  g_string_append (out, "\nRefusals:\n");
  for (guint i = 0; i < json_array_get_length (refusals); i++)
    {
      JsonObject *r = element_object (refusals, i);
      const char *fix = member_string (r, "fix");
      gboolean overridden = member_boolean (r, "overridden", FALSE);
      g_autofree char *id = shown (member_string (r, "id"));
      g_autofree char *message = shown (member_string (r, "message"));

      g_string_append (out, "  ");
      vmctl_append_padded (out, id, 13);
      g_string_append_printf (out, " %s%s\n", message, overridden ? " [overridden]" : "");
      if (fix && !overridden)
        {
          g_autofree char *fix_shown = shown (fix);
          g_string_append_printf (out, "  %-13s fix: %s\n", "", fix_shown);
        }
    }
}

char *
vmctl_passthrough_plan_text (JsonNode *node)
{
  JsonObject *plan = root_object (node);
  g_autofree char *bdf = shown (member_string (plan, "bdf"));
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "Plan for %s%s\n", bdf,
                          member_boolean (plan, "single_gpu", FALSE) ? " (single-GPU hand-over)" : "");
  append_functions (out, member_array (plan, "functions"));
  append_lines (out, "Steps", member_array (plan, "steps"), "none", TRUE);
  append_lines (out, "The host loses", member_array (plan, "host_loses"), "nothing in use", FALSE);
  append_sessions (out, member_array (plan, "sessions"));
  append_refusals (out, member_array (plan, "refusals"));
  g_string_append_printf (out, "\n%s\n", vmctl_passthrough_plan_allowed (node)
                          ? "Allowed: StartVM would bind it."
                          : "Refused: StartVM would refuse it, and change nothing.");
  return g_string_free (out, FALSE);
}

/* ---- what vmdesk holds ---- */

enum { COL_DEVICE, COL_VM, COL_STATE, COL_FUNCTIONS, N_COLS };

static const char *const headings[N_COLS] = { "DEVICE", "VM", "STATE", "FUNCTIONS" };

static char *
cell (GVariant *record, guint column)
{
  g_autofree const char **functions = NULL;
  g_autofree char *joined = NULL;

  switch (column)
    {
    case COL_DEVICE:
      return vmctl_record_field (record, "bdf", "?");
    case COL_VM:
      return vmctl_record_field (record, "vm", "-");
    case COL_STATE:
      return vmctl_record_field (record, "state", "?");
    default:
      if (!g_variant_lookup (record, "functions", "^a&s", &functions) || functions[0] == NULL)
        return g_strdup ("-");
      joined = g_strjoinv (",", (char **) functions);
      return vmctl_escape (joined, VMCTL_ESCAPE_ALL);
    }
}

char *
vmctl_passthrough_table (GVariant *held)
{
  gsize n = g_variant_n_children (held);
  g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
  GString *out = g_string_new (NULL);

  if (n == 0)
    {
      g_string_append (out, "no pass-through devices held\n");
      return g_string_free (out, FALSE);
    }
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (held, i);
      for (guint c = 0; c < N_COLS; c++)
        g_ptr_array_add (cells, cell (record, c));
    }
  vmctl_append_columns (out, headings, N_COLS, cells);
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) record = g_variant_get_child_value (held, i);
      g_autofree char *error = NULL;

      if (!g_variant_lookup (record, "error", "&s", NULL))
        continue;
      error = vmctl_record_field (record, "error", "?");
      g_string_append_printf (out, "error: %s: %s\n", (char *) cells->pdata[i * N_COLS], error);
    }
  return g_string_free (out, FALSE);
}
