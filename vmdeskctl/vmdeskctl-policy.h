/* vmdeskctl-policy.h: the USB policy as `vmdeskctl policy check|explain` load it: from the
 * files, without the daemon. */
#pragma once

#include "vmdesk-policy.h"

G_BEGIN_DECLS

/* Where usb.rules and usb.rules.d/ are: $VMDESK_SYSCONFDIR, else the build's sysconfdir. */
const char *vmctl_policy_config_dir (void);

/* `files` when there are any (each must exist), else the configured set (absent files are
 * fine). *files_read lists what was read, also when loading fails. */
VmdPolicy  *vmctl_policy_load (const char *const *files, GStrv *files_read, GError **error);

/* A policy error has one line per problem: each goes to stderr on its own line, escaped.
 * Returns how many lines. */
guint       vmctl_print_policy_errors (const GError *error);

/* The lines as above; with `json` the {"error": ...} object goes to stdout. Returns the
 * exit code. */
int         vmctl_report_policy_error (const GError *error, gboolean json);

G_END_DECLS
