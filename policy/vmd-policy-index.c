/* vmd-policy-index.c: finds the first matching rule without trying every rule. Each rule
 * goes into one list by the most selective key it has (exact VID:PID, then device hash,
 * then vendor, else the general list); every list keeps rule order. A decision merges the
 * few lists that can hold a match for the device, so first-match order is kept and the
 * cost depends on the rules that could match, not on the size of the policy. */
#include "vmd-policy-private.h"

#include <string.h>

struct _VmdRuleIndex {
  GPtrArray  *rules;       /* VmdRule *, owned, in rule order */
  GHashTable *by_id;       /* vid << 16 | pid -> GArray of guint rule indices */
  GHashTable *by_vendor;   /* vid -> GArray */
  GHashTable *by_hash;     /* hash string (owned by its rule) -> GArray */
  GArray     *general;
};

static void
array_free (gpointer data)
{
  g_array_free (data, TRUE);
}

static void
list_add (GHashTable *table, gpointer key, guint index)
{
  GArray *list = g_hash_table_lookup (table, key);

  if (list == NULL)
    {
      list = g_array_new (FALSE, FALSE, sizeof (guint));
      g_hash_table_insert (table, key, list);
    }
  /* One rule may name the same key twice (`id one-of { a a }`); keep it once. */
  if (list->len == 0 || g_array_index (list, guint, list->len - 1) != index)
    g_array_append_val (list, index);
}

static const VmdAttribute *
find_attribute (const VmdRule *rule, VmdAttrKind kind)
{
  for (guint i = 0; i < rule->n_attrs; i++)
    if (rule->attrs[i].kind == kind)
      return &rule->attrs[i];
  return NULL;
}

/* How many of the attribute's values a device must match one of, for the rule to match:
 * all of them are keys (one-of, match-all), the first is enough (all-of, equals,
 * equals-ordered: every value must match, so the first must), or none (none-of). */
static guint
n_key_values (const VmdAttribute *attr)
{
  switch (attr->op)
    {
    case VMD_SET_ONE_OF:
    case VMD_SET_MATCH_ALL:
      return attr->n_values;
    case VMD_SET_EQUALS:
    case VMD_SET_ALL_OF:
    case VMD_SET_EQUALS_ORDERED:
      return 1;
    case VMD_SET_NONE_OF:
      return 0;
    }
  g_assert_not_reached ();
}

/* A device id has one value: a rule whose id values it must match is found through them,
 * unless one of them is *:*. */
static gboolean
index_by_id (VmdRuleIndex *index, const VmdRule *rule)
{
  const VmdAttribute *attr = find_attribute (rule, VMD_ATTR_ID);
  guint n = attr ? n_key_values (attr) : 0;

  if (n == 0)
    return FALSE;
  for (guint i = 0; i < n; i++)
    if (attr->patterns[i].mask == 0)
      return FALSE;
  for (guint i = 0; i < n; i++)
    {
      const VmdPattern *p = &attr->patterns[i];

      if (p->mask == 0xffffffff)
        list_add (index->by_id, GUINT_TO_POINTER (p->value), rule->index);
      else
        list_add (index->by_vendor, GUINT_TO_POINTER (p->value >> 16), rule->index);
    }
  return TRUE;
}

static gboolean
index_by_hash (VmdRuleIndex *index, const VmdRule *rule)
{
  const VmdAttribute *attr = find_attribute (rule, VMD_ATTR_HASH);
  guint n = attr ? n_key_values (attr) : 0;

  for (guint i = 0; i < n; i++)
    list_add (index->by_hash, attr->strings[i], rule->index);
  return n > 0;
}

VmdRuleIndex *
vmd_rule_index_new (GPtrArray *rules)
{
  VmdRuleIndex *index = g_new0 (VmdRuleIndex, 1);

  index->rules = g_ptr_array_ref (rules);
  index->by_id = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, array_free);
  index->by_vendor = g_hash_table_new_full (g_direct_hash, g_direct_equal, NULL, array_free);
  index->by_hash = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, array_free);
  index->general = g_array_new (FALSE, FALSE, sizeof (guint));
  for (guint i = 0; i < rules->len; i++)
    {
      const VmdRule *rule = rules->pdata[i];

      g_assert (rule->index == i);
      if (!index_by_id (index, rule) && !index_by_hash (index, rule))
        g_array_append_val (index->general, rule->index);
    }
  return index;
}

void
vmd_rule_index_free (VmdRuleIndex *index)
{
  if (index == NULL)
    return;
  g_hash_table_destroy (index->by_id);
  g_hash_table_destroy (index->by_vendor);
  g_hash_table_destroy (index->by_hash);
  g_array_free (index->general, TRUE);
  g_ptr_array_unref (index->rules);
  g_free (index);
}

const VmdRule *
vmd_rule_index_first_match (VmdRuleIndex *index, const VmdUsbDevice *device,
                            const VmdPolicyContext *context)
{
  guint32 id = (guint32) device->vendor_id << 16 | device->product_id;
  const GArray *lists[4];
  guint at[4] = { 0 };
  guint n = 0;

  lists[n] = g_hash_table_lookup (index->by_id, GUINT_TO_POINTER (id));
  n += lists[n] != NULL;
  lists[n] = g_hash_table_lookup (index->by_hash, device->hash ? device->hash : "");
  n += lists[n] != NULL;
  lists[n] = g_hash_table_lookup (index->by_vendor, GUINT_TO_POINTER ((guint) device->vendor_id));
  n += lists[n] != NULL;
  lists[n++] = index->general;

  for (;;)
    {
      guint next = G_MAXUINT;
      const VmdRule *rule;

      for (guint l = 0; l < n; l++)
        if (at[l] < lists[l]->len)
          next = MIN (next, g_array_index (lists[l], guint, at[l]));
      if (next == G_MAXUINT)
        return NULL;
      /* A rule listed under two keys (`id one-of { 1050:0407 1050:* }`) is tried once. */
      for (guint l = 0; l < n; l++)
        if (at[l] < lists[l]->len && g_array_index (lists[l], guint, at[l]) == next)
          at[l]++;
      rule = index->rules->pdata[next];
      if (vmd_rule_matches_device (rule, device) && vmd_rule_meets_conditions (rule, context))
        return rule;
    }
}
