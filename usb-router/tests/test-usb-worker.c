/* The worker: jobs run on its own thread, one at a time, in the order they were pushed,
 * however they are pushed (one by one with waits, or many at once, from several threads);
 * finishing runs what is queued, then frees the worker's state on its thread. */
#include "vmd-usb-worker.h"

typedef struct {
  GMutex     lock;
  GCond      cond;
  GArray    *ran;          /* guint: the jobs' numbers, in the order they ran */
  GThread   *caller;
  gboolean   off_caller;   /* every job ran on another thread than the caller's */
  gboolean   one_at_a_time;
  gint       running;
  gboolean   freed;
  guint      wanted;       /* wake the test when this many ran */
  gboolean   gate_closed;  /* job 0 waits until it opens */
} Record;

typedef struct {
  Record *record;
  guint   number;
} Job;

static void
run_job (gpointer data, gpointer state)
{
  Job *job = data;
  Record *r = state;

  if (g_atomic_int_add (&r->running, 1) != 0)
    r->one_at_a_time = FALSE;
  if (job->number % 97 == 1 && job->number < 1000)
    g_usleep (200);   /* some jobs take a while, as attaches do */
  g_mutex_lock (&r->lock);
  while (job->number == 0 && r->gate_closed)
    g_cond_wait (&r->cond, &r->lock);
  if (g_thread_self () == r->caller)
    r->off_caller = FALSE;
  g_array_append_val (r->ran, job->number);
  if (r->ran->len >= r->wanted)
    g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
  g_atomic_int_add (&r->running, -1);
  g_free (job);
}

static void
state_freed (gpointer state)
{
  Record *r = state;

  g_mutex_lock (&r->lock);
  r->freed = TRUE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

static Record *
record_new (void)
{
  Record *r = g_new0 (Record, 1);

  g_mutex_init (&r->lock);
  g_cond_init (&r->cond);
  r->ran = g_array_new (FALSE, FALSE, sizeof (guint));
  r->caller = g_thread_self ();
  r->off_caller = TRUE;
  r->one_at_a_time = TRUE;
  return r;
}

static void
record_free (Record *r)
{
  g_array_unref (r->ran);
  g_mutex_clear (&r->lock);
  g_cond_clear (&r->cond);
  g_free (r);
}

static void
push (VmdUsbWorker *worker, Record *r, guint number)
{
  Job *job = g_new0 (Job, 1);

  job->record = r;
  job->number = number;
  vmd_usb_worker_push (worker, job);
}

/* Waits (10 s at most: a lost wake-up fails here) until `count` jobs ran. */
static void
wait_ran (Record *r, guint count)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  g_mutex_lock (&r->lock);
  r->wanted = count;
  while (r->ran->len < count)
    if (!g_cond_wait_until (&r->cond, &r->lock, deadline))
      break;
  g_mutex_unlock (&r->lock);
  g_assert_cmpuint (r->ran->len, ==, count);
}

static void
wait_freed (Record *r)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  g_mutex_lock (&r->lock);
  while (!r->freed)
    if (!g_cond_wait_until (&r->cond, &r->lock, deadline))
      break;
  g_mutex_unlock (&r->lock);
  g_assert_true (r->freed);
}

static void
assert_in_order (Record *r)
{
  for (guint i = 0; i < r->ran->len; i++)
    g_assert_cmpuint (g_array_index (r->ran, guint, i), ==, i);
  g_assert_true (r->off_caller);
  g_assert_true (r->one_at_a_time);
}

/* One job at a time, each waited for: the thread sleeps between them and wakes for each. */
static void
test_wakes_for_each (void)
{
  Record *r = record_new ();
  g_autoptr(GError) error = NULL;
  VmdUsbWorker *worker = vmd_usb_worker_new (run_job, r, state_freed, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < 50; i++)
    {
      push (worker, r, i);
      wait_ran (r, i + 1);
    }
  assert_in_order (r);
  g_assert_false (r->freed);
  vmd_usb_worker_finish (worker);
  wait_freed (r);
  record_free (r);
}

static void
open_gate (Record *r)
{
  g_mutex_lock (&r->lock);
  r->gate_closed = FALSE;
  g_cond_broadcast (&r->cond);
  g_mutex_unlock (&r->lock);
}

/* Many at once while the thread is busy, more than the wake-up pipe holds (64 KiB): all
 * run, in order. */
static void
test_many_at_once (void)
{
  Record *r = record_new ();
  g_autoptr(GError) error = NULL;
  VmdUsbWorker *worker = vmd_usb_worker_new (run_job, r, state_freed, &error);

  g_assert_no_error (error);
  r->gate_closed = TRUE;
  for (guint i = 0; i < 100000; i++)
    push (worker, r, i);
  open_gate (r);
  wait_ran (r, 100000);
  assert_in_order (r);
  vmd_usb_worker_finish (worker);
  wait_freed (r);
  record_free (r);
}

/* Finishing right after pushing: what was queued still runs, then the state goes. */
static void
test_finish_runs_the_queue (void)
{
  Record *r = record_new ();
  g_autoptr(GError) error = NULL;
  VmdUsbWorker *worker = vmd_usb_worker_new (run_job, r, state_freed, &error);

  g_assert_no_error (error);
  for (guint i = 0; i < 30; i++)
    push (worker, r, i);
  vmd_usb_worker_finish (worker);
  wait_freed (r);
  g_assert_cmpuint (r->ran->len, ==, 30);
  assert_in_order (r);
  record_free (r);
}

typedef struct {
  VmdUsbWorker *worker;
  Record       *record;
  guint         first;
} Pusher;

static gpointer
pusher_thread (gpointer data)
{
  Pusher *p = data;

  for (guint i = 0; i < 1000; i++)
    {
      Job *job = g_new0 (Job, 1);

      job->record = p->record;
      job->number = p->first + i;
      vmd_usb_worker_push (p->worker, job);
    }
  return NULL;
}

/* Pushes from several threads at once: nothing lost, each thread's jobs in its order. */
static void
test_pushes_from_threads (void)
{
  Record *r = record_new ();
  g_autoptr(GError) error = NULL;
  VmdUsbWorker *worker = vmd_usb_worker_new (run_job, r, state_freed, &error);
  Pusher pushers[4];
  GThread *threads[4];
  guint next[4] = { 0, 1000, 2000, 3000 };

  g_assert_no_error (error);
  for (guint i = 0; i < 4; i++)
    {
      pushers[i] = (Pusher) { worker, r, i * 1000 };
      threads[i] = g_thread_new ("pusher", pusher_thread, &pushers[i]);
    }
  for (guint i = 0; i < 4; i++)
    g_thread_join (threads[i]);
  wait_ran (r, 4000);
  for (guint i = 0; i < r->ran->len; i++)
    {
      guint n = g_array_index (r->ran, guint, i);
      g_assert_cmpuint (n, ==, next[n / 1000]++);
    }
  g_assert_true (r->one_at_a_time);
  vmd_usb_worker_finish (worker);
  wait_freed (r);
  record_free (r);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/usb-worker/wakes-for-each", test_wakes_for_each);
  g_test_add_func ("/usb-worker/many-at-once", test_many_at_once);
  g_test_add_func ("/usb-worker/finish-runs-the-queue", test_finish_runs_the_queue);
  g_test_add_func ("/usb-worker/pushes-from-threads", test_pushes_from_threads);
  return g_test_run ();
}
