/* vmd-policy-rule.c: one compiled rule: does it match a device (USBGuard's set semantics),
 * are its conditions met, and how it is written back as normalised text. */
#include "vmd-policy-private.h"

#include <string.h>

const char *const vmd_attr_names[VMD_N_ATTRS] = {
  [VMD_ATTR_ID]                = "id",
  [VMD_ATTR_NAME]              = "name",
  [VMD_ATTR_SERIAL]            = "serial",
  [VMD_ATTR_HASH]              = "hash",
  [VMD_ATTR_PARENT_HASH]       = "parent-hash",
  [VMD_ATTR_VIA_PORT]          = "via-port",
  [VMD_ATTR_WITH_INTERFACE]    = "with-interface",
  [VMD_ATTR_WITH_CONNECT_TYPE] = "with-connect-type",
  [VMD_ATTR_LABEL]             = "label",
};

const char *const vmd_set_operator_names[VMD_SET_MATCH_ALL + 1] = {
  [VMD_SET_EQUALS]         = "equals",
  [VMD_SET_ALL_OF]         = "all-of",
  [VMD_SET_ONE_OF]         = "one-of",
  [VMD_SET_NONE_OF]        = "none-of",
  [VMD_SET_EQUALS_ORDERED] = "equals-ordered",
  [VMD_SET_MATCH_ALL]      = "match-all",
};

const char *const vmd_condition_names[VMD_COND_AUTO_ASSIGN + 1] = {
  [VMD_COND_TRUE]        = "true",
  [VMD_COND_FALSE]       = "false",
  [VMD_COND_VM_RUNNING]  = "vm-running",
  [VMD_COND_ON_SCREEN]   = "on-screen",
  [VMD_COND_AUTO_ASSIGN] = "auto-assign",
};

gboolean
vmd_parse_hex_prefix (const char *text, guint digits, guint32 *out)
{
  guint32 value = 0;

  for (guint i = 0; i < digits; i++)
    {
      if (!g_ascii_isxdigit (text[i]))
        return FALSE;
      value = value << 4 | (guint32) g_ascii_xdigit_value (text[i]);
    }
  *out = value;
  return TRUE;
}

gboolean
vmd_parse_hex_exact (const char *text, guint digits, guint32 *out)
{
  return strlen (text) == digits && vmd_parse_hex_prefix (text, digits, out);
}

void
vmd_rule_free (VmdRule *rule)
{
  if (rule == NULL)
    return;
  g_free (rule->file);
  for (guint i = 0; i < rule->n_vms; i++)
    g_free (rule->vms[i].name);
  g_free (rule->vms);
  for (guint i = 0; i < rule->n_attrs; i++)
    {
      g_free (rule->attrs[i].patterns);
      g_strfreev (rule->attrs[i].strings);
    }
  g_free (rule->attrs);
  for (guint i = 0; i < rule->n_conds; i++)
    g_free (rule->conds[i].vm);
  g_free (rule->conds);
  g_free (rule->label);
  g_free (rule->text);
  g_free (rule->matched);
  g_free (rule->reason);
  g_free (rule);
}

/* ---- matching ---- */

typedef gboolean (*ItemHits) (const VmdAttribute *attr, guint i, gconstpointer values, guint j);

static gboolean
pattern_hits (const VmdAttribute *attr, guint i, gconstpointer values, guint j)
{
  const guint32 *v = values;

  return (v[j] & attr->patterns[i].mask) == attr->patterns[i].value;
}

static gboolean
string_hits (const VmdAttribute *attr, guint i, gconstpointer values, guint j)
{
  const char *const *v = values;

  return strcmp (attr->strings[i], v[j]) == 0;
}

static gboolean
hits_any_device_value (const VmdAttribute *attr, guint i, gconstpointer values, guint n, ItemHits hits)
{
  for (guint j = 0; j < n; j++)
    if (hits (attr, i, values, j))
      return TRUE;
  return FALSE;
}

/* USBGuard's meaning of each operator, rule values R against device values D. */
static gboolean
set_holds (const VmdAttribute *attr, gconstpointer values, guint n, ItemHits hits)
{
  switch (attr->op)
    {
    case VMD_SET_EQUALS:
      /* As USBGuard: same count, and every rule value matches some device value. */
      if (attr->n_values != n)
        return FALSE;
      G_GNUC_FALLTHROUGH;
    case VMD_SET_ALL_OF:
      for (guint i = 0; i < attr->n_values; i++)
        if (!hits_any_device_value (attr, i, values, n, hits))
          return FALSE;
      return TRUE;
    case VMD_SET_ONE_OF:
    case VMD_SET_NONE_OF:
      for (guint i = 0; i < attr->n_values; i++)
        if (hits_any_device_value (attr, i, values, n, hits))
          return attr->op == VMD_SET_ONE_OF;
      return attr->op == VMD_SET_NONE_OF;
    case VMD_SET_EQUALS_ORDERED:
      if (attr->n_values != n)
        return FALSE;
      for (guint i = 0; i < n; i++)
        if (!hits (attr, i, values, i))
          return FALSE;
      return TRUE;
    case VMD_SET_MATCH_ALL:
      /* Every device value is matched by some rule value. */
      for (guint j = 0; j < n; j++)
        {
          gboolean found = FALSE;
          for (guint i = 0; i < attr->n_values && !found; i++)
            found = hits (attr, i, values, j);
          if (!found)
            return FALSE;
        }
      return TRUE;
    }
  g_assert_not_reached ();
}

static const char *
device_string (const VmdUsbDevice *device, VmdAttrKind kind)
{
  const char *value = NULL;

  switch (kind)
    {
    case VMD_ATTR_NAME:              value = device->name; break;
    case VMD_ATTR_SERIAL:            value = device->serial; break;
    case VMD_ATTR_HASH:              value = device->hash; break;
    case VMD_ATTR_PARENT_HASH:       value = device->parent_hash; break;
    case VMD_ATTR_VIA_PORT:          value = device->port; break;
    case VMD_ATTR_WITH_CONNECT_TYPE: value = device->connect_type; break;
    default:                         g_assert_not_reached ();
    }
  /* An absent string is the empty one, as USBGuard reads it: `serial ""` matches no serial. */
  return value ? value : "";
}

static gboolean
attribute_holds (const VmdAttribute *attr, const VmdUsbDevice *device)
{
  switch (attr->kind)
    {
    case VMD_ATTR_LABEL:
      return TRUE;
    case VMD_ATTR_ID:
      {
        guint32 id = (guint32) device->vendor_id << 16 | device->product_id;
        return set_holds (attr, &id, 1, pattern_hits);
      }
    case VMD_ATTR_WITH_INTERFACE:
      {
        const GArray *ifs = device->interfaces;
        return set_holds (attr, ifs ? (gconstpointer) ifs->data : NULL, ifs ? ifs->len : 0,
                          pattern_hits);
      }
    default:
      {
        const char *value = device_string (device, attr->kind);
        return set_holds (attr, &value, 1, string_hits);
      }
    }
}

gboolean
vmd_rule_matches_device (const VmdRule *rule, const VmdUsbDevice *device)
{
  for (guint i = 0; i < rule->n_attrs; i++)
    if (!attribute_holds (&rule->attrs[i], device))
      return FALSE;
  return TRUE;
}

/* ---- conditions ---- */

static gboolean
vm_is_running (const VmdPolicyContext *context, const char *vm)
{
  if (context->on_screen && strcmp (context->on_screen, vm) == 0)
    return TRUE;
  return context->running && g_strv_contains (context->running, vm);
}

static gboolean
condition_holds (const VmdCondition *c, const VmdPolicyContext *context)
{
  const char *vm = c->vm ? c->vm : context->on_screen;   /* @focused: the VM on screen */
  gboolean holds = FALSE;

  switch (c->kind)
    {
    case VMD_COND_TRUE:
      holds = TRUE;
      break;
    case VMD_COND_FALSE:
      holds = FALSE;
      break;
    case VMD_COND_VM_RUNNING:
      holds = vm != NULL && vm_is_running (context, vm);
      break;
    case VMD_COND_ON_SCREEN:
      holds = vm != NULL && context->on_screen != NULL && strcmp (context->on_screen, vm) == 0;
      break;
    case VMD_COND_AUTO_ASSIGN:
      holds = vm != NULL && (context->auto_assign == NULL
                             || context->auto_assign (vm, context->user_data));
      break;
    }
  return holds != c->negated;
}

gboolean
vmd_rule_meets_conditions (const VmdRule *rule, const VmdPolicyContext *context)
{
  if (!rule->has_condition)
    return TRUE;
  for (guint i = 0; i < rule->n_conds; i++)
    {
      gboolean holds = condition_holds (&rule->conds[i], context);

      /* As USBGuard: equals and equals-ordered mean all-of for conditions. */
      if (rule->cond_op == VMD_SET_ONE_OF && holds)
        return TRUE;
      if (rule->cond_op == VMD_SET_NONE_OF && holds)
        return FALSE;
      if (rule->cond_op != VMD_SET_ONE_OF && rule->cond_op != VMD_SET_NONE_OF && !holds)
        return FALSE;
    }
  return rule->cond_op != VMD_SET_ONE_OF;
}

/* ---- text ---- */

static gboolean
needs_escape (gunichar c)
{
  return g_unichar_iscntrl (c)
      || c == 0x061C || c == 0x200E || c == 0x200F        /* bidi marks */
      || (c >= 0x202A && c <= 0x202E)                     /* bidi embeddings, overrides */
      || (c >= 0x2066 && c <= 0x2069)                     /* bidi isolates */
      || c == 0x2028 || c == 0x2029;                      /* line, paragraph separator */
}

/* Appends `text` with every byte that is not printable, valid UTF-8 as \xHH (and, when
 * `quote`, '"' and '\' escaped), so that the result is one safe line of valid UTF-8. */
static void
append_escaped (GString *out, const char *text, gboolean quote)
{
  const char *p = text;
  const char *end = text + strlen (text);

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);
      const char *next;

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p++);
          continue;
        }
      next = g_utf8_next_char (p);
      if (quote && (c == '"' || c == '\\'))
        g_string_append_printf (out, "\\%c", (char) c);
      else if (needs_escape (c))
        for (; p < next; p++)
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
      else
        g_string_append_len (out, p, next - p);
      p = next;
    }
}

void
vmd_policy_append_quoted (GString *out, const char *value)
{
  g_string_append_c (out, '"');
  append_escaped (out, value, TRUE);
  g_string_append_c (out, '"');
}

char *
vmd_policy_escape_for_message (const char *text)
{
  GString *out = g_string_new (NULL);

  append_escaped (out, text, FALSE);
  return g_string_free (out, FALSE);
}

static void
append_pattern (GString *out, VmdAttrKind kind, const VmdPattern *p)
{
  if (kind == VMD_ATTR_ID)
    {
      if (p->mask == 0)
        g_string_append (out, "*:*");
      else if (p->mask == 0xffff0000)
        g_string_append_printf (out, "%04x:*", p->value >> 16);
      else
        g_string_append_printf (out, "%04x:%04x", p->value >> 16, p->value & 0xffff);
      return;
    }
  g_string_append_printf (out, "%02x:", p->value >> 16);
  if (p->mask == 0xff0000)
    g_string_append (out, "*:*");
  else if (p->mask == 0xffff00)
    g_string_append_printf (out, "%02x:*", (p->value >> 8) & 0xff);
  else
    g_string_append_printf (out, "%02x:%02x", (p->value >> 8) & 0xff, p->value & 0xff);
}

/* As USBGuard's toRuleString: the operator only when not the default, braces when it is
 * written or there is more than one value. */
static void
append_attribute (GString *out, const VmdAttribute *attr)
{
  gboolean braces = attr->n_values > 1 || attr->op != VMD_SET_EQUALS;

  g_string_append (out, vmd_attr_names[attr->kind]);
  g_string_append_c (out, ' ');
  if (attr->op != VMD_SET_EQUALS)
    g_string_append_printf (out, "%s ", vmd_set_operator_names[attr->op]);
  if (braces)
    g_string_append (out, "{ ");
  for (guint i = 0; i < attr->n_values; i++)
    {
      if (attr->patterns)
        append_pattern (out, attr->kind, &attr->patterns[i]);
      else
        vmd_policy_append_quoted (out, attr->strings[i]);
      g_string_append_c (out, ' ');
    }
  if (braces)
    g_string_append_c (out, '}');
  else
    g_string_truncate (out, out->len - 1);
}

static void
append_vm (GString *out, const char *name)
{
  if (name == NULL)
    g_string_append (out, "@focused");
  else if (vmd_policy_word_is_plain_vm_name (name))
    g_string_append (out, name);
  else
    vmd_policy_append_quoted (out, name);
}

static void
append_conditions (GString *out, const VmdRule *rule)
{
  gboolean braces = rule->n_conds > 1 || rule->cond_op != VMD_SET_EQUALS;

  g_string_append (out, "if ");
  if (rule->cond_op != VMD_SET_EQUALS)
    g_string_append_printf (out, "%s ", vmd_set_operator_names[rule->cond_op]);
  if (braces)
    g_string_append (out, "{ ");
  for (guint i = 0; i < rule->n_conds; i++)
    {
      const VmdCondition *c = &rule->conds[i];

      g_string_append_printf (out, "%s%s", c->negated ? "!" : "", vmd_condition_names[c->kind]);
      if (c->kind != VMD_COND_TRUE && c->kind != VMD_COND_FALSE)
        {
          g_string_append_c (out, '(');
          append_vm (out, c->vm);
          g_string_append_c (out, ')');
        }
      g_string_append_c (out, ' ');
    }
  if (braces)
    g_string_append_c (out, '}');
  else
    g_string_truncate (out, out->len - 1);
}

static char *
joined_label (const VmdRule *rule)
{
  for (guint i = 0; i < rule->n_attrs; i++)
    if (rule->attrs[i].kind == VMD_ATTR_LABEL)
      {
        g_autofree char *joined = g_strjoinv (", ", rule->attrs[i].strings);
        return g_utf8_make_valid (joined, -1);
      }
  return NULL;
}

/* Built once, so that a decision only adds what depends on the moment (the VM on screen). */
static char *
reason_start (const VmdRule *rule)
{
  GString *reason = g_string_new (NULL);

  if (rule->file)
    {
      g_autofree char *file = vmd_policy_escape_for_message (rule->file);
      g_string_append_printf (reason, "rule %s:%u matched: %s", file, rule->line, rule->matched);
    }
  else
    g_string_append_printf (reason, "built-in default %u matched: %s", rule->line, rule->matched);
  if (rule->sticky)
    g_string_append (reason, "; sticky");
  if (rule->follow)
    g_string_append (reason, "; follow");
  return g_string_free (reason, FALSE);
}

void
vmd_rule_finish (VmdRule *rule)
{
  g_autoptr(GString) text = g_string_new (vmd_policy_target_to_string (rule->target));
  g_autoptr(GString) matched = g_string_new (NULL);

  for (guint i = 0; i < rule->n_vms; i++)
    {
      g_string_append_c (text, ' ');
      append_vm (text, rule->vms[i].name);
    }
  for (guint i = 0; i < rule->n_attrs; i++)
    {
      g_string_append_c (text, ' ');
      append_attribute (text, &rule->attrs[i]);
      if (rule->attrs[i].kind == VMD_ATTR_LABEL)
        continue;
      if (matched->len)
        g_string_append_c (matched, ' ');
      append_attribute (matched, &rule->attrs[i]);
    }
  if (rule->has_condition)
    {
      g_string_append_c (text, ' ');
      append_conditions (text, rule);
      if (matched->len)
        g_string_append_c (matched, ' ');
      append_conditions (matched, rule);
    }
  if (matched->len == 0)
    g_string_append (matched, "any device");
  if (rule->sticky)
    g_string_append (text, " sticky");
  if (rule->follow)
    g_string_append (text, " follow");

  g_free (rule->text);
  g_free (rule->matched);
  g_free (rule->reason);
  g_free (rule->label);
  rule->text = g_string_free (g_steal_pointer (&text), FALSE);
  rule->matched = g_string_free (g_steal_pointer (&matched), FALSE);
  rule->reason = reason_start (rule);
  rule->label = joined_label (rule);
}
