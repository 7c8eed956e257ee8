/* vmd-vm-start.c: StartVM. virDomainCreate returns once QEMU runs, which takes a while
 * (hundreds of ms under TCG, more with big guests), so it runs on a worker thread. */
#include "vmd-vm-start.h"

#include "vmd-libvirt.h"

#include <libvirt/virterror.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)

typedef struct {
  virConnectPtr conn;
  char         *name;
} StartData;

static void
start_data_free (StartData *data)
{
  virConnectClose (data->conn);
  g_free (data->name);
  g_free (data);
}

static void
start_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  StartData *data = task_data;
  g_autoptr(virDomain) dom = virDomainLookupByName (data->conn, data->name);
  GError *error = NULL;

  if (dom == NULL)
    {
      if (virGetLastErrorCode () == VIR_ERR_NO_DOMAIN)
        g_set_error (&error, VMD_ERROR, VMD_ERROR_UNKNOWN_VM, "no VM named '%s'", data->name);
      else
        vmd_set_libvirt_error (&error, "looking up '%s'", data->name);
    }
  /* Starting a running VM is not an error: the caller wants it running, and it is. */
  else if (virDomainIsActive (dom) != 1 && virDomainCreate (dom) < 0)
    vmd_set_libvirt_error (&error, "starting '%s'", data->name);
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

void
vmd_vm_start_async (virConnectPtr conn, const char *name, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, callback, user_data);
  StartData *data = g_new0 (StartData, 1);

  virConnectRef (conn);
  data->conn = conn;
  data->name = g_strdup (name);
  g_task_set_task_data (task, data, (GDestroyNotify) start_data_free);
  g_task_run_in_thread (task, start_thread);
}

gboolean
vmd_vm_start_finish (GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}
