/* cmd-policy-check.c: `vmdeskctl policy check [FILE...]`: are the rule files valid? No
 * daemon: this is what to run before `policy reload`, or in a package's post-install. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-error.h"
#include "vmdeskctl-output.h"
#include "vmdeskctl-policy.h"

static void
add_string_array (JsonBuilder *b, const char *key, const char *const *strings)
{
  json_builder_set_member_name (b, key);
  json_builder_begin_array (b);
  for (guint i = 0; strings && strings[i]; i++)
    {
      g_autofree char *valid = g_utf8_make_valid (strings[i], -1);
      json_builder_add_string_value (b, valid);
    }
  json_builder_end_array (b);
}

static void
print_json (VmdPolicy *policy, const char *const *files, const GError *error)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_auto(GStrv) errors = error ? g_strsplit (error->message, "\n", -1) : NULL;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "valid");
  json_builder_add_boolean_value (b, policy != NULL);
  add_string_array (b, "files", files);
  json_builder_set_member_name (b, "rules");
  if (policy)
    json_builder_add_int_value (b, vmd_policy_get_n_rules (policy));
  else
    json_builder_add_null_value (b);
  add_string_array (b, "errors", (const char *const *) errors);
  json_builder_end_object (b);
  vmctl_print_json_builder (b);
}

static void
print_summary (VmdPolicy *policy, const char *const *files)
{
  GString *out = g_string_new (NULL);
  g_autofree char *text = NULL;
  guint n_files = g_strv_length ((char **) files);

  if (n_files == 0)
    {
      g_autofree char *dir = vmctl_escape (vmctl_policy_config_dir (), VMCTL_ESCAPE_ALL);
      g_string_append_printf (out, "valid: no rule files (none in %s/" VMD_POLICY_MAIN_FILE_NAME
                              " or %s/" VMD_POLICY_DROPIN_DIR_NAME "/*.rules); only the built-in "
                              "defaults apply\n", dir, dir);
    }
  else
    g_string_append_printf (out, "valid: %u rule%s in %u file%s, then the built-in defaults\n",
                            vmd_policy_get_n_rules (policy),
                            vmd_policy_get_n_rules (policy) == 1 ? "" : "s",
                            n_files, n_files == 1 ? "" : "s");
  for (guint i = 0; i < n_files; i++)
    {
      g_autofree char *shown = vmctl_escape (files[i], VMCTL_ESCAPE_ALL);
      g_string_append_printf (out, "  %s\n", shown);
    }
  text = g_string_free (out, FALSE);
  vmctl_write (stdout, text);
}

int
vmctl_cmd_policy_check (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) files = NULL;
  g_autoptr(VmdPolicy) policy = vmctl_policy_load ((const char *const *) args->files, &files, &error);

  if (args->json)
    print_json (policy, (const char *const *) files, error);
  else if (policy)
    print_summary (policy, (const char *const *) files);
  if (policy)
    return VMCTL_EXIT_OK;

  /* Text: the errors one per line, as a compiler gives them; JSON: stdout has them. */
  if (!args->json)
    vmctl_print_policy_errors (error);
  fprintf (stderr, "vmdeskctl: the policy has errors, so it would not load\n");
  return VMCTL_EXIT_FAILURE;
}
