/* vmd-vfio-queue.h: blocking jobs run one at a time, in the order they were queued, each on
 * a GLib worker thread; their `done` runs back on the main context. Pass-through needs the
 * order (a release queued by a stop before the next bind of that device) and the one-at-a-
 * time (vfio-helper's state-directory lock admits one transaction and never waits). */
#pragma once

#include <gio/gio.h>

typedef struct _VmdVfioQueue VmdVfioQueue;
typedef void (*VmdVfioJobFunc) (gpointer owner, gpointer job);

/* `owner` is passed to every function and referenced while one of its jobs runs. */
VmdVfioQueue *vmd_vfio_queue_new (GObject *owner);
/* `work` on the worker thread, then `done` and `free` on the main context; a job still
 * waiting when the queue is freed gets only `free`. */
void          vmd_vfio_queue_push (VmdVfioQueue *queue, VmdVfioJobFunc work, VmdVfioJobFunc done,
                                   gpointer job, GDestroyNotify free);
/* Only when no job runs: the owner is referenced while one does. */
void          vmd_vfio_queue_free (VmdVfioQueue *queue);
