/* vmd-vfio-query.h: the switcher's read-only pass-through questions over D-Bus, and the
 * D-Bus form of vfio-helper's errors. */
#pragma once

#include "vmd-vfio-ops.h"

/* Argument checks of the method table: PCI addresses (at most 32) before anything else. */
gboolean vmd_vfio_query_check_args (GVariant *params, GError **error);
gboolean vmd_vfio_query_plan_args (GVariant *params, GError **error);

/* CheckPassthrough / PlanPassthrough: `ops` on a GLib worker thread (beside the transaction
 * queue: a long bind never delays them), the JSON document returned on `invocation`.
 * `source` is referenced meanwhile. */
void     vmd_vfio_query_check (GObject *source, const VmdVfioOps *ops, gpointer ops_data,
                               const char *const *bdfs, GDBusMethodInvocation *invocation);
void     vmd_vfio_query_plan (GObject *source, const VmdVfioOps *ops, gpointer ops_data,
                              const char *bdf, gboolean single_gpu,
                              GDBusMethodInvocation *invocation);

/* VMD_VFIO_ERROR codes as org.vmdesk.Error.*: refused -> Denied, busy -> Conflict, a
 * malformed address -> InvalidArgs, absent -> UnknownDevice, the rest Failed; VMD_ERROR
 * stays as it is. The message is kept. */
GError  *vmd_vfio_to_vmd_error (const GError *error);
