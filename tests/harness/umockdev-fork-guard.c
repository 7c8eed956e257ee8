/* umockdev-fork-guard.c: fork() made safe for a multi-threaded process under umockdev's
 * preload (preloaded with it; UsbLab does it for vmdeskd).
 *
 * umockdev 0.17 serialises its path wrappers (open, stat, access, ...) with one global
 * mutex, trap_path_lock, and registers no fork handler. A child forked while another
 * thread is inside a wrapper inherits that mutex locked and hangs at its own first wrapped
 * call. libvirt's children open and stat files before they exec (QEMU's launch, the
 * security driver's labelling), so vmdeskd starting two VMs at once on an embedded root
 * could hang both starts. Holding the mutex across fork() gives the child a free one. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <pthread.h>

static pthread_mutex_t *trap_path_lock;

static void
take_lock (void)
{
  pthread_mutex_lock (trap_path_lock);
}

static void
release_in_parent (void)
{
  pthread_mutex_unlock (trap_path_lock);
}

/* The child's copy was locked by a thread that is not there: start it afresh. */
static void
reset_in_child (void)
{
  pthread_mutex_init (trap_path_lock, NULL);
}

__attribute__ ((constructor)) static void
install (void)
{
  /* Exported by libumockdev-preload.so.0; absent (no umockdev preload): nothing to guard. */
  trap_path_lock = dlsym (RTLD_DEFAULT, "trap_path_lock");
  if (trap_path_lock != NULL)
    pthread_atfork (take_lock, release_in_parent, reset_in_child);
}
