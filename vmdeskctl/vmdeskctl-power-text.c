/* vmdeskctl-power-text.c: `vmdeskctl power` for people and for scripts. The summary comes
 * from the daemon, but its strings carry VM names and guest-link problems, so they are
 * escaped like any VM name; numbers a daemon should never send (NaN, a year of battery)
 * are shown as they are or as "?", never trusted to be sane. */
#include "vmdeskctl-output.h"

#include <math.h>

enum { COL_NAME, COL_LINK, COL_CAPS, COL_LID, COL_PROBLEM, N_COLS };

static const char *const headings[N_COLS] = { "NAME", "LINK", "CAPS", "LID", "PROBLEM" };

static gboolean
flag (GVariant *dict, const char *key, gboolean *value)
{
  return g_variant_lookup (dict, key, "b", value);
}

/* "yes"/"no"-like words for a boolean key, "?" when the key is missing. */
static const char *
flag_word (GVariant *dict, const char *key, const char *yes, const char *no)
{
  gboolean value;

  return flag (dict, key, &value) ? (value ? yes : no) : "?";
}

static char *
percent_text (GVariant *dict)
{
  double percent;

  if (!g_variant_lookup (dict, "percentage", "d", &percent) || !isfinite (percent))
    return g_strdup ("?");
  return g_strdup_printf ("%.0f%%", percent);
}

/* ", 1 h 05 min to empty" for a known estimate, "" otherwise. */
static char *
estimate_text (GVariant *dict, const char *state)
{
  gboolean charging = g_strcmp0 (state, "charging") == 0;
  gint64 seconds = 0;

  if (!g_variant_lookup (dict, charging ? "time-to-full" : "time-to-empty", "x", &seconds)
      || seconds <= 0)
    return g_strdup ("");
  if (seconds < 3600)
    return g_strdup_printf (", %" G_GINT64_FORMAT " min to %s", MAX (seconds / 60, 1),
                            charging ? "full" : "empty");
  return g_strdup_printf (", %" G_GINT64_FORMAT " h %02d min to %s", seconds / 3600,
                          (int) (seconds % 3600 / 60), charging ? "full" : "empty");
}

/* "42% discharging, 1 h 05 min to empty" */
static char *
battery_text (GVariant *dict)
{
  g_autofree char *percent = percent_text (dict);
  g_autofree char *state = vmctl_record_field (dict, "state", "unknown");
  g_autofree char *estimate = estimate_text (dict, state);

  return g_strdup_printf ("%s %s%s", percent, state, estimate);
}

static void
append_batteries (GString *out, GVariant *power)
{
  g_autoptr(GVariant) batteries = g_variant_lookup_value (power, "batteries",
                                                          G_VARIANT_TYPE ("aa{sv}"));
  gboolean present = FALSE;
  g_autofree char *display = NULL;

  flag (power, "battery-present", &present);
  if (!present)
    {
      g_string_append (out, "battery:    none\n");
      return;
    }
  display = battery_text (power);
  g_string_append_printf (out, "battery:    %s\n", display);
  for (gsize i = 0; batteries != NULL && i < g_variant_n_children (batteries); i++)
    {
      g_autoptr(GVariant) b = g_variant_get_child_value (batteries, i);
      g_autofree char *name = vmctl_record_field (b, "name", "?");
      g_autofree char *text = battery_text (b);

      g_string_append_printf (out, "            %s: %s\n", name, text);
    }
}

static char *
joined_strings (GVariant *dict, const char *key, const char *separator, const char *none)
{
  g_autoptr(GVariant) list = g_variant_lookup_value (dict, key, G_VARIANT_TYPE_STRING_ARRAY);
  g_autoptr(GString) out = g_string_new (NULL);

  for (gsize i = 0; list != NULL && i < g_variant_n_children (list); i++)
    {
      g_autoptr(GVariant) item = g_variant_get_child_value (list, i);
      g_autofree char *shown = vmctl_escape (g_variant_get_string (item, NULL), VMCTL_ESCAPE_ALL);

      g_string_append_printf (out, "%s%s", i > 0 ? separator : "", shown);
    }
  if (out->len == 0)
    g_string_append (out, list != NULL ? none : "?");
  return g_string_free (g_steal_pointer (&out), FALSE);
}

static char *
guest_cell (GVariant *guest, guint column)
{
  switch (column)
    {
    case COL_NAME:
      return vmctl_record_field (guest, "name", "?");
    case COL_LINK:
      return vmctl_record_field (guest, "link", "?");
    case COL_CAPS:
      return joined_strings (guest, "caps", ",", "-");
    case COL_LID:
      return g_strdup (flag_word (guest, "lid-closed", "closed", "open"));
    default:
      return vmctl_record_field (guest, "problem", "-");
    }
}

static void
append_guests (GString *out, GVariant *power)
{
  g_autoptr(GVariant) guests = g_variant_lookup_value (power, "guests",
                                                       G_VARIANT_TYPE ("aa{sv}"));
  gsize n = guests != NULL ? g_variant_n_children (guests) : 0;
  g_autoptr(GPtrArray) cells = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GString) table = g_string_new (NULL);
  g_auto(GStrv) lines = NULL;

  if (n == 0)
    {
      g_string_append (out, "guests:     none with a power channel\n");
      return;
    }
  g_string_append (out, "guests:\n");
  for (gsize i = 0; i < n; i++)
    {
      g_autoptr(GVariant) guest = g_variant_get_child_value (guests, i);
      for (guint c = 0; c < N_COLS; c++)
        g_ptr_array_add (cells, guest_cell (guest, c));
    }
  /* The table, indented under its heading (cells are escaped: one line per row). */
  vmctl_append_columns (table, headings, N_COLS, cells);
  lines = g_strsplit (table->str, "\n", -1);
  for (guint i = 0; lines[i] != NULL && lines[i][0] != '\0'; i++)
    g_string_append_printf (out, "  %s\n", lines[i]);
}

char *
vmctl_power_text (GVariant *power)
{
  GString *out = g_string_new (NULL);
  g_autofree char *warning = vmctl_record_field (power, "warning-level", "?");
  g_autofree char *quiesced = joined_strings (power, "quiesced", ", ", "none");
  g_autofree char *under_way = joined_strings (power, "under-way", ", ", "nothing");
  gboolean available = TRUE, critical = FALSE, docked = FALSE;

  if (flag (power, "available", &available) && !available)
    g_string_append (out, "UPower:     not on the bus; these are the last values it gave\n");
  append_batteries (out, power);
  g_string_append_printf (out, "AC:         %s\n",
                          flag_word (power, "on-battery", "on battery", "plugged in"));
  flag (power, "critical", &critical);
  g_string_append_printf (out, "warning:    %s%s\n", warning,
                          critical ? " (critical: vmdesk saves the VMs)" : "");
  flag (power, "docked", &docked);
  g_string_append_printf (out, "lid:        %s%s\n",
                          flag_word (power, "lid-closed", "closed", "open"),
                          docked ? " (docked)" : "");
  g_string_append_printf (out, "inhibitor:  %s\n",
                          flag_word (power, "sleep-inhibitor", "held", "not held"));
  g_string_append_printf (out, "quiesced:   %s\n", quiesced);
  g_string_append_printf (out, "under way:  %s\n", under_way);
  append_guests (out, power);
  return g_string_free (out, FALSE);
}

/* JSON has no NaN or infinity: json-glib would write a document no parser reads. */
static void
null_non_finite (JsonNode *node)
{
  switch (json_node_get_node_type (node))
    {
    case JSON_NODE_OBJECT:
      {
        g_autoptr(GList) members = json_object_get_members (json_node_get_object (node));
        for (GList *m = members; m != NULL; m = m->next)
          null_non_finite (json_object_get_member (json_node_get_object (node), m->data));
        break;
      }
    case JSON_NODE_ARRAY:
      {
        JsonArray *array = json_node_get_array (node);
        for (guint i = 0; i < json_array_get_length (array); i++)
          null_non_finite (json_array_get_element (array, i));
        break;
      }
    case JSON_NODE_VALUE:
      if (json_node_get_value_type (node) == G_TYPE_DOUBLE
          && !isfinite (json_node_get_double (node)))
        json_node_init_null (node);
      break;
    case JSON_NODE_NULL:
    default:
      break;
    }
}

JsonNode *
vmctl_power_to_json (GVariant *power)
{
  JsonNode *node = json_gvariant_serialize (power);

  null_non_finite (node);
  return node;
}
