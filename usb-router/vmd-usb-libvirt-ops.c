/* vmd-usb-libvirt-ops.c: the router's VM operations done through libvirt. An attach into
 * QEMU takes milliseconds and the daemon's main loop must not wait for it, so each VM's
 * operations run in order on a worker thread of its own (vmd-usb-worker.c), created at the
 * VM's first operation; the result comes back on the caller's main context.
 *
 * The worker keeps the VM's virDomainPtr, so an attach is one libvirt call rather than a
 * lookup and then the call (two round trips to libvirtd). A domain defined anew under the
 * same name has another UUID: the kept pointer then fails with VIR_ERR_NO_DOMAIN, and the
 * worker looks the name up again and retries once. */
#include "vmdesk-usb-router.h"

#include "vmd-usb-worker.h"

#include <libvirt/virterror.h>

struct _VmdUsbLibvirtOps {
  GMutex        lock;
  virConnectPtr conn;      /* a reference of our own; NULL while disconnected */
  GHashTable   *workers;   /* VM name -> VmdUsbWorker; main thread only */
};

typedef enum { OP_ATTACH, OP_DETACH } OpKind;

typedef struct {
  OpKind        kind;
  virConnectPtr conn;
  char         *vm;
  char         *alias;
  char         *xml;
  GMainContext *context;    /* where `done` runs */
  VmdUsbOpDone  done;
  gpointer      user_data;
  GError       *error;
} Op;

/* A worker's own state: the VM's domain (which holds the connection it was looked up on). */
typedef struct {
  virDomainPtr  dom;
} VmDomain;

static void
op_free (Op *op)
{
  if (op->conn)
    virConnectClose (op->conn);
  g_free (op->vm);
  g_free (op->alias);
  g_free (op->xml);
  g_main_context_unref (op->context);
  g_clear_error (&op->error);
  g_free (op);
}

static void
vm_domain_clear (VmDomain *d)
{
  if (d->dom)
    virDomainFree (d->dom);
  d->dom = NULL;
}

static void
vm_domain_free (VmDomain *d)
{
  vm_domain_clear (d);
  g_free (d);
}

static void
set_libvirt_error (GError **error, const char *what, const char *vm)
{
  const char *message = virGetLastErrorMessage ();

  g_set_error (error, G_IO_ERROR, G_IO_ERROR_FAILED, "%s %s: %s", what, vm, message);
}

/* ---- back on the caller's main context ---- */

static gboolean
op_complete (gpointer data)
{
  Op *op = data;

  op->done (op->error, op->user_data);
  return G_SOURCE_REMOVE;
}

/* Always from the main loop, never from within the call that started the operation. */
static void
complete_later (Op *op)
{
  g_autoptr(GSource) source = g_idle_source_new ();

  g_source_set_priority (source, G_PRIORITY_DEFAULT);
  g_source_set_callback (source, op_complete, op, (GDestroyNotify) op_free);
  g_source_attach (source, op->context);
}

/* ---- on the VM's worker ---- */

static virDomainPtr
look_up (VmDomain *d, Op *op)
{
  vm_domain_clear (d);
  d->dom = virDomainLookupByName (op->conn, op->vm);
  return d->dom;
}

static int
call (Op *op, virDomainPtr dom, gint64 *issued_us)
{
  *issued_us = g_get_monotonic_time ();
  /* Detach by the whole element, not by alias: libvirt then waits for QEMU to have
   * removed the device, so the port can be attached again right away. */
  if (op->kind == OP_ATTACH)
    return virDomainAttachDeviceFlags (dom, op->xml, VIR_DOMAIN_AFFECT_LIVE);
  return virDomainDetachDeviceFlags (dom, op->xml, VIR_DOMAIN_AFFECT_LIVE);
}

static void
op_run (gpointer job, gpointer state)
{
  Op *op = job;
  VmDomain *d = state;
  gboolean kept = d->dom != NULL && virDomainGetConnect (d->dom) == op->conn;
  virDomainPtr dom = kept ? d->dom : look_up (d, op);
  gint64 issued_us = 0;
  int rc = -1;

  if (dom == NULL)
    set_libvirt_error (&op->error, "looking up", op->vm);
  else
    {
      rc = call (op, dom, &issued_us);
      if (rc < 0 && kept && virGetLastErrorCode () == VIR_ERR_NO_DOMAIN)
        {
          if ((dom = look_up (d, op)) != NULL)
            rc = call (op, dom, &issued_us);
        }
      if (rc < 0)
        set_libvirt_error (&op->error, op->kind == OP_ATTACH ? "attaching to" : "detaching from", op->vm);
      /* Logged after the call, not before: formatting and writing a log line would delay it.
       * bench/usb_attach.py pairs this with the router's "attach ... queued" line. */
      g_debug ("%s of %s to %s issued at %" G_GINT64_FORMAT " us, returned after %.1f ms%s",
               op->kind == OP_ATTACH ? "attach" : "detach", op->alias, op->vm, issued_us,
               (g_get_monotonic_time () - issued_us) / 1000.0, rc < 0 ? " (failed)" : "");
    }
  complete_later (op);
}

/* ---- the ops ---- */

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

static VmdUsbWorker *
worker_for (VmdUsbLibvirtOps *ops, const char *vm, GError **error)
{
  VmdUsbWorker *worker = g_hash_table_lookup (ops->workers, vm);

  if (worker == NULL)
    {
      worker = vmd_usb_worker_new (op_run, g_new0 (VmDomain, 1), (GDestroyNotify) vm_domain_free, error);
      if (worker == NULL)
        return NULL;
      g_hash_table_insert (ops->workers, g_strdup (vm), worker);
    }
  return worker;
}

static void
run (VmdUsbLibvirtOps *ops, OpKind kind, const char *vm, const VmdUsbHostdev *hostdev,
     VmdUsbOpDone done, gpointer user_data)
{
  Op *op = g_new0 (Op, 1);
  VmdUsbWorker *worker = NULL;

  op->kind = kind;
  op->conn = borrow_connection (ops);
  op->vm = g_strdup (vm);
  op->alias = g_strdup (hostdev->alias);
  op->xml = vmd_usb_hostdev_to_xml (hostdev);
  op->context = g_main_context_ref_thread_default ();
  op->done = done;
  op->user_data = user_data;
  if (op->conn == NULL)
    g_set_error (&op->error, G_IO_ERROR, G_IO_ERROR_NOT_CONNECTED, "libvirt is not connected");
  else if ((worker = worker_for (ops, vm, &op->error)) != NULL)
    {
      vmd_usb_worker_push (worker, op);
      return;
    }
  complete_later (op);
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
  ops->workers = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) vmd_usb_worker_finish);
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
  /* Idle workers would keep their domains, and with them the old connection: they finish
   * what they were given and go; the next operation of a VM starts a new one. */
  if (old != conn)
    g_hash_table_remove_all (ops->workers);
  if (old)
    virConnectClose (old);
}

void
vmd_usb_libvirt_ops_forget_vm (VmdUsbLibvirtOps *ops, const char *vm)
{
  g_hash_table_remove (ops->workers, vm);
}

void
vmd_usb_libvirt_ops_free (VmdUsbLibvirtOps *ops)
{
  if (ops == NULL)
    return;
  /* Each worker finishes what it was given (its results still reach their main context). */
  vmd_usb_libvirt_ops_set_connection (ops, NULL);
  g_hash_table_unref (ops->workers);
  g_mutex_clear (&ops->lock);
  g_free (ops);
}
