/* vfio-cli-args.c: a small hand-written parser, as in vmdeskctl: each command takes its own
 * few options, which GOptionContext cannot express. */
#include "vfio-cli.h"

#include <string.h>

G_DEFINE_QUARK (vfio-cli-error-quark, vfio_cli_error)

typedef enum {
  OPT_JSON       = 1 << 0,
  OPT_FORCE      = 1 << 1,
  OPT_SINGLE_GPU = 1 << 2,
  OPT_WATCHDOG   = 1 << 3,
  OPT_STATE_DIR  = 1 << 4,
} Option;

typedef enum {
  BDF_NONE,
  BDF_ONE,
  BDF_ANY,
} BdfArg;

static const struct {
  const char *name;
  VfioCommand command;
  Option      options;
  BdfArg      bdfs;
} commands[] = {
  { "help",     VFIO_CMD_HELP,     0, BDF_NONE },
  { "check",    VFIO_CMD_CHECK,    OPT_JSON, BDF_ANY },
  { "plan",     VFIO_CMD_PLAN,     OPT_JSON | OPT_FORCE | OPT_SINGLE_GPU, BDF_ONE },
  { "bind",     VFIO_CMD_BIND,     OPT_JSON | OPT_FORCE | OPT_SINGLE_GPU | OPT_WATCHDOG
                                   | OPT_STATE_DIR, BDF_ONE },
  { "release",  VFIO_CMD_RELEASE,  OPT_JSON | OPT_FORCE | OPT_STATE_DIR, BDF_ONE },
  { "recover",  VFIO_CMD_RECOVER,  OPT_JSON | OPT_STATE_DIR, BDF_NONE },
  { "confirm",  VFIO_CMD_CONFIRM,  OPT_JSON | OPT_STATE_DIR, BDF_ONE },
  { "watchdog", VFIO_CMD_WATCHDOG, OPT_JSON | OPT_STATE_DIR, BDF_ONE },
  { "hostdev",  VFIO_CMD_HOSTDEV,  0, BDF_ONE },
};

static const struct {
  const char *name;
  Option      option;
  gboolean    takes_value;
} options[] = {
  { "--json",       OPT_JSON,       FALSE },
  { "--force",      OPT_FORCE,      FALSE },
  { "--single-gpu", OPT_SINGLE_GPU, FALSE },
  { "--watchdog",   OPT_WATCHDOG,   TRUE },
  { "--state-dir",  OPT_STATE_DIR,  TRUE },
};

static const char usage[] =
  "Usage: vmdesk-vfio COMMAND [OPTIONS]\n"
  "\n"
  "Commands:\n"
  "  check [BDF...] [--json]          pre-flight report (every GPU when no BDF is given)\n"
  "  plan BDF [--single-gpu] [--force] [--json]\n"
  "                                   what bind would do and what the host would lose\n"
  "  bind BDF [--single-gpu [--watchdog SECONDS]] [--force] [--state-dir DIR] [--json]\n"
  "                                   move the device's functions to vfio-pci, journaled;\n"
  "                                   any failure rolls everything back\n"
  "  release BDF [--force] [--state-dir DIR] [--json]\n"
  "                                   give it back to its original drivers\n"
  "  recover [--state-dir DIR] [--json]\n"
  "                                   finish or roll back what a crash interrupted\n"
  "  confirm BDF [--state-dir DIR] [--json]\n"
  "                                   the VM started: disarm a hand-over's watchdog\n"
  "  watchdog BDF [--state-dir DIR] [--json]\n"
  "                                   wait for confirm; at the deadline give the display back\n"
  "  hostdev BDF                      libvirt <hostdev managed='no'> elements for it\n"
  "  help                             this text\n"
  "\n"
  "BDF: a PCI address such as 0000:01:00.0. DIR defaults to " VFIO_DEFAULT_STATE_DIR ".\n"
  "--single-gpu allows handing over the host's only display: graphical sessions are ended\n"
  "through logind, the console and framebuffer unbound; release gives them back.\n"
  "\n"
  "Exit status: 0 ok, 1 failed (rolled back), 2 usage, 3 check warnings, 4 check failures,\n"
  "5 refused, 6 not found, 7 inconsistent (run recover), 8 busy. See docs/vfio.md.\n";

const char *
vfio_usage (void)
{
  return usage;
}

void
vfio_args_free (VfioArgs *args)
{
  if (args == NULL)
    return;
  g_clear_pointer (&args->bdfs, g_ptr_array_unref);
  g_free (args->state_dir);
  g_free (args);
}

G_GNUC_PRINTF (2, 3) static gpointer
usage_error (GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, VFIO_CLI_ERROR, VFIO_EXIT_USAGE, "%s (see 'vmdesk-vfio help')", message);
  return NULL;
}

static int
lookup_option (const char *arg, gsize len)
{
  for (guint i = 0; i < G_N_ELEMENTS (options); i++)
    if (strlen (options[i].name) == len && strncmp (arg, options[i].name, len) == 0)
      return (int) i;
  return -1;
}

static char *
shown (const char *arg)
{
  return g_strescape (arg, NULL);
}

VfioArgs *
vfio_args_parse (int argc, const char *const *argv, GError **error)
{
  g_autoptr(VfioArgs) args = g_new0 (VfioArgs, 1);
  g_autoptr(GPtrArray) words = g_ptr_array_new ();
  const char *watchdog = NULL;
  gboolean only_words = FALSE;
  Option seen = 0;
  guint c;

  args->bdfs = g_ptr_array_new_with_free_func (g_free);
  for (int i = 1; i < argc; i++)
    {
      const char *arg = argv[i];
      const char *eq;
      const char *value = NULL;
      int o;

      if (only_words || arg[0] != '-' || arg[1] == '\0')
        {
          g_ptr_array_add (words, (gpointer) arg);
          continue;
        }
      if (g_str_equal (arg, "--"))
        {
          only_words = TRUE;
          continue;
        }
      if (g_str_equal (arg, "--help") || g_str_equal (arg, "-h"))
        {
          g_ptr_array_insert (words, 0, (gpointer) "help");
          continue;
        }
      eq = strchr (arg, '=');
      o = lookup_option (arg, eq ? (gsize) (eq - arg) : strlen (arg));
      if (o < 0)
        {
          g_autofree char *s = shown (arg);
          return usage_error (error, "unknown option '%s'", s);
        }
      if (options[o].takes_value)
        {
          if (eq)
            value = eq + 1;
          else if (i + 1 < argc)
            value = argv[++i];
          else
            return usage_error (error, "%s needs a value", options[o].name);
        }
      else if (eq)
        return usage_error (error, "%s takes no value", options[o].name);
      seen |= options[o].option;
      if (options[o].option == OPT_WATCHDOG)
        watchdog = value;
      else if (options[o].option == OPT_STATE_DIR)
        {
          if (*value == '\0')
            return usage_error (error, "--state-dir needs a directory");
          g_free (args->state_dir);
          args->state_dir = g_strdup (value);
        }
    }
  if (words->len == 0)
    return usage_error (error, "no command given");
  for (c = 0; c < G_N_ELEMENTS (commands); c++)
    if (g_str_equal (words->pdata[0], commands[c].name))
      break;
  if (c == G_N_ELEMENTS (commands))
    {
      g_autofree char *s = shown (words->pdata[0]);
      return usage_error (error, "unknown command '%s'", s);
    }
  args->command = commands[c].command;
  if (args->command == VFIO_CMD_HELP)
    return g_steal_pointer (&args);
  for (guint o = 0; o < G_N_ELEMENTS (options); o++)
    if ((seen & options[o].option) && !(commands[c].options & options[o].option))
      return usage_error (error, "%s does not take %s", commands[c].name, options[o].name);

  for (guint i = 1; i < words->len; i++)
    g_ptr_array_add (args->bdfs, g_strdup (words->pdata[i]));
  if (commands[c].bdfs == BDF_NONE && args->bdfs->len > 0)
    {
      g_autofree char *s = shown (args->bdfs->pdata[0]);
      return usage_error (error, "%s takes no argument, got '%s'", commands[c].name, s);
    }
  if (commands[c].bdfs == BDF_ONE && args->bdfs->len != 1)
    return usage_error (error, "%s needs exactly one PCI address", commands[c].name);

  args->json = (seen & OPT_JSON) != 0;
  args->force = (seen & OPT_FORCE) != 0;
  args->single_gpu = (seen & OPT_SINGLE_GPU) != 0;
  if (watchdog)
    {
      guint64 seconds;
      if (!args->single_gpu)
        return usage_error (error, "--watchdog needs --single-gpu");
      if (!g_ascii_string_to_unsigned (watchdog, 10, 1, 86400, &seconds, NULL))
        {
          g_autofree char *s = shown (watchdog);
          return usage_error (error, "--watchdog takes 1 to 86400 seconds, not '%s'", s);
        }
      args->watchdog = (guint) seconds;
    }
  if (args->state_dir == NULL)
    args->state_dir = g_strdup (VFIO_DEFAULT_STATE_DIR);
  return g_steal_pointer (&args);
}
