/* vmd-vfio-query.c: CheckPassthrough and PlanPassthrough. Read-only, but they block (sysfs,
 * and logind for a hand-over's plan), so they run on GLib's thread pool. */
#include "vmd-vfio-query.h"

#include "vmdesk-common.h"
#include "vmdesk-vfio.h"

#define CHECK_MAX_BDFS 32

GError *
vmd_vfio_to_vmd_error (const GError *error)
{
  VmdError code = VMD_ERROR_FAILED;

  if (error->domain == VMD_ERROR)
    return g_error_copy (error);
  if (error->domain == VMD_VFIO_ERROR)
    switch ((VmdVfioError) error->code)
      {
      case VMD_VFIO_ERROR_REFUSED:     code = VMD_ERROR_DENIED; break;
      case VMD_VFIO_ERROR_BUSY:        code = VMD_ERROR_CONFLICT; break;
      case VMD_VFIO_ERROR_INVALID_BDF: code = VMD_ERROR_INVALID_ARGS; break;
      case VMD_VFIO_ERROR_NOT_FOUND:   code = VMD_ERROR_UNKNOWN_DEVICE; break;
      default:                         code = VMD_ERROR_FAILED; break;
      }
  return g_error_new_literal (VMD_ERROR, code, error->message);
}

static gboolean
check_bdf (const char *bdf, GError **error)
{
  VmdVfioBdf addr;
  g_autoptr(GError) local = NULL;

  if (vmd_vfio_bdf_parse (bdf, &addr, &local))
    return TRUE;
  g_set_error_literal (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS, local->message);
  return FALSE;
}

gboolean
vmd_vfio_query_check_args (GVariant *params, GError **error)
{
  g_autofree const char **bdfs = NULL;
  gsize n;

  g_variant_get_child (params, 0, "^a&s", &bdfs);
  n = g_strv_length ((GStrv) bdfs);
  if (n > CHECK_MAX_BDFS)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS, "at most %d devices at once, not %"
                   G_GSIZE_FORMAT, CHECK_MAX_BDFS, n);
      return FALSE;
    }
  for (gsize i = 0; i < n; i++)
    if (!check_bdf (bdfs[i], error))
      return FALSE;
  return TRUE;
}

gboolean
vmd_vfio_query_plan_args (GVariant *params, GError **error)
{
  const char *bdf;

  g_variant_get_child (params, 0, "&s", &bdf);
  return check_bdf (bdf, error);
}

typedef struct {
  const VmdVfioOps *ops;
  gpointer          ops_data;
  GStrv             bdfs;
  gboolean          single_gpu;
  gboolean          plan;
} Query;

static void
query_free (Query *q)
{
  g_strfreev (q->bdfs);
  g_free (q);
}

static void
query_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  Query *q = data;
  GError *error = NULL;
  char *json = q->plan ? q->ops->plan_json (q->ops_data, q->bdfs[0], q->single_gpu, &error)
                       : q->ops->check_json (q->ops_data, (const char *const *) q->bdfs, &error);

  if (json)
    g_task_return_pointer (task, json, g_free);
  else
    g_task_return_error (task, error);
}

static void
on_query_done (GObject *source, GAsyncResult *result, gpointer data)
{
  GDBusMethodInvocation *invocation = data;
  g_autoptr(GError) error = NULL;
  g_autofree char *json = g_task_propagate_pointer (G_TASK (result), &error);

  if (json == NULL)
    g_dbus_method_invocation_take_error (invocation, vmd_vfio_to_vmd_error (error));
  else
    g_dbus_method_invocation_return_value (invocation, g_variant_new ("(s)", json));
}

static void
run (GObject *source, Query *q, GDBusMethodInvocation *invocation)
{
  g_autoptr(GTask) task = g_task_new (source, NULL, on_query_done, invocation);

  g_task_set_task_data (task, q, (GDestroyNotify) query_free);
  g_task_run_in_thread (task, query_thread);
}

void
vmd_vfio_query_check (GObject *source, const VmdVfioOps *ops, gpointer ops_data,
                      const char *const *bdfs, GDBusMethodInvocation *invocation)
{
  Query *q = g_new0 (Query, 1);

  q->ops = ops;
  q->ops_data = ops_data;
  q->bdfs = g_strdupv ((GStrv) bdfs);
  run (source, q, invocation);
}

void
vmd_vfio_query_plan (GObject *source, const VmdVfioOps *ops, gpointer ops_data, const char *bdf,
                     gboolean single_gpu, GDBusMethodInvocation *invocation)
{
  Query *q = g_new0 (Query, 1);
  const char *one[] = { bdf, NULL };

  q->ops = ops;
  q->ops_data = ops_data;
  q->bdfs = g_strdupv ((GStrv) one);
  q->single_gpu = single_gpu;
  q->plan = TRUE;
  run (source, q, invocation);
}
