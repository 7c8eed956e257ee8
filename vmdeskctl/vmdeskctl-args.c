/* vmdeskctl-args.c: a small hand-written parser, because each command takes its own few
 * options and GOptionContext has no notion of subcommands. */
#include "vmdeskctl-args.h"

#include "vmdesk-common.h"
#include "vmdeskctl-error.h"
#include "vmdeskctl-output.h"

typedef enum {
  OPT_JSON    = 1 << 0,
  OPT_HOST    = 1 << 1,
  OPT_DRY_RUN = 1 << 2,
  OPT_YES     = 1 << 3,
} Option;

typedef enum {
  VM_NONE,      /* takes no VM */
  VM_OPTIONAL,
  VM_REQUIRED,
} VmArg;

static const struct {
  const char  *name;
  VmctlCommand command;
  Option       options;
  VmArg        vm;
} commands[] = {
  { "help",    VMCTL_CMD_HELP,    0,                          VM_NONE },
  { "list",    VMCTL_CMD_LIST,    OPT_JSON,                   VM_NONE },
  { "status",  VMCTL_CMD_STATUS,  OPT_JSON,                   VM_OPTIONAL },
  { "switch",  VMCTL_CMD_SWITCH,  OPT_JSON | OPT_HOST,        VM_OPTIONAL },
  { "version", VMCTL_CMD_VERSION, OPT_JSON,                   VM_NONE },
  { "setup",   VMCTL_CMD_SETUP,   OPT_JSON | OPT_DRY_RUN | OPT_YES, VM_REQUIRED },
};

static const struct {
  const char *name;
  Option      option;
} options[] = {
  { "--json",    OPT_JSON },
  { "--host",    OPT_HOST },
  { "--dry-run", OPT_DRY_RUN },
  { "--yes",     OPT_YES },
  { "-y",        OPT_YES },
};

static const char usage[] =
  "Usage: vmdeskctl COMMAND [OPTIONS]\n"
  "\n"
  "Commands:\n"
  "  list [--json]                      every VM: name, state, on-screen mark (*), role\n"
  "  status [VM] [--json]               the daemon's status, or one VM's\n"
  "  switch VM [--json]                 put a running VM on screen\n"
  "  switch --host [--json]             put the host's desktop back on screen\n"
  "  setup VM [--dry-run] [--yes] [--json]\n"
  "                                     adopt a libvirt domain: show the changes to its\n"
  "                                     definition, then apply them (asks first on a terminal)\n"
  "  version [--json]                   versions of vmdeskctl and vmdeskd\n"
  "  help                               this text\n"
  "\n"
  "Exit status: 0 ok, 1 failure, 2 usage, 3 vmdeskd not running or no system bus,\n"
  "4 not authorized, 5 unknown VM, 6 VM not running, 7 vmdeskd not connected to libvirt.\n"
  "See docs/vmdeskctl.md for the JSON formats.\n";

const char *
vmctl_usage (void)
{
  return usage;
}

void
vmctl_args_free (VmctlArgs *args)
{
  if (args == NULL)
    return;
  g_free (args->vm);
  g_free (args);
}

/* Always NULL, so a parser can `return usage_error (...)`. */
G_GNUC_PRINTF (2, 3) static gpointer
usage_error (GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, VMCTL_ERROR, VMCTL_EXIT_USAGE, "%s (see 'vmdeskctl help')", message);
  return NULL;
}

static gboolean
lookup_option (const char *arg, Option *option)
{
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    if (g_str_equal (arg, options[i].name))
      {
        *option = options[i].option;
        return TRUE;
      }
  return FALSE;
}

static const char *
option_name (Option option)
{
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    if (options[i].option == option)
      return options[i].name;
  return "?";
}

/* Split argv into option flags and positional words. */
static gboolean
split_argv (int argc, const char *const *argv, Option *seen, GPtrArray *words, GError **error)
{
  gboolean only_words = FALSE;

  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];
      Option option;

      if (only_words || arg[0] != '-' || arg[1] == '\0')
        g_ptr_array_add (words, (gpointer) arg);
      else if (g_str_equal (arg, "--"))
        only_words = TRUE;
      else if (g_str_equal (arg, "--help") || g_str_equal (arg, "-h"))
        g_ptr_array_insert (words, 0, (gpointer) "help");
      else if (g_str_equal (arg, "--version"))
        g_ptr_array_insert (words, 0, (gpointer) "version");
      else if (lookup_option (arg, &option))
        *seen |= option;
      else
        {
          g_autofree char *shown = vmctl_escape (arg, VMCTL_ESCAPE_ALL);
          usage_error (error, "unknown option '%s'", shown);
          return FALSE;
        }
    }
  return TRUE;
}

VmctlArgs *
vmctl_args_parse (int argc, const char *const *argv, GError **error)
{
  g_autoptr(VmctlArgs) args = g_new0 (VmctlArgs, 1);
  g_autoptr(GPtrArray) words = g_ptr_array_new ();
  g_autoptr(GError) name_error = NULL;
  Option seen = 0;
  const char *word;
  guint c;

  if (!split_argv (argc, argv, &seen, words, error))
    return NULL;
  if (words->len == 0)
    return usage_error (error, "no command given");

  word = words->pdata[0];
  for (c = 0; c < G_N_ELEMENTS (commands); c++)
    if (g_str_equal (word, commands[c].name))
      break;
  if (c == G_N_ELEMENTS (commands))
    {
      g_autofree char *shown = vmctl_escape (word, VMCTL_ESCAPE_ALL);
      return usage_error (error, "unknown command '%s'", shown);
    }
  args->command = commands[c].command;
  /* `help` ignores the rest, so `vmdeskctl list --help` shows help. */
  if (args->command == VMCTL_CMD_HELP)
    return g_steal_pointer (&args);

  for (Option o = OPT_JSON; o <= OPT_YES; o <<= 1)
    if ((seen & o) && !(commands[c].options & o))
      return usage_error (error, "%s does not take %s", commands[c].name, option_name (o));
  args->json = (seen & OPT_JSON) != 0;
  args->host = (seen & OPT_HOST) != 0;
  args->dry_run = (seen & OPT_DRY_RUN) != 0;
  args->yes = (seen & OPT_YES) != 0;

  if (words->len > 2 || (words->len == 2 && commands[c].vm == VM_NONE))
    {
      g_autofree char *shown = vmctl_escape (words->pdata[words->len - 1], VMCTL_ESCAPE_ALL);
      return usage_error (error, "unexpected argument '%s'", shown);
    }
  if (words->len == 2)
    args->vm = g_strdup (words->pdata[1]);

  if (args->command == VMCTL_CMD_SWITCH && args->host == (args->vm != NULL))
    return usage_error (error, "switch takes a VM name or --host");
  if (commands[c].vm == VM_REQUIRED && args->vm == NULL)
    return usage_error (error, "%s needs a VM name", commands[c].name);
  if (args->vm && !vmd_vm_name_validate (args->vm, &name_error))
    return usage_error (error, "%s", name_error->message);
  return g_steal_pointer (&args);
}
