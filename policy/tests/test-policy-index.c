/* The index is only a shortcut: for random policies and devices, its first match is the
 * one a plain scan of every rule in order finds. */
#include "vmd-policy-private.h"

#include "test-util.h"

static const char *const vids[] = { "1050", "046d", "0781" };
static const char *const device_vids[] = { "1050", "046d", "0781", "abcd" };  /* one no rule names */
static const char *const pids[] = { "0407", "c52b", "5567" };
static const char *const ifaces[] = { "03:01:01", "08:06:50", "0e:01:00", "09:00:00" };
static const char *const hashes[] = { "H1", "H2", "" };
static const char *const operators[] = { "", "all-of ", "one-of ", "none-of ", "equals ",
                                         "equals-ordered ", "match-all " };

/* A fixed seed: the same policies and devices on every run. */
static GRand *rng;

#define PICK(array) (array[g_rand_int_range (rng, 0, G_N_ELEMENTS (array))])

static void
append_values (GString *rule, const char *attribute, const char *(*value) (void))
{
  const char *op = PICK (operators);
  guint n = *op ? (guint) g_rand_int_range (rng, 1, 4) : 1;

  g_string_append_printf (rule, " %s %s%s", attribute, op, *op ? "{ " : "");
  for (guint i = 0; i < n; i++)
    g_string_append_printf (rule, "%s ", value ());
  if (*op)
    g_string_append (rule, "}");
}

static const char *
random_id (void)
{
  static char id[10];
  int kind = g_rand_int_range (rng, 0, 12);

  if (kind == 0)
    return "*:*";
  g_snprintf (id, sizeof id, "%s:%s", PICK (vids), kind == 1 ? "*" : PICK (pids));
  return id;
}

static const char *
random_interface (void)
{
  static char iface[9];
  int kind = g_rand_int_range (rng, 0, 4);

  g_strlcpy (iface, PICK (ifaces), sizeof iface);
  if (kind == 0)
    g_strlcpy (iface + 3, "*:*", sizeof iface - 3);
  else if (kind == 1)
    g_strlcpy (iface + 6, "*", sizeof iface - 6);
  return iface;
}

static const char *
random_hash (void)
{
  static char quoted[8];

  g_snprintf (quoted, sizeof quoted, "\"%s\"", PICK (hashes));
  return quoted;
}

static char *
random_rule (void)
{
  const char *const targets[] = { "host", "deny", "attach work", "ask" };
  const char *const conditions[] = { "", " if vm-running(work)", " if !true", " if true" };
  GString *rule = g_string_new (PICK (targets));

  gsize bare = rule->len;

  if (g_rand_boolean (rng))
    append_values (rule, "id", random_id);
  if (g_rand_int_range (rng, 0, 3) == 0)
    append_values (rule, "with-interface", random_interface);
  if (g_rand_int_range (rng, 0, 3) == 0)
    append_values (rule, "hash", random_hash);
  if (rule->len == bare)   /* a rule for every device would hide the ones after it */
    append_values (rule, "id", random_id);
  g_string_append (rule, PICK (conditions));
  return g_string_free (rule, FALSE);
}

static VmdUsbDevice *
random_device (void)
{
  g_autofree char *id = g_strdup_printf ("%s:%s", PICK (device_vids), PICK (pids));
  GString *list = g_string_new (NULL);
  VmdUsbDevice *device;
  const char *hash;

  for (int i = g_rand_int_range (rng, 0, 4); i > 0; i--)
    g_string_append_printf (list, "%s%s", list->len ? " " : "", PICK (ifaces));
  device = test_device_new (id, list->str);
  g_string_free (list, TRUE);
  hash = PICK (hashes);
  device->hash = *hash ? g_strdup (hash) : NULL;
  return device;
}

static void
test_index_equals_scan (void)
{
  const char *running[] = { "work", NULL };
  VmdPolicyContext contexts[] = { { NULL, NULL, NULL, NULL }, { "work", running, NULL, NULL } };
  guint matched = 0, unmatched = 0;

  for (guint round = 0; round < 40; round++)
    {
      g_autoptr(GString) text = g_string_new (NULL);
      g_autoptr(GPtrArray) rules = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_rule_free);
      g_autoptr(GPtrArray) errors = g_ptr_array_new_with_free_func (g_free);
      g_autoptr(VmdPolicy) policy = NULL;
      g_autoptr(GError) error = NULL;

      for (guint i = 0; i < 40; i++)
        {
          g_autofree char *rule = random_rule ();
          g_string_append_printf (text, "%s\n", rule);
        }
      policy = vmd_policy_new_from_string (text->str, text->len, "r.rules", &error);
      g_assert_no_error (error);
      vmd_policy_parse_text (text->str, text->len, "r.rules", rules, errors);
      g_assert_cmpuint (errors->len, ==, 0);

      for (guint n = 0; n < 150; n++)
        {
          g_autoptr(VmdUsbDevice) device = random_device ();
          const VmdPolicyContext *context = &contexts[n % 2];
          g_autoptr(VmdPolicyDecision) decision = vmd_policy_decide (policy, device, context);
          const VmdRule *first = NULL;

          for (guint i = 0; i < rules->len && first == NULL; i++)
            if (vmd_rule_matches_device (rules->pdata[i], device)
                && vmd_rule_meets_conditions (rules->pdata[i], context))
              first = rules->pdata[i];
          if (first == NULL)
            {
              g_assert_null (decision->file);
              unmatched++;
              continue;
            }
          matched++;
          g_assert_cmpstr (decision->file, ==, "r.rules");
          g_assert_cmpuint (decision->line, ==, first->line);
        }
    }
  g_test_message ("%u devices matched a rule, %u fell through to the defaults", matched, unmatched);
  /* The generator must exercise both outcomes to prove anything. */
  g_assert_cmpuint (matched, >, 1000);
  g_assert_cmpuint (unmatched, >, 10);
}

int
main (int argc, char **argv)
{
  int status;

  g_test_init (&argc, &argv, NULL);
  rng = g_rand_new_with_seed (20240601);
  g_test_add_func ("/policy/index/equals-scan", test_index_equals_scan);
  status = g_test_run ();
  g_rand_free (rng);
  return status;
}
