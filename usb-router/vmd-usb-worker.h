/* vmd-usb-worker.h (private): one thread that runs blocking jobs in the order they were
 * pushed. The libvirt ops keep one per VM: libvirt runs one device change per domain at a
 * time anyway, so the VM's queue is where its operations wait, and VMs never wait for
 * each other. */
#pragma once

#include <glib.h>

typedef struct _VmdUsbWorker VmdUsbWorker;

/* Runs on the worker's thread; `state` is the worker's own (see vmd_usb_worker_new). */
typedef void (*VmdUsbWorkerFunc) (gpointer job, gpointer state);

/* Starts the thread. `state` belongs to the thread from now on and is freed with
 * `state_free` when it ends. */
VmdUsbWorker *vmd_usb_worker_new (VmdUsbWorkerFunc func, gpointer state, GDestroyNotify state_free,
                                  GError **error);
/* Queues `job` and wakes the thread (from any thread). */
void          vmd_usb_worker_push (VmdUsbWorker *worker, gpointer job);
/* The thread runs what is queued, then ends and frees the worker: do not use it again. */
void          vmd_usb_worker_finish (VmdUsbWorker *worker);
