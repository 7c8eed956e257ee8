/* vmd-manager.h: the exported org.vmdesk.Manager1 object. */
#pragma once

#include "vmd-bouncer.h"
#include "vmd-libvirt.h"
#include "vmd-state.h"

#define VMD_TYPE_MANAGER (vmd_manager_get_type ())
G_DECLARE_FINAL_TYPE (VmdManager, vmd_manager, VMD, MANAGER, GObject)

/* Takes ownership of `state`. */
VmdManager *vmd_manager_new (VmdLibvirt *libvirt, VmdBouncer *bouncer, VmdState *state);
gboolean    vmd_manager_export (VmdManager *self, GDBusConnection *bus, GError **error);
void        vmd_manager_unexport (VmdManager *self);
