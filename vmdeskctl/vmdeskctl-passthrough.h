/* vmdeskctl-passthrough.h: `vmdeskctl passthrough` output. The documents come from vmdeskd
 * (vfio-helper's JSON, docs/vfio.md) and quote sysfs, which is untrusted: every string is
 * escaped for the terminal, and a member that is missing or of the wrong type shows as "?"
 * instead of failing. */
#pragma once

#include "vmdeskctl-error.h"

#include <json-glib/json-glib.h>

G_BEGIN_DECLS

/* The daemon's JSON text as a node holding an object; `what` names it in the error. */
JsonNode *vmctl_passthrough_parse (const char *text, const char *what, GError **error);

/* A check report for people: the host's findings, then each device's (severity, id,
 * message, and the fix of each that is not ok), then the worst severity. */
char     *vmctl_passthrough_check_text (JsonNode *report);
/* 0 when every finding is ok, VMCTL_EXIT_PASSTHROUGH_WARN when the worst is a warning,
 * VMCTL_EXIT_PASSTHROUGH_REFUSED when one fails (as `worst` says, else the findings). */
VmctlExit vmctl_passthrough_check_exit (JsonNode *report);

/* One plan for people: functions, steps, what the host loses, sessions, refusals and
 * their fixes, and whether StartVM would bind it. */
char     *vmctl_passthrough_plan_text (JsonNode *plan);
gboolean  vmctl_passthrough_plan_allowed (JsonNode *plan);
/* The PCI functions a plan moves (its functions' bdf members); never NULL. */
GStrv     vmctl_passthrough_plan_functions (JsonNode *plan);

/* ListPassthrough's records (aa{sv}) as a table: device, VM, state, functions, then an
 * `error:` line for each failed give-back; "no pass-through devices held\n" when empty. */
char     *vmctl_passthrough_table (GVariant *held);

G_END_DECLS
