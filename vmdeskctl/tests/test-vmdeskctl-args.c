/* The command line: what parses, what is a usage error (exit 2) before any bus call. */
#include "vmdeskctl-args.h"

#include "vmdeskctl-commands.h"
#include "vmdeskctl-diff.h"
#include "vmdeskctl-error.h"

#include <string.h>

static VmctlArgs *
parse (const char *first, ...)
{
  g_autoptr(GPtrArray) argv = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;
  VmctlArgs *args;
  va_list ap;

  g_ptr_array_add (argv, (gpointer) "vmdeskctl");
  va_start (ap, first);
  for (const char *a = first; a; a = va_arg (ap, const char *))
    g_ptr_array_add (argv, (gpointer) a);
  va_end (ap);
  args = vmctl_args_parse (argv->len, (const char *const *) argv->pdata, &error);
  if (args == NULL)
    {
      g_assert_error (error, VMCTL_ERROR, VMCTL_EXIT_USAGE);
      g_assert_cmpint (vmctl_exit_code_for_error (error), ==, 2);
      g_assert_null (strchr (error->message, '\n'));
    }
  else
    g_assert_no_error (error);
  return args;
}

static void
test_valid (void)
{
  g_autoptr(VmctlArgs) list = parse ("list", NULL);
  g_autoptr(VmctlArgs) list_json = parse ("--json", "list", NULL);
  g_autoptr(VmctlArgs) status = parse ("status", NULL);
  g_autoptr(VmctlArgs) status_vm = parse ("status", "work", "--json", NULL);
  g_autoptr(VmctlArgs) host = parse ("switch", "--host", NULL);
  g_autoptr(VmctlArgs) sw = parse ("switch", "win 11 \xc3\xbc", NULL);
  g_autoptr(VmctlArgs) dash = parse ("switch", "--", "-odd", NULL);
  g_autoptr(VmctlArgs) setup = parse ("setup", "work", "--dry-run", "-y", NULL);
  g_autoptr(VmctlArgs) version = parse ("--version", NULL);

  g_assert_cmpint (list->command, ==, VMCTL_CMD_LIST);
  g_assert_false (list->json);
  g_assert_true (list_json->json);
  g_assert_cmpint (status->command, ==, VMCTL_CMD_STATUS);
  g_assert_null (status->vm);
  g_assert_cmpstr (status_vm->vm, ==, "work");
  g_assert_true (status_vm->json);
  g_assert_true (host->host);
  g_assert_null (host->vm);
  g_assert_cmpstr (sw->vm, ==, "win 11 \xc3\xbc");
  g_assert_cmpstr (dash->vm, ==, "-odd");
  g_assert_cmpint (setup->command, ==, VMCTL_CMD_SETUP);
  g_assert_true (setup->dry_run);
  g_assert_true (setup->yes);
  g_assert_cmpint (version->command, ==, VMCTL_CMD_VERSION);
}

static void
test_help (void)
{
  const char *const forms[][2] = { { "help", NULL }, { "--help", NULL }, { "-h", NULL },
                                   { "list", "--help" }, { "help", "list" } };

  for (guint i = 0; i < G_N_ELEMENTS (forms); i++)
    {
      g_autoptr(VmctlArgs) args = parse (forms[i][0], forms[i][1], NULL);
      g_assert_nonnull (args);
      g_assert_cmpint (args->command, ==, VMCTL_CMD_HELP);
    }
  g_assert_nonnull (strstr (vmctl_usage (), "switch --host"));
}

static void
test_usage_errors (void)
{
  const char *const bad[][4] = {
    { NULL },                             /* no command */
    { "frobnicate" },                     /* unknown command */
    { "list", "--bogus" },                /* unknown option */
    { "list", "--dry-run" },              /* option of another command */
    { "list", "extra" },
    { "version", "x" },
    { "switch" },                         /* missing VM */
    { "switch", "--host", "work" },       /* both */
    { "setup" },
    { "setup", "--yes" },
    { "status", "a", "b" },
    { "status", "a/b" },                  /* bad VM names, refused locally */
    { "switch", "a/b" },
    { "setup", "bad\nname" },
    { "status", "\xff\xfe" },
    { "status", "" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    g_assert_null (parse (bad[i][0], bad[i][1], bad[i][2], bad[i][3], NULL));
}

static void
test_policy_commands (void)
{
  g_autoptr(VmctlArgs) check = parse ("policy", "check", NULL);
  g_autoptr(VmctlArgs) check_files = parse ("policy", "check", "a.rules", "--json", "b.rules", NULL);
  g_autoptr(VmctlArgs) check_dash = parse ("policy", "check", "--", "-odd.rules", NULL);
  g_autoptr(VmctlArgs) explain = parse ("policy", "explain", "--device", "/sys/bus/usb/devices/1-2",
                                        "--rules", "a.rules", "b.rules", "--on-screen", "work",
                                        "--running", "work,personal", "--no-auto-assign", "lab",
                                        "--json", NULL);
  g_autoptr(VmctlArgs) inline_values = parse ("policy", "explain", "--device-json=d.json",
                                              "--rules=a.rules", "--rules", "b.rules",
                                              "--on-screen=-odd", NULL);
  /* Before the command is known, a list option takes one value: the words are the command. */
  g_autoptr(VmctlArgs) early = parse ("--rules", "a.rules", "policy", "explain", "--device", "x", NULL);

  g_assert_cmpint (check->command, ==, VMCTL_CMD_POLICY_CHECK);
  g_assert_null (check->files);
  g_assert_cmpstrv (check_files->files, ((const char *const[]) { "a.rules", "b.rules", NULL }));
  g_assert_true (check_files->json);
  g_assert_cmpstrv (check_dash->files, ((const char *const[]) { "-odd.rules", NULL }));
  g_assert_cmpint (explain->command, ==, VMCTL_CMD_POLICY_EXPLAIN);
  g_assert_cmpstr (explain->device, ==, "/sys/bus/usb/devices/1-2");
  g_assert_null (explain->device_json);
  g_assert_cmpstrv (explain->files, ((const char *const[]) { "a.rules", "b.rules", NULL }));
  g_assert_cmpstr (explain->on_screen, ==, "work");
  g_assert_cmpstrv (explain->running, ((const char *const[]) { "work", "personal", NULL }));
  g_assert_cmpstrv (explain->no_auto_assign, ((const char *const[]) { "lab", NULL }));
  g_assert_true (explain->json);
  g_assert_cmpstr (inline_values->device_json, ==, "d.json");
  g_assert_cmpstrv (inline_values->files, ((const char *const[]) { "a.rules", "b.rules", NULL }));
  g_assert_cmpstr (inline_values->on_screen, ==, "-odd");
  g_assert_cmpint (early->command, ==, VMCTL_CMD_POLICY_EXPLAIN);
  g_assert_cmpstrv (early->files, ((const char *const[]) { "a.rules", NULL }));
}

static void
test_policy_usage_errors (void)
{
  const char *const bad[][6] = {
    { "policy" },                                          /* no subcommand */
    { "policy", "frob" },
    { "policy", "explain" },                               /* no device */
    { "policy", "explain", "--device", "a", "--device-json", "b" },
    { "policy", "explain", "--device" },                   /* no value */
    { "policy", "explain", "--device", "a", "--device", "b" },
    { "policy", "explain", "--device", "a", "extra" },
    { "policy", "explain", "--device", "a", "--running", "a,,b" },
    { "policy", "explain", "--device", "a", "--on-screen", "bad/name" },
    { "policy", "explain", "--device", "a", "--no-auto-assign", "" },
    { "policy", "check", "--device", "x" },                /* option of another command */
    { "list", "--rules", "x" },
    { "list", "--json=yes" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("case %u", i);
      g_assert_null (parse (bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5], NULL));
    }
}

/* `power` is a command and a group: `power button` must not read "button" as an argument. */
static void
test_power_commands (void)
{
  g_autoptr(VmctlArgs) power = parse ("power", NULL);
  g_autoptr(VmctlArgs) power_json = parse ("--json", "power", NULL);
  g_autoptr(VmctlArgs) press = parse ("power", "button", "win 11 \xc3\xbc", "power", NULL);
  g_autoptr(VmctlArgs) press_sleep = parse ("power", "button", "--json", "--", "-odd", "sleep", NULL);
  const char *const bad[][5] = {
    { "power", "extra" },
    { "power", "--yes" },
    { "power", "button" },                             /* no VM */
    { "power", "button", "work" },                     /* no button */
    { "power", "button", "work", "eject" },            /* not a button */
    { "power", "button", "work", "Power" },
    { "power", "button", "work", "power", "sleep" },   /* one press per call */
    { "power", "button", "a/b", "power" },             /* bad VM name, refused locally */
    { "power", "button", "work", "power\n" },
    { "power", "button", "--host", "power" },
  };

  g_assert_cmpint (power->command, ==, VMCTL_CMD_POWER);
  g_assert_null (power->vm);
  g_assert_false (power->json);
  g_assert_true (power_json->json);
  g_assert_cmpint (press->command, ==, VMCTL_CMD_POWER_BUTTON);
  g_assert_cmpstr (press->vm, ==, "win 11 \xc3\xbc");
  g_assert_cmpstr (press->button, ==, "power");
  g_assert_cmpstr (press_sleep->vm, ==, "-odd");
  g_assert_cmpstr (press_sleep->button, ==, "sleep");
  g_assert_true (press_sleep->json);
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("case %u", i);
      g_assert_null (parse (bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], NULL));
    }
  g_assert_nonnull (strstr (vmctl_usage (), "power button VM (power | sleep)"));
}

/* A word that is a PCI address is one (canonical form); any other must be a VM name. */
static void
test_passthrough_commands (void)
{
  g_autoptr(VmctlArgs) list = parse ("passthrough", "list", "--json", NULL);
  g_autoptr(VmctlArgs) all = parse ("passthrough", "check", NULL);
  g_autoptr(VmctlArgs) mixed = parse ("passthrough", "check", "01:00.0", "gpu", "0000:0A:1f.7",
                                      "--", "-odd", NULL);
  g_autoptr(VmctlArgs) plan_vm = parse ("passthrough", "plan", "gpu", NULL);
  g_autoptr(VmctlArgs) plan_pci = parse ("passthrough", "plan", "--single-gpu", "0000:01:00.0", NULL);
  g_autoptr(VmctlArgs) start = parse ("start", "win 11", "--json", NULL);
  const char *const bad[][5] = {
    { "passthrough" },                                   /* no subcommand */
    { "passthrough", "bind", "0000:01:00.0" },           /* vmdeskctl changes nothing here */
    { "passthrough", "list", "gpu" },
    { "passthrough", "check", "a/b" },                   /* neither a PCI address nor a name */
    { "passthrough", "check", "ok", "bad\nname" },
    { "passthrough", "check", "--single-gpu" },
    { "passthrough", "plan" },                           /* one device or VM */
    { "passthrough", "plan", "gpu", "0000:01:00.0" },
    { "passthrough", "plan", "gpu", "--single-gpu" },    /* a VM's settings decide that */
    { "start" },
    { "start", "a", "b" },
    { "start", "--single-gpu", "a" },
  };

  g_assert_cmpint (list->command, ==, VMCTL_CMD_PASSTHROUGH_LIST);
  g_assert_true (list->json);
  g_assert_cmpint (all->command, ==, VMCTL_CMD_PASSTHROUGH_CHECK);
  g_assert_cmpstrv (all->pci, ((const char *const[]) { NULL }));
  g_assert_cmpstrv (all->vms, ((const char *const[]) { NULL }));
  g_assert_cmpstrv (mixed->pci, ((const char *const[]) { "0000:01:00.0", "0000:0a:1f.7", NULL }));
  g_assert_cmpstrv (mixed->vms, ((const char *const[]) { "gpu", "-odd", NULL }));
  g_assert_cmpint (plan_vm->command, ==, VMCTL_CMD_PASSTHROUGH_PLAN);
  g_assert_cmpstr (plan_vm->vm, ==, "gpu");
  g_assert_false (plan_vm->single_gpu);
  g_assert_null (plan_pci->vm);
  g_assert_cmpstrv (plan_pci->pci, ((const char *const[]) { "0000:01:00.0", NULL }));
  g_assert_true (plan_pci->single_gpu);
  g_assert_cmpint (start->command, ==, VMCTL_CMD_START);
  g_assert_cmpstr (start->vm, ==, "win 11");
  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_test_message ("case %u", i);
      g_assert_null (parse (bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], NULL));
    }
  g_assert_nonnull (strstr (vmctl_usage (), "passthrough plan (VM | PCI [--single-gpu])"));
}

static void
test_escaped_in_message (void)
{
  const char *argv[] = { "vmdeskctl", "\x1b[2Jevil" };
  g_autoptr(GError) error = NULL;

  g_assert_null (vmctl_args_parse (2, argv, &error));
  g_assert_cmpstr (error->message, ==, "unknown command '\\x1b[2Jevil' (see 'vmdeskctl help')");
}

static void
test_answer (void)
{
  g_assert_true (vmctl_answer_is_yes ("y\n"));
  g_assert_true (vmctl_answer_is_yes (" YES \n"));
  g_assert_true (vmctl_answer_is_yes ("Yes"));
  g_assert_false (vmctl_answer_is_yes (""));
  g_assert_false (vmctl_answer_is_yes ("\n"));
  g_assert_false (vmctl_answer_is_yes ("n\n"));
  g_assert_false (vmctl_answer_is_yes ("yess\n"));
}

static void
test_diff (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *same = vmctl_diff ("<a/>\n", "<a/>\n", "x (current)", "x (after setup)", &error);
  g_autofree char *diff = NULL;

  g_assert_no_error (error);
  g_assert_cmpstr (same, ==, "");
  diff = vmctl_diff ("<a>\n  <b/>\n</a>\n", "<a>\n  <c/>\n</a>\n",
                     "x (current)", "x (after setup)", &error);
  g_assert_no_error (error);
  g_assert_true (g_str_has_prefix (diff, "--- x (current)\n+++ x (after setup)\n"));
  g_assert_nonnull (strstr (diff, "\n-  <b/>\n+  <c/>\n"));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vmdeskctl/args/valid", test_valid);
  g_test_add_func ("/vmdeskctl/args/help", test_help);
  g_test_add_func ("/vmdeskctl/args/usage-errors", test_usage_errors);
  g_test_add_func ("/vmdeskctl/args/policy-commands", test_policy_commands);
  g_test_add_func ("/vmdeskctl/args/policy-usage-errors", test_policy_usage_errors);
  g_test_add_func ("/vmdeskctl/args/power-commands", test_power_commands);
  g_test_add_func ("/vmdeskctl/args/passthrough-commands", test_passthrough_commands);
  g_test_add_func ("/vmdeskctl/args/escaped-in-message", test_escaped_in_message);
  g_test_add_func ("/vmdeskctl/args/answer", test_answer);
  g_test_add_func ("/vmdeskctl/args/diff", test_diff);
  return g_test_run ();
}
