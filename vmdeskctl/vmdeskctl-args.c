/* vmdeskctl-args.c: a small table-driven parser, because each command takes its own few
 * options and arguments and GOptionContext has no notion of subcommands. A command is a
 * row of `commands` (one word, or a group and a word: `policy check`), an option a row of
 * `options`; adding either is one line here plus a field in VmctlArgs. */
#include "vmdeskctl-args.h"

#include "vmdesk-common.h"
#include "vmdeskctl-error.h"
#include "vmdeskctl-output.h"
#include "vmdesk-vfio.h"

#include <string.h>

typedef enum {
  OPT_JSON           = 1 << 0,
  OPT_HOST           = 1 << 1,
  OPT_DRY_RUN        = 1 << 2,
  OPT_YES            = 1 << 3,
  OPT_DEVICE         = 1 << 4,
  OPT_DEVICE_JSON    = 1 << 5,
  OPT_RULES          = 1 << 6,
  OPT_ON_SCREEN      = 1 << 7,
  OPT_RUNNING        = 1 << 8,
  OPT_NO_AUTO_ASSIGN = 1 << 9,
  OPT_REMEMBER       = 1 << 10,
  OPT_SINGLE_GPU     = 1 << 11,
  OPT_LAST           = OPT_SINGLE_GPU,
} Option;

typedef enum {
  TAKES_NOTHING,
  TAKES_VALUE,     /* the next argument, or --opt=value */
  TAKES_VALUES,    /* one or more: the option repeated, or the words after it */
} Takes;

static const struct {
  const char *name;
  Option      option;
  Takes       takes;
  const char *metavar;
} options[] = {
  { "--json",           OPT_JSON,           TAKES_NOTHING, NULL },
  { "--host",           OPT_HOST,           TAKES_NOTHING, NULL },
  { "--dry-run",        OPT_DRY_RUN,        TAKES_NOTHING, NULL },
  { "--yes",            OPT_YES,            TAKES_NOTHING, NULL },
  { "-y",               OPT_YES,            TAKES_NOTHING, NULL },
  { "--device",         OPT_DEVICE,         TAKES_VALUE,   "SYSFS_PATH" },
  { "--device-json",    OPT_DEVICE_JSON,    TAKES_VALUE,   "FILE" },
  { "--rules",          OPT_RULES,          TAKES_VALUES,  "FILE" },
  { "--on-screen",      OPT_ON_SCREEN,      TAKES_VALUE,   "VM" },
  { "--running",        OPT_RUNNING,        TAKES_VALUE,   "VM,..." },
  { "--no-auto-assign", OPT_NO_AUTO_ASSIGN, TAKES_VALUE,   "VM,..." },
  { "--remember",       OPT_REMEMBER,       TAKES_NOTHING, NULL },
  { "--single-gpu",     OPT_SINGLE_GPU,     TAKES_NOTHING, NULL },
};

/* What follows the command's own words. */
typedef enum {
  ARGS_NONE,
  ARGS_VM_OPTIONAL,
  ARGS_VM,
  ARGS_FILES,        /* zero or more */
  ARGS_PORT,         /* a USB device by its port */
  ARGS_PORT_VM,      /* a port, then a VM */
  ARGS_PORT_VM_OR_HOST,  /* a port, then a VM or --host */
  ARGS_VM_BUTTON,    /* a VM, then a button: power or sleep */
  ARGS_TARGETS,      /* zero or more PCI addresses or VMs (passthrough check) */
  ARGS_TARGET,       /* one PCI address or VM (passthrough plan) */
} Arguments;

typedef struct {
  const char  *group;     /* the first word of a two-word command, or NULL */
  const char  *name;
  VmctlCommand command;
  Option       options;
  Arguments    arguments;
} CommandRow;

static const CommandRow commands[] = {
  { NULL,     "help",    VMCTL_CMD_HELP,           0,                                ARGS_NONE },
  { NULL,     "list",    VMCTL_CMD_LIST,           OPT_JSON,                         ARGS_NONE },
  { NULL,     "status",  VMCTL_CMD_STATUS,         OPT_JSON,                         ARGS_VM_OPTIONAL },
  { NULL,     "switch",  VMCTL_CMD_SWITCH,         OPT_JSON | OPT_HOST,              ARGS_VM_OPTIONAL },
  { NULL,     "version", VMCTL_CMD_VERSION,        OPT_JSON,                         ARGS_NONE },
  { NULL,     "setup",   VMCTL_CMD_SETUP,          OPT_JSON | OPT_DRY_RUN | OPT_YES, ARGS_VM },
  { "policy", "check",   VMCTL_CMD_POLICY_CHECK,   OPT_JSON,                         ARGS_FILES },
  { "policy", "explain", VMCTL_CMD_POLICY_EXPLAIN,
    OPT_JSON | OPT_DEVICE | OPT_DEVICE_JSON | OPT_RULES | OPT_ON_SCREEN | OPT_RUNNING
    | OPT_NO_AUTO_ASSIGN, ARGS_NONE },
  { "policy", "show",    VMCTL_CMD_POLICY_SHOW,    OPT_JSON,                         ARGS_NONE },
  { "policy", "reload",  VMCTL_CMD_POLICY_RELOAD,  OPT_JSON,                         ARGS_NONE },
  { "usb",    "list",    VMCTL_CMD_USB_LIST,       OPT_JSON,                         ARGS_NONE },
  { "usb",    "attach",  VMCTL_CMD_USB_ATTACH,     OPT_JSON | OPT_REMEMBER,          ARGS_PORT_VM },
  { "usb",    "detach",  VMCTL_CMD_USB_DETACH,     OPT_JSON,                         ARGS_PORT },
  { "usb",    "forget",  VMCTL_CMD_USB_FORGET,     OPT_JSON,                         ARGS_PORT },
  { "usb",    "answer",  VMCTL_CMD_USB_ANSWER,     OPT_JSON | OPT_REMEMBER | OPT_HOST, ARGS_PORT_VM_OR_HOST },
  /* Before the one-word `power`, which would otherwise take `button` as an argument. */
  { "power",  "button",  VMCTL_CMD_POWER_BUTTON,   OPT_JSON,                         ARGS_VM_BUTTON },
  { NULL,     "power",   VMCTL_CMD_POWER,          OPT_JSON,                         ARGS_NONE },
  { NULL,     "start",   VMCTL_CMD_START,          OPT_JSON,                         ARGS_VM },
  { "passthrough", "list",  VMCTL_CMD_PASSTHROUGH_LIST,  OPT_JSON,                  ARGS_NONE },
  { "passthrough", "check", VMCTL_CMD_PASSTHROUGH_CHECK, OPT_JSON,                  ARGS_TARGETS },
  { "passthrough", "plan",  VMCTL_CMD_PASSTHROUGH_PLAN,  OPT_JSON | OPT_SINGLE_GPU, ARGS_TARGET },
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
  "  policy check [FILE...] [--json]    check USB rule files (default: the configured ones);\n"
  "                                     no daemon needed\n"
  "  policy explain (--device SYSFS_PATH | --device-json FILE) [--rules FILE...]\n"
  "                 [--on-screen VM] [--running VM,...] [--no-auto-assign VM,...] [--json]\n"
  "                                     where the USB policy sends a device, by which rule,\n"
  "                                     and why; no daemon needed\n"
  "  policy show [--json]               the USB policy vmdeskd has loaded, built-in defaults last\n"
  "  policy reload [--json]             make vmdeskd re-read the rule files (a bad file keeps\n"
  "                                     the old policy and says FILE:LINE:COL)\n"
  "  usb list [--json]                  USB devices: port, id, where each is, and why\n"
  "  usb attach PORT VM [--remember] [--json]\n"
  "                                     attach a device to a running VM until it is unplugged;\n"
  "                                     --remember: from now on, every time\n"
  "  usb detach PORT [--json]           keep a device on the host until it is unplugged\n"
  "  usb forget PORT [--json]           forget where a device was remembered to go\n"
  "  usb answer PORT (VM | --host) [--remember] [--json]\n"
  "                                     answer vmdeskd's question about a device\n"
  "  power [--json]                     the host's battery, AC and lid, the VMs vmdesk put to\n"
  "                                     sleep, and each guest's power link\n"
  "  power button VM (power | sleep) [--json]\n"
  "                                     press a button in a VM's guest, as on a real machine\n"
  "  start VM [--json]                  start a VM; its pass-through devices are bound first,\n"
  "                                     and given back before a failed start returns\n"
  "  passthrough list [--json]          PCI devices vmdesk holds on vfio-pci, and for which VM\n"
  "  passthrough check [VM|PCI...] [--json]\n"
  "                                     can these devices be passed through (a VM: the ones\n"
  "                                     its settings name; none: every display device)\n"
  "  passthrough plan (VM | PCI [--single-gpu]) [--json]\n"
  "                                     what binding them to vfio-pci would do to the host\n"
  "  version [--json]                   versions of vmdeskctl and vmdeskd\n"
  "  help                               this text\n"
  "\n"
  "Exit status: 0 ok, 1 failure, 2 usage, 3 vmdeskd not running or no system bus,\n"
  "4 not authorized, 5 unknown VM, 6 VM not running, 7 vmdeskd not connected to libvirt,\n"
  "8 no USB device at that port or PCI device at that address, 9 passthrough check found\n"
  "a warning, 10 pass-through would be or was refused (passthrough check, passthrough plan,\n"
  "start).\n"
  "See docs/vmdeskctl.md for the JSON formats and docs/policy.md for the rule language.\n";

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
  g_strfreev (args->words);
  g_strfreev (args->files);
  g_free (args->device);
  g_free (args->device_json);
  g_free (args->on_screen);
  g_strfreev (args->running);
  g_strfreev (args->no_auto_assign);
  g_free (args->usb_id);
  g_free (args->button);
  g_strfreev (args->pci);
  g_strfreev (args->vms);
  g_free (args);
}

/* Always FALSE, so a parser can `return usage_error (...)`. */
G_GNUC_PRINTF (2, 3) static gboolean
usage_error (GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, VMCTL_ERROR, VMCTL_EXIT_USAGE, "%s (see 'vmdeskctl help')", message);
  return FALSE;
}

static int
lookup_option (const char *name)
{
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    if (g_str_equal (name, options[i].name))
      return (int) i;
  return -1;
}

static const char *
option_name (Option option)
{
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    if (options[i].option == option)
      return options[i].name;
  return "?";
}

static char *
command_display_name (const CommandRow *row)
{
  return row->group ? g_strdup_printf ("%s %s", row->group, row->name) : g_strdup (row->name);
}

static gboolean
is_group (const char *word)
{
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (commands[i].group && g_str_equal (word, commands[i].group))
      return TRUE;
  return FALSE;
}

/* The row the first words name, and how many words that took; NULL when they name none. */
static const CommandRow *
find_command (GPtrArray *words, guint *n_words)
{
  const char *first = words->len > 0 ? words->pdata[0] : NULL;
  const char *second = words->len > 1 ? words->pdata[1] : NULL;

  for (guint i = 0; first && i < G_N_ELEMENTS (commands); i++)
    {
      const CommandRow *row = &commands[i];

      if (row->group == NULL && g_str_equal (first, row->name))
        {
          *n_words = 1;
          return row;
        }
      if (row->group && second && g_str_equal (first, row->group) && g_str_equal (second, row->name))
        {
          *n_words = 2;
          return row;
        }
    }
  return NULL;
}

static gboolean
unknown_command_error (GPtrArray *words, GError **error)
{
  const char *first = words->pdata[0];
  g_autofree char *shown = vmctl_escape (first, VMCTL_ESCAPE_ALL);
  g_autofree char *second = NULL;
  g_autoptr(GString) subcommands = NULL;

  if (!is_group (first))
    return usage_error (error, "unknown command '%s'", shown);
  subcommands = g_string_new (NULL);
  for (guint i = 0; i < G_N_ELEMENTS (commands); i++)
    if (commands[i].group && g_str_equal (first, commands[i].group))
      g_string_append_printf (subcommands, "%s%s", subcommands->len ? ", " : "", commands[i].name);
  if (words->len < 2)
    return usage_error (error, "'%s' needs a subcommand: %s", shown, subcommands->str);
  second = vmctl_escape (words->pdata[1], VMCTL_ESCAPE_ALL);
  return usage_error (error, "unknown command '%s %s' (%s has: %s)", shown, second, shown,
                      subcommands->str);
}

/* What argv holds, before it is checked against the command. */
typedef struct {
  GPtrArray *words;               /* the command's words, then its arguments */
  Option     seen;
  gboolean   help;
  char      *values[G_N_ELEMENTS (options)];   /* TAKES_VALUE, by row */
  GPtrArray *rules;               /* --rules */
} Split;

static void
split_clear (Split *split)
{
  g_ptr_array_unref (split->words);
  g_clear_pointer (&split->rules, g_ptr_array_unref);
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    g_free (split->values[i]);
}

/* A list option takes the words after it only where they cannot be the command's own
 * arguments: once the command is known and takes none. */
static gboolean
words_can_be_values (GPtrArray *words)
{
  guint n;
  const CommandRow *row = find_command (words, &n);

  return row && row->arguments == ARGS_NONE;
}

static gboolean
split_argv (int argc, const char *const *argv, Split *split, GError **error)
{
  gboolean only_words = FALSE;

  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];
      g_autofree char *name = NULL;
      const char *inline_value = NULL;
      const char *value;
      int o;

      if (only_words || arg[0] != '-' || arg[1] == '\0')
        {
          g_ptr_array_add (split->words, (gpointer) arg);
          continue;
        }
      if (g_str_equal (arg, "--"))
        {
          only_words = TRUE;
          continue;
        }
      if (g_str_equal (arg, "--help") || g_str_equal (arg, "-h"))
        {
          split->help = TRUE;
          continue;
        }
      if (g_str_equal (arg, "--version"))
        {
          g_ptr_array_insert (split->words, 0, (gpointer) "version");
          continue;
        }
      if (g_str_has_prefix (arg, "--") && (inline_value = strchr (arg, '=')) != NULL)
        name = g_strndup (arg, inline_value++ - arg);
      else
        name = g_strdup (arg);
      if ((o = lookup_option (name)) < 0)
        {
          g_autofree char *shown = vmctl_escape (name, VMCTL_ESCAPE_ALL);
          return usage_error (error, "unknown option '%s'", shown);
        }
      if ((split->seen & options[o].option) && options[o].takes == TAKES_VALUE)
        return usage_error (error, "%s is given twice", options[o].name);
      split->seen |= options[o].option;
      if (options[o].takes == TAKES_NOTHING)
        {
          if (inline_value)
            return usage_error (error, "%s takes no value", options[o].name);
          continue;
        }
      value = inline_value ? inline_value : i + 1 < argc ? argv[++i] : NULL;
      if (value == NULL)
        return usage_error (error, "%s needs a value: %s %s", options[o].name, options[o].name,
                            options[o].metavar);
      if (options[o].takes == TAKES_VALUE)
        {
          split->values[o] = g_strdup (value);
          continue;
        }
      g_ptr_array_add (split->rules, g_strdup (value));
      while (!inline_value && i + 1 < argc && argv[i + 1][0] != '-' && words_can_be_values (split->words))
        g_ptr_array_add (split->rules, g_strdup (argv[++i]));
    }
  return TRUE;
}

static gboolean
validate_vm (const char *vm, const char *what, GError **error)
{
  g_autoptr(GError) name_error = NULL;

  if (vmd_vm_name_validate (vm, &name_error))
    return TRUE;
  if (what)
    return usage_error (error, "%s: %s", what, name_error->message);
  return usage_error (error, "%s", name_error->message);
}

/* "a,b,c": each a valid VM name. */
static GStrv
parse_vm_list (const char *option, const char *value, GError **error)
{
  g_auto(GStrv) vms = g_strsplit (value, ",", -1);

  if (vms[0] == NULL)   /* "" splits into nothing, but it names an empty VM */
    {
      validate_vm ("", option, error);
      return NULL;
    }
  for (guint i = 0; vms[i]; i++)
    if (!validate_vm (vms[i], option, error))
      return NULL;
  return g_steal_pointer (&vms);
}

static char *
take_value (Split *split, Option option)
{
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    if (options[i].option == option && split->values[i])
      return g_steal_pointer (&split->values[i]);
  return NULL;
}

/* PORT [VM]: usb attach PORT VM, usb answer PORT (VM | --host), usb detach|forget PORT. */
static gboolean
take_port_arguments (VmctlArgs *args, const CommandRow *row, GPtrArray *rest, GError **error)
{
  g_autofree char *display = command_display_name (row);
  guint wanted = row->arguments == ARGS_PORT ? 1 : 2;
  g_autoptr(GError) port_error = NULL;

  if (rest->len == 0)
    return usage_error (error, "%s needs a USB port such as 1-2.3 (see 'vmdeskctl usb list')", display);
  if (!vmd_usb_port_validate (rest->pdata[0], &port_error))
    return usage_error (error, "%s", port_error->message);
  args->usb_id = g_strdup (rest->pdata[0]);
  if (rest->len > wanted)
    {
      g_autofree char *shown = vmctl_escape (rest->pdata[wanted], VMCTL_ESCAPE_ALL);
      return usage_error (error, "unexpected argument '%s'", shown);
    }
  if (rest->len == 2)
    args->vm = g_strdup (rest->pdata[1]);
  if (row->arguments == ARGS_PORT_VM && args->vm == NULL)
    return usage_error (error, "%s needs a port and a VM", display);
  return args->vm == NULL || validate_vm (args->vm, NULL, error);
}

/* VM BUTTON: power button. The button is checked here, so a typo costs no bus call. */
static gboolean
take_button_arguments (VmctlArgs *args, GPtrArray *rest, GError **error)
{
  if (rest->len != 2)
    {
      if (rest->len > 2)
        {
          g_autofree char *shown = vmctl_escape (rest->pdata[2], VMCTL_ESCAPE_ALL);
          return usage_error (error, "unexpected argument '%s'", shown);
        }
      return usage_error (error, "power button needs a VM and a button: power or sleep");
    }
  if (!validate_vm (rest->pdata[0], NULL, error))
    return FALSE;
  if (!g_str_equal (rest->pdata[1], "power") && !g_str_equal (rest->pdata[1], "sleep"))
    {
      g_autofree char *shown = vmctl_escape (rest->pdata[1], VMCTL_ESCAPE_ALL);
      return usage_error (error, "'%s' is not a button: power or sleep", shown);
    }
  args->vm = g_strdup (rest->pdata[0]);
  args->button = g_strdup (rest->pdata[1]);
  return TRUE;
}

/* VM|PCI...: a word that is a PCI address (vfio-helper's parser: DDDD:BB:SS.F or BB:SS.F)
 * is one, in its canonical form; any other must be a valid VM name. */
static gboolean
take_target_arguments (VmctlArgs *args, const CommandRow *row, GPtrArray *rest, GError **error)
{
  g_autoptr(GPtrArray) pci = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) vms = g_ptr_array_new_with_free_func (g_free);

  if (row->arguments == ARGS_TARGET && rest->len != 1)
    {
      if (rest->len > 1)
        {
          g_autofree char *shown = vmctl_escape (rest->pdata[1], VMCTL_ESCAPE_ALL);
          return usage_error (error, "unexpected argument '%s'", shown);
        }
      return usage_error (error, "passthrough plan needs a VM or a PCI address such as 0000:01:00.0");
    }
  for (guint i = 0; i < rest->len; i++)
    {
      const char *word = rest->pdata[i];
      char buf[VMD_VFIO_BDF_BUFSIZE];
      VmdVfioBdf bdf;

      if (vmd_vfio_bdf_parse (word, &bdf, NULL))
        g_ptr_array_add (pci, g_strdup (vmd_vfio_bdf_format (&bdf, buf)));
      else if (validate_vm (word, "not a PCI address (DDDD:BB:SS.F) nor a VM name", error))
        g_ptr_array_add (vms, g_strdup (word));
      else
        return FALSE;
    }
  g_ptr_array_add (pci, NULL);
  g_ptr_array_add (vms, NULL);
  args->pci = (GStrv) g_ptr_array_free (g_steal_pointer (&pci), FALSE);
  args->vms = (GStrv) g_ptr_array_free (g_steal_pointer (&vms), FALSE);
  if (row->arguments == ARGS_TARGET && args->vms[0])
    args->vm = g_strdup (args->vms[0]);
  return TRUE;
}

/* The arguments after the command's words, as its row says. */
static gboolean
take_arguments (VmctlArgs *args, const CommandRow *row, GPtrArray *rest, GError **error)
{
  g_autofree char *display = command_display_name (row);

  if (row->arguments == ARGS_FILES)
    {
      if (rest->len > 0)
        {
          args->files = g_new0 (char *, rest->len + 1);
          for (guint i = 0; i < rest->len; i++)
            args->files[i] = g_strdup (rest->pdata[i]);
        }
      return TRUE;
    }
  if (row->arguments == ARGS_PORT || row->arguments == ARGS_PORT_VM || row->arguments == ARGS_PORT_VM_OR_HOST)
    return take_port_arguments (args, row, rest, error);
  if (row->arguments == ARGS_VM_BUTTON)
    return take_button_arguments (args, rest, error);
  if (row->arguments == ARGS_TARGETS || row->arguments == ARGS_TARGET)
    return take_target_arguments (args, row, rest, error);
  if (rest->len > 1 || (rest->len == 1 && row->arguments == ARGS_NONE))
    {
      g_autofree char *shown = vmctl_escape (rest->pdata[rest->len - 1], VMCTL_ESCAPE_ALL);
      return usage_error (error, "unexpected argument '%s'", shown);
    }
  if (rest->len == 1)
    args->vm = g_strdup (rest->pdata[0]);
  if (row->arguments == ARGS_VM && args->vm == NULL)
    return usage_error (error, "%s needs a VM name", display);
  return args->vm == NULL || validate_vm (args->vm, NULL, error);
}

static gboolean
take_explain_options (VmctlArgs *args, Split *split, GError **error)
{
  g_autofree char *running = take_value (split, OPT_RUNNING);
  g_autofree char *no_auto = take_value (split, OPT_NO_AUTO_ASSIGN);

  args->device = take_value (split, OPT_DEVICE);
  args->device_json = take_value (split, OPT_DEVICE_JSON);
  args->on_screen = take_value (split, OPT_ON_SCREEN);
  if ((args->device == NULL) == (args->device_json == NULL))
    return usage_error (error, "policy explain takes one of --device SYSFS_PATH or --device-json FILE");
  if (args->on_screen && !validate_vm (args->on_screen, "--on-screen", error))
    return FALSE;
  if (running && (args->running = parse_vm_list ("--running", running, error)) == NULL)
    return FALSE;
  if (no_auto && (args->no_auto_assign = parse_vm_list ("--no-auto-assign", no_auto, error)) == NULL)
    return FALSE;
  if (split->rules->len > 0)
    {
      g_ptr_array_add (split->rules, NULL);
      args->files = (GStrv) g_ptr_array_free (g_steal_pointer (&split->rules), FALSE);
    }
  return TRUE;
}

static gboolean
parse_split (VmctlArgs *args, Split *split, GError **error)
{
  g_autoptr(GPtrArray) rest = g_ptr_array_new ();
  g_autofree char *display = NULL;
  const CommandRow *row;
  guint n_words = 0;

  if (split->help)
    {
      args->command = VMCTL_CMD_HELP;
      return TRUE;
    }
  if (split->words->len == 0)
    return usage_error (error, "no command given");
  if ((row = find_command (split->words, &n_words)) == NULL)
    return unknown_command_error (split->words, error);
  args->command = row->command;
  /* `help` ignores the rest, so `vmdeskctl help list` shows help. */
  if (row->command == VMCTL_CMD_HELP)
    return TRUE;

  display = command_display_name (row);
  for (Option o = OPT_JSON; o <= OPT_LAST; o <<= 1)
    if ((split->seen & o) && !(row->options & o))
      return usage_error (error, "%s does not take %s", display, option_name (o));
  for (guint i = n_words; i < split->words->len; i++)
    g_ptr_array_add (rest, split->words->pdata[i]);
  if (!take_arguments (args, row, rest, error))
    return FALSE;
  g_ptr_array_add (rest, NULL);
  args->words = g_strdupv ((char **) rest->pdata);
  args->json = (split->seen & OPT_JSON) != 0;
  args->host = (split->seen & OPT_HOST) != 0;
  args->dry_run = (split->seen & OPT_DRY_RUN) != 0;
  args->yes = (split->seen & OPT_YES) != 0;
  args->remember = (split->seen & OPT_REMEMBER) != 0;
  args->single_gpu = (split->seen & OPT_SINGLE_GPU) != 0;

  if (args->command == VMCTL_CMD_SWITCH && args->host == (args->vm != NULL))
    return usage_error (error, "switch takes a VM name or --host");
  if (args->command == VMCTL_CMD_USB_ANSWER && args->host == (args->vm != NULL))
    return usage_error (error, "usb answer takes a port, then a VM name or --host");
  if (args->single_gpu && args->vm)
    return usage_error (error, "--single-gpu is for a PCI address: a VM's settings say whether "
                        "it may take the host's only display");
  if (args->command == VMCTL_CMD_POLICY_EXPLAIN)
    return take_explain_options (args, split, error);
  return TRUE;
}

VmctlArgs *
vmctl_args_parse (int argc, const char *const *argv, GError **error)
{
  g_autoptr(VmctlArgs) args = g_new0 (VmctlArgs, 1);
  Split split = { g_ptr_array_new (), 0, FALSE, { NULL }, g_ptr_array_new_with_free_func (g_free) };
  gboolean ok = split_argv (argc, argv, &split, error) && parse_split (args, &split, error);

  split_clear (&split);
  return ok ? g_steal_pointer (&args) : NULL;
}
