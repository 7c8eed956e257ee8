/* vmd-vm-start.h: starting a VM without blocking the main loop. */
#pragma once

#include <gio/gio.h>
#include <libvirt/libvirt.h>

/* virDomainCreate on a worker thread; `conn` is referenced for the duration. */
void     vmd_vm_start_async (virConnectPtr conn, const char *name, GAsyncReadyCallback callback,
                             gpointer user_data);
gboolean vmd_vm_start_finish (GAsyncResult *result, GError **error);
