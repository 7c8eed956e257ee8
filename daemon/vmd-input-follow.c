/* vmd-input-follow.c: hands a VM its evdev-inputs while it is on screen. Each change is a
 * reconcile of one VM's live XML against what it should have, done on one worker thread:
 * an attach into QEMU takes milliseconds the main loop must not wait, and one thread keeps
 * the order asked (a quick Switch there and back detaches before it attaches again). */
#include "vmd-input-follow.h"

#include <libvirt/virterror.h>

struct _VmdInputFollow {
  GObject      parent;
  VmdManager  *manager;
  VmdLibvirt  *libvirt;
  GThreadPool *worker;
  GHashTable  *up;      /* names of the VMs last seen running */
};

G_DEFINE_TYPE (VmdInputFollow, vmd_input_follow, G_TYPE_OBJECT)

/* One reconcile: `vm` should have exactly `want` (empty: none of vmdesk's inputs). */
typedef struct {
  virConnectPtr conn;
  char         *vm;
  GStrv         want;
} Job;

static void
job_free (Job *job)
{
  virConnectClose (job->conn);
  g_free (job->vm);
  g_strfreev (job->want);
  g_free (job);
}

/* ---- on the worker ---- */

static void
log_libvirt_failure (const char *doing, const char *dev, const char *vm)
{
  g_autofree char *shown = g_strescape (dev, NULL);

  g_warning ("evdev input \"%s\" of VM %s: %s failed: %s", shown, vm, doing,
             virGetLastErrorMessage ());
}

static gboolean
is_wanted (const VmdEvdevInput *have, GStrv want)
{
  for (guint i = 0; want[i]; i++)
    {
      g_autofree char *alias = g_strdup_printf (VMD_EVDEV_ALIAS_PREFIX "%u", i);
      if (g_str_equal (have->alias, alias) && g_str_equal (have->dev, want[i]))
        return TRUE;
    }
  return FALSE;
}

static gboolean
is_present (GPtrArray *have, guint index, const char *dev)
{
  g_autofree char *alias = g_strdup_printf (VMD_EVDEV_ALIAS_PREFIX "%u", index);

  for (guint i = 0; i < have->len; i++)
    {
      const VmdEvdevInput *input = have->pdata[i];
      if (g_str_equal (input->alias, alias) && g_str_equal (input->dev, dev))
        return TRUE;
    }
  return FALSE;
}

/* grab='all' goes to the keyboard, so its grab toggle moves every input; without a
 * keyboard by name, the first path is taken to be one (docs/vm-settings.md). */
static gboolean
gets_grab_all (GStrv want, guint index)
{
  for (guint i = 0; want[i]; i++)
    if (vmd_evdev_path_is_keyboard (want[i]))
      return vmd_evdev_path_is_keyboard (want[index]);
  return index == 0;
}

/* Attaches the missing inputs; on a failure the ones attached here are detached again,
 * so the VM never keeps half a set. */
static void
attach_missing (virDomainPtr dom, const char *vm, GStrv want, GPtrArray *have)
{
  g_autoptr(GPtrArray) attached = g_ptr_array_new_with_free_func (g_free);
  guint i;

  for (i = 0; want[i]; i++)
    {
      g_autofree char *xml = NULL;

      if (is_present (have, i, want[i]))
        continue;
      xml = vmd_evdev_input_to_xml (want[i], i, gets_grab_all (want, i));
      if (virDomainAttachDeviceFlags (dom, xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
        {
          g_autofree char *shown = g_strescape (want[i], NULL);
          /* libvirt 9.0 refuses every evdev hot-plug ("bus 'none' cannot be hot plugged"). */
          gboolean unsupported = virGetLastErrorCode () == VIR_ERR_OPERATION_UNSUPPORTED;

          g_warning ("evdev input \"%s\" of VM %s: attaching %s failed: %s%s", shown, vm, xml,
                     virGetLastErrorMessage (),
                     unsupported ? " (this libvirt cannot hot-plug evdev inputs: libvirt issue #529)" : "");
          break;
        }
      g_ptr_array_add (attached, g_steal_pointer (&xml));
    }
  if (want[i] == NULL)
    {
      if (attached->len)
        g_message ("VM %s: attached %u evdev input(s)", vm, attached->len);
      return;
    }
  for (guint j = attached->len; j-- > 0;)
    if (virDomainDetachDeviceFlags (dom, attached->pdata[j], VIR_DOMAIN_AFFECT_LIVE) < 0)
      g_warning ("VM %s: rolling back an evdev input failed (%s): %s", vm,
                 (const char *) attached->pdata[j], virGetLastErrorMessage ());
  if (attached->len)
    g_message ("VM %s: rolled back %u evdev input(s) attached before the failure", vm, attached->len);
}

static void
reconcile (gpointer data, gpointer user_data)
{
  Job *job = data;
  virDomainPtr dom = virDomainLookupByName (job->conn, job->vm);
  char *xml = dom ? virDomainGetXMLDesc (dom, 0) : NULL;
  g_autoptr(GPtrArray) have = NULL;
  g_autoptr(GError) error = NULL;

  if (xml == NULL)
    {
      /* The VM stopped or went away meanwhile: QEMU took its inputs with it. */
      g_debug ("VM %s: no live XML for evdev inputs: %s", job->vm, virGetLastErrorMessage ());
      goto out;
    }
  if ((have = vmd_evdev_inputs_from_domain_xml (xml, &error)) == NULL)
    {
      g_warning ("VM %s: reading its evdev inputs: %s", job->vm, error->message);
      goto out;
    }
  /* Inputs of ours that are not wanted as they are (another VM is on screen, or the
   * settings changed) go first, so a path never sits in two aliases. */
  for (guint i = 0; i < have->len; i++)
    {
      const VmdEvdevInput *input = have->pdata[i];

      if (is_wanted (input, job->want))
        continue;
      if (virDomainDetachDeviceFlags (dom, input->xml, VIR_DOMAIN_AFFECT_LIVE) < 0)
        log_libvirt_failure ("detaching", input->dev, job->vm);
      else
        g_message ("VM %s: detached evdev input %s", job->vm, input->alias);
    }
  attach_missing (dom, job->vm, job->want, have);
out:
  free (xml);
  if (dom)
    virDomainFree (dom);
  job_free (job);
}

/* ---- on the main loop ---- */

static gboolean
vm_is_up (const VmdVm *vm)
{
  return vm != NULL && (vm->state == VIR_DOMAIN_RUNNING || vm->state == VIR_DOMAIN_PAUSED ||
                        vm->state == VIR_DOMAIN_BLOCKED);
}

/* Queues a reconcile of `vm`: its evdev-inputs when on screen, none otherwise. */
static void
follow (VmdInputFollow *self, const VmdVm *vm)
{
  virConnectPtr conn = vmd_libvirt_get_connection (self->libvirt);
  gboolean on_screen = g_str_equal (vm->name, vmd_manager_get_on_screen (self->manager));
  Job *job;

  if (conn == NULL || !vm_is_up (vm))
    return;
  job = g_new0 (Job, 1);
  virConnectRef (conn);
  job->conn = conn;
  job->vm = g_strdup (vm->name);
  job->want = on_screen ? g_strdupv (vm->settings->evdev_inputs) : g_new0 (char *, 1);
  g_thread_pool_push (self->worker, job, NULL);
}

static void
on_focus_changed (VmdManager *manager, const char *previous, const char *current,
                  VmdInputFollow *self)
{
  const VmdVm *vm;

  /* The one leaving is reconciled whatever its settings say now: settings edited while it
   * was on screen must not strand inputs in it. */
  if (*previous && (vm = vmd_libvirt_lookup (self->libvirt, previous)))
    follow (self, vm);
  if (*current && (vm = vmd_libvirt_lookup (self->libvirt, current)) && vm->settings->evdev_inputs[0])
    follow (self, vm);
}

static void
on_vm_state_changed (VmdLibvirt *libvirt, const VmdVm *vm, VmdInputFollow *self)
{
  if (!vm_is_up (vm))
    {
      g_hash_table_remove (self->up, vm->name);
      return;
    }
  /* A VM that (re)starts while it is on screen gets its inputs. */
  if (g_hash_table_add (self->up, g_strdup (vm->name)) && vm->settings->evdev_inputs[0])
    follow (self, vm);
}

static void
on_vm_removed (VmdLibvirt *libvirt, const char *name, VmdInputFollow *self)
{
  g_hash_table_remove (self->up, name);
}

/* On (re)connection the inventory is complete: every running VM is reconciled, which
 * also takes back inputs left in a VM that is no longer on screen (a daemon restart). */
static void
on_connected (VmdLibvirt *libvirt, GParamSpec *pspec, VmdInputFollow *self)
{
  g_autoptr(GPtrArray) vms = NULL;

  g_hash_table_remove_all (self->up);
  if (!vmd_libvirt_is_connected (libvirt))
    return;
  vms = vmd_libvirt_list_vms (libvirt);
  for (guint i = 0; i < vms->len; i++)
    if (vm_is_up (vms->pdata[i]))
      {
        g_hash_table_add (self->up, g_strdup (((const VmdVm *) vms->pdata[i])->name));
        follow (self, vms->pdata[i]);
      }
}

static void
vmd_input_follow_dispose (GObject *object)
{
  VmdInputFollow *self = VMD_INPUT_FOLLOW (object);

  if (self->libvirt)
    g_signal_handlers_disconnect_by_data (self->libvirt, self);
  if (self->manager)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  /* Queued reconciles still run: a VM switched away from just before shutdown gives its
   * inputs back. */
  if (self->worker)
    g_thread_pool_free (g_steal_pointer (&self->worker), FALSE, TRUE);
  g_clear_object (&self->manager);
  g_clear_object (&self->libvirt);
  G_OBJECT_CLASS (vmd_input_follow_parent_class)->dispose (object);
}

static void
vmd_input_follow_finalize (GObject *object)
{
  VmdInputFollow *self = VMD_INPUT_FOLLOW (object);

  g_hash_table_unref (self->up);
  G_OBJECT_CLASS (vmd_input_follow_parent_class)->finalize (object);
}

static void
vmd_input_follow_class_init (VmdInputFollowClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_input_follow_dispose;
  G_OBJECT_CLASS (klass)->finalize = vmd_input_follow_finalize;
}

static void
vmd_input_follow_init (VmdInputFollow *self)
{
  self->up = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  /* One exclusive thread: reconciles run in the order they were queued. */
  self->worker = g_thread_pool_new (reconcile, NULL, 1, TRUE, NULL);
}

VmdInputFollow *
vmd_input_follow_new (VmdManager *manager, VmdLibvirt *libvirt)
{
  VmdInputFollow *self = g_object_new (VMD_TYPE_INPUT_FOLLOW, NULL);

  self->manager = g_object_ref (manager);
  self->libvirt = g_object_ref (libvirt);
  g_signal_connect (manager, "focus-changed", G_CALLBACK (on_focus_changed), self);
  g_signal_connect (libvirt, "vm-state-changed", G_CALLBACK (on_vm_state_changed), self);
  g_signal_connect (libvirt, "vm-removed", G_CALLBACK (on_vm_removed), self);
  g_signal_connect (libvirt, "notify::connected", G_CALLBACK (on_connected), self);
  if (vmd_libvirt_is_connected (libvirt))
    on_connected (libvirt, NULL, self);
  return self;
}
