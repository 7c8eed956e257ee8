/* vmd-vfio.c: pass-through wired to the daemon. Everything that blocks (sysfs writes,
 * libvirt's define, logind) is a job on one queue (vmd-vfio-queue.c: one at a time, in the
 * order asked for); the main loop keeps the bookkeeping: which VM holds which device. */
#include "vmd-vfio.h"

#include "vmd-vfio-jobs.h"
#include "vmd-vfio-query.h"
#include "vmd-vfio-queue.h"
#include "vmdesk-vfio.h"

#include <string.h>

typedef enum {
  HOLD_BOUND,
  HOLD_RELEASING,
  HOLD_FAILED,      /* a release failed: the journal stays for recovery at the next start */
} HoldState;

static const char *const hold_state_names[] = {
  [HOLD_BOUND]     = "bound",
  [HOLD_RELEASING] = "releasing",
  [HOLD_FAILED]    = "release-failed",
};

/* A device vmdesk bound for a VM. */
typedef struct {
  char     *bdf;
  char     *vm;
  GStrv     functions;
  HoldState state;
  char     *error;
  gboolean  single_gpu;
  gboolean  confirmed;
} Holding;

struct _VmdVfio {
  GObject           parent;
  VmdManager       *manager;
  VmdLibvirt       *libvirt;
  const VmdVfioOps *ops;
  gpointer          ops_data;
  GDestroyNotify    ops_data_free;
  GHashTable       *holdings;     /* bdf -> Holding */
  VmdVfioQueue     *jobs;         /* of Job */
  GPtrArray        *unresolved;   /* recovered "held" BDFs: which VM uses them? */
  gboolean          resolving;
};

G_DEFINE_TYPE (VmdVfio, vmd_vfio, G_TYPE_OBJECT)

static void
holding_free (Holding *h)
{
  g_free (h->bdf);
  g_free (h->vm);
  g_strfreev (h->functions);
  g_free (h->error);
  g_free (h);
}

/* Records that `bdf` (moved with `functions`; NULL: not known) is held for `vm`. */
static Holding *
hold (VmdVfio *self, const char *bdf, const char *vm, const char *const *functions)
{
  Holding *h = g_new0 (Holding, 1);
  const char *none[] = { NULL };

  h->bdf = g_strdup (bdf);
  h->vm = g_strdup (vm);
  h->functions = g_strdupv ((GStrv) (functions ? functions : none));
  g_hash_table_replace (self->holdings, h->bdf, h);
  return h;
}

static void
log_vm (GLogLevelFlags level, const char *vm, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
log_vm (GLogLevelFlags level, const char *vm, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list args;

  va_start (args, format);
  message = g_strdup_vprintf (format, args);
  va_end (args);
  g_log_structured (G_LOG_DOMAIN, level, "VMDESK_VM", vm ? vm : "", "MESSAGE", "%s", message);
}

/* PassthroughChanged (vm, bdf, functions, state, message). */
static void
emit_changed (VmdVfio *self, const char *vm, const char *bdf, GStrv functions, const char *state,
              const char *message)
{
  const char *none[] = { NULL };
  g_autofree char *valid = g_utf8_make_valid (message ? message : "", -1);

  vmd_manager_emit (self->manager, "PassthroughChanged",
                    g_variant_new ("(ss^asss)", vm ? vm : "", bdf,
                                   functions ? functions : (GStrv) none, state, valid));
}

/* ---- the worker: one job at a time, in order ---- */

typedef struct Job Job;
typedef void (*JobFunc) (VmdVfio *self, Job *job);

struct Job {
  JobFunc        work;      /* on the worker thread */
  JobFunc        done;      /* on the main loop */
  char          *vm;
  char          *reason;
  virConnectPtr  conn;      /* referenced, or NULL */
  GPtrArray     *bdfs;      /* in */
  GPtrArray     *watched;   /* undo: BDFs an earlier job was releasing, whose outcome it reports */
  GPtrArray     *bound;     /* prepare: VmdVfioBound */
  GPtrArray     *stuck;     /* prepare: VmdVfioBound it could not give back */
  GPtrArray     *results;   /* per BDF: NULL or the error message */
  GPtrArray     *recovered; /* VmdVfioRecovered */
  GHashTable    *users;     /* function -> running VM */
  gboolean       single_gpu;
  gboolean       unless_running; /* release: only if libvirt says the VM is not running */
  gboolean       kept;      /* release: it was running, nothing was released */
  GError        *error;
  GTask         *outer;     /* prepare, undo: the manager's */
  gboolean       answered;  /* outer has its result */
};

static Job *
job_new (JobFunc work, JobFunc done, const char *vm)
{
  Job *job = g_new0 (Job, 1);

  job->work = work;
  job->done = done;
  job->vm = g_strdup (vm);
  job->bdfs = g_ptr_array_new_with_free_func (g_free);
  job->watched = g_ptr_array_new_with_free_func (g_free);
  job->results = g_ptr_array_new_with_free_func (g_free);
  job->stuck = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_vfio_bound_free);
  return job;
}

static void
job_free (Job *job)
{
  g_free (job->vm);
  g_free (job->reason);
  if (job->conn)
    virConnectClose (job->conn);
  g_ptr_array_unref (job->bdfs);
  g_ptr_array_unref (job->watched);
  g_ptr_array_unref (job->results);
  g_ptr_array_unref (job->stuck);
  g_clear_pointer (&job->bound, g_ptr_array_unref);
  g_clear_pointer (&job->recovered, g_ptr_array_unref);
  g_clear_pointer (&job->users, g_hash_table_unref);
  g_clear_error (&job->error);
  g_clear_object (&job->outer);
  g_free (job);
}

static void
job_drop (Job *job)
{
  /* Never run (the daemon is stopping): the caller still gets an answer. */
  if (job->outer && !job->answered)
    g_task_return_new_error (job->outer, VMD_ERROR, VMD_ERROR_FAILED, "vmdeskd is stopping");
  job_free (job);
}

static void
job_work (gpointer self, gpointer job)
{
  ((Job *) job)->work (self, job);
}

static void
job_done (gpointer self, gpointer job)
{
  ((Job *) job)->done (self, job);
}

static void
queue_job (VmdVfio *self, Job *job)
{
  vmd_vfio_queue_push (self->jobs, job_work, job_done, job, (GDestroyNotify) job_drop);
}

/* libvirt calls of a job go through its own reference on the connection. */
static gboolean
job_take_connection (VmdVfio *self, Job *job)
{
  virConnectPtr conn = vmd_libvirt_get_connection (self->libvirt);

  if (conn == NULL)
    return FALSE;
  virConnectRef (conn);
  job->conn = conn;
  return TRUE;
}

/* ---- releasing: a failed start, a stop, a VM gone, a retry ---- */

static void hold_again (VmdVfio *self, const char *vm);

static gboolean
vm_is_running (VmdVfio *self, const char *name)
{
  const VmdVm *vm = vmd_libvirt_lookup (self->libvirt, name);

  return vm != NULL && vm->state == VIR_DOMAIN_RUNNING;
}

static void
release_work (VmdVfio *self, Job *job)
{
  if (job->unless_running && vmd_vfio_job_vm_may_run (job->conn, job->vm))
    {
      job->kept = TRUE;
      return;
    }
  for (guint i = 0; i < job->bdfs->len; i++)
    {
      g_autoptr(GError) error = NULL;

      self->ops->release (self->ops_data, job->bdfs->pdata[i], &error);
      g_ptr_array_add (job->results, error ? g_strdup (error->message) : NULL);
    }
}

/* A device whose give-back failed: its journal stays, and so does the record of who held it,
 * so that a retry knows it and ListPassthrough shows it. */
static void
hold_failed (VmdVfio *self, Holding *h, const char *failure)
{
  h->state = HOLD_FAILED;
  g_free (h->error);
  h->error = g_strdup (failure);
  log_vm (G_LOG_LEVEL_WARNING, h->vm, "VM '%s': giving %s back failed: %s; the journal stays, "
          "the next StartVM of a VM naming it and the next daemon start retry it", h->vm,
          h->bdf, failure);
}

/* The outcome of one release, on the main loop. */
static void
settle_release (VmdVfio *self, Job *job, const char *bdf, const char *failure)
{
  Holding *h = g_hash_table_lookup (self->holdings, bdf);
  g_autofree char *vm = g_strdup (h ? h->vm : job->vm);
  g_auto(GStrv) functions = h ? g_strdupv (h->functions) : NULL;

  if (failure == NULL)
    {
      log_vm (G_LOG_LEVEL_MESSAGE, vm, "VM '%s': %s given back to the host (%s)", vm, bdf,
              job->reason);
      g_hash_table_remove (self->holdings, bdf);
      emit_changed (self, vm, bdf, functions, "released", job->reason);
      return;
    }
  if (h)
    hold_failed (self, h, failure);
  emit_changed (self, vm, bdf, functions, "release-failed", failure);
}

/* An undo's answer: one line for the start's error, or an error saying what is stuck. */
static void
answer_undo (VmdVfio *self, Job *job)
{
  g_autoptr(GString) given = g_string_new (NULL);
  g_autoptr(GString) stuck = g_string_new (NULL);

  for (guint i = 0; i < job->bdfs->len + job->watched->len; i++)
    {
      gboolean own = i < job->bdfs->len;
      const char *bdf = own ? job->bdfs->pdata[i] : job->watched->pdata[i - job->bdfs->len];
      Holding *h = g_hash_table_lookup (self->holdings, bdf);
      /* A release an earlier job made: given back unless still held for this VM, failed or
       * kept because libvirt said the VM runs. */
      const char *failure = own ? job->results->pdata[i]
                          : h == NULL || !g_str_equal (h->vm, job->vm) ? NULL
                          : h->state == HOLD_FAILED ? h->error
                          : "kept: libvirt says the VM runs";

      if (failure)
        g_string_append_printf (stuck, "%sgiving %s back failed: %s", stuck->len ? "; " : "",
                                bdf, failure);
      else
        g_string_append_printf (given, "%s%s was given back to the host", given->len ? ", " : "",
                                bdf);
    }
  job->answered = TRUE;
  if (stuck->len == 0)
    {
      g_task_return_pointer (job->outer, given->len ? g_strdup (given->str) : NULL, g_free);
      return;
    }
  g_task_return_new_error (job->outer, VMD_ERROR, VMD_ERROR_FAILED, "%s%s%s; %s", given->str,
                           given->len ? "; " : "", stuck->str, VMD_VFIO_RETRY_NOTE);
}

static void
release_done (VmdVfio *self, Job *job)
{
  if (job->kept)
    {
      for (guint i = 0; i < job->bdfs->len; i++)
        {
          Holding *h = g_hash_table_lookup (self->holdings, job->bdfs->pdata[i]);
          /* As it was: bound, or a failed give-back still to retry. */
          if (h && h->state == HOLD_RELEASING)
            h->state = h->error ? HOLD_FAILED : HOLD_BOUND;
        }
      log_vm (G_LOG_LEVEL_MESSAGE, job->vm, "VM '%s' runs: its pass-through devices stay bound "
              "until it stops", job->vm);
      /* Its start event may have come while this job had the devices: held for it again. */
      if (vm_is_running (self, job->vm))
        hold_again (self, job->vm);
      return;
    }
  for (guint i = 0; i < job->bdfs->len; i++)
    settle_release (self, job, job->bdfs->pdata[i], job->results->pdata[i]);
  if (job->outer)
    answer_undo (self, job);
}

/* Queues the release of `vm`'s devices; with `outer`, that task gets the outcome once every
 * release of them, also one queued earlier, is done. */
static void
release_vm (VmdVfio *self, const char *vm, const char *reason, GTask *outer)
{
  Job *job = job_new (release_work, release_done, vm);
  GHashTableIter iter;
  Holding *h;

  job->reason = g_strdup (reason);
  job->outer = outer;
  g_hash_table_iter_init (&iter, self->holdings);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &h))
    {
      if (!g_str_equal (h->vm, vm))
        continue;
      if (h->state == HOLD_BOUND)
        {
          h->state = HOLD_RELEASING;
          g_ptr_array_add (job->bdfs, g_strdup (h->bdf));
        }
      else if (h->state == HOLD_RELEASING && outer != NULL)   /* its outcome goes to `outer` */
        g_ptr_array_add (job->watched, g_strdup (h->bdf));
    }
  if (job->bdfs->len == 0 && job->watched->len == 0)
    {
      if (outer)
        {
          job->answered = TRUE;
          g_task_return_pointer (outer, NULL, NULL);
        }
      job_free (job);
      return;
    }
  if (job->bdfs->len)
    log_vm (G_LOG_LEVEL_MESSAGE, vm, "VM '%s': %s; giving its pass-through devices back", vm,
            reason);
  /* With nothing of its own to release, the job still waits its turn: the queue runs in
   * order, so the releases it watches are settled by then. */
  queue_job (self, job);
}

/* Queues the release of `holder`'s devices in state `from`, but only if libvirt, asked on the
 * worker, says `holder` does not run (the cached state may lag behind: a start event not
 * arrived yet, or how its last start ended). */
static void
queue_release_unless_running (VmdVfio *self, const char *holder, HoldState from, const char *reason)
{
  Job *job = job_new (release_work, release_done, holder);
  GHashTableIter iter;
  Holding *h;

  job->reason = g_strdup (reason);
  job->unless_running = TRUE;
  job_take_connection (self, job);
  g_hash_table_iter_init (&iter, self->holdings);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &h))
    if (h->state == from && g_str_equal (h->vm, holder))
      {
        h->state = HOLD_RELEASING;
        g_ptr_array_add (job->bdfs, g_strdup (h->bdf));
        if (from == HOLD_FAILED)
          log_vm (G_LOG_LEVEL_MESSAGE, holder, "VM '%s': giving %s back again (%s)", holder, h->bdf,
                  reason);
      }
  if (job->bdfs->len == 0)
    job_free (job);
  else
    queue_job (self, job);
}

/* Whether VM `name`'s settings (as last read) name a function of the device `h` is about. */
static gboolean
names_the_device (VmdVfio *self, const char *name, const Holding *h)
{
  const VmdVm *vm = vmd_libvirt_lookup (self->libvirt, name);
  VmdVfioBdf held, named;

  if (vm == NULL || vm->settings == NULL || !vmd_vfio_bdf_parse (h->bdf, &held, NULL))
    return FALSE;
  for (GStrv b = vm->settings->passthrough_pci; b && *b; b++)
    if (vmd_vfio_bdf_parse (*b, &named, NULL) && vmd_vfio_bdf_same_device (&held, &named))
      return TRUE;
  return FALSE;
}

/* Before VM `name` is prepared: a give-back that failed is tried again when this start is
 * by the VM that held the device or needs it, and its holder does not run. Queued first, so
 * the prepare finds the device back on the host, or busy with the failure named. */
static void
retry_failed_releases (VmdVfio *self, const char *name)
{
  g_autofree char *reason = g_strdup_printf ("retried before starting VM '%s'", name);
  g_autoptr(GHashTable) holders = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  GHashTableIter iter;
  Holding *h;
  const char *holder;

  g_hash_table_iter_init (&iter, self->holdings);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &h))
    if (h->state == HOLD_FAILED && (g_str_equal (h->vm, name) || names_the_device (self, name, h)))
      g_hash_table_add (holders, g_strdup (h->vm));
  g_hash_table_iter_init (&iter, holders);
  while (g_hash_table_iter_next (&iter, (gpointer *) &holder, NULL))
    queue_release_unless_running (self, holder, HOLD_FAILED, reason);
}

/* ---- the start hook ---- */

static void
prepare_work (VmdVfio *self, Job *job)
{
  job->bound = vmd_vfio_job_prepare (job->conn, job->vm, self->ops, self->ops_data,
                                     &job->single_gpu, job->stuck, &job->error);
}

/* Says which VM holds the device that made a bind busy, and how. */
static void
name_the_holder (VmdVfio *self, GError *error)
{
  GHashTableIter iter;
  Holding *h;

  g_hash_table_iter_init (&iter, self->holdings);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &h))
    if (strstr (error->message, h->bdf))
      {
        g_autofree char *old = error->message;
        if (h->state == HOLD_FAILED)
          error->message = g_strdup_printf ("%s (giving %s back from VM '%s' failed: %s)", old,
                                            h->bdf, h->vm, h->error);
        else
          error->message = g_strdup_printf ("%s (%s is in use by VM '%s')", old, h->bdf, h->vm);
        return;
      }
}

/* A device a failed prepare bound and could not give back: held for the VM, failed. */
static void
record_stuck (VmdVfio *self, Job *job)
{
  for (guint i = 0; i < job->stuck->len; i++)
    {
      VmdVfioBound *b = job->stuck->pdata[i];
      Holding *h = hold (self, b->bdf, job->vm, (const char *const *) b->functions);

      h->single_gpu = job->single_gpu;
      h->confirmed = TRUE;
      hold_failed (self, h, b->error);
      emit_changed (self, job->vm, b->bdf, b->functions, "release-failed", b->error);
    }
}

static void
prepare_done (VmdVfio *self, Job *job)
{
  record_stuck (self, job);
  if (job->error)
    {
      if (g_error_matches (job->error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_BUSY))
        name_the_holder (self, job->error);
      /* The caller gets the error; for the log it is an outcome, not a daemon fault. */
      log_vm (G_LOG_LEVEL_MESSAGE, job->vm, "%s", job->error->message);
      job->answered = TRUE;
      g_task_return_error (job->outer, vmd_vfio_to_vmd_error (job->error));
      return;
    }
  for (guint i = 0; i < job->bound->len; i++)
    {
      VmdVfioBound *b = job->bound->pdata[i];
      Holding *h = hold (self, b->bdf, job->vm, (const char *const *) b->functions);

      h->single_gpu = job->single_gpu;
      emit_changed (self, job->vm, b->bdf, b->functions, "bound", "");
    }
  job->answered = TRUE;
  g_task_return_boolean (job->outer, TRUE);
}

static void
hook_prepare (gpointer data, const char *vm, GAsyncReadyCallback callback, gpointer user_data)
{
  VmdVfio *self = data;
  Job *job = job_new (prepare_work, prepare_done, vm);

  job->outer = g_task_new (self, NULL, callback, user_data);
  if (!job_take_connection (self, job))
    {
      g_task_return_new_error (job->outer, VMD_ERROR, VMD_ERROR_NOT_CONNECTED,
                               "not connected to libvirt (%s)", vmd_libvirt_get_uri (self->libvirt));
      job_free (job);
      return;
    }
  retry_failed_releases (self, vm);
  queue_job (self, job);
}

static gboolean
hook_prepare_finish (gpointer data, GAsyncResult *result, GError **error)
{
  return g_task_propagate_boolean (G_TASK (result), error);
}

static void
hook_undo (gpointer data, const char *vm, GAsyncReadyCallback callback, gpointer user_data)
{
  VmdVfio *self = data;

  release_vm (self, vm, "the start failed", g_task_new (self, NULL, callback, user_data));
}

static gboolean
hook_undo_finish (gpointer data, GAsyncResult *result, char **summary, GError **error)
{
  GError *local = NULL;

  *summary = g_task_propagate_pointer (G_TASK (result), &local);
  if (local == NULL)
    return TRUE;
  g_propagate_error (error, local);
  return FALSE;
}

static const VmdStartHook start_hook = {
  hook_prepare, hook_prepare_finish, hook_undo, hook_undo_finish,
};

const VmdStartHook *
vmd_vfio_start_hook (void)
{
  return &start_hook;
}

/* ---- a single-GPU hand-over's VM runs: its watchdog deadline no longer applies ---- */

static void
confirm_work (VmdVfio *self, Job *job)
{
  for (guint i = 0; i < job->bdfs->len; i++)
    {
      g_autoptr(GError) error = NULL;

      self->ops->confirm (self->ops_data, job->bdfs->pdata[i], &error);
      g_ptr_array_add (job->results, error ? g_strdup (error->message) : NULL);
    }
}

static void
confirm_done (VmdVfio *self, Job *job)
{
  for (guint i = 0; i < job->bdfs->len; i++)
    if (job->results->pdata[i])
      log_vm (G_LOG_LEVEL_WARNING, job->vm, "VM '%s' runs, but confirming the hand-over of %s "
              "failed: %s", job->vm, (char *) job->bdfs->pdata[i], (char *) job->results->pdata[i]);
    else
      log_vm (G_LOG_LEVEL_MESSAGE, job->vm, "VM '%s' runs: hand-over of %s confirmed", job->vm,
              (char *) job->bdfs->pdata[i]);
}

static void
confirm_vm (VmdVfio *self, const char *vm)
{
  Job *job = job_new (confirm_work, confirm_done, vm);
  GHashTableIter iter;
  Holding *h;

  g_hash_table_iter_init (&iter, self->holdings);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &h))
    if (h->state == HOLD_BOUND && h->single_gpu && !h->confirmed && g_str_equal (h->vm, vm))
      {
        h->confirmed = TRUE;
        g_ptr_array_add (job->bdfs, g_strdup (h->bdf));
      }
  if (job->bdfs->len == 0)
    job_free (job);
  else
    queue_job (self, job);
}

/* ---- libvirt's events ---- */

/* A VM whose give-back failed runs again (started outside vmdesk: libvirt accepts its
 * unmanaged hostdevs while the device is still on vfio-pci): QEMU holds the device, so it
 * is held for the VM again, and the VM's stop gives it back. */
static void
hold_again (VmdVfio *self, const char *vm)
{
  GHashTableIter iter;
  Holding *h;

  g_hash_table_iter_init (&iter, self->holdings);
  while (g_hash_table_iter_next (&iter, NULL, (gpointer *) &h))
    if (h->state == HOLD_FAILED && g_str_equal (h->vm, vm))
      {
        h->state = HOLD_BOUND;
        h->confirmed = TRUE;   /* its journal is an unfinished undo: nothing to confirm */
        g_clear_pointer (&h->error, g_free);
        log_vm (G_LOG_LEVEL_MESSAGE, vm, "VM '%s' runs with %s, whose give-back had failed: "
                "held for it again until it stops", vm, h->bdf);
        emit_changed (self, vm, h->bdf, h->functions, "bound", "the VM runs again");
      }
}

static void
on_vm_state_changed (VmdLibvirt *libvirt, const VmdVm *vm, VmdVfio *self)
{
  if (vm->state == VIR_DOMAIN_SHUTOFF)
    release_vm (self, vm->name, "the VM stopped", NULL);
  else if (vm->state == VIR_DOMAIN_RUNNING)
    {
      hold_again (self, vm->name);
      confirm_vm (self, vm->name);
    }
}

static void
on_vm_removed (VmdLibvirt *libvirt, const char *name, VmdVfio *self)
{
  release_vm (self, name, "the VM is gone", NULL);
}

/* ---- start-up: recovery, then the held devices no running VM uses ---- */

static void
resolve_work (VmdVfio *self, Job *job)
{
  job->users = vmd_vfio_job_active_users (job->conn, &job->error);
  for (guint i = 0; job->users && i < job->bdfs->len; i++)
    {
      g_autoptr(GError) error = NULL;

      if (g_hash_table_contains (job->users, job->bdfs->pdata[i]))
        g_ptr_array_add (job->results, NULL);
      else if (self->ops->release (self->ops_data, job->bdfs->pdata[i], &error))
        g_ptr_array_add (job->results, NULL);
      else
        g_ptr_array_add (job->results, g_strdup (error->message));
    }
}

static void
resolve_done (VmdVfio *self, Job *job)
{
  self->resolving = FALSE;
  if (job->error)
    {
      g_warning ("cannot tell which VM uses the pass-through devices still bound (%s); "
                 "asking again when libvirt reconnects", job->error->message);
      return;
    }
  for (guint i = 0; i < job->bdfs->len; i++)
    {
      const char *bdf = job->bdfs->pdata[i];
      const char *user = g_hash_table_lookup (job->users, bdf);
      const char *failure = job->results->pdata[i];
      const VmdVm *vm;
      Holding *h;
      guint index;

      if (g_ptr_array_find_with_equal_func (self->unresolved, bdf, g_str_equal, &index))
        g_ptr_array_remove_index_fast (self->unresolved, index);
      if (user)
        {
          /* The journal knows the functions; the daemon needs only the BDF to release. */
          h = hold (self, bdf, user, NULL);
          h->confirmed = TRUE;
          log_vm (G_LOG_LEVEL_MESSAGE, user, "%s stays bound: running VM '%s' passes it", bdf, user);
          vm = vmd_libvirt_lookup (self->libvirt, user);
          if (vm == NULL || vm->state == VIR_DOMAIN_SHUTOFF)
            queue_release_unless_running (self, user, HOLD_BOUND, "the VM stopped");
        }
      else if (failure == NULL)
        {
          g_message ("%s given back to the host: bound before the daemon started, and no "
                     "running VM passes it", bdf);
          emit_changed (self, "", bdf, NULL, "released", "no running VM passes it");
        }
      else
        {
          g_warning ("%s: bound before the daemon started and no running VM passes it, but "
                     "giving it back failed: %s", bdf, failure);
          /* Held for no VM: the next StartVM of a VM naming it retries. */
          h = hold (self, bdf, "", NULL);
          h->confirmed = TRUE;
          h->state = HOLD_FAILED;
          h->error = g_strdup (failure);
          emit_changed (self, "", bdf, NULL, "release-failed", failure);
        }
    }
}

static void
maybe_resolve (VmdVfio *self)
{
  Job *job;

  if (self->resolving || self->unresolved->len == 0 || !vmd_libvirt_is_connected (self->libvirt))
    return;
  job = job_new (resolve_work, resolve_done, NULL);
  for (guint i = 0; i < self->unresolved->len; i++)
    g_ptr_array_add (job->bdfs, g_strdup (self->unresolved->pdata[i]));
  job_take_connection (self, job);
  self->resolving = TRUE;
  queue_job (self, job);
}

static void
recover_work (VmdVfio *self, Job *job)
{
  job->recovered = self->ops->recover (self->ops_data, &job->error);
}

static void
recover_done (VmdVfio *self, Job *job)
{
  if (job->error)
    {
      g_warning ("pass-through recovery failed: %s", job->error->message);
      return;
    }
  for (guint i = 0; i < job->recovered->len; i++)
    {
      VmdVfioRecovered *r = job->recovered->pdata[i];
      const char *bdf = r->bdf ? r->bdf : "(unknown device)";

      g_log (G_LOG_DOMAIN, r->action == VMD_VFIO_RECOVERED_FAILED ? G_LOG_LEVEL_WARNING
                                                                  : G_LOG_LEVEL_MESSAGE,
             "pass-through recovery: %s %s: %s", bdf,
             vmd_vfio_recovered_action_to_string (r->action), r->detail ? r->detail : "");
      if (r->action == VMD_VFIO_RECOVERED_HELD && r->bdf)
        g_ptr_array_add (self->unresolved, g_strdup (r->bdf));
    }
  maybe_resolve (self);
}

static void
on_connected (VmdLibvirt *libvirt, GParamSpec *pspec, VmdVfio *self)
{
  maybe_resolve (self);
}

void
vmd_vfio_start (VmdVfio *self)
{
  queue_job (self, job_new (recover_work, recover_done, NULL));
}

/* ---- D-Bus: for the switcher, read-only ---- */

static void
handle_check (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdVfio *self = owner;
  g_autofree const char **bdfs = NULL;

  g_variant_get (params, "(^a&s)", &bdfs);
  vmd_vfio_query_check (G_OBJECT (self), self->ops, self->ops_data, bdfs, invocation);
}

static void
handle_plan (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdVfio *self = owner;
  const char *bdf;
  gboolean single_gpu;

  g_variant_get (params, "(&sb)", &bdf, &single_gpu);
  vmd_vfio_query_plan (G_OBJECT (self), self->ops, self->ops_data, bdf, single_gpu, invocation);
}

static int
compare_holdings (gconstpointer a, gconstpointer b)
{
  return g_strcmp0 ((*(Holding *const *) a)->bdf, (*(Holding *const *) b)->bdf);
}

static void
handle_list (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdVfio *self = owner;
  g_autoptr(GPtrArray) sorted = g_ptr_array_new ();
  GHashTableIter iter;
  gpointer value;
  GVariantBuilder b;

  g_hash_table_iter_init (&iter, self->holdings);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (sorted, value);
  g_ptr_array_sort (sorted, compare_holdings);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < sorted->len; i++)
    {
      Holding *h = sorted->pdata[i];
      GVariantDict d;

      g_variant_dict_init (&d, NULL);
      g_variant_dict_insert (&d, "bdf", "s", h->bdf);
      g_variant_dict_insert (&d, "vm", "s", h->vm);
      g_variant_dict_insert_value (&d, "functions", g_variant_new_strv ((const char *const *) h->functions, -1));
      g_variant_dict_insert (&d, "state", "s", hold_state_names[h->state]);
      g_variant_dict_insert (&d, "single-gpu", "b", h->single_gpu);
      if (h->error)
        {
          g_autofree char *valid = g_utf8_make_valid (h->error, -1);
          g_variant_dict_insert (&d, "error", "s", valid);
        }
      g_variant_builder_add_value (&b, g_variant_dict_end (&d));
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(aa{sv})", &b));
}

static const VmdMethod methods[] = {
  { "CheckPassthrough", NULL, vmd_vfio_query_check_args, handle_check },
  { "PlanPassthrough",  NULL, vmd_vfio_query_plan_args,  handle_plan },
  { "ListPassthrough",  NULL, NULL,                      handle_list },
};

/* ---- object ---- */

VmdVfio *
vmd_vfio_new (VmdManager *manager, VmdLibvirt *libvirt, const VmdVfioOps *ops, gpointer ops_data,
              GDestroyNotify ops_data_free)
{
  VmdVfio *self = g_object_new (VMD_TYPE_VFIO, NULL);

  self->manager = g_object_ref (manager);
  self->libvirt = g_object_ref (libvirt);
  self->ops = ops;
  self->ops_data = ops_data;
  self->ops_data_free = ops_data_free;
  g_signal_connect (libvirt, "vm-state-changed", G_CALLBACK (on_vm_state_changed), self);
  g_signal_connect (libvirt, "vm-removed", G_CALLBACK (on_vm_removed), self);
  g_signal_connect (libvirt, "notify::connected", G_CALLBACK (on_connected), self);
  vmd_manager_add_methods (manager, methods, G_N_ELEMENTS (methods), self);
  vmd_manager_set_start_hook (manager, &start_hook, self);
  return self;
}

static void
vmd_vfio_init (VmdVfio *self)
{
  self->holdings = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) holding_free);
  self->unresolved = g_ptr_array_new_with_free_func (g_free);
  self->jobs = vmd_vfio_queue_new (G_OBJECT (self));
}

static void
vmd_vfio_dispose (GObject *object)
{
  VmdVfio *self = VMD_VFIO (object);

  if (self->libvirt)
    g_signal_handlers_disconnect_by_data (self->libvirt, self);
  if (self->manager)
    vmd_manager_set_start_hook (self->manager, NULL, NULL);
  g_clear_object (&self->libvirt);
  g_clear_object (&self->manager);
  G_OBJECT_CLASS (vmd_vfio_parent_class)->dispose (object);
}

static void
vmd_vfio_finalize (GObject *object)
{
  VmdVfio *self = VMD_VFIO (object);

  /* Jobs never started (the daemon is stopping): a stop's release then happens at the next
   * start's recovery, which finds the journal. */
  vmd_vfio_queue_free (self->jobs);
  g_hash_table_unref (self->holdings);
  g_ptr_array_unref (self->unresolved);
  if (self->ops_data_free)
    self->ops_data_free (self->ops_data);
  G_OBJECT_CLASS (vmd_vfio_parent_class)->finalize (object);
}

static void
vmd_vfio_class_init (VmdVfioClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_vfio_dispose;
  G_OBJECT_CLASS (klass)->finalize = vmd_vfio_finalize;
}
