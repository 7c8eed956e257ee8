/* vmd-usb-libvirt-ops.c: the router's VM operations done through libvirt. Each runs on a
 * worker thread, because an attach into QEMU takes milliseconds and the daemon's main loop
 * must not wait for it; the result comes back on the caller's main context. */
#include "vmdesk-usb-router.h"

#include <libvirt/virterror.h>

struct _VmdUsbLibvirtOps {
  GMutex        lock;
  virConnectPtr conn;    /* a reference of our own; NULL while disconnected */
};

typedef enum { OP_ATTACH, OP_DETACH } OpKind;

typedef struct {
  OpKind        kind;
  virConnectPtr conn;
  char         *vm;
  char         *xml;
  VmdUsbOpDone  done;
  gpointer      user_data;
} Op;

static void
op_free (Op *op)
{
  if (op->conn)
    virConnectClose (op->conn);
  g_free (op->vm);
  g_free (op->xml);
  g_free (op);
}

static void
set_libvirt_error (GError **error, const char *what, const char *vm)
{
  const char *message = virGetLastErrorMessage ();

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s: %s", what, vm, message);
}

static void
op_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Op *op = task_data;
  g_autoptr(GError) error = NULL;
  virDomainPtr dom = virDomainLookupByName (op->conn, op->vm);
  int rc = -1;

  if (dom == NULL)
    {
      set_libvirt_error (&error, "looking up", op->vm);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* Detach by the whole element, not by alias: libvirt then waits for QEMU to have
   * removed the device, so the port can be attached again right away. */
  if (op->kind == OP_ATTACH)
    {
      g_debug ("attach issued to %s at %" G_GINT64_FORMAT " us: %s", op->vm, g_get_monotonic_time (), op->xml);
      rc = virDomainAttachDeviceFlags (dom, op->xml, VIR_DOMAIN_AFFECT_LIVE);
    }
  else
    rc = virDomainDetachDeviceFlags (dom, op->xml, VIR_DOMAIN_AFFECT_LIVE);
  if (rc < 0)
    set_libvirt_error (&error, op->kind == OP_ATTACH ? "attaching to" : "detaching from", op->vm);
  virDomainFree (dom);
  if (error)
    g_task_return_error (task, g_steal_pointer (&error));
  else
    g_task_return_boolean (task, TRUE);
}

static void
op_finished (GObject *source, GAsyncResult *result, gpointer user_data)
{
  Op *op = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;

  g_task_propagate_boolean (G_TASK (result), &error);
  op->done (error, op->user_data);
}

static virConnectPtr
borrow_connection (VmdUsbLibvirtOps *ops)
{
  virConnectPtr conn;

  g_mutex_lock (&ops->lock);
  conn = ops->conn;
  if (conn)
    virConnectRef (conn);
  g_mutex_unlock (&ops->lock);
  return conn;
}

static void
run (VmdUsbLibvirtOps *ops, OpKind kind, const char *vm, const VmdUsbHostdev *hostdev,
     VmdUsbOpDone done, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (NULL, NULL, op_finished, NULL);
  Op *op = g_new0 (Op, 1);

  op->kind = kind;
  op->conn = borrow_connection (ops);
  op->vm = g_strdup (vm);
  op->xml = vmd_usb_hostdev_to_xml (hostdev);
  op->done = done;
  op->user_data = user_data;
  g_task_set_task_data (task, op, (GDestroyNotify) op_free);
  if (op->conn == NULL)
    {
      g_task_return_new_error (task, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "libvirt is not connected");
      return;
    }
  g_task_run_in_thread (task, op_thread);
}

static void
ops_attach (gpointer data, const char *vm, const VmdUsbHostdev *hostdev, VmdUsbOpDone done, gpointer user_data)
{
  run (data, OP_ATTACH, vm, hostdev, done, user_data);
}

static void
ops_detach (gpointer data, const char *vm, const VmdUsbHostdev *hostdev, VmdUsbOpDone done, gpointer user_data)
{
  run (data, OP_DETACH, vm, hostdev, done, user_data);
}

static GPtrArray *
ops_list (gpointer data, const char *vm, GError **error)
{
  virConnectPtr conn = borrow_connection (data);
  virDomainPtr dom = NULL;
  char *xml = NULL;
  GPtrArray *found = NULL;

  if (conn == NULL)
    {
      g_set_error (error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "libvirt is not connected");
      return NULL;
    }
  if ((dom = virDomainLookupByName (conn, vm)) == NULL || (xml = virDomainGetXMLDesc (dom, 0)) == NULL)
    set_libvirt_error (error, "reading the devices of", vm);
  else
    found = vmd_usb_hostdevs_from_domain_xml (xml, error);
  free (xml);
  if (dom)
    virDomainFree (dom);
  virConnectClose (conn);
  return found;
}

const VmdUsbOps *
vmd_usb_libvirt_ops_vtable (void)
{
  static const VmdUsbOps vtable = { ops_attach, ops_detach, ops_list };

  return &vtable;
}

VmdUsbLibvirtOps *
vmd_usb_libvirt_ops_new (void)
{
  VmdUsbLibvirtOps *ops = g_new0 (VmdUsbLibvirtOps, 1);

  g_mutex_init (&ops->lock);
  return ops;
}

void
vmd_usb_libvirt_ops_set_connection (VmdUsbLibvirtOps *ops, virConnectPtr conn)
{
  virConnectPtr old;

  if (conn)
    virConnectRef (conn);
  g_mutex_lock (&ops->lock);
  old = ops->conn;
  ops->conn = conn;
  g_mutex_unlock (&ops->lock);
  if (old)
    virConnectClose (old);
}

void
vmd_usb_libvirt_ops_free (VmdUsbLibvirtOps *ops)
{
  if (ops == NULL)
    return;
  vmd_usb_libvirt_ops_set_connection (ops, NULL);
  g_mutex_clear (&ops->lock);
  g_free (ops);
}
