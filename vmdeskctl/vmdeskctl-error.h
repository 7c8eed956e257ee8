/* vmdeskctl-error.h: how vmdeskctl fails. Every failure ends as one of these exit codes,
 * so scripts can tell "the daemon is not running" from "no such VM" without parsing text.
 *
 *   0  VMCTL_EXIT_OK               success
 *   1  VMCTL_EXIT_FAILURE          anything not listed below (libvirt refused, daemon error, ...)
 *   2  VMCTL_EXIT_USAGE            bad command line, including a malformed VM name
 *   3  VMCTL_EXIT_DAEMON_ABSENT    vmdeskd is not running, or the system bus is unreachable
 *   4  VMCTL_EXIT_NOT_AUTHORIZED   polkit (or the bus policy) refused the call
 *   5  VMCTL_EXIT_UNKNOWN_VM       no VM by that name
 *   6  VMCTL_EXIT_NOT_RUNNING      the VM must be running for this (e.g. switch)
 *   7  VMCTL_EXIT_NOT_CONNECTED    vmdeskd is not connected to libvirt right now
 *   8  VMCTL_EXIT_UNKNOWN_DEVICE   no USB device at that port, no PCI device at that address
 *   9  VMCTL_EXIT_PASSTHROUGH_WARN passthrough check: the worst finding is a warning
 *  10  VMCTL_EXIT_PASSTHROUGH_REFUSED  pass-through would be refused: passthrough check
 *                                  found a failing finding, passthrough plan a refusal, start a refusal
 *
 * docs/vmdeskctl.md carries the same table; keep the two in step. */
#pragma once

#include <gio/gio.h>

G_BEGIN_DECLS

typedef enum {
  VMCTL_EXIT_OK             = 0,
  VMCTL_EXIT_FAILURE        = 1,
  VMCTL_EXIT_USAGE          = 2,
  VMCTL_EXIT_DAEMON_ABSENT  = 3,
  VMCTL_EXIT_NOT_AUTHORIZED = 4,
  VMCTL_EXIT_UNKNOWN_VM     = 5,
  VMCTL_EXIT_NOT_RUNNING    = 6,
  VMCTL_EXIT_NOT_CONNECTED  = 7,
  VMCTL_EXIT_UNKNOWN_DEVICE = 8,
  VMCTL_EXIT_PASSTHROUGH_WARN    = 9,
  VMCTL_EXIT_PASSTHROUGH_REFUSED = 10,
} VmctlExit;

/* vmdeskctl's own errors (bad usage, no bus, ...); the code is the exit code. */
#define VMCTL_ERROR (vmctl_error_quark ())
GQuark vmctl_error_quark (void);

/* The exit code for an error as GDBus delivers it (mapped to VMD_ERROR or G_DBUS_ERROR when
 * the D-Bus name is registered, G_IO_ERROR_DBUS_ERROR with a remote name otherwise) or as
 * vmdeskctl raises it. */
VmctlExit vmctl_exit_code_for_error (const GError *error);

/* The D-Bus error name behind `error`, or NULL for a purely local error. */
char *vmctl_error_dbus_name (const GError *error);

/* One line for the user (without the "vmdeskctl: " prefix): the remote-error decoration
 * stripped, control characters escaped, context added where the raw message lacks it. */
char *vmctl_error_describe (const GError *error);

G_END_DECLS
