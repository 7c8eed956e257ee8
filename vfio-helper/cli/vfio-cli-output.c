/* vfio-cli-output.c: exit codes for errors, and how errors and JSON are printed. */
#include "vfio-cli.h"

#include <stdio.h>

VfioExit
vfio_exit_for_error (const GError *error)
{
  if (error->domain == VFIO_CLI_ERROR)
    return (VfioExit) error->code;
  if (error->domain != VMD_VFIO_ERROR)
    return VFIO_EXIT_FAILED;
  switch ((VmdVfioError) error->code)
    {
    case VMD_VFIO_ERROR_INVALID_BDF:  return VFIO_EXIT_USAGE;
    case VMD_VFIO_ERROR_NOT_FOUND:    return VFIO_EXIT_NOT_FOUND;
    case VMD_VFIO_ERROR_REFUSED:      return VFIO_EXIT_REFUSED;
    case VMD_VFIO_ERROR_INCONSISTENT: return VFIO_EXIT_INCONSISTENT;
    case VMD_VFIO_ERROR_BUSY:         return VFIO_EXIT_BUSY;
    case VMD_VFIO_ERROR_FAILED:
    case VMD_VFIO_ERROR_SYSFS:
    case VMD_VFIO_ERROR_STEP_FAILED:
    case VMD_VFIO_ERROR_JOURNAL:
    case VMD_VFIO_ERROR_LOGIND:
      return VFIO_EXIT_FAILED;
    }
  return VFIO_EXIT_FAILED;
}

static const char *
error_name (const GError *error)
{
  static const char *const names[] = {
    [VMD_VFIO_ERROR_FAILED]       = "failed",
    [VMD_VFIO_ERROR_INVALID_BDF]  = "invalid-bdf",
    [VMD_VFIO_ERROR_NOT_FOUND]    = "not-found",
    [VMD_VFIO_ERROR_REFUSED]      = "refused",
    [VMD_VFIO_ERROR_SYSFS]        = "sysfs",
    [VMD_VFIO_ERROR_STEP_FAILED]  = "step-failed",
    [VMD_VFIO_ERROR_INCONSISTENT] = "inconsistent",
    [VMD_VFIO_ERROR_JOURNAL]      = "journal",
    [VMD_VFIO_ERROR_BUSY]         = "busy",
    [VMD_VFIO_ERROR_LOGIND]       = "logind",
  };

  if (error->domain == VFIO_CLI_ERROR)
    return "usage";
  if (error->domain == VMD_VFIO_ERROR && error->code >= 0
      && (guint) error->code < G_N_ELEMENTS (names))
    return names[error->code];
  return "failed";
}

void
vfio_print_json (JsonNode *node)
{
  g_autoptr(JsonGenerator) gen = json_generator_new ();
  g_autofree char *text = NULL;

  json_generator_set_pretty (gen, TRUE);
  json_generator_set_root (gen, node);
  text = json_generator_to_data (gen, NULL);
  printf ("%s\n", text);
  fflush (stdout);
}

int
vfio_report_error (const GError *error, gboolean json)
{
  VfioExit code = vfio_exit_for_error (error);
  g_autofree char *message = g_utf8_make_valid (error->message, -1);

  if (json)
    {
      g_autoptr(JsonBuilder) b = json_builder_new ();
      g_autoptr(JsonNode) root = NULL;

      json_builder_begin_object (b);
      json_builder_set_member_name (b, "error");
      json_builder_begin_object (b);
      json_builder_set_member_name (b, "code");
      json_builder_add_string_value (b, error_name (error));
      json_builder_set_member_name (b, "exit");
      json_builder_add_int_value (b, code);
      json_builder_set_member_name (b, "message");
      json_builder_add_string_value (b, message);
      json_builder_end_object (b);
      json_builder_end_object (b);
      root = json_builder_get_root (b);
      vfio_print_json (root);
    }
  fprintf (stderr, "vmdesk-vfio: %s\n", message);
  return code;
}
