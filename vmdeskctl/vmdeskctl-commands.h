/* vmdeskctl-commands.h: one function per command (cmd-*.c). Each prints its result, reports
 * its own errors (vmctl_report_error) and returns the exit code. */
#pragma once

#include "vmdeskctl-args.h"

G_BEGIN_DECLS

int vmctl_cmd_list (const VmctlArgs *args);
int vmctl_cmd_status (const VmctlArgs *args);
int vmctl_cmd_switch (const VmctlArgs *args);
int vmctl_cmd_version (const VmctlArgs *args);
int vmctl_cmd_setup (const VmctlArgs *args);
int vmctl_cmd_policy_check (const VmctlArgs *args);
int vmctl_cmd_policy_explain (const VmctlArgs *args);
int vmctl_cmd_policy_show (const VmctlArgs *args);
int vmctl_cmd_policy_reload (const VmctlArgs *args);
int vmctl_cmd_usb_list (const VmctlArgs *args);
int vmctl_cmd_usb_attach (const VmctlArgs *args);
int vmctl_cmd_usb_detach (const VmctlArgs *args);
int vmctl_cmd_usb_forget (const VmctlArgs *args);
int vmctl_cmd_usb_answer (const VmctlArgs *args);
int vmctl_cmd_power (const VmctlArgs *args);
int vmctl_cmd_power_button (const VmctlArgs *args);
int vmctl_cmd_start (const VmctlArgs *args);
int vmctl_cmd_passthrough_list (const VmctlArgs *args);
int vmctl_cmd_passthrough_check (const VmctlArgs *args);
int vmctl_cmd_passthrough_plan (const VmctlArgs *args);

/* setup's confirmation: "y" or "yes" in any case, surrounding blanks ignored. */
gboolean vmctl_answer_is_yes (const char *line);

G_END_DECLS
