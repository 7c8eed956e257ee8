/* vmd-vm.h: what the daemon knows about one libvirt domain. */
#pragma once

#include "vmdesk-common.h"

#include <gio/gio.h>

typedef struct {
  char          *uuid;             /* libvirt's UUID string: the identity across renames */
  char          *name;
  int            state;            /* virDomainState */
  int            reason;           /* the vir*Reason of that state, e.g. VIR_DOMAIN_SHUTOFF_DESTROYED */
  gboolean       persistent;
  VmdVmSettings *settings;
  char          *settings_warning; /* NULL when the metadata was read cleanly */
  const char    *display;          /* static: "spice", "vnc" or "none" (vmd_live_xml_display) */
} VmdVm;

VmdVm      *vmd_vm_new (const char *uuid);
void        vmd_vm_free (VmdVm *vm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdVm, vmd_vm_free)

/* The a{sv} record of docs/dbus-api.md. */
GVariant   *vmd_vm_to_variant (const VmdVm *vm, gboolean on_screen);

const char *vmd_domain_state_to_string (int state);
/* Why the VM is in its state, e.g. "booted", "destroyed", "user" (paused by a user). */
const char *vmd_state_reason_to_string (int state, int reason);
