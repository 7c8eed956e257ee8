/* vmd-vm.h: what the daemon knows about one libvirt domain. */
#pragma once

#include "vmdesk-common.h"

#include <gio/gio.h>

typedef struct {
  char          *uuid;             /* libvirt's UUID string: the identity across renames */
  char          *name;
  int            state;            /* virDomainState */
  gboolean       persistent;
  VmdVmSettings *settings;
  char          *settings_warning; /* NULL when the metadata was read cleanly */
} VmdVm;

VmdVm      *vmd_vm_new (const char *uuid);
void        vmd_vm_free (VmdVm *vm);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdVm, vmd_vm_free)

gboolean    vmd_vm_is_active (const VmdVm *vm);
/* The a{sv} record of docs/dbus-api.md. */
GVariant   *vmd_vm_to_variant (const VmdVm *vm, gboolean on_screen);

const char *vmd_domain_state_to_string (int state);
/* libvirt's lifecycle event and detail as "event:detail", e.g. "started:booted". */
char       *vmd_lifecycle_reason (int event, int detail);
