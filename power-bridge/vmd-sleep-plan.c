/* vmd-sleep-plan.c: what happens to the VMs when the host sleeps, wakes, shuts down, or
 * runs out of battery. Every VM is handled at once, each with its own deadline, through operations
 * the daemon implements (VmdSleepOps); what was done is journaled so that a restarted
 * daemon brings back exactly the VMs vmdesk quiesced.
 *
 * Timers exist only while a run is under way: a deadline per operation and one for the
 * whole prepare, critical or shutdown run. An idle plan has none. */
#include "vmd-power-private.h"

#define WAKE_OP_TIMEOUT_MS 30000
#define DEFAULT_DELAY_US   (5 * G_USEC_PER_SEC)   /* logind's InhibitDelayMaxSec default */
#define MARGIN_MIN_US      (G_USEC_PER_SEC / 2)
#define PAUSE_RESERVE_US   G_USEC_PER_SEC
#define STEPS_MAX          3

typedef enum { RUN_PREPARE, RUN_WAKE, RUN_CRITICAL, RUN_SHUTDOWN } RunKind;

typedef struct _Run Run;

/* One VM in a run. Referenced by the run and by every operation under way, so a late
 * answer after the run (or the plan) is gone finds it and is ignored. */
typedef struct {
  gint            ref;
  Run            *run;           /* NULL once the run is over */
  VmdSleepVm      info;          /* info.name is owned */
  VmdPowerAction  requested;
  VmdPowerAction  action;        /* in flight, or the last one */
  VmdPowerAction  then;          /* shutdown: after the wakeup of a VM in guest S3 */
  gboolean        user_paused;   /* wake, critical, shutdown: the VM was paused by its user */
  gboolean        journaled_now; /* prepare, critical, shutdown: this run wrote its entry */
  VmdPowerAction  steps[STEPS_MAX];   /* wake: primary action first, then follow-ups */
  guint           n_steps;
  guint           step;
  guint           serial;        /* bumps with each operation: older answers are stale */
  gboolean        in_flight;
  gboolean        finished;
  GSource        *timer;
  VmdSleepResult  result;
  GPtrArray      *notes;         /* why the action differs from the request, and so on */
} Task;

struct _Run {
  VmdSleepPlan *plan;
  RunKind       kind;
  GTask        *gtask;
  GPtrArray    *tasks;
  guint         unfinished;
  gint64        start_us;
  gint64        end_us;          /* prepare, critical, shutdown: everything by then */
  gint64        agent_end_us;    /* prepare: guest S3 by then, so a pause still fits */
  guint         op_timeout_ms;   /* wake */
  GSource      *timer;
  gboolean      stopping;        /* a wake is waiting: start nothing new */
};

struct _VmdSleepPlan {
  GObject            parent;
  const VmdSleepOps *ops;
  gpointer           ops_data;
  VmdSleepJournal   *journal;
  GMainContext      *context;
  Run               *run;
  GTask             *queued;        /* a request that waits for the run under way */
};

G_DEFINE_TYPE (VmdSleepPlan, vmd_sleep_plan, G_TYPE_OBJECT)

static void step_done (Task *t, const GError *error);
static void start_request (VmdSleepPlan *self, GTask *gtask);

/* ---- names and reports ---- */

const char *
vmd_power_action_to_string (VmdPowerAction action)
{
  switch (action)
    {
    case VMD_POWER_ACTION_SUSPEND:   return "suspend";
    case VMD_POWER_ACTION_PAUSE:     return "pause";
    case VMD_POWER_ACTION_SAVE:      return "save";
    case VMD_POWER_ACTION_HIBERNATE: return "hibernate";
    case VMD_POWER_ACTION_RESUME:    return "resume";
    case VMD_POWER_ACTION_WAKEUP:    return "wakeup";
    case VMD_POWER_ACTION_START:     return "start";
    case VMD_POWER_ACTION_SET_TIME:  return "set-time";
    case VMD_POWER_ACTION_SHUTDOWN:  return "shutdown";
    case VMD_POWER_ACTION_NONE:
    default:                         return "none";
    }
}

static const char *
result_to_string (VmdSleepResult result)
{
  switch (result)
    {
    case VMD_SLEEP_RESULT_DONE:      return "done";
    case VMD_SLEEP_RESULT_SKIPPED:   return "skipped";
    case VMD_SLEEP_RESULT_FAILED:    return "failed";
    case VMD_SLEEP_RESULT_TIMED_OUT:
    default:                         return "timed out";
    }
}

void
vmd_sleep_outcome_free (VmdSleepOutcome *outcome)
{
  if (outcome == NULL)
    return;
  g_free (outcome->vm);
  g_free (outcome->message);
  g_free (outcome);
}

char *
vmd_sleep_report_to_string (GPtrArray *outcomes)
{
  GString *s = g_string_new (NULL);

  for (guint i = 0; outcomes != NULL && i < outcomes->len; i++)
    {
      const VmdSleepOutcome *o = outcomes->pdata[i];
      g_autofree char *vm = g_strescape (o->vm, NULL);

      g_string_append_printf (s, "%s: %s", vm, vmd_power_action_to_string (o->requested));
      if (o->taken != o->requested)
        g_string_append_printf (s, " -> %s", vmd_power_action_to_string (o->taken));
      g_string_append_printf (s, " (%s): %s\n", result_to_string (o->result), o->message);
    }
  return g_string_free (s, FALSE);
}

void
vmd_sleep_budget (guint64 delay_max_us, gint64 *total_us, gint64 *agent_us)
{
  gint64 delay = delay_max_us == 0 ? DEFAULT_DELAY_US : (gint64) MIN (delay_max_us, G_MAXINT64 / 2);
  gint64 margin = MIN (MAX (delay / 10, MARGIN_MIN_US), delay / 2);
  gint64 total = delay - margin;

  *total_us = total;
  *agent_us = total - MIN (PAUSE_RESERVE_US, total / 3);
}

/* ---- tasks ---- */

static Task *
task_new (Run *run, const VmdSleepVm *vm)
{
  Task *t = g_new0 (Task, 1);

  t->ref = 1;
  t->run = run;
  t->info = *vm;
  t->info.name = g_strdup (vm->name);
  t->notes = g_ptr_array_new_with_free_func (g_free);
  return t;
}

static Task *
task_ref (Task *t)
{
  t->ref++;
  return t;
}

static void
clear_timer (GSource **timer)
{
  if (*timer != NULL)
    {
      g_source_destroy (*timer);
      g_clear_pointer (timer, g_source_unref);
    }
}

static void
task_unref (Task *t)
{
  if (--t->ref > 0)
    return;
  clear_timer (&t->timer);
  g_free ((char *) t->info.name);
  g_ptr_array_unref (t->notes);
  g_free (t);
}

static void note (Task *t, const char *format, ...) G_GNUC_PRINTF (2, 3);

static void
note (Task *t, const char *format, ...)
{
  va_list args;

  va_start (args, format);
  g_ptr_array_add (t->notes, g_strdup_vprintf (format, args));
  va_end (args);
}

static double
seconds (gint64 us)
{
  return (double) us / G_USEC_PER_SEC;
}

static VmdSleepOpFunc
op_func (const VmdSleepOps *ops, VmdPowerAction action)
{
  switch (action)
    {
    case VMD_POWER_ACTION_SUSPEND:   return ops->suspend;
    case VMD_POWER_ACTION_PAUSE:     return ops->pause;
    case VMD_POWER_ACTION_SAVE:      return ops->save;
    case VMD_POWER_ACTION_HIBERNATE: return ops->hibernate;
    case VMD_POWER_ACTION_RESUME:    return ops->resume;
    case VMD_POWER_ACTION_WAKEUP:    return ops->wakeup;
    case VMD_POWER_ACTION_START:     return ops->start;
    case VMD_POWER_ACTION_SET_TIME:  return ops->set_time;
    case VMD_POWER_ACTION_SHUTDOWN:  return ops->shutdown;
    case VMD_POWER_ACTION_NONE:
    default:                         return NULL;
    }
}

static void finish_run (Run *run);

static void
finish_task (Task *t, VmdSleepResult result)
{
  Run *run = t->run;

  if (t->finished || run == NULL)
    return;
  t->finished = TRUE;
  t->in_flight = FALSE;
  t->serial++;
  t->result = result;
  clear_timer (&t->timer);
  if (--run->unfinished == 0)
    finish_run (run);
}

typedef struct {
  Task  *task;
  guint  serial;
} Call;

static void
on_op_done (const GError *error, gpointer data)
{
  Call *call = data;
  Task *t = call->task;

  if (t->run != NULL && t->in_flight && call->serial == t->serial)
    {
      t->in_flight = FALSE;
      clear_timer (&t->timer);
      step_done (t, error);
    }
  task_unref (t);
  g_free (call);
}

static void on_op_timeout_task (Task *t);

static gboolean
on_op_timeout (gpointer data)
{
  Task *t = data;

  g_clear_pointer (&t->timer, g_source_unref);
  if (t->run != NULL && t->in_flight)
    {
      t->in_flight = FALSE;
      t->serial++;   /* its answer, should it still come, is stale */
      on_op_timeout_task (t);
    }
  return G_SOURCE_REMOVE;
}

/* Starts `action` for the task's VM, to be done by `deadline_us` (monotonic). */
static void
start_op (Task *t, VmdPowerAction action, gint64 deadline_us)
{
  VmdSleepOpFunc func = op_func (t->run->plan->ops, action);
  gint64 left = MAX (deadline_us - g_get_monotonic_time (), 0);
  Call *call;

  t->action = action;
  t->serial++;
  t->in_flight = TRUE;
  clear_timer (&t->timer);
  /* Timer: this operation's deadline; gone as soon as it answers. */
  t->timer = g_timeout_source_new ((guint) MIN ((left + 999) / 1000, G_MAXUINT));
  g_source_set_callback (t->timer, on_op_timeout, t, NULL);
  g_source_attach (t->timer, t->run->plan->context);

  call = g_new0 (Call, 1);
  call->task = task_ref (t);
  call->serial = t->serial;
  if (func == NULL)
    {
      g_autoptr(GError) error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_SUPPORTED,
                                             "%s is not available",
                                             vmd_power_action_to_string (action));
      on_op_done (error, call);
      return;
    }
  func (t->run->plan->ops_data, t->info.name, on_op_done, call);
}

static gboolean
time_left (Task *t)
{
  return !t->run->stopping && g_get_monotonic_time () < t->run->end_us;
}

/* ---- host sleep ---- */

static VmdPowerAction
requested_action (VmdHostSleepAction setting)
{
  switch (setting)
    {
    case VMD_HOST_SLEEP_SUSPEND: return VMD_POWER_ACTION_SUSPEND;
    case VMD_HOST_SLEEP_PAUSE:   return VMD_POWER_ACTION_PAUSE;
    case VMD_HOST_SLEEP_SAVE:    return VMD_POWER_ACTION_SAVE;
    case VMD_HOST_SLEEP_NONE:
    default:                     return VMD_POWER_ACTION_NONE;
    }
}

/* Only guest S3 quiesces passed-through devices; a paused guest never sees them reset. */
static void
note_pause_risk (Task *t)
{
  if (t->info.has_hostdev)
    note (t, "its host devices may not survive the host's sleep");
}

static void
fall_back_to_pause (Task *t, const char *why)
{
  note (t, "%s; pausing instead", why);
  note_pause_risk (t);
  start_op (t, VMD_POWER_ACTION_PAUSE, t->run->end_us);
}

/* What to do for one VM, decided before anything starts; NONE: nothing. */
static VmdPowerAction
plan_prepare (Task *t)
{
  VmdPowerAction action;

  const VmdJournalEntry *e = vmd_sleep_journal_lookup (t->run->plan->journal, t->info.name);

  t->requested = requested_action (t->info.on_host_sleep);
  /* A prepare that waited for a critical-battery run knows the VMs as they were before
   * it: those the critical run saved or hibernated are its to bring back. */
  if (e != NULL && strcmp (e->reason, "critical-battery") == 0)
    {
      note (t, "already %s for the critical battery", e->action == VMD_POWER_ACTION_SAVE
                                                          ? "saved" : "hibernating");
      return VMD_POWER_ACTION_NONE;
    }
  if (t->info.state != VMD_VM_RUNNING)
    {
      note (t, t->info.state == VMD_VM_PAUSED ? "paused before host sleep: left alone"
                                              : "not running");
      return VMD_POWER_ACTION_NONE;
    }
  if (t->requested == VMD_POWER_ACTION_NONE)
    {
      note (t, "on-host-sleep is none");
      return VMD_POWER_ACTION_NONE;
    }
  action = t->requested;
  if (action == VMD_POWER_ACTION_SAVE && t->info.has_hostdev)
    {
      note (t, "managed save is refused for VMs with host devices (their device state "
               "cannot be saved); suspending instead");
      action = VMD_POWER_ACTION_SUSPEND;
    }
  if (action == VMD_POWER_ACTION_SUSPEND && !t->info.has_agent)
    {
      note (t, "no guest agent for S3; pausing instead");
      note_pause_risk (t);
      action = VMD_POWER_ACTION_PAUSE;
    }
  return action;
}

static void
prepare_step_done (Task *t, const GError *error)
{
  if (error == NULL)
    {
      finish_task (t, VMD_SLEEP_RESULT_DONE);
      return;
    }
  if (t->action != VMD_POWER_ACTION_PAUSE && time_left (t))
    {
      g_autofree char *why = g_strdup_printf ("%s failed: %s",
                                              vmd_power_action_to_string (t->action),
                                              error->message);
      fall_back_to_pause (t, why);
      return;
    }
  note (t, "%s failed: %s", vmd_power_action_to_string (t->action), error->message);
  finish_task (t, VMD_SLEEP_RESULT_FAILED);
}

static void
prepare_timed_out (Task *t)
{
  if (t->action == VMD_POWER_ACTION_SUSPEND && time_left (t))
    {
      g_autofree char *why =
        g_strdup_printf ("the guest did not suspend within %.1f s",
                         seconds (t->run->agent_end_us - t->run->start_us));
      fall_back_to_pause (t, why);
      return;
    }
  note (t, "no answer to %s by the deadline", vmd_power_action_to_string (t->action));
  finish_task (t, VMD_SLEEP_RESULT_TIMED_OUT);
}

/* ---- critical battery ---- */

static VmdPowerAction
plan_critical (Task *t)
{
  t->requested = VMD_POWER_ACTION_SAVE;
  if (t->info.state != VMD_VM_RUNNING && t->info.state != VMD_VM_PAUSED)
    {
      note (t, "not running");
      return VMD_POWER_ACTION_NONE;
    }
  t->user_paused = t->info.state == VMD_VM_PAUSED;
  if (!t->info.has_hostdev)
    return VMD_POWER_ACTION_SAVE;
  if (t->info.has_agent && t->info.state == VMD_VM_RUNNING)
    {
      note (t, "has host devices, so no managed save: the guest hibernates");
      return VMD_POWER_ACTION_HIBERNATE;
    }
  note (t, "has host devices and no guest agent to hibernate it: its unsaved work is at risk");
  return VMD_POWER_ACTION_NONE;
}

static void
critical_step_done (Task *t, const GError *error)
{
  if (error == NULL)
    {
      finish_task (t, VMD_SLEEP_RESULT_DONE);
      return;
    }
  note (t, "%s failed: %s", vmd_power_action_to_string (t->action), error->message);
  if (t->action == VMD_POWER_ACTION_SAVE && t->info.has_agent && !t->user_paused
      && time_left (t))
    {
      note (t, "asking the guest to hibernate instead");
      vmd_sleep_journal_put (t->run->plan->journal, t->info.name, t->info.instance,
                             VMD_POWER_ACTION_HIBERNATE, FALSE, "critical-battery");
      start_op (t, VMD_POWER_ACTION_HIBERNATE, t->run->end_us);
      return;
    }
  finish_task (t, VMD_SLEEP_RESULT_FAILED);
}

/* ---- host shutdown ---- */

static VmdPowerAction
shutdown_requested (VmdHostShutdownAction setting)
{
  switch (setting)
    {
    case VMD_HOST_SHUTDOWN_SHUTDOWN: return VMD_POWER_ACTION_SHUTDOWN;
    case VMD_HOST_SHUTDOWN_SAVE:     return VMD_POWER_ACTION_SAVE;
    case VMD_HOST_SHUTDOWN_NONE:
    default:                         return VMD_POWER_ACTION_NONE;
    }
}

/* Only what keeps the guest's work: its own shutdown or a managed save. Anything else is
 * left to libvirt (libvirt-guests, if enabled), never destroyed here. */
static VmdPowerAction
plan_shutdown (Task *t)
{
  const VmdJournalEntry *e = vmd_sleep_journal_lookup (t->run->plan->journal, t->info.name);

  t->requested = shutdown_requested (t->info.on_host_shutdown);
  if (e != NULL && strcmp (e->reason, "critical-battery") == 0)
    {
      note (t, "already %s for the critical battery", e->action == VMD_POWER_ACTION_SAVE
                                                          ? "saved" : "hibernating");
      return VMD_POWER_ACTION_NONE;
    }
  if (t->requested == VMD_POWER_ACTION_NONE)
    {
      note (t, "on-host-shutdown is none: left to libvirt");
      return VMD_POWER_ACTION_NONE;
    }
  if (t->info.state == VMD_VM_PAUSED && t->requested == VMD_POWER_ACTION_SAVE
      && !t->info.has_hostdev)
    {
      /* A paused guest cannot shut down, but it can be saved as it is. */
      t->user_paused = TRUE;
      note (t, "paused: saved paused, and restored paused");
      return VMD_POWER_ACTION_SAVE;
    }
  if (t->info.state == VMD_VM_PAUSED)
    {
      note (t, "paused, so it cannot shut down: left to libvirt");
      return VMD_POWER_ACTION_NONE;
    }
  if (t->info.state == VMD_VM_PMSUSPENDED)
    {
      /* A guest in S3 acts on no shutdown request, and its devices' state is not in a
       * save: it is woken first, then shut down or saved as it asks. */
      t->then = t->requested == VMD_POWER_ACTION_SAVE && t->info.has_hostdev
                  ? VMD_POWER_ACTION_SHUTDOWN : t->requested;
      note (t, "in guest S3: woken first, then %s", vmd_power_action_to_string (t->then));
      return VMD_POWER_ACTION_WAKEUP;
    }
  if (t->info.state != VMD_VM_RUNNING)
    {
      note (t, "not running");
      return VMD_POWER_ACTION_NONE;
    }
  if (t->requested == VMD_POWER_ACTION_SAVE && t->info.has_hostdev)
    {
      note (t, "managed save is refused for VMs with host devices (their device state "
               "cannot be saved); shutting the guest down instead");
      return VMD_POWER_ACTION_SHUTDOWN;
    }
  return t->requested;
}

static void
shutdown_step_done (Task *t, const GError *error)
{
  if (t->action == VMD_POWER_ACTION_WAKEUP)
    {
      if (error != NULL)
        {
          note (t, "wakeup failed: %s; left to libvirt", error->message);
          finish_task (t, VMD_SLEEP_RESULT_FAILED);
        }
      else if (time_left (t))
        start_op (t, t->then, t->run->end_us);
      else
        {
          /* Cancelled (a wake stops the run) or out of time: it runs, and stays so. */
          note (t, "woken, then the shutdown run ended: left running");
          finish_task (t, VMD_SLEEP_RESULT_SKIPPED);
        }
      return;
    }
  if (error == NULL)
    {
      finish_task (t, VMD_SLEEP_RESULT_DONE);
      return;
    }
  note (t, "%s failed: %s", vmd_power_action_to_string (t->action), error->message);
  if (t->action == VMD_POWER_ACTION_SAVE && !t->user_paused && time_left (t))
    {
      note (t, "shutting the guest down instead");
      vmd_sleep_journal_put (t->run->plan->journal, t->info.name, t->info.instance,
                             VMD_POWER_ACTION_SHUTDOWN, FALSE, "host-shutdown");
      start_op (t, VMD_POWER_ACTION_SHUTDOWN, t->run->end_us);
      return;
    }
  note (t, "left to libvirt");
  finish_task (t, VMD_SLEEP_RESULT_FAILED);
}

/* What is said of an operation still under way at a run's end. */
static void
note_deadline (Task *t)
{
  Run *run = t->run;

  if (run->kind != RUN_SHUTDOWN)
    note (t, "no answer to %s by the deadline", vmd_power_action_to_string (t->action));
  else if (t->action == VMD_POWER_ACTION_SHUTDOWN)
    note (t, "still running after %.1f s: left to libvirt (vmdesk never destroys a VM)",
          seconds (run->end_us - run->start_us));
  else
    note (t, "%s not finished after %.1f s: left to libvirt (vmdesk never destroys a VM)",
          vmd_power_action_to_string (t->action), seconds (run->end_us - run->start_us));
}

/* ---- wake ---- */

/* Decides the steps for one journaled VM from its state now; none: nothing to do. */
static void
plan_wake (Task *t, const VmdJournalEntry *e, const VmdSleepVm *now)
{
  gboolean same_instance = e->instance < 0 || now == NULL || now->instance < 0
                           || e->instance == now->instance;

  t->requested = e->action;
  t->user_paused = e->user_paused;
  if (now == NULL)
    {
      note (t, "no longer defined");
      return;
    }
  /* A guest that shut down has no session to bring back: booting it is the user's (or
   * libvirt autostart's) choice, as after any power-off. */
  if (e->action == VMD_POWER_ACTION_SHUTDOWN)
    {
      if (now->state == VMD_VM_SHUTOFF)
        note (t, "shut down with the host: not started again (libvirt autostart decides)");
      else if (now->state == VMD_VM_OTHER)
        note (t, "in an unexpected state: left alone");
      else
        note (t, "shut down with the host, and started again since: left alone");
      return;
    }
  switch (now->state)
    {
    case VMD_VM_PAUSED:
    case VMD_VM_PMSUSPENDED:
      if (!same_instance)
        {
          note (t, "restarted since: left alone");
          return;
        }
      if (now->state == VMD_VM_PAUSED)
        {
          t->steps[t->n_steps++] = VMD_POWER_ACTION_RESUME;
          /* The guest may have entered S3 after all, just after the fallback pause. */
          if (e->action == VMD_POWER_ACTION_SUSPEND)
            t->steps[t->n_steps++] = VMD_POWER_ACTION_WAKEUP;
        }
      else
        t->steps[t->n_steps++] = VMD_POWER_ACTION_WAKEUP;
      t->steps[t->n_steps++] = VMD_POWER_ACTION_SET_TIME;
      return;
    case VMD_VM_SHUTOFF:
      if ((e->action == VMD_POWER_ACTION_SAVE && now->has_managed_save)
          || e->action == VMD_POWER_ACTION_HIBERNATE)
        {
          t->steps[t->n_steps++] = VMD_POWER_ACTION_START;
          /* A hibernated guest reads the clock as it boots; a restored one needs it set,
           * unless it comes back paused as its user left it. */
          if (e->action == VMD_POWER_ACTION_SAVE && !e->user_paused)
            t->steps[t->n_steps++] = VMD_POWER_ACTION_SET_TIME;
          return;
        }
      note (t, "shut off since: left alone");
      return;
    case VMD_VM_RUNNING:
      note (t, "already running again");
      return;
    case VMD_VM_OTHER:
    default:
      note (t, "in an unexpected state: left alone");
      return;
    }
}

static void
next_wake_step (Task *t)
{
  if (t->step >= t->n_steps)
    {
      finish_task (t, VMD_SLEEP_RESULT_DONE);
      return;
    }
  start_op (t, t->steps[t->step],
            g_get_monotonic_time () + (gint64) t->run->op_timeout_ms * 1000);
}

static void
wake_step_done (Task *t, const GError *error, gboolean timed_out)
{
  VmdPowerAction action = t->steps[t->step];

  if (error != NULL || timed_out)
    {
      g_autofree char *why = timed_out ? g_strdup_printf ("no answer within %.1f s",
                                                          t->run->op_timeout_ms / 1000.0)
                                       : g_strdup (error->message);
      if (t->step == 0)
        {
          /* The VM is still quiesced: its entry stays for the next wake. */
          note (t, "%s failed: %s", vmd_power_action_to_string (action), why);
          finish_task (t, timed_out ? VMD_SLEEP_RESULT_TIMED_OUT : VMD_SLEEP_RESULT_FAILED);
          return;
        }
      if (action == VMD_POWER_ACTION_SET_TIME)
        note (t, "clock not resynchronised: %s", why);
      /* A failed follow-up wakeup only means the guest never reached S3. */
    }
  t->step++;
  next_wake_step (t);
}

/* ---- one run ---- */

static void
step_done (Task *t, const GError *error)
{
  switch (t->run->kind)
    {
    case RUN_PREPARE:  prepare_step_done (t, error); break;
    case RUN_CRITICAL: critical_step_done (t, error); break;
    case RUN_SHUTDOWN: shutdown_step_done (t, error); break;
    case RUN_WAKE:     wake_step_done (t, error, FALSE); break;
    default:           g_assert_not_reached ();
    }
}

static void
on_op_timeout_task (Task *t)
{
  switch (t->run->kind)
    {
    case RUN_PREPARE:
      prepare_timed_out (t);
      break;
    case RUN_CRITICAL:
    case RUN_SHUTDOWN:
      note_deadline (t);
      finish_task (t, VMD_SLEEP_RESULT_TIMED_OUT);
      break;
    case RUN_WAKE:
      wake_step_done (t, NULL, TRUE);
      break;
    default:
      g_assert_not_reached ();
    }
}

static VmdSleepOutcome *
outcome_of (Task *t)
{
  VmdSleepOutcome *o = g_new0 (VmdSleepOutcome, 1);
  g_autoptr(GString) message = g_string_new (NULL);

  o->vm = g_strdup (t->info.name);
  o->requested = t->requested;
  o->taken = t->run != NULL && t->run->kind == RUN_WAKE && t->n_steps > 0 ? t->steps[0]
                                                                          : t->action;
  o->result = t->result;
  for (guint i = 0; i < t->notes->len; i++)
    g_string_append_printf (message, "%s%s", i > 0 ? "; " : "", (char *) t->notes->pdata[i]);
  if (message->len == 0)
    g_string_append (message, result_to_string (t->result));
  o->message = g_string_free (g_steal_pointer (&message), FALSE);
  return o;
}

static int
compare_outcomes (gconstpointer a, gconstpointer b)
{
  return strcmp ((*(VmdSleepOutcome *const *) a)->vm, (*(VmdSleepOutcome *const *) b)->vm);
}

/* Keeps exactly the VMs that may still be quiesced. */
static void
update_journal (Run *run)
{
  VmdSleepJournal *journal = run->plan->journal;
  g_autoptr(GError) error = NULL;

  for (guint i = 0; i < run->tasks->len; i++)
    {
      Task *t = run->tasks->pdata[i];
      gboolean keep;

      if (run->kind == RUN_WAKE)
        keep = t->result == VMD_SLEEP_RESULT_FAILED || t->result == VMD_SLEEP_RESULT_TIMED_OUT;
      else if (t->journaled_now)
        keep = t->result == VMD_SLEEP_RESULT_DONE || t->result == VMD_SLEEP_RESULT_TIMED_OUT;
      else
        keep = TRUE;   /* an older entry (a wake that failed) is not this run's to drop */
      if (!keep)
        vmd_sleep_journal_remove (journal, t->info.name);
    }
  if (!vmd_sleep_journal_save (journal, &error))
    g_warning ("%s", error->message);
}

static void
finish_run (Run *run)
{
  VmdSleepPlan *self = run->plan;
  GPtrArray *outcomes = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_sleep_outcome_free);
  GTask *queued;

  clear_timer (&run->timer);
  for (guint i = 0; i < run->tasks->len; i++)
    {
      Task *t = run->tasks->pdata[i];
      clear_timer (&t->timer);
      g_ptr_array_add (outcomes, outcome_of (t));
      t->run = NULL;
    }
  g_ptr_array_sort (outcomes, compare_outcomes);
  update_journal (run);
  self->run = NULL;
  g_task_return_pointer (run->gtask, outcomes, (GDestroyNotify) g_ptr_array_unref);
  g_object_unref (run->gtask);
  g_ptr_array_unref (run->tasks);
  g_free (run);

  queued = g_steal_pointer (&self->queued);
  if (queued != NULL)
    start_request (self, queued);
}

/* Timer: the whole prepare, critical or shutdown run must be over by then, answers or not. */
static gboolean
on_run_deadline (gpointer data)
{
  Run *run = data;

  g_clear_pointer (&run->timer, g_source_unref);
  run->unfinished++;   /* finish_run only once, after the loop */
  for (guint i = 0; i < run->tasks->len; i++)
    {
      Task *t = run->tasks->pdata[i];
      if (t->finished)
        continue;
      note_deadline (t);
      finish_task (t, VMD_SLEEP_RESULT_TIMED_OUT);
    }
  if (--run->unfinished == 0)
    finish_run (run);
  return G_SOURCE_REMOVE;
}

static Run *
run_new (VmdSleepPlan *self, RunKind kind, GTask *gtask)
{
  Run *run = g_new0 (Run, 1);

  run->plan = self;
  run->kind = kind;
  run->gtask = gtask;
  run->tasks = g_ptr_array_new_with_free_func ((GDestroyNotify) task_unref);
  self->run = run;
  return run;
}

/* Starts the first operation of every task at once; tasks with nothing to do finish.
 * The extra count keeps the run alive while operations answer synchronously. */
static void
start_tasks (Run *run, const VmdPowerAction *first, const gint64 *deadlines)
{
  guint n = run->tasks->len;

  run->unfinished = n + 1;
  for (guint i = 0; i < n; i++)
    {
      Task *t = run->tasks->pdata[i];

      if (run->kind == RUN_WAKE)
        {
          if (t->n_steps > 0)
            next_wake_step (t);
          else
            finish_task (t, VMD_SLEEP_RESULT_SKIPPED);
        }
      else if (first[i] == VMD_POWER_ACTION_NONE)
        {
          t->action = VMD_POWER_ACTION_NONE;
          /* Only a critical battery leaves a running VM at risk by doing nothing. */
          finish_task (t, run->kind != RUN_CRITICAL || t->info.state != VMD_VM_RUNNING
                            ? VMD_SLEEP_RESULT_SKIPPED : VMD_SLEEP_RESULT_FAILED);
        }
      else
        start_op (t, first[i], deadlines[i]);
    }
  if (--run->unfinished == 0)
    finish_run (run);
}

static void
arm_run_deadline (Run *run)
{
  gint64 left = MAX (run->end_us - g_get_monotonic_time (), 0);

  run->timer = g_timeout_source_new ((guint) MIN ((left + 999) / 1000, G_MAXUINT));
  g_source_set_callback (run->timer, on_run_deadline, run, NULL);
  g_source_attach (run->timer, run->plan->context);
}

/* ---- requests ---- */

/* What an async call asked for, kept until its run starts (it may have to wait). */
typedef struct {
  RunKind     kind;
  VmdSleepVm *vms;
  guint       n_vms;
  gint64      total_us;
  gint64      agent_us;
  guint       op_timeout_ms;
} Request;

static void
request_free (Request *r)
{
  for (guint i = 0; i < r->n_vms; i++)
    g_free ((char *) r->vms[i].name);
  g_free (r->vms);
  g_free (r);
}

static GTask *
request_new (VmdSleepPlan *self, RunKind kind, const VmdSleepVm *vms, guint n_vms,
             gpointer source_tag, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *gtask = g_task_new (self, NULL, callback, user_data);
  Request *r = g_new0 (Request, 1);

  g_task_set_source_tag (gtask, source_tag);
  r->kind = kind;
  r->vms = g_new0 (VmdSleepVm, n_vms + 1);
  r->n_vms = n_vms;
  for (guint i = 0; i < n_vms; i++)
    {
      r->vms[i] = vms[i];
      r->vms[i].name = g_strdup (vms[i].name);
    }
  g_task_set_task_data (gtask, r, (GDestroyNotify) request_free);
  return gtask;
}

/* Prepare, critical and shutdown share everything but the per-VM decision. */
static VmdPowerAction
plan_quiesce (Task *t)
{
  switch (t->run->kind)
    {
    case RUN_PREPARE:  return plan_prepare (t);
    case RUN_CRITICAL: return plan_critical (t);
    case RUN_SHUTDOWN: return plan_shutdown (t);
    case RUN_WAKE:
    default:           g_assert_not_reached ();
    }
}

static const char *
run_reason (RunKind kind)
{
  switch (kind)
    {
    case RUN_PREPARE:  return "host-sleep";
    case RUN_CRITICAL: return "critical-battery";
    case RUN_SHUTDOWN: return "host-shutdown";
    case RUN_WAKE:
    default:           g_assert_not_reached ();
    }
}

static void
start_quiesce (VmdSleepPlan *self, GTask *gtask)
{
  Request *r = g_task_get_task_data (gtask);
  Run *run = run_new (self, r->kind, gtask);
  gint64 now = g_get_monotonic_time ();
  g_autofree VmdPowerAction *first = g_new0 (VmdPowerAction, r->n_vms + 1);
  g_autofree gint64 *deadlines = g_new0 (gint64, r->n_vms + 1);
  const char *reason = run_reason (r->kind);
  g_autoptr(GError) error = NULL;

  run->start_us = now;
  run->end_us = now + r->total_us;
  run->agent_end_us = now + r->agent_us;
  for (guint i = 0; i < r->n_vms; i++)
    {
      Task *t = task_new (run, &r->vms[i]);

      g_ptr_array_add (run->tasks, t);
      first[i] = plan_quiesce (t);
      deadlines[i] = first[i] == VMD_POWER_ACTION_SUSPEND ? run->agent_end_us : run->end_us;
      t->journaled_now = first[i] != VMD_POWER_ACTION_NONE;
      /* What the VM ends as, not the wakeup on the way to it. */
      if (t->journaled_now)
        vmd_sleep_journal_put (self->journal, t->info.name, t->info.instance,
                               t->then != VMD_POWER_ACTION_NONE ? t->then : first[i],
                               t->user_paused, reason);
    }
  /* Journaled before anything is done: a crash half-way leaves entries whose VMs a
   * wake checks against their state, never a quiesced VM nobody knows about. */
  if (!vmd_sleep_journal_save (self->journal, &error))
    g_warning ("%s", error->message);
  arm_run_deadline (run);
  start_tasks (run, first, deadlines);
}

static const VmdSleepVm *
find_vm (const Request *r, const char *name)
{
  for (guint i = 0; i < r->n_vms; i++)
    if (strcmp (r->vms[i].name, name) == 0)
      return &r->vms[i];
  return NULL;
}

static void
start_wake (VmdSleepPlan *self, GTask *gtask)
{
  Request *r = g_task_get_task_data (gtask);
  GPtrArray *entries = vmd_sleep_journal_entries (self->journal);
  Run *run = run_new (self, RUN_WAKE, gtask);

  run->op_timeout_ms = r->op_timeout_ms;
  for (guint i = 0; i < entries->len; i++)
    {
      const VmdJournalEntry *e = entries->pdata[i];
      const VmdSleepVm *now = find_vm (r, e->vm);
      VmdSleepVm info = now != NULL ? *now : (VmdSleepVm) { .name = e->vm, .instance = -1 };
      Task *t = task_new (run, &info);

      g_ptr_array_add (run->tasks, t);
      plan_wake (t, e, now);
    }
  start_tasks (run, NULL, NULL);
}

static void
start_request (VmdSleepPlan *self, GTask *gtask)
{
  Request *r = g_task_get_task_data (gtask);

  if (r->kind == RUN_WAKE)
    start_wake (self, gtask);
  else
    start_quiesce (self, gtask);
}

/* One run at a time. A wake stops a prepare, critical or shutdown run (nothing new
 * starts) and follows it; a host sleep during a critical run follows it; anything else is
 * refused (a shutdown too: its caller waits, then reads the VMs afresh). */
static void
submit (VmdSleepPlan *self, GTask *gtask)
{
  Request *r = g_task_get_task_data (gtask);

  if (self->run == NULL && self->queued == NULL)
    {
      start_request (self, gtask);
      return;
    }
  if (self->queued == NULL && self->run != NULL
      && ((r->kind == RUN_WAKE && self->run->kind != RUN_WAKE)
          || (r->kind == RUN_PREPARE && self->run->kind == RUN_CRITICAL)))
    {
      if (r->kind == RUN_WAKE)
        self->run->stopping = TRUE;
      self->queued = gtask;
      return;
    }
  g_task_return_new_error (gtask, G_IO_ERROR, G_IO_ERROR_BUSY,
                           "a host sleep, wake, shutdown or critical-battery run is already "
                           "under way");
  g_object_unref (gtask);
}

static GPtrArray *
propagate_outcomes (VmdSleepPlan *self, GAsyncResult *result, gpointer source_tag,
                    GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), NULL);
  g_return_val_if_fail (g_task_get_source_tag (G_TASK (result)) == source_tag, NULL);
  return g_task_propagate_pointer (G_TASK (result), error);
}

void
vmd_sleep_plan_prepare_async (VmdSleepPlan *self, const VmdSleepVm *vms, guint n_vms,
                              guint64 delay_max_us, GAsyncReadyCallback callback,
                              gpointer user_data)
{
  GTask *gtask;
  Request *r;

  g_return_if_fail (VMD_IS_SLEEP_PLAN (self));

  gtask = request_new (self, RUN_PREPARE, vms, n_vms, vmd_sleep_plan_prepare_async, callback,
                       user_data);
  r = g_task_get_task_data (gtask);
  vmd_sleep_budget (delay_max_us, &r->total_us, &r->agent_us);
  submit (self, gtask);
}

GPtrArray *
vmd_sleep_plan_prepare_finish (VmdSleepPlan *self, GAsyncResult *result, GError **error)
{
  return propagate_outcomes (self, result, vmd_sleep_plan_prepare_async, error);
}

/* Critical battery and host shutdown: one budget for everything, given by the caller. */
static void
submit_budgeted (VmdSleepPlan *self, RunKind kind, const VmdSleepVm *vms, guint n_vms,
                 gint64 budget_us, gpointer source_tag, GAsyncReadyCallback callback,
                 gpointer user_data)
{
  GTask *gtask = request_new (self, kind, vms, n_vms, source_tag, callback, user_data);
  Request *r = g_task_get_task_data (gtask);

  r->total_us = r->agent_us = MAX (budget_us, 0);
  submit (self, gtask);
}

void
vmd_sleep_plan_critical_async (VmdSleepPlan *self, const VmdSleepVm *vms, guint n_vms,
                               gint64 budget_us, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_return_if_fail (VMD_IS_SLEEP_PLAN (self));
  submit_budgeted (self, RUN_CRITICAL, vms, n_vms, budget_us, vmd_sleep_plan_critical_async,
                   callback, user_data);
}

GPtrArray *
vmd_sleep_plan_critical_finish (VmdSleepPlan *self, GAsyncResult *result, GError **error)
{
  return propagate_outcomes (self, result, vmd_sleep_plan_critical_async, error);
}

void
vmd_sleep_plan_shutdown_async (VmdSleepPlan *self, const VmdSleepVm *vms, guint n_vms,
                               gint64 budget_us, GAsyncReadyCallback callback,
                               gpointer user_data)
{
  g_return_if_fail (VMD_IS_SLEEP_PLAN (self));
  submit_budgeted (self, RUN_SHUTDOWN, vms, n_vms, budget_us, vmd_sleep_plan_shutdown_async,
                   callback, user_data);
}

GPtrArray *
vmd_sleep_plan_shutdown_finish (VmdSleepPlan *self, GAsyncResult *result, GError **error)
{
  return propagate_outcomes (self, result, vmd_sleep_plan_shutdown_async, error);
}

void
vmd_sleep_plan_wake_async (VmdSleepPlan *self, const VmdSleepVm *vms, guint n_vms,
                           guint op_timeout_ms, GAsyncReadyCallback callback,
                           gpointer user_data)
{
  GTask *gtask;

  g_return_if_fail (VMD_IS_SLEEP_PLAN (self));

  gtask = request_new (self, RUN_WAKE, vms, n_vms, vmd_sleep_plan_wake_async, callback,
                       user_data);
  ((Request *) g_task_get_task_data (gtask))->op_timeout_ms =
    op_timeout_ms > 0 ? op_timeout_ms : WAKE_OP_TIMEOUT_MS;
  submit (self, gtask);
}

GPtrArray *
vmd_sleep_plan_wake_finish (VmdSleepPlan *self, GAsyncResult *result, GError **error)
{
  return propagate_outcomes (self, result, vmd_sleep_plan_wake_async, error);
}

/* ---- the object ---- */

gboolean
vmd_sleep_plan_is_busy (VmdSleepPlan *self)
{
  g_return_val_if_fail (VMD_IS_SLEEP_PLAN (self), FALSE);
  return self->run != NULL || self->queued != NULL;
}

GStrv
vmd_sleep_plan_get_journaled (VmdSleepPlan *self)
{
  GPtrArray *entries = vmd_sleep_journal_entries (self->journal);
  GPtrArray *names = g_ptr_array_new ();

  for (guint i = 0; i < entries->len; i++)
    g_ptr_array_add (names, g_strdup (((VmdJournalEntry *) entries->pdata[i])->vm));
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (names, FALSE);
}

VmdSleepPlan *
vmd_sleep_plan_new (const VmdSleepOps *ops, gpointer ops_data, const char *state_dir,
                    GError **error)
{
  g_autoptr(VmdSleepJournal) journal = vmd_sleep_journal_load (state_dir, error);
  VmdSleepPlan *self;

  if (journal == NULL)
    return NULL;
  self = g_object_new (VMD_TYPE_SLEEP_PLAN, NULL);
  self->ops = ops;
  self->ops_data = ops_data;
  self->journal = g_steal_pointer (&journal);
  return self;
}

static void
vmd_sleep_plan_dispose (GObject *object)
{
  VmdSleepPlan *self = VMD_SLEEP_PLAN (object);

  /* A run holds a reference through its GTask, so none can be under way here. */
  g_assert (self->run == NULL);
  G_OBJECT_CLASS (vmd_sleep_plan_parent_class)->dispose (object);
}

static void
vmd_sleep_plan_finalize (GObject *object)
{
  VmdSleepPlan *self = VMD_SLEEP_PLAN (object);

  g_clear_pointer (&self->journal, vmd_sleep_journal_free);
  g_main_context_unref (self->context);
  G_OBJECT_CLASS (vmd_sleep_plan_parent_class)->finalize (object);
}

static void
vmd_sleep_plan_class_init (VmdSleepPlanClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vmd_sleep_plan_dispose;
  object_class->finalize = vmd_sleep_plan_finalize;
}

static void
vmd_sleep_plan_init (VmdSleepPlan *self)
{
  self->context = g_main_context_ref_thread_default ();
}
