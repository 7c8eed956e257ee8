/* fake-vms.h: VMs for the router's unit tests. They keep hostdevs the way libvirt does
 * (a VM's hostdevs vanish when it stops) and refuse what libvirt refuses (a second
 * hostdev with the same alias, a VM that is not running), and count every operation. */
#pragma once

#include "vmdesk-usb-router.h"

typedef struct {
  GHashTable *vms;          /* name -> GPtrArray of VmdUsbHostdev; present = running */
  GHashTable *no_auto;      /* names that refuse auto-assignment */
  char       *on_screen;
  guint       attaches;
  guint       detaches;
  guint       refused;      /* operations libvirt would have refused */
  guint       fail_attaches;  /* fail the next N attaches */
  guint       in_flight;
} FakeVms;

FakeVms    *fake_vms_new (void);
void        fake_vms_free (FakeVms *vms);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (FakeVms, fake_vms_free)
void        fake_vms_start (FakeVms *vms, const char *name);
void        fake_vms_stop (FakeVms *vms, const char *name);
/* A hostdev put there behind the router's back (a user's virsh, or a previous daemon). */
void        fake_vms_plant (FakeVms *vms, const char *name, const VmdUsbHostdev *hostdev);
/* Aliases in a VM, sorted and joined by " ", "" if none. */
char       *fake_vms_aliases (FakeVms *vms, const char *name);
const VmdUsbOps    *fake_vms_ops (void);
const VmdUsbVmView *fake_vms_view (void);
