/* vmdeskctl.c: main(): parse the command line, run one command, exit with its code
 * (the codes are listed in vmdeskctl-error.h and docs/vmdeskctl.md). */
#include "vmdeskctl-args.h"
#include "vmdeskctl-commands.h"
#include "vmdeskctl-output.h"

int
main (int argc, char **argv)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmctlArgs) args = vmctl_args_parse (argc, (const char *const *) argv, &error);

  /* The command line was not understood, so neither was --json: the error is text only. */
  if (args == NULL)
    return vmctl_report_error (error, FALSE);

  switch (args->command)
    {
    case VMCTL_CMD_HELP:
      vmctl_write (stdout, vmctl_usage ());
      return 0;
    case VMCTL_CMD_LIST:
      return vmctl_cmd_list (args);
    case VMCTL_CMD_STATUS:
      return vmctl_cmd_status (args);
    case VMCTL_CMD_SWITCH:
      return vmctl_cmd_switch (args);
    case VMCTL_CMD_VERSION:
      return vmctl_cmd_version (args);
    case VMCTL_CMD_SETUP:
      return vmctl_cmd_setup (args);
    case VMCTL_CMD_POLICY_CHECK:
      return vmctl_cmd_policy_check (args);
    case VMCTL_CMD_POLICY_EXPLAIN:
      return vmctl_cmd_policy_explain (args);
    case VMCTL_CMD_POLICY_SHOW:
      return vmctl_cmd_policy_show (args);
    case VMCTL_CMD_POLICY_RELOAD:
      return vmctl_cmd_policy_reload (args);
    case VMCTL_CMD_USB_LIST:
      return vmctl_cmd_usb_list (args);
    case VMCTL_CMD_USB_ATTACH:
      return vmctl_cmd_usb_attach (args);
    case VMCTL_CMD_USB_DETACH:
      return vmctl_cmd_usb_detach (args);
    case VMCTL_CMD_USB_FORGET:
      return vmctl_cmd_usb_forget (args);
    case VMCTL_CMD_USB_ANSWER:
      return vmctl_cmd_usb_answer (args);
    case VMCTL_CMD_POWER:
      return vmctl_cmd_power (args);
    case VMCTL_CMD_POWER_BUTTON:
      return vmctl_cmd_power_button (args);
    case VMCTL_CMD_START:
      return vmctl_cmd_start (args);
    case VMCTL_CMD_PASSTHROUGH_LIST:
      return vmctl_cmd_passthrough_list (args);
    case VMCTL_CMD_PASSTHROUGH_CHECK:
      return vmctl_cmd_passthrough_check (args);
    case VMCTL_CMD_PASSTHROUGH_PLAN:
      return vmctl_cmd_passthrough_plan (args);
    }
  g_assert_not_reached ();
}
