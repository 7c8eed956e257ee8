/* vmdeskctl-policy.c: loading the USB policy for the offline `policy` commands. */
#include "vmdeskctl-policy.h"

#include "vmdeskctl-error.h"
#include "vmdeskctl-output.h"

const char *
vmctl_policy_config_dir (void)
{
  const char *dir = g_getenv ("VMDESK_CONFIG_DIR");

  return dir && *dir ? dir : VMDESK_SYSCONFDIR;
}

VmdPolicy *
vmctl_policy_load (const char *const *files, GStrv *files_read, GError **error)
{
  g_autofree char *main_file = NULL;
  g_autofree char *dropins = NULL;

  if (files && files[0])
    {
      *files_read = g_strdupv ((char **) files);
      return vmd_policy_new_from_file_list (files, error);
    }
  main_file = g_build_filename (vmctl_policy_config_dir (), VMD_POLICY_MAIN_FILE_NAME, NULL);
  dropins = g_build_filename (vmctl_policy_config_dir (), VMD_POLICY_DROPIN_DIR_NAME, NULL);
  return vmd_policy_new_from_files (main_file, dropins, files_read, error);
}

guint
vmctl_print_policy_errors (const GError *error)
{
  g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

  /* The policy library escaped what it quotes; this only keeps a terminal safe, without
   * doubling the backslashes of "\x0a" (there is no newline left in a line). */
  for (guint i = 0; lines[i]; i++)
    {
      g_autofree char *shown = vmctl_escape (lines[i], VMCTL_ESCAPE_KEEP_LINES);
      fprintf (stderr, "%s\n", shown);
    }
  return g_strv_length (lines);
}

int
vmctl_report_policy_error (const GError *error, gboolean json)
{
  vmctl_print_policy_errors (error);
  if (json)
    {
      g_autoptr(JsonNode) node = vmctl_error_to_json (error);
      vmctl_print_json (node);
    }
  return VMCTL_EXIT_FAILURE;
}
