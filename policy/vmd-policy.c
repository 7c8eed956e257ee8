/* vmd-policy.c: a policy is the user's rules from their files, in order, followed by the
 * built-in defaults, compiled and indexed once; a decision names the rule that matched and
 * says why in a sentence. */
#include "vmd-policy-private.h"

#include <string.h>

G_DEFINE_QUARK (vmd-policy-error-quark, vmd_policy_error)

struct _VmdPolicy {
  gint          ref_count;
  GPtrArray    *rules;          /* VmdRule *: the user's, then the built-in defaults */
  guint         n_user_rules;
  VmdRuleIndex *index;
};

/* Real rules of the language, parsed like any other; their line is their 1-based index. */
static const struct {
  const char *text;
  const char *comment;
} builtin_defaults[] = {
  { "host with-interface one-of { 03:01:01 03:01:02 }",
    "HID boot keyboards and mice stay on the host" },
  { "attach @focused if auto-assign(@focused)",
    "everything else goes to the VM on screen if that VM allows auto-assignment" },
  { "host",
    "otherwise the device stays on the host" },
};

static const char *const target_names[] = {
  [VMD_POLICY_ATTACH] = "attach",
  [VMD_POLICY_ASK]    = "ask",
  [VMD_POLICY_HOST]   = "host",
  [VMD_POLICY_DENY]   = "deny",
};

const char *
vmd_policy_target_to_string (VmdPolicyTarget target)
{
  g_return_val_if_fail (target <= VMD_POLICY_DENY, "?");
  return target_names[target];
}

/* ---- decisions ---- */

VmdPolicyDecision *
vmd_policy_decision_copy (const VmdPolicyDecision *decision)
{
  VmdPolicyDecision *copy = g_memdup2 (decision, sizeof *decision);

  copy->vm = g_strdup (decision->vm);
  copy->candidates = g_strdupv (decision->candidates);
  copy->file = g_strdup (decision->file);
  copy->label = g_strdup (decision->label);
  copy->rule_text = g_strdup (decision->rule_text);
  copy->reason = g_strdup (decision->reason);
  return copy;
}

void
vmd_policy_decision_free (VmdPolicyDecision *decision)
{
  if (decision == NULL)
    return;
  g_free (decision->vm);
  g_strfreev (decision->candidates);
  g_free (decision->file);
  g_free (decision->label);
  g_free (decision->rule_text);
  g_free (decision->reason);
  g_free (decision);
}

static void
add_candidate (GPtrArray *candidates, const char *vm)
{
  if (vm && !g_ptr_array_find_with_equal_func (candidates, vm, g_str_equal, NULL))
    g_ptr_array_add (candidates, g_strdup (vm));
}

static int
compare_names (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char *const *) a, *(const char *const *) b);
}

/* The VMs the rule lists (@focused: the VM on screen, if any), else every running VM. */
static GStrv
ask_candidates (const VmdRule *rule, const VmdPolicyContext *context)
{
  GPtrArray *candidates = g_ptr_array_new ();

  for (guint i = 0; i < rule->n_vms; i++)
    add_candidate (candidates, rule->vms[i].name ? rule->vms[i].name : context->on_screen);
  if (rule->n_vms == 0)
    {
      for (guint i = 0; context->running && context->running[i]; i++)
        add_candidate (candidates, context->running[i]);
      add_candidate (candidates, context->on_screen);
      g_ptr_array_sort (candidates, compare_names);
    }
  g_ptr_array_add (candidates, NULL);
  return (GStrv) g_ptr_array_free (candidates, FALSE);
}

static void
append_vm_list (GString *out, const char *const *vms)
{
  for (guint i = 0; vms[i]; i++)
    {
      g_autofree char *shown = vmd_policy_escape_for_message (vms[i]);
      g_string_append_printf (out, "%s%s", i ? ", " : "", shown);
    }
}

static VmdPolicyDecision *
decision_new (const VmdRule *rule, const VmdPolicyContext *context)
{
  VmdPolicyDecision *d = g_new0 (VmdPolicyDecision, 1);
  g_autoptr(GString) reason = g_string_sized_new (strlen (rule->reason) + 64);

  d->target = rule->target;
  d->sticky = rule->sticky;
  d->follow = rule->follow;
  d->file = g_strdup (rule->file);
  d->line = rule->line;
  d->label = g_strdup (rule->label);
  d->rule_text = g_strdup (rule->text);

  g_string_append (reason, rule->reason);
  if (rule->target == VMD_POLICY_ATTACH)
    {
      const char *vm = rule->vms[0].name ? rule->vms[0].name : context->on_screen;

      d->focused = rule->vms[0].name == NULL;
      if (vm == NULL)
        {
          /* The rule stands (focused, follow): the router moves the device on a switch. */
          d->target = VMD_POLICY_HOST;
          g_string_append (reason, "; the host is on screen, so the device stays on the host");
        }
      else
        {
          d->vm = g_strdup (vm);
          if (d->focused)
            {
              g_autofree char *shown = vmd_policy_escape_for_message (vm);
              g_string_append_printf (reason, "; the VM on screen is %s", shown);
            }
        }
    }
  else if (rule->target == VMD_POLICY_ASK)
    {
      d->candidates = ask_candidates (rule, context);
      if (d->candidates[0] == NULL)
        g_string_append (reason, "; no VM to ask");
      else
        {
          g_string_append (reason, "; asking among ");
          append_vm_list (reason, (const char *const *) d->candidates);
        }
    }
  if (rule->comment)
    g_string_append_printf (reason, " (%s)", rule->comment);
  /* Valid UTF-8 by construction: rule text and names are escaped, VM names validated. */
  d->reason = g_string_free (g_steal_pointer (&reason), FALSE);
  return d;
}

VmdPolicyDecision *
vmd_policy_decide (VmdPolicy *policy, const VmdUsbDevice *device, const VmdPolicyContext *context)
{
  static const VmdPolicyContext nothing_running = { NULL, NULL, NULL, NULL };
  const VmdRule *rule;

  g_return_val_if_fail (policy != NULL, NULL);
  g_return_val_if_fail (device != NULL, NULL);
  if (context == NULL)
    context = &nothing_running;
  rule = vmd_rule_index_first_match (policy->index, device, context);
  g_assert (rule != NULL);   /* the last built-in default matches every device */
  return decision_new (rule, context);
}

/* ---- building ---- */

typedef struct {
  GPtrArray *rules;
  GPtrArray *errors;        /* one "FILE:LINE:COL: message" or "FILE: message" each */
  gboolean   parse_error;   /* else every error is an I/O error */
  GPtrArray *files;
} Loader;

static void
loader_init (Loader *l)
{
  l->rules = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_rule_free);
  l->errors = g_ptr_array_new_with_free_func (g_free);
  l->parse_error = FALSE;
  l->files = g_ptr_array_new_with_free_func (g_free);
}

static void
loader_clear (Loader *l)
{
  g_clear_pointer (&l->rules, g_ptr_array_unref);
  g_clear_pointer (&l->errors, g_ptr_array_unref);
  g_clear_pointer (&l->files, g_ptr_array_unref);
}

static void
loader_add_text (Loader *l, const char *text, gsize length, const char *filename)
{
  guint before = l->errors->len;

  vmd_policy_parse_text (text, length, filename, l->rules, l->errors);
  l->parse_error |= l->errors->len > before;
}

static void
loader_add_file (Loader *l, const char *path, gboolean missing_ok)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *text = NULL;
  gsize length = 0;

  text = vmd_read_file_bounded (path, VMD_POLICY_MAX_FILE_SIZE, &length, &error);
  if (text == NULL)
    {
      if (!(missing_ok && g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT)))
        g_ptr_array_add (l->errors, g_strdup (error->message));
      return;
    }
  g_ptr_array_add (l->files, g_strdup (path));
  loader_add_text (l, text, length, path);
}

/* DIR/ *.rules in strcmp order; hidden files (editors' locks, backups) are skipped. */
static void
loader_add_dropins (Loader *l, const char *dir_path)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDir) dir = g_dir_open (dir_path, 0, &error);
  g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
  const char *name;

  if (dir == NULL)
    {
      if (!g_error_matches (error, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        {
          g_autofree char *shown = vmd_policy_escape_for_message (dir_path);
          g_autofree char *why = vmd_policy_escape_for_message (error->message);
          g_ptr_array_add (l->errors, g_strdup_printf ("%s: cannot list: %s", shown, why));
        }
      return;
    }
  while ((name = g_dir_read_name (dir)) != NULL)
    if (name[0] != '.' && g_str_has_suffix (name, ".rules"))
      g_ptr_array_add (names, g_strdup (name));
  g_ptr_array_sort (names, compare_names);
  for (guint i = 0; i < names->len; i++)
    {
      g_autofree char *path = g_build_filename (dir_path, names->pdata[i], NULL);

      if (!g_file_test (path, G_FILE_TEST_IS_DIR))
        loader_add_file (l, path, FALSE);
    }
}

static char *
join_errors (GPtrArray *errors)
{
  g_ptr_array_add (errors, NULL);
  return g_strjoinv ("\n", (char **) errors->pdata);
}

static VmdPolicy *
loader_finish (Loader *l, GStrv *files_read, GError **error)
{
  g_autoptr(GString) defaults = g_string_new (NULL);
  VmdPolicy *policy;

  if (files_read)
    {
      g_ptr_array_add (l->files, NULL);
      *files_read = (GStrv) g_ptr_array_free (g_steal_pointer (&l->files), FALSE);
    }
  if (l->errors->len > 0)
    {
      g_autofree char *message = join_errors (l->errors);
      g_set_error_literal (error, VMD_POLICY_ERROR,
                           l->parse_error ? VMD_POLICY_ERROR_PARSE : VMD_POLICY_ERROR_IO, message);
      loader_clear (l);
      return NULL;
    }

  policy = g_new0 (VmdPolicy, 1);
  policy->ref_count = 1;
  policy->n_user_rules = l->rules->len;
  for (guint i = 0; i < G_N_ELEMENTS (builtin_defaults); i++)
    g_string_append_printf (defaults, "%s\n", builtin_defaults[i].text);
  vmd_policy_parse_text (defaults->str, defaults->len, NULL, l->rules, l->errors);
  g_assert (l->errors->len == 0);
  for (guint i = 0; i < G_N_ELEMENTS (builtin_defaults); i++)
    ((VmdRule *) l->rules->pdata[policy->n_user_rules + i])->comment = builtin_defaults[i].comment;

  policy->rules = g_steal_pointer (&l->rules);
  policy->index = vmd_rule_index_new (policy->rules);
  loader_clear (l);
  return policy;
}

VmdPolicy *
vmd_policy_new_from_string (const char *text, gssize length, const char *filename, GError **error)
{
  Loader l;

  g_return_val_if_fail (text != NULL, NULL);
  loader_init (&l);
  loader_add_text (&l, text, length < 0 ? strlen (text) : (gsize) length,
                   filename ? filename : "<string>");
  return loader_finish (&l, NULL, error);
}

VmdPolicy *
vmd_policy_new_from_files (const char *main_file, const char *dropin_dir, GStrv *files_read,
                           GError **error)
{
  Loader l;

  loader_init (&l);
  if (main_file)
    loader_add_file (&l, main_file, TRUE);
  if (dropin_dir)
    loader_add_dropins (&l, dropin_dir);
  return loader_finish (&l, files_read, error);
}

VmdPolicy *
vmd_policy_new_from_file_list (const char *const *files, GError **error)
{
  Loader l;

  loader_init (&l);
  for (guint i = 0; files && files[i]; i++)
    loader_add_file (&l, files[i], FALSE);
  return loader_finish (&l, NULL, error);
}

VmdPolicy *
vmd_policy_ref (VmdPolicy *policy)
{
  g_return_val_if_fail (policy != NULL, NULL);
  g_atomic_int_inc (&policy->ref_count);
  return policy;
}

void
vmd_policy_unref (VmdPolicy *policy)
{
  if (policy == NULL || !g_atomic_int_dec_and_test (&policy->ref_count))
    return;
  vmd_rule_index_free (policy->index);
  g_ptr_array_unref (policy->rules);
  g_free (policy);
}

guint
vmd_policy_get_n_rules (VmdPolicy *policy)
{
  return policy->n_user_rules;
}

char *
vmd_policy_to_text (VmdPolicy *policy)
{
  GString *out = g_string_new (NULL);

  g_string_append_printf (out, "# %u rules from the rule files, in order; the first match wins\n",
                          policy->n_user_rules);
  for (guint i = 0; i < policy->rules->len; i++)
    {
      const VmdRule *rule = policy->rules->pdata[i];

      if (rule->file)
        {
          g_autofree char *file = vmd_policy_escape_for_message (rule->file);
          g_string_append_printf (out, "# %s:%u\n", file, rule->line);
        }
      else
        {
          if (i == policy->n_user_rules)
            g_string_append (out, "\n# built-in defaults: they stand after the rules above\n");
          g_string_append_printf (out, "# built-in default %u: %s\n", rule->line, rule->comment);
        }
      g_string_append_printf (out, "%s\n", rule->text);
    }
  return g_string_free (out, FALSE);
}
