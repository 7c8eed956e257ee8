/* vmd-usb-worker.c: a thread that runs blocking jobs in order, woken through a pipe.
 *
 * Why not GLib's shared thread pool: an attach should be issued well within a millisecond
 * of the uevent, and handing the job to a thread was most of that (docs/usb-router.md,
 * "Latency"). The pool's idle thread was woken while the main loop still held the pool's
 * queue lock, went back to sleep on that lock, and then waited until the main loop had
 * finished the whole event. So here:
 * - a job is queued under the lock and the thread is woken after the lock is released, by
 *   a byte in a pipe: a byte left there means "look again", so no wake-up is lost, and a
 *   push never waits for the thread;
 * - the thread asks for a short time slice (sched_setattr's sched_runtime: Linux >= 6.12,
 *   no privilege needed, ignored by older kernels), so that when woken it runs before the
 *   main loop has finished the event rather than after. Its share of the CPU is the same. */
#include "vmd-usb-worker.h"

#include <errno.h>
#include <glib-unix.h>
#include <sys/syscall.h>
#include <unistd.h>

#define SHORT_SLICE_NS (100 * 1000)

struct _VmdUsbWorker {
  GMutex           lock;
  GQueue           jobs;
  gboolean         finishing;
  int              wake[2];      /* the thread sleeps reading [0]; [1] is non-blocking */
  VmdUsbWorkerFunc func;
  gpointer         state;
  GDestroyNotify   state_free;
};

/* The kernel's struct sched_attr, first version (sched_setattr(2)); glibc has no wrapper. */
typedef struct {
  guint32 size;
  guint32 sched_policy;
  guint64 sched_flags;
  gint32  sched_nice;
  guint32 sched_priority;
  guint64 sched_runtime;
  guint64 sched_deadline;
  guint64 sched_period;
} SchedAttr;

static void
ask_for_short_slice (void)
{
  SchedAttr attr = { 0 };

  /* Only the slice changes: the policy and nice value stay what they are (systemd's). */
  if (syscall (SYS_sched_getattr, 0, &attr, sizeof attr, 0) != 0)
    return;
  attr.size = sizeof attr;
  attr.sched_flags = 0;
  attr.sched_runtime = SHORT_SLICE_NS;
  if (syscall (SYS_sched_setattr, 0, &attr, 0) != 0)
    g_debug ("USB worker: no short time slice: %s", g_strerror (errno));
}

static void
wake (VmdUsbWorker *self)
{
  /* A full pipe (EAGAIN) holds wake-ups enough: the thread drains the queue per wake-up. */
  while (write (self->wake[1], "", 1) < 0 && errno == EINTR)
    ;
}

static void
sleep_until_woken (VmdUsbWorker *self)
{
  char buffer[64];

  while (read (self->wake[0], buffer, sizeof buffer) < 0 && errno == EINTR)
    ;
}

static void
worker_free (VmdUsbWorker *self)
{
  if (self->state_free && self->state)
    self->state_free (self->state);
  for (guint i = 0; i < 2; i++)
    if (self->wake[i] >= 0)
      close (self->wake[i]);
  g_mutex_clear (&self->lock);
  g_free (self);
}

static gpointer
worker_thread (gpointer data)
{
  VmdUsbWorker *self = data;

  ask_for_short_slice ();
  for (;;)
    {
      gpointer job;
      gboolean finishing;

      g_mutex_lock (&self->lock);
      job = g_queue_pop_head (&self->jobs);
      finishing = self->finishing;
      g_mutex_unlock (&self->lock);
      if (job != NULL)
        self->func (job, self->state);
      else if (finishing)
        break;
      else
        sleep_until_woken (self);   /* a push since the look above left a byte: no lost wake-up */
    }
  worker_free (self);
  return NULL;
}

VmdUsbWorker *
vmd_usb_worker_new (VmdUsbWorkerFunc func, gpointer state, GDestroyNotify state_free, GError **error)
{
  VmdUsbWorker *self = g_new0 (VmdUsbWorker, 1);
  GThread *thread;

  g_mutex_init (&self->lock);
  g_queue_init (&self->jobs);
  self->func = func;
  self->state = state;
  self->state_free = state_free;
  self->wake[0] = self->wake[1] = -1;
  if (!g_unix_open_pipe (self->wake, FD_CLOEXEC, error) || !g_unix_set_fd_nonblocking (self->wake[1], TRUE, error))
    {
      worker_free (self);
      return NULL;
    }
  thread = g_thread_try_new ("usb-ops", worker_thread, self, error);
  if (thread == NULL)
    {
      worker_free (self);
      return NULL;
    }
  g_thread_unref (thread);
  return self;
}

void
vmd_usb_worker_push (VmdUsbWorker *self, gpointer job)
{
  g_return_if_fail (job != NULL);

  g_mutex_lock (&self->lock);
  g_queue_push_tail (&self->jobs, job);
  g_mutex_unlock (&self->lock);
  wake (self);
}

void
vmd_usb_worker_finish (VmdUsbWorker *self)
{
  /* Woken under the lock: once it is released, the thread may end and free `self`. */
  g_mutex_lock (&self->lock);
  self->finishing = TRUE;
  wake (self);
  g_mutex_unlock (&self->lock);
}
