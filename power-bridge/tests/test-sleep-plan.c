/* The sleep plan with fake VM operations: everything at once, deadlines and fallbacks,
 * the journal across a "restart", VMs paused by their users, the critical battery, the
 * host's shutdown. */
#include "vmd-power-private.h"

#include <glib/gstdio.h>

#define MS 1000

/* How the fake answers one operation on one VM. */
typedef enum {
  ANSWER_OK,          /* after `delay_ms`, from the main loop */
  ANSWER_OK_AT_ONCE,  /* synchronously, inside the call */
  ANSWER_ERROR,       /* after `delay_ms` */
  ANSWER_NEVER,       /* a hung agent; answered late by fake_free() */
} Answer;

typedef struct {
  Answer answer;
  guint  delay_ms;
} Behaviour;

typedef struct {
  GHashTable *behaviour;   /* "vm/action" -> Behaviour */
  GPtrArray  *log;         /* "start vm action" / "done vm action" in order */
  GPtrArray  *hung;        /* Pending of ANSWER_NEVER */
} Fake;

typedef struct {
  Fake          *fake;
  char          *vm;
  VmdPowerAction action;
  Answer         answer;
  VmdSleepOpDone done;
  gpointer       user_data;
} Pending;

static void
pending_answer (Pending *p)
{
  g_autoptr(GError) error = NULL;

  if (p->answer == ANSWER_ERROR)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "fake %s failure",
                         vmd_power_action_to_string (p->action));
  g_ptr_array_add (p->fake->log, g_strdup_printf ("done %s %s", p->vm,
                                                  vmd_power_action_to_string (p->action)));
  p->done (error, p->user_data);
  g_free (p->vm);
  g_free (p);
}

static gboolean
on_answer (gpointer data)
{
  pending_answer (data);
  return G_SOURCE_REMOVE;
}

static void
fake_op (Fake *fake, VmdPowerAction action, const char *vm, VmdSleepOpDone done,
         gpointer user_data)
{
  g_autofree char *key = g_strdup_printf ("%s/%s", vm, vmd_power_action_to_string (action));
  Behaviour *b = g_hash_table_lookup (fake->behaviour, key);
  Pending *p = g_new0 (Pending, 1);

  p->fake = fake;
  p->vm = g_strdup (vm);
  p->action = action;
  p->answer = b != NULL ? b->answer : ANSWER_OK;
  p->done = done;
  p->user_data = user_data;
  g_ptr_array_add (fake->log, g_strdup_printf ("start %s %s", vm,
                                               vmd_power_action_to_string (action)));
  switch (p->answer)
    {
    case ANSWER_OK_AT_ONCE:
      pending_answer (p);
      break;
    case ANSWER_NEVER:
      g_ptr_array_add (fake->hung, p);
      break;
    case ANSWER_OK:
    case ANSWER_ERROR:
    default:
      g_timeout_add (b != NULL ? b->delay_ms : 10, on_answer, p);
      break;
    }
}

#define FAKE_OP(name, ACTION)                                                          \
  static void fake_##name (gpointer data, const char *vm, VmdSleepOpDone done,          \
                           gpointer user_data)                                          \
  {                                                                                     \
    fake_op (data, ACTION, vm, done, user_data);                                        \
  }
FAKE_OP (suspend, VMD_POWER_ACTION_SUSPEND)
FAKE_OP (pause, VMD_POWER_ACTION_PAUSE)
FAKE_OP (save, VMD_POWER_ACTION_SAVE)
FAKE_OP (hibernate, VMD_POWER_ACTION_HIBERNATE)
FAKE_OP (resume, VMD_POWER_ACTION_RESUME)
FAKE_OP (wakeup, VMD_POWER_ACTION_WAKEUP)
FAKE_OP (start, VMD_POWER_ACTION_START)
FAKE_OP (set_time, VMD_POWER_ACTION_SET_TIME)
FAKE_OP (shutdown, VMD_POWER_ACTION_SHUTDOWN)

static const VmdSleepOps fake_ops = {
  .suspend = fake_suspend,
  .pause = fake_pause,
  .save = fake_save,
  .hibernate = fake_hibernate,
  .resume = fake_resume,
  .wakeup = fake_wakeup,
  .start = fake_start,
  .set_time = fake_set_time,
  .shutdown = fake_shutdown,
};

static Fake *
fake_new (void)
{
  Fake *fake = g_new0 (Fake, 1);

  fake->behaviour = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  fake->log = g_ptr_array_new_with_free_func (g_free);
  fake->hung = g_ptr_array_new ();
  return fake;
}

static void
fake_set (Fake *fake, const char *vm, VmdPowerAction action, Answer answer, guint delay_ms)
{
  Behaviour *b = g_new0 (Behaviour, 1);

  b->answer = answer;
  b->delay_ms = delay_ms;
  g_hash_table_insert (fake->behaviour,
                       g_strdup_printf ("%s/%s", vm, vmd_power_action_to_string (action)), b);
}

static gboolean
fake_logged (Fake *fake, const char *entry)
{
  for (guint i = 0; i < fake->log->len; i++)
    if (strcmp (fake->log->pdata[i], entry) == 0)
      return TRUE;
  return FALSE;
}

/* The index of `entry` in the log, -1 if absent. */
static int
fake_index (Fake *fake, const char *entry)
{
  for (guint i = 0; i < fake->log->len; i++)
    if (strcmp (fake->log->pdata[i], entry) == 0)
      return (int) i;
  return -1;
}

/* Hung operations answer at last, long after their deadline: must be harmless. */
static void
fake_free (Fake *fake)
{
  for (guint i = 0; i < fake->hung->len; i++)
    pending_answer (fake->hung->pdata[i]);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_ptr_array_unref (fake->hung);
  g_ptr_array_unref (fake->log);
  g_hash_table_unref (fake->behaviour);
  g_free (fake);
}

/* ---- running the plan ---- */

typedef struct {
  GPtrArray *outcomes;
  GError    *error;
  gboolean   done;
} Result;

static void
on_finished (GObject *source, GAsyncResult *res, gpointer data)
{
  Result *r = data;
  VmdSleepPlan *plan = VMD_SLEEP_PLAN (source);

  if (g_async_result_is_tagged (res, vmd_sleep_plan_prepare_async))
    r->outcomes = vmd_sleep_plan_prepare_finish (plan, res, &r->error);
  else if (g_async_result_is_tagged (res, vmd_sleep_plan_shutdown_async))
    r->outcomes = vmd_sleep_plan_shutdown_finish (plan, res, &r->error);
  else if (g_async_result_is_tagged (res, vmd_sleep_plan_wake_async))
    r->outcomes = vmd_sleep_plan_wake_finish (plan, res, &r->error);
  else
    r->outcomes = vmd_sleep_plan_critical_finish (plan, res, &r->error);
  r->done = TRUE;
}

static void
wait_for (Result *r)
{
  while (!r->done)
    g_main_context_iteration (NULL, TRUE);
}

static void
result_clear (Result *r)
{
  g_clear_pointer (&r->outcomes, g_ptr_array_unref);
  g_clear_error (&r->error);
  r->done = FALSE;
}

static const VmdSleepOutcome *
outcome (Result *r, const char *vm)
{
  g_assert_nonnull (r->outcomes);
  for (guint i = 0; i < r->outcomes->len; i++)
    {
      const VmdSleepOutcome *o = r->outcomes->pdata[i];
      if (strcmp (o->vm, vm) == 0)
        return o;
    }
  g_error ("no outcome for %s", vm);
}

static void
assert_outcome (Result *r, const char *vm, VmdPowerAction taken, VmdSleepResult result,
                const char *message_part)
{
  const VmdSleepOutcome *o = outcome (r, vm);

  if (o->taken != taken || o->result != result
      || (message_part != NULL && strstr (o->message, message_part) == NULL))
    {
      g_autofree char *report = vmd_sleep_report_to_string (r->outcomes);
      g_error ("%s: expected %s, result %d, \"%s\"; report:\n%s", vm,
               vmd_power_action_to_string (taken), result, message_part, report);
    }
}

static VmdSleepVm
vm (const char *name, VmdHostSleepAction action, gboolean hostdev, gboolean agent)
{
  return (VmdSleepVm) {
    .name = name, .instance = 7, .state = VMD_VM_RUNNING, .on_host_sleep = action,
    .has_hostdev = hostdev, .has_agent = agent,
  };
}

/* A running VM as a host shutdown sees it; its sleep setting must not matter. */
static VmdSleepVm
vm_off (const char *name, VmdHostShutdownAction action, gboolean hostdev)
{
  return (VmdSleepVm) {
    .name = name, .instance = 7, .state = VMD_VM_RUNNING, .on_host_sleep = VMD_HOST_SLEEP_NONE,
    .on_host_shutdown = action, .has_hostdev = hostdev, .has_agent = TRUE,
  };
}

typedef struct {
  char         *dir;
  Fake         *fake;
  VmdSleepPlan *plan;
} Fixture;

static void
fixture_init (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  f->dir = g_dir_make_tmp ("vmd-plan-XXXXXX", NULL);
  f->fake = fake_new ();
  f->plan = vmd_sleep_plan_new (&fake_ops, f->fake, f->dir, &error);
  g_assert_no_error (error);
}

static void
fixture_clear (Fixture *f)
{
  g_autofree char *journal = g_build_filename (f->dir, "power-journal.ini", NULL);
  g_autofree char *corrupt = g_strconcat (journal, ".corrupt", NULL);

  g_clear_object (&f->plan);
  fake_free (f->fake);
  g_remove (journal);
  g_remove (corrupt);
  g_rmdir (f->dir);
  g_free (f->dir);
}

/* A plan as a restarted daemon would make it: same directory, nothing in memory. */
static void
restart (Fixture *f)
{
  g_autoptr(GError) error = NULL;

  g_clear_object (&f->plan);
  f->plan = vmd_sleep_plan_new (&fake_ops, f->fake, f->dir, &error);
  g_assert_no_error (error);
}

static void
prepare (Fixture *f, const VmdSleepVm *vms, guint n, guint64 delay_max_us, Result *r)
{
  vmd_sleep_plan_prepare_async (f->plan, vms, n, delay_max_us, on_finished, r);
  wait_for (r);
  g_assert_no_error (r->error);
}

static void
shut_down (Fixture *f, const VmdSleepVm *vms, guint n, gint64 budget_us, Result *r)
{
  vmd_sleep_plan_shutdown_async (f->plan, vms, n, budget_us, on_finished, r);
  wait_for (r);
  g_assert_no_error (r->error);
}

static const VmdJournalEntry *
journal_entry (Fixture *f, VmdSleepJournal **journal, const char *name)
{
  g_autoptr(GError) error = NULL;

  g_clear_pointer (journal, vmd_sleep_journal_free);
  *journal = vmd_sleep_journal_load (f->dir, &error);
  g_assert_no_error (error);
  return vmd_sleep_journal_lookup (*journal, name);
}

static void
wake (Fixture *f, const VmdSleepVm *vms, guint n, guint timeout_ms, Result *r)
{
  vmd_sleep_plan_wake_async (f->plan, vms, n, timeout_ms, on_finished, r);
  wait_for (r);
  g_assert_no_error (r->error);
}

static gboolean
journaled (Fixture *f, const char *name)
{
  g_auto(GStrv) names = vmd_sleep_plan_get_journaled (f->plan);
  return g_strv_contains ((const char *const *) names, name);
}

/* ---- tests ---- */

static void
test_budget (void)
{
  gint64 total, agent;

  vmd_sleep_budget (5 * G_USEC_PER_SEC, &total, &agent);
  g_assert_cmpint (total, ==, 4500 * MS);
  g_assert_cmpint (agent, ==, 3500 * MS);
  vmd_sleep_budget (0, &total, &agent);          /* unknown: logind's default */
  g_assert_cmpint (total, ==, 4500 * MS);
  vmd_sleep_budget (30 * G_USEC_PER_SEC, &total, &agent);
  g_assert_cmpint (total, ==, 27000 * MS);
  g_assert_cmpint (agent, ==, 26000 * MS);
  vmd_sleep_budget (600 * MS, &total, &agent);   /* short: the margin is half */
  g_assert_cmpint (total, ==, 300 * MS);
  g_assert_cmpint (agent, ==, 200 * MS);
  vmd_sleep_budget (G_MAXUINT64, &total, &agent);
  g_assert_cmpint (total, >, 0);
  g_assert_cmpint (agent, <, total);
}

/* Every VM's action starts before any of them has finished. */
static void
test_parallel (void)
{
  VmdSleepVm vms[] = {
    vm ("a", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE),
    vm ("b", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("c", VMD_HOST_SLEEP_SAVE, FALSE, FALSE),
    vm ("d", VMD_HOST_SLEEP_PAUSE, FALSE, FALSE),
  };
  Result r = { 0 };
  Fixture f;
  int last_start;

  fixture_init (&f);
  fake_set (f.fake, "a", VMD_POWER_ACTION_SUSPEND, ANSWER_OK, 50);
  fake_set (f.fake, "b", VMD_POWER_ACTION_PAUSE, ANSWER_OK, 30);
  fake_set (f.fake, "c", VMD_POWER_ACTION_SAVE, ANSWER_OK, 40);
  fake_set (f.fake, "d", VMD_POWER_ACTION_PAUSE, ANSWER_OK_AT_ONCE, 0);
  prepare (&f, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC, &r);

  last_start = MAX (MAX (fake_index (f.fake, "start a suspend"), fake_index (f.fake, "start b pause")),
                    fake_index (f.fake, "start c save"));
  g_assert_cmpint (last_start, >=, 0);
  g_assert_cmpint (last_start, <, fake_index (f.fake, "done a suspend"));
  g_assert_cmpint (last_start, <, fake_index (f.fake, "done b pause"));
  g_assert_cmpint (last_start, <, fake_index (f.fake, "done c save"));
  g_assert_cmpuint (r.outcomes->len, ==, 4);
  assert_outcome (&r, "a", VMD_POWER_ACTION_SUSPEND, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "b", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "c", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "d", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE, NULL);
  g_assert_cmpstr (((VmdSleepOutcome *) r.outcomes->pdata[0])->vm, ==, "a");   /* sorted */
  g_assert_true (journaled (&f, "a") && journaled (&f, "b") && journaled (&f, "c")
                 && journaled (&f, "d"));
  result_clear (&r);
  fixture_clear (&f);
}

/* An agent that never answers: paused once its S3 deadline is past, within the budget. */
static void
test_agent_deadline_falls_back_to_pause (void)
{
  VmdSleepVm vms[] = {
    vm ("hung", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE),
    vm ("fine", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE),
  };
  Result r = { 0 };
  Fixture f;

  fixture_init (&f);
  fake_set (f.fake, "hung", VMD_POWER_ACTION_SUSPEND, ANSWER_NEVER, 0);
  prepare (&f, vms, G_N_ELEMENTS (vms), 600 * MS, &r);
  assert_outcome (&r, "hung", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE,
                  "did not suspend within 0.2 s; pausing instead");
  g_assert_cmpint (outcome (&r, "hung")->requested, ==, VMD_POWER_ACTION_SUSPEND);
  assert_outcome (&r, "fine", VMD_POWER_ACTION_SUSPEND, VMD_SLEEP_RESULT_DONE, NULL);
  g_assert_true (fake_logged (f.fake, "start hung pause"));
  g_assert_false (fake_logged (f.fake, "start fine pause"));
  g_assert_true (journaled (&f, "hung"));
  result_clear (&r);
  fixture_clear (&f);   /* the hung suspend answers now: ignored */
}

static void
test_suspend_error_falls_back_to_pause (void)
{
  VmdSleepVm vms[] = { vm ("a", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE) };
  Result r = { 0 };
  Fixture f;

  fixture_init (&f);
  fake_set (f.fake, "a", VMD_POWER_ACTION_SUSPEND, ANSWER_ERROR, 5);
  prepare (&f, vms, 1, 5 * G_USEC_PER_SEC, &r);
  assert_outcome (&r, "a", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE,
                  "suspend failed: fake suspend failure; pausing instead");
  result_clear (&r);
  fixture_clear (&f);
}

static void
test_no_agent_pauses (void)
{
  VmdSleepVm vms[] = { vm ("a", VMD_HOST_SLEEP_SUSPEND, FALSE, FALSE) };
  Result r = { 0 };
  Fixture f;

  fixture_init (&f);
  prepare (&f, vms, 1, 5 * G_USEC_PER_SEC, &r);
  assert_outcome (&r, "a", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE, "no guest agent");
  g_assert_false (fake_logged (f.fake, "start a suspend"));
  result_clear (&r);
  fixture_clear (&f);
}

/* Managed save of a VM with host devices is refused with a reason; it suspends. */
static void
test_save_refused_with_hostdev (void)
{
  VmdSleepVm vms[] = {
    vm ("gpu", VMD_HOST_SLEEP_SAVE, TRUE, TRUE),
    vm ("gpu-noagent", VMD_HOST_SLEEP_SAVE, TRUE, FALSE),
  };
  Result r = { 0 };
  Fixture f;

  fixture_init (&f);
  prepare (&f, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC, &r);
  assert_outcome (&r, "gpu", VMD_POWER_ACTION_SUSPEND, VMD_SLEEP_RESULT_DONE,
                  "managed save is refused for VMs with host devices");
  g_assert_cmpint (outcome (&r, "gpu")->requested, ==, VMD_POWER_ACTION_SAVE);
  assert_outcome (&r, "gpu-noagent", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE,
                  "may not survive");
  g_assert_false (fake_logged (f.fake, "start gpu save"));
  g_assert_false (fake_logged (f.fake, "start gpu-noagent save"));
  result_clear (&r);
  fixture_clear (&f);
}

/* Nothing answers: the plan is over at its total deadline all the same. */
static void
test_total_deadline (void)
{
  VmdSleepVm vms[] = {
    vm ("stuck", VMD_HOST_SLEEP_PAUSE, FALSE, FALSE),
    vm ("saving", VMD_HOST_SLEEP_SAVE, FALSE, FALSE),
  };
  Result r = { 0 };
  Fixture f;
  gint64 started, total, agent;

  fixture_init (&f);
  fake_set (f.fake, "stuck", VMD_POWER_ACTION_PAUSE, ANSWER_NEVER, 0);
  fake_set (f.fake, "saving", VMD_POWER_ACTION_SAVE, ANSWER_NEVER, 0);
  started = g_get_monotonic_time ();
  prepare (&f, vms, G_N_ELEMENTS (vms), 600 * MS, &r);
  vmd_sleep_budget (600 * MS, &total, &agent);
  /* Not before the deadline: that would be giving up on answers still allowed. */
  g_assert_cmpint (g_get_monotonic_time () - started, >=, total);
  assert_outcome (&r, "stuck", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_TIMED_OUT, "deadline");
  assert_outcome (&r, "saving", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_TIMED_OUT, "deadline");
  /* Timed out is not "not done": a wake must look at them. */
  g_assert_true (journaled (&f, "stuck"));
  g_assert_true (journaled (&f, "saving"));
  result_clear (&r);
  fixture_clear (&f);
}

/* A VM its user paused, and a VM set to none: never touched, before or after. */
static void
test_user_paused_untouched (void)
{
  VmdSleepVm vms[] = {
    vm ("mine", VMD_HOST_SLEEP_PAUSE, FALSE, FALSE),
    vm ("user", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("none", VMD_HOST_SLEEP_NONE, FALSE, TRUE),
    vm ("off", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE),
  };
  Result r = { 0 };
  Fixture f;

  vms[1].state = VMD_VM_PAUSED;
  vms[3].state = VMD_VM_SHUTOFF;
  fixture_init (&f);
  prepare (&f, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC, &r);
  assert_outcome (&r, "mine", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "user", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "paused before host sleep");
  assert_outcome (&r, "none", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "on-host-sleep is none");
  assert_outcome (&r, "off", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED, "not running");
  g_assert_false (journaled (&f, "user"));
  g_assert_false (journaled (&f, "none"));
  result_clear (&r);

  /* After wake both paused VMs are paused; only the one vmdesk paused is resumed. */
  vms[0].state = VMD_VM_PAUSED;
  wake (&f, vms, G_N_ELEMENTS (vms), 0, &r);
  g_assert_true (fake_logged (f.fake, "done mine resume"));
  g_assert_true (fake_logged (f.fake, "done mine set-time"));
  g_assert_false (fake_logged (f.fake, "start user resume"));
  g_assert_false (fake_logged (f.fake, "start none resume"));
  g_assert_cmpuint (r.outcomes->len, ==, 1);
  assert_outcome (&r, "mine", VMD_POWER_ACTION_RESUME, VMD_SLEEP_RESULT_DONE, NULL);
  g_assert_false (journaled (&f, "mine"));
  result_clear (&r);
  fixture_clear (&f);
}

/* The daemon dies after the VMs were quiesced; a new one wakes exactly those. */
static void
test_journal_recovery (void)
{
  VmdSleepVm vms[] = {
    vm ("s3", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE),
    vm ("paused", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("saved", VMD_HOST_SLEEP_SAVE, FALSE, TRUE),
    vm ("fallback", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE),
    vm ("rebooted", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("other", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("gone", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
  };
  g_autofree char *path = NULL;
  g_autofree char *contents = NULL;
  Result r = { 0 };
  Fixture f;

  fixture_init (&f);
  fake_set (f.fake, "fallback", VMD_POWER_ACTION_SUSPEND, ANSWER_ERROR, 1);
  prepare (&f, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC, &r);
  result_clear (&r);
  path = g_build_filename (f.dir, "power-journal.ini", NULL);
  g_assert_true (g_file_get_contents (path, &contents, NULL, NULL));
  g_assert_nonnull (strstr (contents, "vm=s3"));
  g_assert_nonnull (strstr (contents, "action=suspend"));

  restart (&f);
  {
    g_auto(GStrv) names = vmd_sleep_plan_get_journaled (f.plan);
    g_assert_cmpuint (g_strv_length (names), ==, G_N_ELEMENTS (vms));
  }
  /* What the new daemon sees now. */
  vms[0].state = VMD_VM_PMSUSPENDED;
  vms[1].state = VMD_VM_PAUSED;
  vms[2].state = VMD_VM_SHUTOFF;
  vms[2].instance = -1;
  vms[2].has_managed_save = TRUE;
  vms[3].state = VMD_VM_PAUSED;
  vms[4].state = VMD_VM_PAUSED;
  vms[4].instance = 8;          /* another boot of it since: not ours to resume */
  vms[5].state = VMD_VM_OTHER;
  wake (&f, vms, 6, 0, &r);     /* "gone" is no longer defined: not in the list */
  g_assert_cmpuint (r.outcomes->len, ==, 7);
  assert_outcome (&r, "rebooted", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED, "restarted since");
  assert_outcome (&r, "other", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED, "unexpected state");
  assert_outcome (&r, "gone", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED, "no longer defined");
  assert_outcome (&r, "s3", VMD_POWER_ACTION_WAKEUP, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "saved", VMD_POWER_ACTION_START, VMD_SLEEP_RESULT_DONE, NULL);
  result_clear (&r);
  wake (&f, vms, 0, 0, &r);     /* nothing left to do */
  g_assert_cmpuint (r.outcomes->len, ==, 0);
  result_clear (&r);

  g_assert_true (fake_logged (f.fake, "done s3 wakeup"));
  g_assert_true (fake_logged (f.fake, "done s3 set-time"));
  g_assert_cmpint (fake_index (f.fake, "start s3 set-time"), >, fake_index (f.fake, "done s3 wakeup"));
  g_assert_true (fake_logged (f.fake, "done paused resume"));
  g_assert_true (fake_logged (f.fake, "done saved start"));
  g_assert_true (fake_logged (f.fake, "done saved set-time"));
  g_assert_true (fake_logged (f.fake, "done fallback resume"));
  g_assert_true (fake_logged (f.fake, "done fallback wakeup"));
  g_assert_false (fake_logged (f.fake, "start rebooted resume"));
  g_assert_false (fake_logged (f.fake, "start other resume"));
  g_assert_false (journaled (&f, "s3"));
  fixture_clear (&f);
}

static void
test_wake_outcomes (void)
{
  VmdSleepVm vms[] = {
    vm ("ok", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("stuck", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("broken", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("clock", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("rebooted", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("running", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
  };
  Result r = { 0 };
  Fixture f;

  fixture_init (&f);
  prepare (&f, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC, &r);
  result_clear (&r);
  for (guint i = 0; i < G_N_ELEMENTS (vms); i++)
    vms[i].state = VMD_VM_PAUSED;
  vms[4].instance = 99;
  vms[5].state = VMD_VM_RUNNING;
  fake_set (f.fake, "stuck", VMD_POWER_ACTION_RESUME, ANSWER_NEVER, 0);
  fake_set (f.fake, "broken", VMD_POWER_ACTION_RESUME, ANSWER_ERROR, 1);
  fake_set (f.fake, "clock", VMD_POWER_ACTION_SET_TIME, ANSWER_ERROR, 1);
  wake (&f, vms, G_N_ELEMENTS (vms), 100, &r);
  assert_outcome (&r, "ok", VMD_POWER_ACTION_RESUME, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "stuck", VMD_POWER_ACTION_RESUME, VMD_SLEEP_RESULT_TIMED_OUT,
                  "no answer within 0.1 s");
  assert_outcome (&r, "broken", VMD_POWER_ACTION_RESUME, VMD_SLEEP_RESULT_FAILED,
                  "fake resume failure");
  assert_outcome (&r, "clock", VMD_POWER_ACTION_RESUME, VMD_SLEEP_RESULT_DONE,
                  "clock not resynchronised: fake set-time failure");
  assert_outcome (&r, "rebooted", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "restarted since");
  assert_outcome (&r, "running", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "already running");
  /* What failed stays journaled for the next try; the rest is settled. */
  g_assert_false (journaled (&f, "ok"));
  g_assert_true (journaled (&f, "stuck"));
  g_assert_true (journaled (&f, "broken"));
  g_assert_false (journaled (&f, "clock"));
  g_assert_false (journaled (&f, "rebooted"));
  g_assert_false (journaled (&f, "running"));
  result_clear (&r);

  /* A later host sleep leaves the older entries alone. */
  vms[2].state = VMD_VM_PAUSED;
  prepare (&f, &vms[2], 1, 5 * G_USEC_PER_SEC, &r);
  assert_outcome (&r, "broken", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED, "paused");
  g_assert_true (journaled (&f, "broken"));
  result_clear (&r);
  fixture_clear (&f);
}

/* Host wakes while the plan still waits for a guest: nothing new starts, the wake
 * comes after, and another prepare is refused meanwhile. */
static void
test_wake_during_prepare (void)
{
  VmdSleepVm vms[] = {
    vm ("slow", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE),
    vm ("quick", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
  };
  Result prep = { 0 }, woke = { 0 }, busy = { 0 };
  Fixture f;

  fixture_init (&f);
  fake_set (f.fake, "slow", VMD_POWER_ACTION_SUSPEND, ANSWER_ERROR, 100);
  vmd_sleep_plan_prepare_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                on_finished, &prep);
  while (!fake_logged (f.fake, "done quick pause"))
    g_main_context_iteration (NULL, TRUE);
  vmd_sleep_plan_prepare_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                on_finished, &busy);
  wait_for (&busy);
  g_assert_error (busy.error, G_IO_ERROR, G_IO_ERROR_BUSY);
  vms[1].state = VMD_VM_PAUSED;
  vmd_sleep_plan_wake_async (f.plan, vms, G_N_ELEMENTS (vms), 0, on_finished, &woke);
  wait_for (&prep);
  g_assert_false (woke.done);
  wait_for (&woke);
  /* The suspend failed after the wake was asked for: no fallback pause. */
  assert_outcome (&prep, "slow", VMD_POWER_ACTION_SUSPEND, VMD_SLEEP_RESULT_FAILED, NULL);
  g_assert_false (fake_logged (f.fake, "start slow pause"));
  assert_outcome (&woke, "quick", VMD_POWER_ACTION_RESUME, VMD_SLEEP_RESULT_DONE, NULL);
  g_assert_cmpuint (woke.outcomes->len, ==, 1);
  result_clear (&prep);
  result_clear (&woke);
  result_clear (&busy);
  fixture_clear (&f);
}

/* Critical battery: save what can be saved, S4 for the rest, report the rest at risk;
 * the next wake brings them all back as they were. */
static void
test_critical_battery (void)
{
  VmdSleepVm vms[] = {
    vm ("plain", VMD_HOST_SLEEP_NONE, FALSE, FALSE),
    vm ("gpu", VMD_HOST_SLEEP_SUSPEND, TRUE, TRUE),
    vm ("gpu-noagent", VMD_HOST_SLEEP_SUSPEND, TRUE, FALSE),
    vm ("user-paused", VMD_HOST_SLEEP_PAUSE, FALSE, TRUE),
    vm ("save-fails", VMD_HOST_SLEEP_SAVE, FALSE, TRUE),
    vm ("off", VMD_HOST_SLEEP_SAVE, FALSE, TRUE),
  };
  g_autofree char *report = NULL;
  Result r = { 0 };
  Fixture f;

  vms[3].state = VMD_VM_PAUSED;
  vms[5].state = VMD_VM_SHUTOFF;
  fixture_init (&f);
  fake_set (f.fake, "save-fails", VMD_POWER_ACTION_SAVE, ANSWER_ERROR, 1);
  vmd_sleep_plan_critical_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                 on_finished, &r);
  wait_for (&r);
  g_assert_no_error (r.error);
  assert_outcome (&r, "plain", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "gpu", VMD_POWER_ACTION_HIBERNATE, VMD_SLEEP_RESULT_DONE, "hibernates");
  assert_outcome (&r, "gpu-noagent", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_FAILED, "at risk");
  assert_outcome (&r, "user-paused", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "save-fails", VMD_POWER_ACTION_HIBERNATE, VMD_SLEEP_RESULT_DONE,
                  "save failed: fake save failure; asking the guest to hibernate");
  assert_outcome (&r, "off", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED, "not running");
  report = vmd_sleep_report_to_string (r.outcomes);
  g_assert_nonnull (strstr (report, "gpu-noagent: save -> none (failed): has host devices"));
  g_assert_nonnull (strstr (report, "plain: save (done): done\n"));
  result_clear (&r);

  restart (&f);
  for (guint i = 0; i < G_N_ELEMENTS (vms); i++)
    {
      vms[i].state = VMD_VM_SHUTOFF;
      vms[i].instance = -1;
      vms[i].has_managed_save = i == 0 || i == 3;
    }
  vms[2].state = VMD_VM_RUNNING;
  wake (&f, vms, G_N_ELEMENTS (vms), 0, &r);
  assert_outcome (&r, "plain", VMD_POWER_ACTION_START, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "gpu", VMD_POWER_ACTION_START, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "save-fails", VMD_POWER_ACTION_START, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "user-paused", VMD_POWER_ACTION_START, VMD_SLEEP_RESULT_DONE, NULL);
  g_assert_true (fake_logged (f.fake, "done plain set-time"));
  /* Restored paused as its user left it: no clock to set; a hibernated guest boots. */
  g_assert_false (fake_logged (f.fake, "start user-paused set-time"));
  g_assert_false (fake_logged (f.fake, "start gpu set-time"));
  g_assert_false (fake_logged (f.fake, "start gpu-noagent start"));
  g_assert_false (fake_logged (f.fake, "start off start"));
  result_clear (&r);
  fixture_clear (&f);
}

/* The host goes to sleep while a critical-battery run saves the VMs: the prepare waits
 * for it and leaves the saved VM to its journal entry. */
static void
test_prepare_after_critical (void)
{
  VmdSleepVm vms[] = {
    vm ("plain", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE),
    vm ("gpu", VMD_HOST_SLEEP_SUSPEND, TRUE, FALSE),
  };
  Result crit = { 0 }, prep = { 0 }, busy = { 0 };
  Fixture f;
  const VmdJournalEntry *e;
  g_autoptr(VmdSleepJournal) journal = NULL;
  g_autoptr(GError) error = NULL;

  fixture_init (&f);
  fake_set (f.fake, "plain", VMD_POWER_ACTION_SAVE, ANSWER_OK, 100);
  vmd_sleep_plan_critical_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                 on_finished, &crit);
  vmd_sleep_plan_prepare_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                on_finished, &prep);
  vmd_sleep_plan_critical_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                 on_finished, &busy);
  wait_for (&busy);
  g_assert_error (busy.error, G_IO_ERROR, G_IO_ERROR_BUSY);
  wait_for (&crit);
  g_assert_false (prep.done);
  wait_for (&prep);
  g_assert_no_error (prep.error);
  assert_outcome (&crit, "plain", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&crit, "gpu", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_FAILED, "at risk");
  assert_outcome (&prep, "plain", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "already saved for the critical battery");
  assert_outcome (&prep, "gpu", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE, NULL);
  g_assert_cmpint (fake_index (f.fake, "start gpu pause"), >, fake_index (f.fake, "done plain save"));
  g_assert_false (fake_logged (f.fake, "start plain suspend"));
  journal = vmd_sleep_journal_load (f.dir, &error);
  e = vmd_sleep_journal_lookup (journal, "plain");
  g_assert_nonnull (e);
  g_assert_cmpint (e->action, ==, VMD_POWER_ACTION_SAVE);
  g_assert_cmpstr (e->reason, ==, "critical-battery");
  e = vmd_sleep_journal_lookup (journal, "gpu");
  g_assert_nonnull (e);
  g_assert_cmpint (e->action, ==, VMD_POWER_ACTION_PAUSE);
  result_clear (&crit);
  result_clear (&prep);
  result_clear (&busy);
  fixture_clear (&f);
}

/* An operation the daemon does not provide is a failure like any other. */
static void
test_missing_op (void)
{
  static const VmdSleepOps no_suspend = { .pause = fake_pause };
  VmdSleepVm vms[] = { vm ("a", VMD_HOST_SLEEP_SUSPEND, FALSE, TRUE) };
  g_autoptr(GError) error = NULL;
  Result r = { 0 };
  Fixture f;

  fixture_init (&f);
  g_clear_object (&f.plan);
  f.plan = vmd_sleep_plan_new (&no_suspend, f.fake, f.dir, &error);
  g_assert_no_error (error);
  prepare (&f, vms, 1, 5 * G_USEC_PER_SEC, &r);
  assert_outcome (&r, "a", VMD_POWER_ACTION_PAUSE, VMD_SLEEP_RESULT_DONE,
                  "suspend is not available");
  result_clear (&r);
  fixture_clear (&f);
}

/* A journal that is not one is set aside; one with bad entries keeps the good ones. */
static void
test_journal_corrupt (void)
{
  g_autofree char *dir = g_dir_make_tmp ("vmd-plan-XXXXXX", NULL);
  g_autofree char *path = g_build_filename (dir, "power-journal.ini", NULL);
  g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdSleepJournal) j = NULL;
  const VmdJournalEntry *e;

  g_assert_true (g_file_set_contents (path, "[vm-0\nvm=\xff", -1, NULL));
  g_test_expect_message (NULL, G_LOG_LEVEL_WARNING, "*unreadable*");
  j = vmd_sleep_journal_load (dir, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (vmd_sleep_journal_entries (j)->len, ==, 0);
  g_assert_true (g_file_test (aside, G_FILE_TEST_EXISTS));
  g_clear_pointer (&j, vmd_sleep_journal_free);

  g_assert_true (g_file_set_contents (path,
    "[vm-0]\nvm=good\ninstance=3\naction=suspend\nuser-paused=false\nreason=host-sleep\n"
    "[vm-1]\nvm=bad/name\naction=pause\n"
    "[vm-2]\nvm=noaction\naction=explode\n"
    "[vm-3]\naction=pause\n", -1, NULL));
  g_test_expect_message ("vmdesk-power", G_LOG_LEVEL_WARNING, "*[vm-1]*'/'*");
  g_test_expect_message ("vmdesk-power", G_LOG_LEVEL_WARNING, "*[vm-2]: no valid action");
  g_test_expect_message ("vmdesk-power", G_LOG_LEVEL_WARNING, "*[vm-3]: VM name is empty");
  j = vmd_sleep_journal_load (dir, &error);
  g_test_assert_expected_messages ();
  g_assert_no_error (error);
  g_assert_cmpuint (vmd_sleep_journal_entries (j)->len, ==, 1);
  e = vmd_sleep_journal_lookup (j, "good");
  g_assert_nonnull (e);
  g_assert_cmpint (e->instance, ==, 3);
  g_assert_cmpint (e->action, ==, VMD_POWER_ACTION_SUSPEND);
  g_assert_cmpstr (e->reason, ==, "host-sleep");

  /* Round trip, with a name that needs escaping. */
  vmd_sleep_journal_put (j, "odd \"name\" <x>\\", -1, VMD_POWER_ACTION_SAVE, TRUE, "critical-battery");
  g_assert_true (vmd_sleep_journal_save (j, &error));
  g_clear_pointer (&j, vmd_sleep_journal_free);
  j = vmd_sleep_journal_load (dir, &error);
  e = vmd_sleep_journal_lookup (j, "odd \"name\" <x>\\");
  g_assert_nonnull (e);
  g_assert_true (e->user_paused);
  g_assert_cmpint (e->action, ==, VMD_POWER_ACTION_SAVE);

  g_clear_pointer (&j, vmd_sleep_journal_free);
  g_assert_null (vmd_sleep_journal_load ("/proc/vmdesk-cannot-exist", &error));
  g_assert_nonnull (strstr (error->message, "/proc/vmdesk-cannot-exist"));
  g_remove (path);
  g_remove (aside);
  g_rmdir (dir);
}

/* ---- host shutdown ---- */

/* Every VM's shutdown or save starts before any of them is done; none is left alone
 * unless its setting says so; the journal records what was started, written first. */
static void
test_shutdown_parallel (void)
{
  VmdSleepVm vms[] = {
    vm_off ("a", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("b", VMD_HOST_SHUTDOWN_SAVE, FALSE),
    vm_off ("c", VMD_HOST_SHUTDOWN_NONE, FALSE),
    vm_off ("d", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("e", VMD_HOST_SHUTDOWN_SAVE, FALSE),
  };
  g_autoptr(VmdSleepJournal) journal = NULL;
  const VmdJournalEntry *e;
  Result r = { 0 };
  Fixture f;
  int last_start;

  fixture_init (&f);
  fake_set (f.fake, "a", VMD_POWER_ACTION_SHUTDOWN, ANSWER_OK, 60);
  fake_set (f.fake, "b", VMD_POWER_ACTION_SAVE, ANSWER_OK, 40);
  fake_set (f.fake, "d", VMD_POWER_ACTION_SHUTDOWN, ANSWER_OK_AT_ONCE, 0);
  fake_set (f.fake, "e", VMD_POWER_ACTION_SAVE, ANSWER_OK, 20);
  vmd_sleep_plan_shutdown_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                 on_finished, &r);
  /* Write-ahead: on disk before any operation answered. */
  g_assert_false (r.done);
  e = journal_entry (&f, &journal, "b");
  g_assert_nonnull (e);
  g_assert_cmpint (e->action, ==, VMD_POWER_ACTION_SAVE);
  g_assert_cmpstr (e->reason, ==, "host-shutdown");
  g_assert_true (vmd_sleep_plan_is_busy (f.plan));
  wait_for (&r);
  g_assert_no_error (r.error);
  g_assert_false (vmd_sleep_plan_is_busy (f.plan));

  last_start = MAX (MAX (fake_index (f.fake, "start a shutdown"), fake_index (f.fake, "start b save")),
                    fake_index (f.fake, "start e save"));
  g_assert_cmpint (last_start, >=, 0);
  g_assert_cmpint (last_start, <, fake_index (f.fake, "done a shutdown"));
  g_assert_cmpint (last_start, <, fake_index (f.fake, "done b save"));
  g_assert_cmpint (last_start, <, fake_index (f.fake, "done e save"));
  g_assert_cmpuint (r.outcomes->len, ==, 5);
  assert_outcome (&r, "a", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "b", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "c", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "on-host-shutdown is none: left to libvirt");
  assert_outcome (&r, "d", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_DONE, NULL);
  g_assert_cmpint (outcome (&r, "b")->requested, ==, VMD_POWER_ACTION_SAVE);
  /* Nothing of host sleep is done at a shutdown, whatever on-host-sleep says. */
  g_assert_false (fake_logged (f.fake, "start c suspend"));
  g_assert_false (fake_logged (f.fake, "start c pause"));
  g_assert_cmpuint (f.fake->log->len, ==, 8);   /* 4 starts, 4 answers */
  g_assert_true (journaled (&f, "a") && journaled (&f, "b") && journaled (&f, "d"));
  g_assert_false (journaled (&f, "c"));
  e = journal_entry (&f, &journal, "a");
  g_assert_cmpint (e->action, ==, VMD_POWER_ACTION_SHUTDOWN);
  g_assert_cmpint (e->instance, ==, 7);
  result_clear (&r);
  fixture_clear (&f);
}

/* A managed save of a VM with host devices is refused, as for host sleep: it shuts down.
 * A save that fails falls back to a shutdown while there is time. */
static void
test_shutdown_save_refused_with_hostdev (void)
{
  VmdSleepVm vms[] = {
    vm_off ("gpu", VMD_HOST_SHUTDOWN_SAVE, TRUE),
    vm_off ("save-fails", VMD_HOST_SHUTDOWN_SAVE, FALSE),
    vm_off ("gpu-none", VMD_HOST_SHUTDOWN_NONE, TRUE),
  };
  g_autoptr(VmdSleepJournal) journal = NULL;
  g_autofree char *report = NULL;
  Result r = { 0 };
  Fixture f;

  fixture_init (&f);
  fake_set (f.fake, "save-fails", VMD_POWER_ACTION_SAVE, ANSWER_ERROR, 5);
  shut_down (&f, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC, &r);
  assert_outcome (&r, "gpu", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_DONE,
                  "managed save is refused for VMs with host devices (their device state "
                  "cannot be saved); shutting the guest down instead");
  g_assert_cmpint (outcome (&r, "gpu")->requested, ==, VMD_POWER_ACTION_SAVE);
  g_assert_false (fake_logged (f.fake, "start gpu save"));
  assert_outcome (&r, "save-fails", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_DONE,
                  "save failed: fake save failure; shutting the guest down instead");
  g_assert_cmpint (fake_index (f.fake, "start save-fails shutdown"), >,
                   fake_index (f.fake, "done save-fails save"));
  assert_outcome (&r, "gpu-none", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED, "none");
  report = vmd_sleep_report_to_string (r.outcomes);
  g_assert_nonnull (strstr (report, "gpu: save -> shutdown (done): managed save is refused"));
  /* What the journal says is what was finally done: a restart must not look for an image. */
  g_assert_cmpint (journal_entry (&f, &journal, "gpu")->action, ==, VMD_POWER_ACTION_SHUTDOWN);
  g_assert_cmpint (journal_entry (&f, &journal, "save-fails")->action, ==,
                   VMD_POWER_ACTION_SHUTDOWN);
  result_clear (&r);
  fixture_clear (&f);
}

/* Guests that take too long are left to libvirt at the deadline: reported, kept in the
 * journal for the next start to look at, and never destroyed (the ops have no such
 * thing). A failed shutdown is reported and left running. */
static void
test_shutdown_deadline (void)
{
  VmdSleepVm vms[] = {
    vm_off ("slow", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("saving", VMD_HOST_SHUTDOWN_SAVE, FALSE),
    vm_off ("broken", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("quick", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
  };
  Result r = { 0 };
  Fixture f;
  gint64 started;

  fixture_init (&f);
  fake_set (f.fake, "slow", VMD_POWER_ACTION_SHUTDOWN, ANSWER_NEVER, 0);
  fake_set (f.fake, "saving", VMD_POWER_ACTION_SAVE, ANSWER_NEVER, 0);
  fake_set (f.fake, "broken", VMD_POWER_ACTION_SHUTDOWN, ANSWER_ERROR, 1);
  started = g_get_monotonic_time ();
  shut_down (&f, vms, G_N_ELEMENTS (vms), 300 * MS, &r);
  /* Not before the deadline: a slow guest is still given all of its time. */
  g_assert_cmpint (g_get_monotonic_time () - started, >=, 300 * MS);
  assert_outcome (&r, "slow", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_TIMED_OUT,
                  "still running after 0.3 s: left to libvirt (vmdesk never destroys a VM)");
  assert_outcome (&r, "saving", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_TIMED_OUT,
                  "save not finished after 0.3 s: left to libvirt");
  assert_outcome (&r, "broken", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_FAILED,
                  "shutdown failed: fake shutdown failure; left to libvirt");
  assert_outcome (&r, "quick", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_DONE, NULL);
  /* A save that did not answer gets no shutdown on top: the guest's state is in flux. */
  g_assert_false (fake_logged (f.fake, "start saving shutdown"));
  g_assert_true (journaled (&f, "slow"));
  g_assert_true (journaled (&f, "saving"));
  g_assert_false (journaled (&f, "broken"));   /* it still runs: nothing to bring back */
  result_clear (&r);
  fixture_clear (&f);   /* the hung ones answer now: ignored */
}

/* Paused, in S3, shut off, already saved for the critical battery: only a save keeps a
 * paused guest's work; a guest in S3 is woken, then shut down or saved (one with host
 * devices is shut down); the rest is left as it is. */
static void
test_shutdown_states (void)
{
  VmdSleepVm vms[] = {
    vm_off ("paused-save", VMD_HOST_SHUTDOWN_SAVE, FALSE),
    vm_off ("paused-shutdown", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("paused-gpu", VMD_HOST_SHUTDOWN_SAVE, TRUE),
    vm_off ("s3", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("off", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("critical", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("s3-save", VMD_HOST_SHUTDOWN_SAVE, FALSE),
    vm_off ("s3-gpu", VMD_HOST_SHUTDOWN_SAVE, TRUE),
  };
  g_autoptr(VmdSleepJournal) journal = NULL;
  Result r = { 0 };
  Fixture f;

  vms[0].state = vms[1].state = vms[2].state = VMD_VM_PAUSED;
  vms[3].state = vms[6].state = vms[7].state = VMD_VM_PMSUSPENDED;
  vms[4].state = VMD_VM_SHUTOFF;
  fixture_init (&f);
  /* A critical battery saved "critical" before; its entry is not the shutdown's. */
  vmd_sleep_plan_critical_async (f.plan, &vms[5], 1, 5 * G_USEC_PER_SEC, on_finished, &r);
  wait_for (&r);
  result_clear (&r);
  vms[5].state = VMD_VM_SHUTOFF;

  shut_down (&f, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC, &r);
  assert_outcome (&r, "paused-save", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_DONE,
                  "saved paused");
  assert_outcome (&r, "paused-shutdown", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "paused, so it cannot shut down: left to libvirt");
  assert_outcome (&r, "paused-gpu", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "paused, so it cannot shut down");
  assert_outcome (&r, "s3", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_DONE,
                  "in guest S3: woken first, then shutdown");
  assert_outcome (&r, "s3-save", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_DONE,
                  "in guest S3: woken first, then save");
  assert_outcome (&r, "s3-gpu", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_DONE,
                  "in guest S3: woken first, then shutdown");
  /* Woken before anything else is asked of it. */
  g_assert_cmpint (fake_index (f.fake, "done s3 wakeup"), <, fake_index (f.fake, "start s3 shutdown"));
  g_assert_cmpint (fake_index (f.fake, "done s3-save wakeup"), <, fake_index (f.fake, "start s3-save save"));
  g_assert_cmpint (fake_index (f.fake, "done s3-gpu wakeup"), <, fake_index (f.fake, "start s3-gpu shutdown"));
  g_assert_cmpint (fake_index (f.fake, "start s3 wakeup"), >=, 0);
  assert_outcome (&r, "off", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED, "not running");
  assert_outcome (&r, "critical", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "already saved for the critical battery");
  g_assert_true (journal_entry (&f, &journal, "paused-save")->user_paused);
  g_assert_cmpstr (journal_entry (&f, &journal, "critical")->reason, ==, "critical-battery");
  g_assert_null (journal_entry (&f, &journal, "paused-shutdown"));
  /* Journaled as what they end as: the saved one is restored at the next start. */
  g_assert_cmpint (journal_entry (&f, &journal, "s3")->action, ==, VMD_POWER_ACTION_SHUTDOWN);
  g_assert_cmpint (journal_entry (&f, &journal, "s3-save")->action, ==, VMD_POWER_ACTION_SAVE);
  g_assert_cmpint (journal_entry (&f, &journal, "s3-gpu")->action, ==, VMD_POWER_ACTION_SHUTDOWN);
  /* critical's save, the paused save, and three S3 guests' wakeup and action */
  g_assert_cmpuint (f.fake->log->len, ==, 4 + 3 * 4);
  result_clear (&r);
  fixture_clear (&f);
}

/* The next daemon start restores exactly the VMs the shutdown saved; the ones that shut
 * down stay off, and their entries go. */
static void
test_shutdown_journal_restores_saved (void)
{
  VmdSleepVm vms[] = {
    vm_off ("saved", VMD_HOST_SHUTDOWN_SAVE, FALSE),
    vm_off ("saved-paused", VMD_HOST_SHUTDOWN_SAVE, FALSE),
    vm_off ("down", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("gpu", VMD_HOST_SHUTDOWN_SAVE, TRUE),
    vm_off ("late", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE),
    vm_off ("untouched", VMD_HOST_SHUTDOWN_NONE, FALSE),
    vm_off ("autostarted", VMD_HOST_SHUTDOWN_SAVE, FALSE),
  };
  Result r = { 0 };
  Fixture f;

  vms[1].state = VMD_VM_PAUSED;
  fixture_init (&f);
  fake_set (f.fake, "late", VMD_POWER_ACTION_SHUTDOWN, ANSWER_NEVER, 0);
  shut_down (&f, vms, G_N_ELEMENTS (vms), 200 * MS, &r);
  assert_outcome (&r, "late", VMD_POWER_ACTION_SHUTDOWN, VMD_SLEEP_RESULT_TIMED_OUT, NULL);
  result_clear (&r);

  /* The host is back up. libvirt killed "late" at its own stop; "untouched" was left to
   * libvirt too; libvirt autostart restored "autostarted" from its image before vmdesk. */
  restart (&f);
  for (guint i = 0; i < G_N_ELEMENTS (vms); i++)
    {
      vms[i].state = VMD_VM_SHUTOFF;
      vms[i].instance = -1;
      vms[i].has_managed_save = i <= 1;
    }
  vms[6].state = VMD_VM_RUNNING;
  vms[6].instance = 1;
  wake (&f, vms, G_N_ELEMENTS (vms), 0, &r);
  g_assert_cmpuint (r.outcomes->len, ==, 6);
  assert_outcome (&r, "saved", VMD_POWER_ACTION_START, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "saved-paused", VMD_POWER_ACTION_START, VMD_SLEEP_RESULT_DONE, NULL);
  assert_outcome (&r, "down", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "shut down with the host: not started again (libvirt autostart decides)");
  assert_outcome (&r, "gpu", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "not started again");
  assert_outcome (&r, "late", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "not started again");
  assert_outcome (&r, "autostarted", VMD_POWER_ACTION_NONE, VMD_SLEEP_RESULT_SKIPPED,
                  "already running");
  g_assert_true (fake_logged (f.fake, "done saved start"));
  g_assert_true (fake_logged (f.fake, "done saved set-time"));
  g_assert_true (fake_logged (f.fake, "done saved-paused start"));
  /* Restored paused, as its user had it: no clock to set in a paused guest. */
  g_assert_false (fake_logged (f.fake, "start saved-paused set-time"));
  g_assert_false (fake_logged (f.fake, "start down start"));
  g_assert_false (fake_logged (f.fake, "start gpu start"));
  g_assert_false (fake_logged (f.fake, "start late start"));
  g_assert_false (fake_logged (f.fake, "start untouched start"));
  g_assert_false (fake_logged (f.fake, "start autostarted start"));
  {
    g_auto(GStrv) left = vmd_sleep_plan_get_journaled (f.plan);
    g_assert_cmpuint (g_strv_length (left), ==, 0);
  }
  result_clear (&r);
  fixture_clear (&f);
}

/* One run at a time: a shutdown is refused while another run is under way (the daemon
 * waits and reads the VMs again). logind cancelling the shutdown brings a wake, which
 * stops it (no fallback starts) and then restores what it saved. */
static void
test_shutdown_busy_and_cancelled (void)
{
  VmdSleepVm vms[] = {
    vm_off ("saved", VMD_HOST_SHUTDOWN_SAVE, FALSE),
    vm_off ("save-fails", VMD_HOST_SHUTDOWN_SAVE, FALSE),
  };
  Result prep = { 0 }, busy = { 0 }, down = { 0 }, woke = { 0 };
  Fixture f;

  fixture_init (&f);
  vms[0].on_host_sleep = VMD_HOST_SLEEP_PAUSE;
  fake_set (f.fake, "saved", VMD_POWER_ACTION_PAUSE, ANSWER_OK, 50);
  vmd_sleep_plan_prepare_async (f.plan, vms, 1, 5 * G_USEC_PER_SEC, on_finished, &prep);
  vmd_sleep_plan_shutdown_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                 on_finished, &busy);
  wait_for (&busy);
  g_assert_error (busy.error, G_IO_ERROR, G_IO_ERROR_BUSY);
  g_assert_false (fake_logged (f.fake, "start saved save"));
  wait_for (&prep);
  vms[0].state = VMD_VM_PAUSED;
  wake (&f, vms, 1, 0, &woke);
  result_clear (&woke);
  vms[0].state = VMD_VM_RUNNING;

  fake_set (f.fake, "saved", VMD_POWER_ACTION_SAVE, ANSWER_OK, 20);
  fake_set (f.fake, "save-fails", VMD_POWER_ACTION_SAVE, ANSWER_ERROR, 100);
  vmd_sleep_plan_shutdown_async (f.plan, vms, G_N_ELEMENTS (vms), 5 * G_USEC_PER_SEC,
                                 on_finished, &down);
  while (!fake_logged (f.fake, "done saved save"))
    g_main_context_iteration (NULL, TRUE);
  vms[0].state = VMD_VM_SHUTOFF;
  vms[0].instance = -1;
  vms[0].has_managed_save = TRUE;
  vmd_sleep_plan_wake_async (f.plan, vms, G_N_ELEMENTS (vms), 0, on_finished, &woke);
  wait_for (&down);
  g_assert_false (woke.done);
  wait_for (&woke);
  g_assert_no_error (down.error);
  g_assert_no_error (woke.error);
  /* The save failed after the cancel: no shutdown on top of it. */
  assert_outcome (&down, "save-fails", VMD_POWER_ACTION_SAVE, VMD_SLEEP_RESULT_FAILED,
                  "left to libvirt");
  g_assert_false (fake_logged (f.fake, "start save-fails shutdown"));
  assert_outcome (&woke, "saved", VMD_POWER_ACTION_START, VMD_SLEEP_RESULT_DONE, NULL);
  g_assert_cmpuint (woke.outcomes->len, ==, 1);
  result_clear (&prep);
  result_clear (&busy);
  result_clear (&down);
  result_clear (&woke);
  fixture_clear (&f);
}

/* The shutdown is called off while a guest in S3 wakes: it is not shut down after all, and
 * nothing is left journaled for it. */
static void
test_shutdown_cancelled_during_a_wakeup (void)
{
  VmdSleepVm vms[] = { vm_off ("s3", VMD_HOST_SHUTDOWN_SHUTDOWN, FALSE) };
  g_autoptr(VmdSleepJournal) journal = NULL;
  Result down = { 0 }, woke = { 0 };
  Fixture f;

  vms[0].state = VMD_VM_PMSUSPENDED;
  fixture_init (&f);
  fake_set (f.fake, "s3", VMD_POWER_ACTION_WAKEUP, ANSWER_OK, 100);
  vmd_sleep_plan_shutdown_async (f.plan, vms, 1, 5 * G_USEC_PER_SEC, on_finished, &down);
  while (!fake_logged (f.fake, "start s3 wakeup"))
    g_main_context_iteration (NULL, TRUE);
  vms[0].state = VMD_VM_RUNNING;
  vmd_sleep_plan_wake_async (f.plan, vms, 1, 0, on_finished, &woke);
  wait_for (&down);
  wait_for (&woke);
  g_assert_no_error (down.error);
  assert_outcome (&down, "s3", VMD_POWER_ACTION_WAKEUP, VMD_SLEEP_RESULT_SKIPPED,
                  "woken, then the shutdown run ended: left running");
  g_assert_false (fake_logged (f.fake, "start s3 shutdown"));
  g_assert_null (journal_entry (&f, &journal, "s3"));
  result_clear (&down);
  result_clear (&woke);
  fixture_clear (&f);
}

static void
test_lid_rule (void)
{
  /* closed, docked, on screen, setting -> sees closed */
  g_assert_true (vmd_lid_guest_sees_closed (TRUE, FALSE, TRUE, VMD_LID_FORWARD));
  g_assert_false (vmd_lid_guest_sees_closed (TRUE, FALSE, TRUE, VMD_LID_IGNORE));
  g_assert_false (vmd_lid_guest_sees_closed (TRUE, FALSE, FALSE, VMD_LID_FORWARD));
  g_assert_false (vmd_lid_guest_sees_closed (TRUE, TRUE, TRUE, VMD_LID_FORWARD));
  g_assert_false (vmd_lid_guest_sees_closed (FALSE, FALSE, TRUE, VMD_LID_FORWARD));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/sleep-plan/budget", test_budget);
  g_test_add_func ("/shutdown-plan/cancelled-during-a-wakeup", test_shutdown_cancelled_during_a_wakeup);
  g_test_add_func ("/sleep-plan/parallel", test_parallel);
  g_test_add_func ("/sleep-plan/agent-deadline", test_agent_deadline_falls_back_to_pause);
  g_test_add_func ("/sleep-plan/suspend-error", test_suspend_error_falls_back_to_pause);
  g_test_add_func ("/sleep-plan/no-agent", test_no_agent_pauses);
  g_test_add_func ("/sleep-plan/save-refused-hostdev", test_save_refused_with_hostdev);
  g_test_add_func ("/sleep-plan/total-deadline", test_total_deadline);
  g_test_add_func ("/sleep-plan/user-paused", test_user_paused_untouched);
  g_test_add_func ("/sleep-plan/journal-recovery", test_journal_recovery);
  g_test_add_func ("/sleep-plan/wake-outcomes", test_wake_outcomes);
  g_test_add_func ("/sleep-plan/wake-during-prepare", test_wake_during_prepare);
  g_test_add_func ("/sleep-plan/critical-battery", test_critical_battery);
  g_test_add_func ("/sleep-plan/prepare-after-critical", test_prepare_after_critical);
  g_test_add_func ("/sleep-plan/missing-op", test_missing_op);
  g_test_add_func ("/sleep-plan/journal-corrupt", test_journal_corrupt);
  g_test_add_func ("/shutdown-plan/parallel", test_shutdown_parallel);
  g_test_add_func ("/shutdown-plan/save-refused-hostdev", test_shutdown_save_refused_with_hostdev);
  g_test_add_func ("/shutdown-plan/deadline", test_shutdown_deadline);
  g_test_add_func ("/shutdown-plan/states", test_shutdown_states);
  g_test_add_func ("/shutdown-plan/journal-restores-saved", test_shutdown_journal_restores_saved);
  g_test_add_func ("/shutdown-plan/busy-and-cancelled", test_shutdown_busy_and_cancelled);
  g_test_add_func ("/lid/rule", test_lid_rule);
  return g_test_run ();
}
