/* vmd-method.h: one row of a D-Bus method table. Each part of the daemon (VMs, USB, power)
 * brings its own table to the manager; every row names its polkit action (NULL: read-only),
 * so no handler can forget to authorize. Arguments are checked before polkit is asked. */
#pragma once

#include <gio/gio.h>

typedef gboolean (*VmdArgsCheck) (GVariant *params, GError **error);
typedef void (*VmdMethodHandler) (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation);

typedef struct {
  const char       *name;
  const char       *action;
  VmdArgsCheck      check;
  VmdMethodHandler  handler;
} VmdMethod;
