/* vmd-usb-slot.c: one routed USB device: where it should be, and its public snapshot. */
#include "vmd-usb-slot.h"

VmdUsbSlot *
vmd_usb_slot_new (const char *syspath)
{
  VmdUsbSlot *slot = g_new0 (VmdUsbSlot, 1);

  slot->ref = 1;
  slot->syspath = g_strdup (syspath);
  return slot;
}

VmdUsbSlot *
vmd_usb_slot_ref (VmdUsbSlot *slot)
{
  g_atomic_int_inc (&slot->ref);
  return slot;
}

void
vmd_usb_slot_unref (VmdUsbSlot *slot)
{
  if (slot == NULL || !g_atomic_int_dec_and_test (&slot->ref))
    return;
  g_clear_handle_id (&slot->ask_timeout_id, g_source_remove);
  g_clear_handle_id (&slot->retry_id, g_source_remove);
  g_free (slot->syspath);
  vmd_usb_present_free (slot->present);
  vmd_policy_decision_free (slot->decision);
  g_free (slot->override);
  g_free (slot->memory_vm);
  g_free (slot->vm);
  vmd_usb_hostdev_free (slot->hostdev);
  g_free (slot->error);
  g_free (slot->failed_vm);
  g_free (slot);
}

VmdUsbHostdev *
vmd_usb_slot_hostdev (const VmdUsbSlot *slot)
{
  VmdUsbHostdev *hostdev = g_new0 (VmdUsbHostdev, 1);

  hostdev->alias = vmd_usb_alias_for_port (slot->present->id);
  hostdev->vendor_id = slot->present->device->vendor_id;
  hostdev->product_id = slot->present->device->product_id;
  hostdev->bus = slot->present->bus;
  hostdev->devnum = slot->present->devnum;
  return hostdev;
}

/* Precedence: deny always wins; then what a person chose for this plug (usb attach,
 * an answer, a device found attached at start); then what was remembered for this
 * identity; then the policy's decision. */
const char *
vmd_usb_slot_target_vm (const VmdUsbSlot *slot)
{
  if (slot->present == NULL || slot->decision == NULL || slot->decision->target == VMD_POLICY_DENY)
    return NULL;
  if (slot->override != NULL)
    return slot->override[0] ? slot->override : NULL;
  if (slot->memory_vm != NULL)
    return slot->memory_vm;
  if (slot->decision->target == VMD_POLICY_ATTACH)
    return slot->decision->vm;
  return NULL;
}

const char *
vmd_usb_slot_wanted_vm (const VmdUsbSlot *slot, const VmdUsbVmView *view, gpointer view_data)
{
  const char *vm = vmd_usb_slot_target_vm (slot);

  return vm != NULL && view->is_running (vm, view_data) ? vm : NULL;
}

void
vmd_usb_slot_clear_error (VmdUsbSlot *slot)
{
  g_clear_pointer (&slot->error, g_free);
  g_clear_pointer (&slot->failed_vm, g_free);
  slot->failed_devnum = 0;
}

void
vmd_usb_slot_clear_failure (VmdUsbSlot *slot)
{
  vmd_usb_slot_clear_error (slot);
  slot->retries = 0;
  g_clear_handle_id (&slot->retry_id, g_source_remove);
}

static VmdUsbState
slot_state (const VmdUsbSlot *slot, const char *wanted)
{
  if (slot->decision && slot->decision->target == VMD_POLICY_DENY)
    return VMD_USB_STATE_DENIED;
  if (slot->busy)
    return VMD_USB_STATE_MOVING;
  if (slot->error)
    return VMD_USB_STATE_FAILED;
  if (slot->vm)
    return VMD_USB_STATE_ATTACHED;
  if (slot->asking)
    return VMD_USB_STATE_ASKING;
  if (wanted != NULL)
    return VMD_USB_STATE_MOVING;
  if (vmd_usb_slot_target_vm (slot) != NULL)
    return VMD_USB_STATE_PENDING;
  return VMD_USB_STATE_HOST;
}

VmdUsbDeviceInfo *
vmd_usb_slot_info (const VmdUsbSlot *slot, const VmdUsbVmView *view, gpointer view_data)
{
  VmdUsbDeviceInfo *info = g_new0 (VmdUsbDeviceInfo, 1);
  const char *wanted = vmd_usb_slot_wanted_vm (slot, view, view_data);

  info->id = g_strdup (slot->present->id);
  info->syspath = g_strdup (slot->syspath);
  info->bus = slot->present->bus;
  info->devnum = slot->present->devnum;
  info->device = vmd_usb_device_copy (slot->present->device);
  info->state = slot_state (slot, wanted);
  info->vm = g_strdup (slot->vm ? slot->vm : vmd_usb_slot_target_vm (slot));
  info->decision = slot->decision ? vmd_policy_decision_copy (slot->decision) : NULL;
  info->override = g_strdup (slot->override);
  info->remembered = slot->memory_vm != NULL;
  info->ambiguous = slot->ambiguous;
  if (slot->asking && slot->decision)
    info->candidates = g_strdupv (slot->decision->candidates);
  info->error = g_strdup (slot->error);
  return info;
}

void
vmd_usb_device_info_free (VmdUsbDeviceInfo *info)
{
  if (info == NULL)
    return;
  g_free (info->id);
  g_free (info->syspath);
  vmd_usb_device_free (info->device);
  g_free (info->vm);
  vmd_policy_decision_free (info->decision);
  g_free (info->override);
  g_strfreev (info->candidates);
  g_free (info->error);
  g_free (info);
}

const char *
vmd_usb_state_to_string (VmdUsbState state)
{
  static const char *const names[] = {
    [VMD_USB_STATE_HOST] = "host",
    [VMD_USB_STATE_PENDING] = "pending",
    [VMD_USB_STATE_ASKING] = "asking",
    [VMD_USB_STATE_MOVING] = "moving",
    [VMD_USB_STATE_ATTACHED] = "attached",
    [VMD_USB_STATE_DENIED] = "denied",
    [VMD_USB_STATE_FAILED] = "failed",
  };

  return names[state];
}
