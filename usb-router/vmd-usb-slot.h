/* vmd-usb-slot.h (private): one USB device as the router tracks it, from plug until its
 * hostdev is gone. "Where it should be" is computed from the slot's inputs on demand;
 * "where it is" (vm + hostdev) changes only when an operation completes. */
#pragma once

#include "vmdesk-usb-router.h"

typedef struct {
  gint               ref;
  char              *syspath;
  VmdUsbPresent     *present;     /* NULL once unplugged */
  VmdPolicyDecision *decision;    /* latched: taken at plug, re-taken by the triggers */
  char              *override;    /* usb attach / answer / adoption: VM, "" = host, NULL = none */
  gboolean           asking;
  guint              ask_timeout_id;
  char              *memory_vm;   /* the memory's VM for this identity, looked up at plug */
  gboolean           ambiguous;   /* its identity is shared or incomplete */
  /* Where it is. */
  char              *vm;
  VmdUsbHostdev     *hostdev;
  gboolean           busy;        /* an operation is under way */
  /* The last failure; the same move is not retried until something changes, or its
   * retry (a few, spaced out) is due. */
  char              *error;
  char              *failed_vm;
  guint              failed_devnum;
  guint              retries;     /* retries of this failure so far */
  guint              retry_id;    /* a retry is due */
} VmdUsbSlot;

VmdUsbSlot *vmd_usb_slot_new (const char *syspath);
VmdUsbSlot *vmd_usb_slot_ref (VmdUsbSlot *slot);
void        vmd_usb_slot_unref (VmdUsbSlot *slot);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUsbSlot, vmd_usb_slot_unref)

/* The hostdev that would put the present device into a VM. */
VmdUsbHostdev *vmd_usb_slot_hostdev (const VmdUsbSlot *slot);
/* Where the slot should be, given which VMs run: a VM, or NULL for the host. */
const char    *vmd_usb_slot_wanted_vm (const VmdUsbSlot *slot, const VmdUsbVmView *view, gpointer view_data);
/* The VM the slot waits for (it would go there if it ran), or NULL. */
const char    *vmd_usb_slot_target_vm (const VmdUsbSlot *slot);
/* Forgets the last failure (a retry may make the move again), but not how often it was tried. */
void           vmd_usb_slot_clear_error (VmdUsbSlot *slot);
/* Forgets the failure, its retries and a retry that was due. */
void           vmd_usb_slot_clear_failure (VmdUsbSlot *slot);
VmdUsbDeviceInfo *vmd_usb_slot_info (const VmdUsbSlot *slot, const VmdUsbVmView *view, gpointer view_data);
