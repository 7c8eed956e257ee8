/* vmd-usb-router.c: events in, one slot per device, operations out.
 *
 * Every input (plug, unplug, VM start/stop, focus, answers, requests) only updates a
 * slot's inputs and then calls settle(). settle() compares where the slot is with where it
 * should be and, unless an operation is already under way for it, starts the one operation
 * that brings it closer. When that operation ends, settle() runs again. So no input order,
 * however fast, can attach a device twice or leave a hostdev behind. */
#include "vmdesk-usb-router.h"

#include "vmd-usb-slot.h"

#include <string.h>

#define DEFAULT_ASK_TIMEOUT_MS 30000

struct _VmdUsbRouter {
  GObject             parent;
  VmdPolicy          *policy;
  VmdUsbMemory       *memory;
  const VmdUsbOps    *ops;
  gpointer            ops_data;
  const VmdUsbVmView *view;
  gpointer            view_data;
  GHashTable         *slots;        /* syspath -> VmdUsbSlot */
  guint               busy;         /* operations under way, slots' and orphans' */
  guint               ask_timeout_ms;
  guint               retry_delay_ms;
  /* No operation is started before the first reconcile: until libvirt was asked what is
   * attached already, attaching could attach twice. */
  gboolean            synced;
};

G_DEFINE_TYPE (VmdUsbRouter, vmd_usb_router, G_TYPE_OBJECT)
G_DEFINE_QUARK (vmd-usb-router-error-quark, vmd_usb_router_error)

enum { SIGNAL_DEVICE_CHANGED, SIGNAL_DEVICE_REMOVED, SIGNAL_ASK, N_SIGNALS };
static guint signals[N_SIGNALS];

static void settle (VmdUsbRouter *self, VmdUsbSlot *slot);

/* ---- snapshots and signals ---- */

static void
announce (VmdUsbRouter *self, VmdUsbSlot *slot)
{
  g_autoptr(VmdUsbDeviceInfo) info = NULL;

  if (slot->present == NULL)
    return;
  info = vmd_usb_slot_info (slot, self->view, self->view_data);
  g_signal_emit (self, signals[SIGNAL_DEVICE_CHANGED], 0, info);
}

/* ---- deciding ---- */

static gboolean
view_auto_assign (const char *vm, gpointer user_data)
{
  VmdUsbRouter *self = user_data;

  return self->view->auto_assign (vm, self->view_data);
}

static const char *
safe_text (const char *s)
{
  return s ? s : "";
}

/* An identity is only worth remembering when it names one device: with no serial, or
 * with a twin plugged in at the same time, the next plug could be the other one. */
static gboolean
slot_is_ambiguous (VmdUsbRouter *self, VmdUsbSlot *slot)
{
  const VmdUsbDevice *device = slot->present->device;
  GHashTableIter iter;
  VmdUsbSlot *other;

  if (device->hash == NULL || device->serial == NULL || device->serial[0] == '\0')
    return TRUE;
  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &other))
    if (other != slot && other->present && g_strcmp0 (other->present->device->hash, device->hash) == 0)
      return TRUE;
  return FALSE;
}

static void stop_asking (VmdUsbSlot *slot);
static void start_asking (VmdUsbRouter *self, VmdUsbSlot *slot);

static void
log_decision (const VmdUsbSlot *slot)
{
  if (slot->present && slot->decision)
    g_debug ("USB %s: %s", slot->present->id, slot->decision->reason);
}

static void
decide (VmdUsbRouter *self, VmdUsbSlot *slot)
{
  g_auto(GStrv) running = self->view->running (self->view_data);
  VmdPolicyContext context = {
    .on_screen = self->view->on_screen (self->view_data),
    .running = (const char *const *) running,
    .auto_assign = view_auto_assign,
    .user_data = self,
  };
  gboolean was_denied = slot->decision && slot->decision->target == VMD_POLICY_DENY;

  vmd_policy_decision_free (slot->decision);
  slot->decision = vmd_policy_decide (self->policy, slot->present->device, &context);
  slot->ambiguous = slot_is_ambiguous (self, slot);
  g_clear_pointer (&slot->memory_vm, g_free);
  if (!slot->ambiguous)
    slot->memory_vm = vmd_usb_memory_lookup (self->memory, slot->present->device->hash);

  stop_asking (slot);
  if (slot->decision->target == VMD_POLICY_DENY && !was_denied)
    {
      g_autoptr(GError) error = NULL;

      if (!vmd_usb_deauthorize (slot->syspath, &error))
        g_warning ("USB %s: denied, but %s", slot->present->id, error->message);
      else
        g_message ("USB %s: denied and de-authorized (%s)", slot->present->id, slot->decision->reason);
    }
  else if (slot->decision->target == VMD_POLICY_ASK && slot->override == NULL && slot->memory_vm == NULL)
    start_asking (self, slot);
}

/* ---- a slot's timers: an open question, a retry due ---- */

/* The router is not referenced: its dispose removes every slot's timers, and a timer left
 * holding the router would outlive the router's owner and its ops. */
typedef struct {
  VmdUsbRouter *self;
  VmdUsbSlot   *slot;
} SlotTimer;

static SlotTimer *
slot_timer_new (VmdUsbRouter *self, VmdUsbSlot *slot)
{
  SlotTimer *t = g_new0 (SlotTimer, 1);

  t->self = self;
  t->slot = vmd_usb_slot_ref (slot);
  return t;
}

static void
slot_timer_free (gpointer data)
{
  SlotTimer *t = data;

  vmd_usb_slot_unref (t->slot);
  g_free (t);
}

/* ---- asking ---- */

static gboolean
on_ask_timeout (gpointer data)
{
  SlotTimer *t = data;

  t->slot->ask_timeout_id = 0;
  t->slot->asking = FALSE;
  g_free (t->slot->override);
  t->slot->override = g_strdup ("");
  if (t->slot->present)
    g_message ("USB %s: nobody answered; it stays on the host", t->slot->present->id);
  settle (t->self, t->slot);
  return G_SOURCE_REMOVE;
}

static void
stop_asking (VmdUsbSlot *slot)
{
  slot->asking = FALSE;
  g_clear_handle_id (&slot->ask_timeout_id, g_source_remove);
}

static void
start_asking (VmdUsbRouter *self, VmdUsbSlot *slot)
{
  g_autoptr(VmdUsbDeviceInfo) info = NULL;
  SlotTimer *t;

  if (slot->decision->candidates == NULL || slot->decision->candidates[0] == NULL)
    return;   /* nobody to ask about: it stays on the host, the reason says so */
  slot->asking = TRUE;
  t = slot_timer_new (self, slot);
  /* A timer, but only while a question is open: an unanswered ask must end on the host. */
  slot->ask_timeout_id = g_timeout_add_full (G_PRIORITY_DEFAULT, self->ask_timeout_ms, on_ask_timeout,
                                             t, slot_timer_free);
  info = vmd_usb_slot_info (slot, self->view, self->view_data);
  g_signal_emit (self, signals[SIGNAL_ASK], 0, info);
}

/* ---- operations ---- */

typedef struct {
  VmdUsbRouter  *self;
  VmdUsbSlot    *slot;      /* NULL for an orphan hostdev */
  char          *vm;
  VmdUsbHostdev *hostdev;
  gboolean       attach;
  gint64         uevent_us; /* the plug's uevent (0: none), and when the op was queued: */
  gint64         queued_us; /* logged once the op is done, to keep the way to it short */
} Op;

static Op *
op_new (VmdUsbRouter *self, VmdUsbSlot *slot, const char *vm, VmdUsbHostdev *hostdev, gboolean attach)
{
  Op *op = g_new0 (Op, 1);

  op->self = g_object_ref (self);
  op->slot = slot ? vmd_usb_slot_ref (slot) : NULL;
  op->vm = g_strdup (vm);
  op->hostdev = hostdev;
  op->attach = attach;
  self->busy++;
  if (slot)
    slot->busy = TRUE;
  return op;
}

static void
op_free (Op *op)
{
  op->self->busy--;
  g_object_unref (op->self);
  if (op->slot)
    vmd_usb_slot_unref (op->slot);
  g_free (op->vm);
  vmd_usb_hostdev_free (op->hostdev);
  g_free (op);
}

static gboolean remember (VmdUsbRouter *self, VmdUsbSlot *slot, const char *vm, GError **error);

/* ---- retrying ---- */

/* A failed move is tried again after retry_delay_ms, 4× that, 16× that, then left failed
 * until something changes. libvirt's USB lookup reads every device in sysfs and fails when
 * another device is half added or removed meanwhile: such a failure passes. A timer, but
 * only while a retry is due. */
#define MAX_RETRIES 3
#define DEFAULT_RETRY_DELAY_MS 500

static gboolean
on_retry_due (gpointer data)
{
  SlotTimer *t = data;

  t->slot->retry_id = 0;
  vmd_usb_slot_clear_error (t->slot);
  settle (t->self, t->slot);
  return G_SOURCE_REMOVE;
}

/* The failed move still has to be made: a detach from the VM the device is still in, or the
 * attach of the plug that is present (not an older one's). */
static gboolean
worth_retrying (const VmdUsbSlot *slot, const Op *op)
{
  if (slot->retries >= MAX_RETRIES)
    return FALSE;
  if (!op->attach)
    return g_strcmp0 (slot->vm, op->vm) == 0;
  return slot->present != NULL && op->hostdev != NULL && slot->present->devnum == op->hostdev->devnum &&
         slot->present->bus == op->hostdev->bus;
}

/* Records the failure; schedules a retry when one is worth it. */
static void
fail (VmdUsbRouter *self, VmdUsbSlot *slot, const Op *op, const GError *error)
{
  const char *id = slot->present ? slot->present->id : slot->syspath;

  g_free (slot->error);
  slot->error = g_strdup (error->message);
  g_free (slot->failed_vm);
  slot->failed_vm = g_strdup (op->vm);
  slot->failed_devnum = op->hostdev ? op->hostdev->devnum : 0;
  if (worth_retrying (slot, op))
    {
      guint delay = self->retry_delay_ms << (2 * slot->retries);

      g_message ("USB %s: %s; trying again in %u ms", id, error->message, delay);
      slot->retries++;
      g_clear_handle_id (&slot->retry_id, g_source_remove);
      slot->retry_id = g_timeout_add_full (G_PRIORITY_DEFAULT, delay, on_retry_due,
                                           slot_timer_new (self, slot), slot_timer_free);
    }
  else
    g_warning ("USB %s: %s", id, error->message);
}

static void
remember_if_sticky (VmdUsbRouter *self, VmdUsbSlot *slot, const char *vm)
{
  g_autoptr(GError) error = NULL;

  if (!slot->decision->sticky || slot->ambiguous || g_strcmp0 (slot->memory_vm, vm) == 0)
    return;
  if (!remember (self, slot, vm, &error))
    g_warning ("USB %s: cannot remember it for %s: %s", slot->present->id, vm, error->message);
}

static void
on_op_done (GError *error, gpointer user_data)
{
  Op *op = user_data;
  VmdUsbSlot *slot = op->slot;
  VmdUsbRouter *self = op->self;

  if (slot == NULL)
    {
      if (error)
        g_warning ("removing hostdev %s of an absent device from %s: %s", op->hostdev->alias, op->vm, error->message);
      op_free (op);
      return;
    }
  slot->busy = FALSE;
  if (op->attach)
    g_debug ("attach of %s to %s queued at %" G_GINT64_FORMAT " us, its uevent at %" G_GINT64_FORMAT " us",
             op->hostdev->alias, op->vm, op->queued_us, op->uevent_us);
  if (error == NULL)
    {
      g_free (slot->vm);
      vmd_usb_hostdev_free (slot->hostdev);
      slot->vm = op->attach ? g_strdup (op->vm) : NULL;
      slot->hostdev = op->attach ? g_steal_pointer (&op->hostdev) : NULL;
      /* An older plug's failure, reported meanwhile, is not this one's. */
      vmd_usb_slot_clear_failure (slot);
      if (op->attach && slot->present)
        {
          g_message ("USB %s: attached to %s", slot->present->id, op->vm);
          remember_if_sticky (self, slot, op->vm);
        }
    }
  else if (!op->attach && !self->view->is_running (op->vm, self->view_data))
    {
      /* The VM went away with its devices: nothing is left to detach. */
      g_clear_pointer (&slot->vm, g_free);
      g_clear_pointer (&slot->hostdev, vmd_usb_hostdev_free);
    }
  else
    fail (self, slot, op, error);
  op_free (op);
  settle (self, slot);
}

static void
start_detach (VmdUsbRouter *self, VmdUsbSlot *slot)
{
  Op *op = op_new (self, slot, slot->vm, NULL, FALSE);

  self->ops->detach (self->ops_data, slot->vm, slot->hostdev, on_op_done, op);
}

static void
start_attach (VmdUsbRouter *self, VmdUsbSlot *slot, const char *vm)
{
  Op *op = op_new (self, slot, vm, vmd_usb_slot_hostdev (slot), TRUE);

  op->uevent_us = slot->present->uevent_us;
  op->queued_us = g_get_monotonic_time ();
  self->ops->attach (self->ops_data, vm, op->hostdev, on_op_done, op);
}

static gboolean
failed_before (const VmdUsbSlot *slot, const char *vm)
{
  return slot->error != NULL && g_strcmp0 (slot->failed_vm, vm) == 0 &&
         (slot->present == NULL || slot->failed_devnum == slot->present->devnum);
}

static void
drop_if_gone (VmdUsbRouter *self, VmdUsbSlot *slot)
{
  if (slot->present == NULL && slot->vm == NULL && !slot->busy)
    {
      /* Out of the table, out of dispose's reach: no timer may stay. */
      stop_asking (slot);
      vmd_usb_slot_clear_failure (slot);
      g_hash_table_remove (self->slots, slot->syspath);
    }
}

/* One step towards where the slot should be; see the comment at the top. */
static void
settle (VmdUsbRouter *self, VmdUsbSlot *slot)
{
  /* Settling may drop the slot from the table: keep it alive until the end. */
  g_autoptr(VmdUsbSlot) hold G_GNUC_UNUSED = vmd_usb_slot_ref (slot);
  const char *wanted;
  gboolean there;

  if (slot->busy || !self->synced)
    {
      announce (self, slot);
      return;
    }
  wanted = vmd_usb_slot_wanted_vm (slot, self->view, self->view_data);
  /* Where it is counts only if it is this plug of the device, at its current address. */
  there = slot->vm != NULL && slot->present != NULL && g_strcmp0 (slot->vm, wanted) == 0 &&
          slot->hostdev->devnum == slot->present->devnum && slot->hostdev->bus == slot->present->bus;
  if (slot->vm != NULL && !there && !failed_before (slot, slot->vm))
    start_detach (self, slot);
  else if (slot->vm == NULL && wanted != NULL && !failed_before (slot, wanted))
    start_attach (self, slot, wanted);
  announce (self, slot);
  drop_if_gone (self, slot);
}

/* The slots, each held, so that settling one may drop it from the table. */
static GPtrArray *
all_slots (VmdUsbRouter *self)
{
  GPtrArray *all = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_usb_slot_unref);
  GHashTableIter iter;
  VmdUsbSlot *slot;

  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &slot))
    g_ptr_array_add (all, vmd_usb_slot_ref (slot));
  return all;
}

static void
settle_all (VmdUsbRouter *self)
{
  g_autoptr(GPtrArray) all = all_slots (self);

  for (guint i = 0; i < all->len; i++)
    {
      vmd_usb_slot_clear_failure (all->pdata[i]);
      settle (self, all->pdata[i]);
    }
}

/* ---- inputs ---- */

void
vmd_usb_router_device_added (VmdUsbRouter *self, const VmdUsbPresent *present)
{
  VmdUsbSlot *slot = g_hash_table_lookup (self->slots, present->syspath);

  if (slot == NULL)
    {
      slot = vmd_usb_slot_new (present->syspath);
      g_hash_table_insert (self->slots, slot->syspath, slot);
    }
  /* A new plug starts fresh: what a person chose for the last one does not carry over. */
  vmd_usb_present_free (slot->present);
  slot->present = vmd_usb_present_copy (present);
  g_clear_pointer (&slot->override, g_free);
  g_clear_pointer (&slot->decision, vmd_policy_decision_free);
  vmd_usb_slot_clear_failure (slot);
  decide (self, slot);
  settle (self, slot);
  /* Logged once the slot's operation is on its way, not on the way to it. */
  log_decision (slot);
}

void
vmd_usb_router_device_removed (VmdUsbRouter *self, const char *syspath)
{
  VmdUsbSlot *slot = g_hash_table_lookup (self->slots, syspath);
  g_autofree char *id = NULL;

  if (slot == NULL || slot->present == NULL)
    return;
  id = g_strdup (slot->present->id);
  g_clear_pointer (&slot->present, vmd_usb_present_free);
  g_clear_pointer (&slot->override, g_free);
  stop_asking (slot);
  vmd_usb_slot_clear_failure (slot);
  g_signal_emit (self, signals[SIGNAL_DEVICE_REMOVED], 0, id);
  settle (self, slot);
}

/* Re-decides the slots `pick` selects (and only those not held by a person's choice). */
static void
redecide (VmdUsbRouter *self, gboolean (*pick) (VmdUsbSlot *slot, gconstpointer data), gconstpointer data)
{
  g_autoptr(GPtrArray) all = all_slots (self);

  for (guint i = 0; i < all->len; i++)
    {
      VmdUsbSlot *slot = all->pdata[i];
      if (slot->present && slot->override == NULL && pick (slot, data))
        {
          decide (self, slot);
          log_decision (slot);
        }
    }
  settle_all (self);
}

/* Nothing to decide again: devices waiting for this VM now find it running. */
void
vmd_usb_router_vm_started (VmdUsbRouter *self, const char *vm)
{
  settle_all (self);
}

static gboolean
pick_in_vm (VmdUsbSlot *slot, gconstpointer vm)
{
  return g_strcmp0 (vmd_usb_slot_target_vm (slot), vm) == 0 && slot->memory_vm == NULL;
}

void
vmd_usb_router_vm_stopped (VmdUsbRouter *self, const char *vm)
{
  GHashTableIter iter;
  VmdUsbSlot *slot;

  /* libvirt drops a stopped VM's hostdevs itself. */
  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &slot))
    if (!slot->busy && g_strcmp0 (slot->vm, vm) == 0)
      {
        g_clear_pointer (&slot->vm, g_free);
        g_clear_pointer (&slot->hostdev, vmd_usb_hostdev_free);
      }
  redecide (self, pick_in_vm, vm);
}

static gboolean
pick_follow (VmdUsbSlot *slot, gconstpointer data)
{
  return slot->decision && slot->decision->focused && slot->decision->follow && slot->memory_vm == NULL;
}

void
vmd_usb_router_focus_changed (VmdUsbRouter *self, const char *previous, const char *current)
{
  redecide (self, pick_follow, NULL);
}

static gboolean
pick_on_host (VmdUsbSlot *slot, gconstpointer data)
{
  return slot->vm == NULL && !slot->busy;
}

void
vmd_usb_router_set_policy (VmdUsbRouter *self, VmdPolicy *policy)
{
  g_clear_pointer (&self->policy, vmd_policy_unref);
  self->policy = vmd_policy_ref (policy);
  redecide (self, pick_on_host, NULL);
}

VmdPolicy *
vmd_usb_router_get_policy (VmdUsbRouter *self)
{
  return self->policy;
}

static VmdUsbSlot *
slot_at_address (VmdUsbRouter *self, const VmdUsbHostdev *hostdev)
{
  GHashTableIter iter;
  VmdUsbSlot *slot;

  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &slot))
    if (slot->present && slot->present->bus == hostdev->bus && slot->present->devnum == hostdev->devnum &&
        slot->present->device->vendor_id == hostdev->vendor_id &&
        slot->present->device->product_id == hostdev->product_id)
      return slot;
  return NULL;
}

static void
adopt (VmdUsbRouter *self, const char *vm, VmdUsbHostdev *hostdev)
{
  VmdUsbSlot *slot = slot_at_address (self, hostdev);

  if (slot == NULL)
    {
      g_message ("removing hostdev %s from %s: its device is gone", hostdev->alias, vm);
      Op *op = op_new (self, NULL, vm, vmd_usb_hostdev_copy (hostdev), FALSE);
      self->ops->detach (self->ops_data, vm, op->hostdev, on_op_done, op);
      return;
    }
  if (slot->busy)
    return;
  g_free (slot->vm);
  slot->vm = g_strdup (vm);
  vmd_usb_hostdev_free (slot->hostdev);
  slot->hostdev = vmd_usb_hostdev_copy (hostdev);
  /* A device found attached stays where it is, even where the policy says otherwise now. */
  if (g_strcmp0 (vmd_usb_slot_wanted_vm (slot, self->view, self->view_data), vm) != 0 &&
      slot->decision->target != VMD_POLICY_DENY)
    {
      g_free (slot->override);
      slot->override = g_strdup (vm);
    }
}

void
vmd_usb_router_reconcile (VmdUsbRouter *self)
{
  g_auto(GStrv) running = self->view->running (self->view_data);
  GHashTableIter iter;
  VmdUsbSlot *slot;

  /* What libvirt says replaces what the router believed, for every idle slot. */
  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &slot))
    if (!slot->busy)
      {
        g_clear_pointer (&slot->vm, g_free);
        g_clear_pointer (&slot->hostdev, vmd_usb_hostdev_free);
      }
  /* Synchronous, but only at start and on reconnect; one XML read per running VM. */
  for (guint i = 0; running && running[i]; i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(GPtrArray) hostdevs = self->ops->list (self->ops_data, running[i], &error);

      if (hostdevs == NULL)
        {
          g_warning ("reconciling USB devices of %s: %s", running[i], error->message);
          continue;
        }
      for (guint j = 0; j < hostdevs->len; j++)
        adopt (self, running[i], hostdevs->pdata[j]);
    }
  self->synced = TRUE;
  settle_all (self);
}

void
vmd_usb_router_connection_lost (VmdUsbRouter *self)
{
  self->synced = FALSE;
}

/* ---- requests ---- */

static gint
by_id (gconstpointer a, gconstpointer b)
{
  const VmdUsbDeviceInfo *x = *(VmdUsbDeviceInfo **) a, *y = *(VmdUsbDeviceInfo **) b;

  return strcmp (x->id, y->id);
}

GPtrArray *
vmd_usb_router_list (VmdUsbRouter *self)
{
  GPtrArray *infos = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_usb_device_info_free);
  GHashTableIter iter;
  VmdUsbSlot *slot;

  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &slot))
    if (slot->present)
      g_ptr_array_add (infos, vmd_usb_slot_info (slot, self->view, self->view_data));
  g_ptr_array_sort (infos, by_id);
  return infos;
}

static VmdUsbSlot *
find_present (VmdUsbRouter *self, const char *id, GError **error)
{
  GHashTableIter iter;
  VmdUsbSlot *slot;

  g_hash_table_iter_init (&iter, self->slots);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &slot))
    if (slot->present && g_str_equal (slot->present->id, id))
      return slot;
  g_set_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_UNKNOWN_DEVICE,
               "no USB device at port %s", id);
  return NULL;
}

VmdUsbDeviceInfo *
vmd_usb_router_lookup (VmdUsbRouter *self, const char *id)
{
  VmdUsbSlot *slot = find_present (self, id, NULL);

  return slot ? vmd_usb_slot_info (slot, self->view, self->view_data) : NULL;
}

static gboolean
remember (VmdUsbRouter *self, VmdUsbSlot *slot, const char *vm, GError **error)
{
  const VmdUsbDevice *device = slot->present->device;
  g_autofree char *description = NULL;
  g_autofree char *valid = NULL;

  if (slot->ambiguous)
    {
      g_set_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_AMBIGUOUS,
                   "USB device %s cannot be remembered: %s", slot->present->id,
                   slot->present->device->serial && slot->present->device->serial[0]
                   ? "an identical device is plugged in too" : "it has no serial number");
      return FALSE;
    }
  /* For people reading the memory file; device strings are arbitrary bytes. */
  description = g_strdup_printf ("%04x:%04x %s", device->vendor_id, device->product_id, safe_text (device->name));
  valid = g_utf8_make_valid (description, -1);
  if (!vmd_usb_memory_remember (self->memory, device->hash, vm, valid, error))
    return FALSE;
  g_free (slot->memory_vm);
  slot->memory_vm = g_strdup (vm);
  return TRUE;
}

static gboolean
check_can_attach (VmdUsbRouter *self, VmdUsbSlot *slot, const char *vm, GError **error)
{
  if (slot->decision->target == VMD_POLICY_DENY)
    {
      g_set_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_DENIED,
                   "USB device %s is denied by policy (%s)", slot->present->id, slot->decision->reason);
      return FALSE;
    }
  if (!self->view->is_running (vm, self->view_data))
    {
      g_set_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_NOT_RUNNING, "VM %s is not running", vm);
      return FALSE;
    }
  return TRUE;
}

static void
place (VmdUsbRouter *self, VmdUsbSlot *slot, const char *vm)
{
  stop_asking (slot);
  g_free (slot->override);
  slot->override = g_strdup (vm ? vm : "");
  vmd_usb_slot_clear_failure (slot);
  settle (self, slot);
}

gboolean
vmd_usb_router_attach (VmdUsbRouter *self, const char *id, const char *vm, gboolean remember_it, GError **error)
{
  VmdUsbSlot *slot = find_present (self, id, error);

  if (slot == NULL || !check_can_attach (self, slot, vm, error))
    return FALSE;
  if (remember_it && !remember (self, slot, vm, error))
    return FALSE;
  place (self, slot, vm);
  return TRUE;
}

gboolean
vmd_usb_router_detach (VmdUsbRouter *self, const char *id, GError **error)
{
  VmdUsbSlot *slot = find_present (self, id, error);

  if (slot == NULL)
    return FALSE;
  place (self, slot, NULL);
  return TRUE;
}

gboolean
vmd_usb_router_forget (VmdUsbRouter *self, const char *id, GError **error)
{
  VmdUsbSlot *slot = find_present (self, id, error);

  if (slot == NULL)
    return FALSE;
  if (slot->present->device->hash && !vmd_usb_memory_forget (self->memory, slot->present->device->hash, error))
    return FALSE;
  g_clear_pointer (&slot->memory_vm, g_free);
  /* Forgetting changes the next plug, not this one: the device stays where it is. */
  if (slot->override == NULL)
    slot->override = g_strdup (slot->vm ? slot->vm : "");
  settle (self, slot);
  return TRUE;
}

gboolean
vmd_usb_router_answer (VmdUsbRouter *self, const char *id, const char *vm, gboolean remember_it, GError **error)
{
  VmdUsbSlot *slot = find_present (self, id, error);

  if (slot == NULL)
    return FALSE;
  if (!slot->asking)
    {
      g_set_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_NOT_ASKING,
                   "nobody asked where USB device %s goes", id);
      return FALSE;
    }
  if (vm != NULL && vm[0] != '\0')
    {
      if (!g_strv_contains ((const char *const *) slot->decision->candidates, vm))
        {
          g_set_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT,
                       "%s is not one of the VMs asked about for USB device %s", vm, id);
          return FALSE;
        }
      if (!check_can_attach (self, slot, vm, error))
        return FALSE;
      /* An identity that cannot be remembered still goes where it was sent. */
      if (remember_it && !remember (self, slot, vm, error))
        {
          place (self, slot, vm);
          return FALSE;
        }
    }
  place (self, slot, vm);
  return TRUE;
}

guint
vmd_usb_router_busy (VmdUsbRouter *self)
{
  return self->busy;
}

void
vmd_usb_router_set_ask_timeout (VmdUsbRouter *self, guint ask_timeout_ms)
{
  self->ask_timeout_ms = ask_timeout_ms;
}

void
vmd_usb_router_set_retry_delay (VmdUsbRouter *self, guint retry_delay_ms)
{
  self->retry_delay_ms = retry_delay_ms;
}

/* ---- object ---- */

VmdUsbRouter *
vmd_usb_router_new (VmdPolicy *policy, VmdUsbMemory *memory, const VmdUsbOps *ops, gpointer ops_data,
                    const VmdUsbVmView *view, gpointer view_data)
{
  VmdUsbRouter *self = g_object_new (VMD_TYPE_USB_ROUTER, NULL);

  self->policy = vmd_policy_ref (policy);
  self->memory = g_object_ref (memory);
  self->ops = ops;
  self->ops_data = ops_data;
  self->view = view;
  self->view_data = view_data;
  return self;
}

static void
vmd_usb_router_init (VmdUsbRouter *self)
{
  self->slots = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) vmd_usb_slot_unref);
  self->ask_timeout_ms = DEFAULT_ASK_TIMEOUT_MS;
  self->retry_delay_ms = DEFAULT_RETRY_DELAY_MS;
}

static void
vmd_usb_router_dispose (GObject *object)
{
  VmdUsbRouter *self = VMD_USB_ROUTER (object);
  GHashTableIter iter;
  VmdUsbSlot *slot;

  if (self->slots)
    {
      g_hash_table_iter_init (&iter, self->slots);
      while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &slot))
        {
          stop_asking (slot);
          g_clear_handle_id (&slot->retry_id, g_source_remove);
        }
    }
  G_OBJECT_CLASS (vmd_usb_router_parent_class)->dispose (object);
}

static void
vmd_usb_router_finalize (GObject *object)
{
  VmdUsbRouter *self = VMD_USB_ROUTER (object);

  g_clear_pointer (&self->slots, g_hash_table_unref);
  g_clear_pointer (&self->policy, vmd_policy_unref);
  g_clear_object (&self->memory);
  G_OBJECT_CLASS (vmd_usb_router_parent_class)->finalize (object);
}

static void
vmd_usb_router_class_init (VmdUsbRouterClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vmd_usb_router_dispose;
  object_class->finalize = vmd_usb_router_finalize;
  signals[SIGNAL_DEVICE_CHANGED] = g_signal_new ("device-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIGNAL_DEVICE_REMOVED] = g_signal_new ("device-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                 0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIGNAL_ASK] = g_signal_new ("ask", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                      0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
}
