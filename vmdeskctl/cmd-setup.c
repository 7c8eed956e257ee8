/* cmd-setup.c: `vmdeskctl setup VM`: preview with a dry run, show the diff, confirm on a
 * terminal, apply. Scripts (stdin not a terminal) apply without being asked. */
#include "vmdeskctl-commands.h"

#include "vmdeskctl-client.h"
#include "vmdeskctl-diff.h"
#include "vmdeskctl-error.h"
#include "vmdeskctl-output.h"

#include <string.h>
#include <unistd.h>

gboolean
vmctl_answer_is_yes (const char *line)
{
  g_autofree char *answer = g_strstrip (g_ascii_strdown (line, -1));

  return g_str_equal (answer, "y") || g_str_equal (answer, "yes");
}

static gboolean
show_changes (FILE *stream, const char *vm, const char *old_xml, const char *new_xml,
              GError **error)
{
  g_autofree char *shown = vmctl_escape (vm, VMCTL_ESCAPE_ALL);
  g_autofree char *old_label = g_strdup_printf ("%s (current)", shown);
  g_autofree char *new_label = g_strdup_printf ("%s (after setup)", shown);
  g_autofree char *diff = vmctl_diff (old_xml, new_xml, old_label, new_label, error);
  g_autofree char *safe = NULL;

  if (diff == NULL)
    return FALSE;
  if (*diff == '\0')
    {
      fprintf (stream, "no changes: %s is already set up\n", shown);
      return TRUE;
    }
  /* The XML holds user-chosen text (descriptions, names); keep it off the terminal's controls. */
  safe = vmctl_escape (diff, VMCTL_ESCAPE_KEEP_LINES);
  vmctl_write (stream, safe);
  return TRUE;
}

static gboolean
confirm (const char *vm)
{
  g_autofree char *shown = vmctl_escape (vm, VMCTL_ESCAPE_ALL);
  char line[64];

  fprintf (stderr, "Apply these changes to the persistent definition of %s? [y/N] ", shown);
  fflush (stderr);
  return fgets (line, sizeof line, stdin) != NULL && vmctl_answer_is_yes (line);
}

static void
print_json (const char *vm, gboolean applied, const char *old_xml, const char *new_xml)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  vmctl_json_add_string_or_null (b, "vm", vm);
  json_builder_set_member_name (b, "changed");
  json_builder_add_boolean_value (b, !g_str_equal (old_xml, new_xml));
  json_builder_set_member_name (b, "applied");
  json_builder_add_boolean_value (b, applied);
  vmctl_json_add_string_or_null (b, "old_xml", old_xml);
  vmctl_json_add_string_or_null (b, "new_xml", new_xml);
  json_builder_end_object (b);
  vmctl_print_json_builder (b);
}

static int
apply (GDBusConnection *bus, const VmctlArgs *args, const char *old_xml)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *applied_old = NULL;
  g_autofree char *applied_new = NULL;
  g_autofree char *shown = vmctl_escape (args->vm, VMCTL_ESCAPE_ALL);

  /* The daemon applies only if the definition is still the one previewed. */
  if (!vmctl_client_setup_vm (bus, args->vm, FALSE, old_xml, &applied_old, &applied_new, &error))
    return vmctl_report_error (error, args->json);
  if (args->json)
    print_json (args->vm, TRUE, applied_old, applied_new);
  else
    fprintf (stdout, "applied: %s is set up for vmdesk\n", shown);
  return 0;
}

int
vmctl_cmd_setup (const VmctlArgs *args)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GDBusConnection) bus = NULL;
  g_autofree char *old_xml = NULL;
  g_autofree char *new_xml = NULL;
  gboolean changed;

  if ((bus = vmctl_client_connect (&error)) == NULL
      || !vmctl_client_setup_vm (bus, args->vm, TRUE, "", &old_xml, &new_xml, &error))
    return vmctl_report_error (error, args->json);
  changed = !g_str_equal (old_xml, new_xml);

  if (!args->json && !show_changes (stdout, args->vm, old_xml, new_xml, &error))
    return vmctl_report_error (error, FALSE);
  if (!changed || args->dry_run)
    {
      if (args->json)
        print_json (args->vm, FALSE, old_xml, new_xml);
      return 0;
    }

  if (isatty (STDIN_FILENO) && !args->yes)
    {
      /* With --json stdout is for the result; the person being asked still sees the diff. */
      if (args->json && !show_changes (stderr, args->vm, old_xml, new_xml, &error))
        return vmctl_report_error (error, args->json);
      if (!confirm (args->vm))
        {
          g_autofree char *shown = vmctl_escape (args->vm, VMCTL_ESCAPE_ALL);
          g_set_error (&error, VMCTL_ERROR, VMCTL_EXIT_FAILURE,
                       "not applied: the definition of %s is unchanged", shown);
          return vmctl_report_error (error, args->json);
        }
    }
  return apply (bus, args, old_xml);
}
