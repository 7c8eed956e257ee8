/* vmd-power-ops.c: the sleep plan's operations over libvirt. Each libvirt call blocks
 * (an RPC, a guest agent round trip, a managed save of gigabytes), so each runs on a
 * worker thread; the answer comes back on the main loop. Where the call returns before
 * the guest is there (S3, S4, wakeup, shutdown), the operation completes on libvirt's
 * lifecycle event instead, as VmdLibvirt's inventory reports it. */
#include "vmd-power-ops.h"

#include "vmd-live-xml.h"

#include <libvirt/virterror.h>
#include <time.h>

#define QEMU_GA_CHANNEL "org.qemu.guest_agent.0"
/* How long set-time waits for a restored guest's qemu-ga (see wait_for_agent). */
#define AGENT_WAIT_US   (10 * G_USEC_PER_SEC)

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)

/* An operation whose call returned, waiting for the VM to reach `state`. */
typedef struct {
  char           *vm;
  int             state;     /* virDomainState */
  VmdSleepOpDone  done;
  gpointer        user_data;
} Waiter;

struct _VmdPowerOps {
  GObject           parent;
  VmdLibvirt       *libvirt;
  VmdPowerSendTime  send_time;
  gpointer          send_time_data;
  GPtrArray        *waiters;
  /* qemu-ga connections seen per VM (name -> count): counted on the main loop, waited
   * for by set-time's worker. */
  GMutex            agent_lock;
  GCond             agent_cond;
  GHashTable       *agent_connects;
};

G_DEFINE_TYPE (VmdPowerOps, vmd_power_ops, G_TYPE_OBJECT)

static void
waiter_free (Waiter *w)
{
  g_free (w->vm);
  g_free (w);
}

/* Answers and forgets every waiter of `vm` (all of them when `vm` is NULL). */
static void
finish_waiters (VmdPowerOps *self, const char *vm, const GError *error)
{
  for (guint i = 0; i < self->waiters->len;)
    {
      Waiter *w = self->waiters->pdata[i];

      if (vm != NULL && strcmp (w->vm, vm) != 0)
        {
          i++;
          continue;
        }
      g_ptr_array_steal_index (self->waiters, i);
      w->done (error, w->user_data);
      waiter_free (w);
    }
}

static gboolean
is_up (int state)
{
  return state == VIR_DOMAIN_RUNNING || state == VIR_DOMAIN_BLOCKED || state == VIR_DOMAIN_PAUSED
      || state == VIR_DOMAIN_PMSUSPENDED || state == VIR_DOMAIN_SHUTDOWN;
}

static void
on_vm_state_changed (VmdLibvirt *libvirt, const VmdVm *vm, VmdPowerOps *self)
{
  for (guint i = 0; i < self->waiters->len;)
    {
      Waiter *w = self->waiters->pdata[i];
      g_autoptr(GError) error = NULL;

      if (strcmp (w->vm, vm->name) != 0
          || (vm->state != w->state && is_up (vm->state)))
        {
          i++;
          continue;
        }
      if (vm->state != w->state)
        error = g_error_new (VMD_ERROR, VMD_ERROR_NOT_RUNNING, "%s is %s now", vm->name,
                             vmd_domain_state_to_string (vm->state));
      g_ptr_array_steal_index (self->waiters, i);
      w->done (error, w->user_data);
      waiter_free (w);
    }
}

static void
on_vm_removed (VmdLibvirt *libvirt, const char *name, VmdPowerOps *self)
{
  g_autoptr(GError) error = g_error_new (VMD_ERROR, VMD_ERROR_UNKNOWN_VM, "%s is gone", name);

  /* A transient VM is gone once it stopped: that is what a wait for shut off wanted. */
  for (guint i = 0; i < self->waiters->len;)
    {
      Waiter *w = self->waiters->pdata[i];

      if (strcmp (w->vm, name) != 0 || w->state != VIR_DOMAIN_SHUTOFF)
        {
          i++;
          continue;
        }
      g_ptr_array_steal_index (self->waiters, i);
      w->done (NULL, w->user_data);
      waiter_free (w);
    }
  finish_waiters (self, name, error);
  /* A set-time still waiting for it sees a change and tries once: it fails, the VM is gone. */
  g_mutex_lock (&self->agent_lock);
  g_hash_table_remove (self->agent_connects, name);
  g_cond_broadcast (&self->agent_cond);
  g_mutex_unlock (&self->agent_lock);
}

/* With agent_lock held. */
static guint
agent_connects (VmdPowerOps *self, const char *vm)
{
  return GPOINTER_TO_UINT (g_hash_table_lookup (self->agent_connects, vm));
}

static void
on_vm_agent_connected (VmdLibvirt *libvirt, const char *name, VmdPowerOps *self)
{
  g_mutex_lock (&self->agent_lock);
  g_hash_table_insert (self->agent_connects, g_strdup (name),
                       GUINT_TO_POINTER (agent_connects (self, name) + 1));
  g_cond_broadcast (&self->agent_cond);
  g_mutex_unlock (&self->agent_lock);
}

/* ---- one operation ---- */

typedef struct {
  VmdPowerOps    *ops;         /* the task holds a reference */
  virConnectPtr   conn;
  char           *vm;
  VmdPowerAction  action;
  VmdSleepOpDone  done;
  gpointer        user_data;
  gboolean        link_time;   /* set_time: the power link took a time message */
  guint           agent_connects;   /* set_time: qemu-ga connections seen when it started */
} OpData;

static void
op_data_free (OpData *data)
{
  if (data->conn)
    virConnectClose (data->conn);
  g_free (data->vm);
  g_free (data);
}

static gboolean
call_libvirt (virDomainPtr dom, VmdPowerAction action)
{
  struct timespec now;

  switch (action)
    {
    case VMD_POWER_ACTION_SUSPEND:
      return virDomainPMSuspendForDuration (dom, VIR_NODE_SUSPEND_TARGET_MEM, 0, 0) == 0;
    case VMD_POWER_ACTION_PAUSE:
      return virDomainSuspend (dom) == 0;
    case VMD_POWER_ACTION_SAVE:
      return virDomainManagedSave (dom, 0) == 0;
    case VMD_POWER_ACTION_HIBERNATE:
      return virDomainPMSuspendForDuration (dom, VIR_NODE_SUSPEND_TARGET_DISK, 0, 0) == 0;
    case VMD_POWER_ACTION_SHUTDOWN:
      /* No flags: the hypervisor's choice, which for QEMU is qemu-ga when it answers and
       * ACPI otherwise. Returns once asked; the guest takes its time. */
      return virDomainShutdown (dom) == 0;
    case VMD_POWER_ACTION_RESUME:
      return virDomainResume (dom) == 0;
    case VMD_POWER_ACTION_WAKEUP:
      return virDomainPMWakeup (dom, 0) == 0;
    case VMD_POWER_ACTION_START:
      /* With a managed-save image this restores it. */
      return virDomainCreate (dom) == 0;
    case VMD_POWER_ACTION_SET_TIME:
      /* The host's clock as of now, not the guest's RTC: after a long sleep the RTC is
       * right too, but a paused guest's emulated one may not have run. */
      clock_gettime (CLOCK_REALTIME, &now);
      return virDomainSetTime (dom, now.tv_sec, (unsigned int) now.tv_nsec, 0) == 0;
    case VMD_POWER_ACTION_NONE:
    default:
      return TRUE;
    }
}

/* A guest restored from a managed save (or woken from S3) runs before libvirt has its
 * qemu-ga back: QEMU announces the guest's open port a moment after the guest runs, and
 * only then does libvirt connect. After a "not connected" failure, waits for that
 * connection; bounded, because a guest without qemu-ga never connects (and the plan's
 * run must not wait for it: another host sleep is refused while it lasts). TRUE: qemu-ga
 * connected since the operation started, so try again. */
static gboolean
wait_for_agent (OpData *data)
{
  VmdPowerOps *self = data->ops;
  gint64 end = g_get_monotonic_time () + AGENT_WAIT_US;
  gboolean connected;

  if (data->link_time || virGetLastErrorCode () != VIR_ERR_AGENT_UNRESPONSIVE)
    return FALSE;
  g_mutex_lock (&self->agent_lock);
  while (!(connected = agent_connects (self, data->vm) != data->agent_connects)
         && g_cond_wait_until (&self->agent_cond, &self->agent_lock, end))
    ;
  g_mutex_unlock (&self->agent_lock);
  return connected;
}

static void
op_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  OpData *data = task_data;
  g_autoptr(virDomain) dom = virDomainLookupByName (data->conn, data->vm);
  GError *error = NULL;

  if (dom == NULL)
    vmd_set_libvirt_error (&error, "%s: looking up the VM", data->vm);
  else if (!call_libvirt (dom, data->action)
           && !(data->action == VMD_POWER_ACTION_SET_TIME && wait_for_agent (data)
                && call_libvirt (dom, data->action)))
    {
      /* Read first: any further libvirt call resets its last error. */
      vmd_set_libvirt_error (&error, "%s: %s", data->vm, vmd_power_action_to_string (data->action));
      /* A guest that powers off at once can be gone before libvirt's own call is over
       * ("domain is not running"): what was asked for happened. */
      if (data->action == VMD_POWER_ACTION_SHUTDOWN && virDomainIsActive (dom) == 0)
        g_clear_error (&error);
    }
  if (error)
    g_task_return_error (task, error);
  else
    g_task_return_boolean (task, TRUE);
}

/* The state an operation completes in when its call returned first; -1: at once. */
static int
awaited_state (VmdPowerAction action)
{
  switch (action)
    {
    case VMD_POWER_ACTION_SUSPEND:   return VIR_DOMAIN_PMSUSPENDED;
    case VMD_POWER_ACTION_HIBERNATE: return VIR_DOMAIN_SHUTOFF;
    case VMD_POWER_ACTION_SHUTDOWN:  return VIR_DOMAIN_SHUTOFF;
    case VMD_POWER_ACTION_WAKEUP:    return VIR_DOMAIN_RUNNING;
    default:                         return -1;
    }
}

static void
on_op_returned (GObject *source, GAsyncResult *result, gpointer user_data)
{
  VmdPowerOps *self = VMD_POWER_OPS (source);
  OpData *data = g_task_get_task_data (G_TASK (result));
  g_autoptr(GError) error = NULL;
  int state = awaited_state (data->action);
  const VmdVm *vm;
  Waiter *w;

  if (!g_task_propagate_boolean (G_TASK (result), &error))
    {
      /* qemu-ga could not set the clock, but the power link carried the time. */
      if (data->action == VMD_POWER_ACTION_SET_TIME && data->link_time)
        {
          g_debug ("%s; the guest's clock is set through the power channel", error->message);
          g_clear_error (&error);
        }
      data->done (error, data->user_data);
      return;
    }
  if (self->libvirt == NULL)   /* disposed while the call ran */
    {
      error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "vmdeskd is stopping");
      data->done (error, data->user_data);
      return;
    }
  vm = vmd_libvirt_lookup (self->libvirt, data->vm);
  /* Shut off already, or a transient VM gone with it. */
  if (state < 0 || (vm != NULL && vm->state == state)
      || (vm == NULL && state == VIR_DOMAIN_SHUTOFF))
    {
      data->done (NULL, data->user_data);
      return;
    }
  w = g_new0 (Waiter, 1);
  w->vm = g_strdup (data->vm);
  w->state = state;
  w->done = data->done;
  w->user_data = data->user_data;
  g_ptr_array_add (self->waiters, w);
}

static void
start_op (gpointer ops_data, const char *vm, VmdPowerAction action, VmdSleepOpDone done,
          gpointer user_data)
{
  VmdPowerOps *self = ops_data;
  virConnectPtr conn = vmd_libvirt_get_connection (self->libvirt);
  g_autoptr(GTask) task = NULL;
  g_autoptr(GError) superseded = g_error_new (G_IO_ERROR, G_IO_ERROR_CANCELLED,
                                              "%s: superseded by %s", vm,
                                              vmd_power_action_to_string (action));
  OpData *data;

  /* A new operation on a VM ends the wait of an older one (a pause after an S3 that
   * did not come in time): the plan no longer listens to it. */
  finish_waiters (self, vm, superseded);
  if (conn == NULL)
    {
      g_autoptr(GError) error = g_error_new (VMD_ERROR, VMD_ERROR_NOT_CONNECTED,
                                             "%s: %s: not connected to libvirt", vm,
                                             vmd_power_action_to_string (action));
      done (error, user_data);
      return;
    }
  data = g_new0 (OpData, 1);
  data->ops = self;
  virConnectRef (conn);
  data->conn = conn;
  data->vm = g_strdup (vm);
  data->action = action;
  data->done = done;
  data->user_data = user_data;
  if (action == VMD_POWER_ACTION_SET_TIME && self->send_time != NULL)
    data->link_time = self->send_time (vm, self->send_time_data);
  g_mutex_lock (&self->agent_lock);
  data->agent_connects = agent_connects (self, vm);
  g_mutex_unlock (&self->agent_lock);
  task = g_task_new (self, NULL, on_op_returned, NULL);
  g_task_set_task_data (task, data, (GDestroyNotify) op_data_free);
  g_task_run_in_thread (task, op_thread);
}

#define DEFINE_OP(name, ACTION)                                                          \
  static void                                                                            \
  op_##name (gpointer ops_data, const char *vm, VmdSleepOpDone done, gpointer user_data) \
  {                                                                                      \
    start_op (ops_data, vm, ACTION, done, user_data);                                    \
  }

DEFINE_OP (suspend, VMD_POWER_ACTION_SUSPEND)
DEFINE_OP (pause, VMD_POWER_ACTION_PAUSE)
DEFINE_OP (save, VMD_POWER_ACTION_SAVE)
DEFINE_OP (hibernate, VMD_POWER_ACTION_HIBERNATE)
DEFINE_OP (resume, VMD_POWER_ACTION_RESUME)
DEFINE_OP (wakeup, VMD_POWER_ACTION_WAKEUP)
DEFINE_OP (start, VMD_POWER_ACTION_START)
DEFINE_OP (set_time, VMD_POWER_ACTION_SET_TIME)
DEFINE_OP (shutdown, VMD_POWER_ACTION_SHUTDOWN)

static const VmdSleepOps vtable = {
  op_suspend, op_pause, op_save, op_hibernate, op_resume, op_wakeup, op_start, op_set_time,
  op_shutdown,
};

const VmdSleepOps *
vmd_power_ops_vtable (void)
{
  return &vtable;
}

/* ---- reading the VMs for the plan ---- */

typedef struct {
  virConnectPtr conn;
  GArray       *vms;     /* VmdSleepVm, names owned */
} ReadData;

static void
clear_sleep_vm (VmdSleepVm *vm)
{
  g_free ((char *) vm->name);
}

static void
read_data_free (ReadData *data)
{
  if (data->conn)
    virConnectClose (data->conn);
  if (data->vms)
    g_array_unref (data->vms);
  g_free (data);
}

static VmdVmRunState
run_state (int state)
{
  switch (state)
    {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:     return VMD_VM_RUNNING;
    case VIR_DOMAIN_PAUSED:      return VMD_VM_PAUSED;
    case VIR_DOMAIN_PMSUSPENDED: return VMD_VM_PMSUSPENDED;
    case VIR_DOMAIN_SHUTOFF:     return VMD_VM_SHUTOFF;
    default:                     return VMD_VM_OTHER;
    }
}

static void
read_vms_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  ReadData *data = task_data;

  for (guint i = 0; i < data->vms->len; i++)
    {
      VmdSleepVm *vm = &g_array_index (data->vms, VmdSleepVm, i);
      g_autoptr(virDomain) dom = virDomainLookupByName (data->conn, vm->name);
      g_autofree char *xml = NULL;
      int state, reason;

      if (dom == NULL || virDomainGetState (dom, &state, &reason, 0) < 0)
        {
          vm->state = VMD_VM_OTHER;   /* gone meanwhile: the plan leaves it alone */
          continue;
        }
      vm->state = run_state (state);
      vm->instance = virDomainIsActive (dom) == 1 ? (gint64) virDomainGetID (dom) : -1;
      vm->has_managed_save = virDomainHasManagedSaveImage (dom, 0) == 1;
      if (vm->instance >= 0 && (xml = virDomainGetXMLDesc (dom, 0)) != NULL)
        {
          VmdLiveDevices devices;

          vmd_live_xml_read_devices (xml, QEMU_GA_CHANNEL, &devices);
          vm->has_hostdev = devices.has_hostdev;
          vm->has_agent = devices.channel_connected;
        }
    }
  g_task_return_pointer (task, g_array_ref (data->vms), (GDestroyNotify) g_array_unref);
}

void
vmd_power_ops_read_vms_async (VmdPowerOps *self, GAsyncReadyCallback callback, gpointer user_data)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, callback, user_data);
  virConnectPtr conn = vmd_libvirt_get_connection (self->libvirt);
  g_autoptr(GPtrArray) known = vmd_libvirt_list_vms (self->libvirt);
  ReadData *data;

  if (conn == NULL)
    {
      g_task_return_new_error (task, VMD_ERROR, VMD_ERROR_NOT_CONNECTED,
                               "not connected to libvirt");
      return;
    }
  data = g_new0 (ReadData, 1);
  virConnectRef (conn);
  data->conn = conn;
  data->vms = g_array_sized_new (FALSE, TRUE, sizeof (VmdSleepVm), known->len);
  g_array_set_clear_func (data->vms, (GDestroyNotify) clear_sleep_vm);
  for (guint i = 0; i < known->len; i++)
    {
      const VmdVm *vm = known->pdata[i];
      VmdSleepVm s = { 0 };

      s.name = g_strdup (vm->name);
      s.instance = -1;
      s.state = run_state (vm->state);
      s.on_host_sleep = vm->settings->on_host_sleep;
      s.on_host_shutdown = vm->settings->on_host_shutdown;
      g_array_append_val (data->vms, s);
    }
  g_task_set_task_data (task, data, (GDestroyNotify) read_data_free);
  g_task_run_in_thread (task, read_vms_thread);
}

GArray *
vmd_power_ops_read_vms_finish (VmdPowerOps *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

/* ---- object ---- */

VmdPowerOps *
vmd_power_ops_new (VmdLibvirt *libvirt, VmdPowerSendTime send_time, gpointer send_time_data)
{
  VmdPowerOps *self = g_object_new (VMD_TYPE_POWER_OPS, NULL);

  self->libvirt = g_object_ref (libvirt);
  self->send_time = send_time;
  self->send_time_data = send_time_data;
  g_signal_connect (libvirt, "vm-state-changed", G_CALLBACK (on_vm_state_changed), self);
  g_signal_connect (libvirt, "vm-removed", G_CALLBACK (on_vm_removed), self);
  g_signal_connect (libvirt, "vm-agent-connected", G_CALLBACK (on_vm_agent_connected), self);
  return self;
}

static void
vmd_power_ops_dispose (GObject *object)
{
  VmdPowerOps *self = VMD_POWER_OPS (object);
  g_autoptr(GError) error = g_error_new_literal (G_IO_ERROR, G_IO_ERROR_CANCELLED, "vmdeskd is stopping");

  if (self->libvirt)
    g_signal_handlers_disconnect_by_data (self->libvirt, self);
  finish_waiters (self, NULL, error);
  g_clear_object (&self->libvirt);
  G_OBJECT_CLASS (vmd_power_ops_parent_class)->dispose (object);
}

static void
vmd_power_ops_finalize (GObject *object)
{
  VmdPowerOps *self = VMD_POWER_OPS (object);

  g_hash_table_unref (self->agent_connects);
  g_cond_clear (&self->agent_cond);
  g_mutex_clear (&self->agent_lock);
  g_ptr_array_unref (self->waiters);
  G_OBJECT_CLASS (vmd_power_ops_parent_class)->finalize (object);
}

static void
vmd_power_ops_class_init (VmdPowerOpsClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_power_ops_dispose;
  G_OBJECT_CLASS (klass)->finalize = vmd_power_ops_finalize;
}

static void
vmd_power_ops_init (VmdPowerOps *self)
{
  self->waiters = g_ptr_array_new ();
  self->agent_connects = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_mutex_init (&self->agent_lock);
  g_cond_init (&self->agent_cond);
}
