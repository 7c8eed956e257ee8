/* vmd-libvirt.h: the daemon's one libvirt connection and the VM inventory it mirrors.
 * Events arrive on the GLib main loop (libvirt-glib); a lost connection is retried with
 * backoff and the inventory is reconciled with what libvirt reports on reconnect. */
#pragma once

#include "vmd-vm.h"

#include <libvirt/libvirt.h>

#define VMD_TYPE_LIBVIRT (vmd_libvirt_get_type ())
G_DECLARE_FINAL_TYPE (VmdLibvirt, vmd_libvirt, VMD, LIBVIRT, GObject)

/* Signals:
 *   "vm-changed"       (const VmdVm *vm)                       added, or any field changed
 *   "vm-state-changed" (const VmdVm *vm)   after "vm-changed", when state or reason changed
 *   "vm-removed"       (const char *name)
 *   "first-sync"       ()   the first connection attempt is over, whatever its outcome
 *   "vm-agent-connected" (const char *name)   libvirt connected to the VM's qemu-ga
 * Property "connected" (gboolean) notifies on every change. */

VmdLibvirt   *vmd_libvirt_new (const char *uri);
void          vmd_libvirt_start (VmdLibvirt *self);
const char   *vmd_libvirt_get_uri (VmdLibvirt *self);
gboolean      vmd_libvirt_is_connected (VmdLibvirt *self);
/* Borrowed; NULL while disconnected. */
virConnectPtr vmd_libvirt_get_connection (VmdLibvirt *self);
/* VMs sorted by name; the array holds borrowed pointers. */
GPtrArray    *vmd_libvirt_list_vms (VmdLibvirt *self);
const VmdVm  *vmd_libvirt_lookup (VmdLibvirt *self, const char *name);
/* Re-read every VM now (SIGHUP). */
void          vmd_libvirt_resync (VmdLibvirt *self);

/* Sets `error` from libvirt's last error, prefixed with what was being done. */
void          vmd_set_libvirt_error (GError **error, const char *format, ...) G_GNUC_PRINTF (2, 3);
