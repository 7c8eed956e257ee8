/* vmd-vfio-queue.c: one job at a time, in order. A GTask per job carries it to GLib's
 * thread pool and its result back to the main context, where the next one starts. */
#include "vmd-vfio-queue.h"

struct _VmdVfioQueue {
  GObject *owner;     /* not referenced: it owns the queue */
  GQueue   waiting;   /* of Entry */
  gboolean busy;
};

typedef struct {
  VmdVfioQueue  *queue;
  VmdVfioJobFunc work;
  VmdVfioJobFunc done;
  gpointer       job;
  GDestroyNotify free;
} Entry;

static void
entry_free (Entry *e)
{
  if (e->free)
    e->free (e->job);
  g_free (e);
}

static void run_next (VmdVfioQueue *queue);

static void
entry_thread (GTask *task, gpointer owner, gpointer data, GCancellable *cancellable)
{
  Entry *e = data;

  e->work (owner, e->job);
  g_task_return_boolean (task, TRUE);
}

static void
on_entry_done (GObject *owner, GAsyncResult *result, gpointer data)
{
  Entry *e = g_task_get_task_data (G_TASK (result));
  VmdVfioQueue *queue = e->queue;

  e->done (owner, e->job);
  queue->busy = FALSE;
  run_next (queue);
}

static void
run_next (VmdVfioQueue *queue)
{
  g_autoptr(GTask) task = NULL;
  Entry *e;

  if (queue->busy || (e = g_queue_pop_head (&queue->waiting)) == NULL)
    return;
  queue->busy = TRUE;
  /* The task references the owner (and so the queue) until `done` has run. */
  task = g_task_new (queue->owner, NULL, on_entry_done, NULL);
  g_task_set_task_data (task, e, (GDestroyNotify) entry_free);
  g_task_run_in_thread (task, entry_thread);
}

VmdVfioQueue *
vmd_vfio_queue_new (GObject *owner)
{
  VmdVfioQueue *queue = g_new0 (VmdVfioQueue, 1);

  queue->owner = owner;
  g_queue_init (&queue->waiting);
  return queue;
}

void
vmd_vfio_queue_push (VmdVfioQueue *queue, VmdVfioJobFunc work, VmdVfioJobFunc done, gpointer job,
                     GDestroyNotify free)
{
  Entry *e = g_new0 (Entry, 1);

  e->queue = queue;
  e->work = work;
  e->done = done;
  e->job = job;
  e->free = free;
  g_queue_push_tail (&queue->waiting, e);
  run_next (queue);
}

void
vmd_vfio_queue_free (VmdVfioQueue *queue)
{
  if (queue == NULL)
    return;
  g_warn_if_fail (!queue->busy);
  g_queue_clear_full (&queue->waiting, (GDestroyNotify) entry_free);
  g_free (queue);
}
