/* Pass-through in the daemon with a fake vfio-helper behind it, on libvirt's built-in test
 * driver, where a domain with a PCI hostdev can start and stop: the release on libvirt's
 * stopped event (which real hardware would need to prove), the rollback of earlier binds
 * when a later one fails, refusals that touch nothing, and which held devices recovery
 * gives back. The real library under real libvirt is tests/integration/test_vfio_daemon.py. */
#include "vmd-vfio.h"

#include "vmd-vfio-jobs.h"

#include "vmdesk-vfio.h"

#include <glib/gstdio.h>
#include <libvirt-glib/libvirt-glib.h>
#include <string.h>

/* ---- the fake vfio-helper: records every call (from the worker thread) ---- */

typedef struct {
  GMutex     lock;
  GCond      gate_opened;
  gboolean   gate_closed; /* releases wait until it opens */
  GPtrArray *calls;       /* "bind 0000:01:00.0", "release ...", ... */
  char      *fail_bind;   /* this BDF's bind fails */
  char      *fail_release; /* and this one's release */
  GHashTable *journals;   /* function -> the BDF it was bound with, until released */
  gboolean   refuse;      /* preflight refuses */
  GPtrArray *recovered;   /* what recover reports */
} Fake;

static void
record (Fake *fake, const char *op, const char *bdf)
{
  g_mutex_lock (&fake->lock);
  g_ptr_array_add (fake->calls, g_strdup_printf ("%s %s", op, bdf));
  g_mutex_unlock (&fake->lock);
  /* A test may wait for this call on the main loop, which nothing else wakes meanwhile. */
  g_main_context_wakeup (NULL);
}

static char *
calls (Fake *fake)
{
  char *joined;

  g_mutex_lock (&fake->lock);
  g_ptr_array_add (fake->calls, NULL);
  joined = g_strjoinv ("; ", (char **) fake->calls->pdata);
  g_ptr_array_remove_index (fake->calls, fake->calls->len - 1);
  g_mutex_unlock (&fake->lock);
  return joined;
}

static gboolean
fake_preflight (gpointer data, const char *const *bdfs, gboolean single_gpu, GError **error)
{
  Fake *fake = data;
  g_autofree char *list = g_strjoinv (",", (char **) bdfs);

  record (fake, single_gpu ? "preflight-single-gpu" : "preflight", list);
  if (fake->refuse)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_REFUSED,
                   "%s: [iommu-group] IOMMU group 14 is not viable (fix: another slot)", bdfs[0]);
      return FALSE;
    }
  return TRUE;
}

/* Moves the function and, for a function 0, its .1 sibling, as a GPU's audio. */
static GStrv
fake_bind (gpointer data, const char *bdf, gboolean single_gpu, GError **error)
{
  Fake *fake = data;
  g_autofree char *sibling = NULL;
  const char *functions[3] = { bdf, NULL, NULL };

  record (fake, "bind", bdf);
  if (g_hash_table_contains (fake->journals, bdf))
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_BUSY,
                   "%s is held by vmdesk's transaction for %s (release it, or run recover)",
                   bdf, (char *) g_hash_table_lookup (fake->journals, bdf));
      return NULL;
    }
  if (g_strcmp0 (fake->fail_bind, bdf) == 0)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_STEP_FAILED,
                   "binding %s failed, everything was rolled back: EIO", bdf);
      return NULL;
    }
  if (g_str_has_suffix (bdf, ".0"))
    {
      sibling = g_strdup (bdf);
      sibling[strlen (sibling) - 1] = '1';
      functions[1] = sibling;
    }
  g_mutex_lock (&fake->lock);
  for (guint i = 0; functions[i]; i++)
    g_hash_table_insert (fake->journals, g_strdup (functions[i]), g_strdup (bdf));
  g_mutex_unlock (&fake->lock);
  return g_strdupv ((GStrv) functions);
}

static gboolean
same_value (gpointer key, gpointer value, gpointer bdf)
{
  return g_str_equal (value, bdf);
}

static gboolean
fake_release (gpointer data, const char *bdf, GError **error)
{
  Fake *fake = data;

  record (fake, "release", bdf);
  g_mutex_lock (&fake->lock);
  while (fake->gate_closed)
    g_cond_wait (&fake->gate_opened, &fake->lock);
  g_mutex_unlock (&fake->lock);
  if (g_strcmp0 (fake->fail_release, bdf) == 0)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_INCONSISTENT,
                   "%s: unbind from vfio-pci failed: EBUSY", bdf);
      return FALSE;
    }
  g_mutex_lock (&fake->lock);
  g_hash_table_foreach_remove (fake->journals, same_value, (gpointer) bdf);
  g_mutex_unlock (&fake->lock);
  return TRUE;
}

static gboolean
fake_confirm (gpointer data, const char *bdf, GError **error)
{
  record (data, "confirm", bdf);
  return TRUE;
}

static void
recovered_free (VmdVfioRecovered *r)
{
  g_free (r->bdf);
  g_free (r->detail);
  g_free (r);
}

static GPtrArray *
fake_recover (gpointer data, GError **error)
{
  Fake *fake = data;
  GPtrArray *out = g_ptr_array_new_with_free_func ((GDestroyNotify) recovered_free);

  record (fake, "recover", "");
  for (guint i = 0; i < fake->recovered->len; i++)
    {
      VmdVfioRecovered *r = g_new0 (VmdVfioRecovered, 1);
      r->bdf = g_strdup (fake->recovered->pdata[i]);
      r->action = VMD_VFIO_RECOVERED_HELD;
      r->detail = g_strdup ("a complete bind");
      g_ptr_array_add (out, r);
    }
  return out;
}

static char *
fake_check_json (gpointer data, const char *const *bdfs, GError **error)
{
  return g_strdup ("{\"schema\":1}");
}

static char *
fake_plan_json (gpointer data, const char *bdf, gboolean single_gpu, GError **error)
{
  g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_NOT_FOUND, "no PCI device %s", bdf);
  return NULL;
}

static const VmdVfioOps fake_ops = {
  fake_preflight, fake_bind, fake_release, fake_confirm, fake_recover, fake_check_json,
  fake_plan_json,
};

/* ---- fixture: a private bus, the test driver, the manager and the part under test ---- */

typedef struct {
  GTestDBus       *dbus;
  GDBusConnection *bus;
  VmdLibvirt      *libvirt;
  VmdManager      *manager;
  VmdVfio         *vfio;
  char            *state_dir;
  Fake             fake;
  GPtrArray       *signals;   /* "state vm bdf functions|message" */
  guint            subscription;
} Fixture;

static gboolean
on_timeout (gpointer data)
{
  *(gboolean *) data = TRUE;
  return G_SOURCE_REMOVE;
}

#define WAIT_FOR(cond)                                                        \
  G_STMT_START {                                                              \
    gboolean expired_ = FALSE;                                                \
    guint id_ = g_timeout_add_seconds (10, on_timeout, &expired_);            \
    while (!(cond) && !expired_)                                              \
      g_main_context_iteration (NULL, TRUE);                                  \
    if (expired_)                                                             \
      g_error ("timed out waiting for %s", #cond);                            \
    g_source_remove (id_);                                                    \
  } G_STMT_END

static void
on_signal (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
           const char *name, GVariant *params, gpointer data)
{
  Fixture *f = data;
  g_autofree const char **functions = NULL;
  g_autofree char *joined = NULL;
  const char *vm, *bdf, *state, *message;

  g_variant_get (params, "(&s&s^a&s&s&s)", &vm, &bdf, &functions, &state, &message);
  joined = g_strjoinv (",", (char **) functions);
  g_ptr_array_add (f->signals, g_strdup_printf ("%s %s %s %s|%s", state, vm, bdf, joined, message));
}

static void
on_first_sync (VmdLibvirt *libvirt, gboolean *done)
{
  *done = TRUE;
}

/* What the machine looks like when the daemon starts. */
typedef struct {
  const char *const *held;        /* complete binds recovery finds */
  const char        *running_xml; /* a domain running already */
} Start;

static virDomainPtr define (Fixture *f, const char *name, const char *passthrough,
                            const char *devices);

static void
set_up (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  const Start *start = data;
  const char *const *held = start ? start->held : NULL;
  gboolean synced = FALSE;

  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_mutex_init (&f->fake.lock);
  g_cond_init (&f->fake.gate_opened);
  f->fake.calls = g_ptr_array_new_with_free_func (g_free);
  f->fake.recovered = g_ptr_array_new_with_free_func (g_free);
  f->fake.journals = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  for (guint i = 0; held && held[i]; i++)
    g_ptr_array_add (f->fake.recovered, g_strdup (held[i]));
  f->signals = g_ptr_array_new_with_free_func (g_free);

  f->dbus = g_test_dbus_new (G_TEST_DBUS_NONE);
  g_test_dbus_up (f->dbus);
  f->bus = g_bus_get_sync (G_BUS_TYPE_SESSION, NULL, &error);
  g_assert_no_error (error);
  f->subscription = g_dbus_connection_signal_subscribe (f->bus, NULL, VMD_DBUS_INTERFACE,
                                                        "PassthroughChanged", VMD_DBUS_PATH, NULL,
                                                        G_DBUS_SIGNAL_FLAGS_NONE, on_signal, f, NULL);

  f->state_dir = g_dir_make_tmp ("vmd-vfio-XXXXXX", NULL);
  f->libvirt = vmd_libvirt_new ("test:///default");
  f->manager = vmd_manager_new (f->libvirt, vmd_bouncer_new (), vmd_state_load (f->state_dir, &error));
  g_assert_no_error (error);
  g_assert_true (vmd_manager_export (f->manager, f->bus, &error));
  g_signal_connect (f->libvirt, "first-sync", G_CALLBACK (on_first_sync), &synced);
  vmd_libvirt_start (f->libvirt);
  WAIT_FOR (synced);
  g_assert_true (vmd_libvirt_is_connected (f->libvirt));
  if (start && start->running_xml)
    {
      virDomainPtr dom = define (f, "kept", "", start->running_xml);
      g_assert_cmpint (virDomainCreate (dom), ==, 0);
      virDomainFree (dom);
    }
  /* Recovery runs once the daemon's part exists, with libvirt connected already. */
  f->vfio = vmd_vfio_new (f->manager, f->libvirt, &fake_ops, &f->fake, NULL);
  g_object_set_data (G_OBJECT (f->vfio), "fixture", f);
  vmd_vfio_start (f->vfio);
}

static void
undefine_all_but_test (Fixture *f)
{
  virConnectPtr conn = vmd_libvirt_get_connection (f->libvirt);
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains (conn, &doms, 0);

  for (int i = 0; i < n; i++)
    {
      if (!g_str_equal (virDomainGetName (doms[i]), "test"))
        {
          if (virDomainIsActive (doms[i]) == 1)
            virDomainDestroy (doms[i]);
          virDomainUndefine (doms[i]);
        }
      virDomainFree (doms[i]);
    }
  free (doms);
}

static void
tear_down (Fixture *f, gconstpointer data)
{
  g_autofree char *state = g_build_filename (f->state_dir, "state.ini", NULL);

  /* test:///default lives as long as the process: the next test starts clean. VmdLibvirt
   * may still be reading a domain that goes here (the redefine's event) and warns that it
   * is gone: expected now, not fatal. set_up makes warnings fatal again. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  undefine_all_but_test (f);
  /* A finished job's task drops its reference on the worker thread, possibly after its
   * result was handled here: wait for the part to be gone before the bus goes. */
  g_object_add_weak_pointer (G_OBJECT (f->vfio), (gpointer *) &f->vfio);
  g_object_unref (f->vfio);
  /* That thread wakes no main context here: look every millisecond, for at most 10 s. */
  for (guint i = 0; g_atomic_pointer_get (&f->vfio) != NULL && i < 10000; i++)
    {
      g_main_context_iteration (NULL, FALSE);
      g_usleep (1000);
    }
  g_assert_null (g_atomic_pointer_get (&f->vfio));
  g_dbus_connection_signal_unsubscribe (f->bus, f->subscription);
  g_object_unref (f->libvirt);
  g_clear_object (&f->manager);
  g_clear_object (&f->bus);
  g_test_dbus_down (f->dbus);
  g_clear_object (&f->dbus);
  g_remove (state);
  g_rmdir (f->state_dir);
  g_free (f->state_dir);
  g_ptr_array_unref (f->fake.calls);
  g_ptr_array_unref (f->fake.recovered);
  g_free (f->fake.fail_bind);
  g_free (f->fake.fail_release);
  g_hash_table_unref (f->fake.journals);
  g_mutex_clear (&f->fake.lock);
  g_cond_clear (&f->fake.gate_opened);
  g_ptr_array_unref (f->signals);
}

/* ---- helpers ---- */

static virDomainPtr
define (Fixture *f, const char *name, const char *passthrough, const char *devices)
{
  g_autofree char *xml = g_strdup_printf (
    "<domain type='test'><name>%s</name><memory>65536</memory><os><type>hvm</type></os>"
    "<metadata><vmdesk:settings xmlns:vmdesk='" VMD_SETTINGS_NS "'>%s</vmdesk:settings>"
    "</metadata><devices>%s</devices></domain>", name, passthrough, devices);
  virDomainPtr dom = virDomainDefineXML (vmd_libvirt_get_connection (f->libvirt), xml);

  g_assert_nonnull (dom);
  /* As in the daemon, where StartVM starts only a VM it knows: its defined event is handled
   * (else it could arrive after the prepare, read as a state change of a new VM). */
  WAIT_FOR (vmd_libvirt_lookup (f->libvirt, name) != NULL);
  return dom;
}

static char *
inactive_xml (virDomainPtr dom)
{
  char *xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE);
  char *copy = g_strdup (xml);

  free (xml);
  return copy;
}

typedef struct {
  gboolean done;
  gboolean ok;
  GError  *error;
} Prepared;

static void
on_prepared (GObject *source, GAsyncResult *result, gpointer data)
{
  Prepared *p = data;

  p->ok = vmd_vfio_start_hook ()->prepare_finish (source, result, &p->error);
  p->done = TRUE;
}

/* What the manager does before virDomainCreate. */
static gboolean
prepare (Fixture *f, const char *name, GError **error)
{
  Prepared p = { 0 };

  vmd_vfio_start_hook ()->prepare (f->vfio, name, on_prepared, &p);
  WAIT_FOR (p.done);
  if (p.error)
    g_propagate_error (error, p.error);
  return p.ok;
}

static GVariant *call (Fixture *f, const char *method, GVariant *params,
                       const char *expected_error);

typedef struct {
  gboolean done;
  gboolean ok;
  char    *summary;
  GError  *error;
  char    *calls_then;   /* the fake's calls when the answer came */
} Undone;

static void
on_undone (GObject *source, GAsyncResult *result, gpointer data)
{
  Undone *u = data;

  u->ok = vmd_vfio_start_hook ()->undo_finish (source, result, &u->summary, &u->error);
  u->calls_then = calls (&((Fixture *) g_object_get_data (source, "fixture"))->fake);
  u->done = TRUE;
}

static void
undone_clear (Undone *u)
{
  g_free (u->summary);
  g_clear_error (&u->error);
  g_free (u->calls_then);
}

/* What the manager does after a failed start; the answer is awaited. */
static void
undo (Fixture *f, const char *name, Undone *u)
{
  vmd_vfio_start_hook ()->undo (f->vfio, name, on_undone, u);
  WAIT_FOR (u->done);
}

/* The same, with the fake's release of `bdf` failing: the daemon warns, as it should, and
 * here that is the expected outcome. The release fails until fail_release is cleared. */
static void
undo_failing (Fixture *f, const char *name, const char *bdf, Undone *u)
{
  g_free (f->fake.fail_release);
  f->fake.fail_release = g_strdup (bdf);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  undo (f, name, u);
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_assert_false (u->ok);
}

static void
set_gate (Fixture *f, gboolean closed)
{
  g_mutex_lock (&f->fake.lock);
  f->fake.gate_closed = closed;
  g_cond_broadcast (&f->fake.gate_opened);
  g_mutex_unlock (&f->fake.lock);
}

static gboolean
has_call (Fixture *f, const char *call)
{
  g_autofree char *all = calls (&f->fake);

  return strstr (all, call) != NULL;
}

static gboolean
has_signal (Fixture *f, const char *prefix)
{
  for (guint i = 0; i < f->signals->len; i++)
    if (g_str_has_prefix (f->signals->pdata[i], prefix))
      return TRUE;
  return FALSE;
}

#define PT_GPU "<passthrough><pci bdf='0000:01:00.0'/><pci bdf='0000:01:00.1'/></passthrough>"

/* ---- tests ---- */

static void
test_stopped_event_releases (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  virDomainPtr dom = define (f, "gpu", PT_GPU, "");
  g_autofree char *xml = NULL;
  g_autofree char *seen = NULL;

  g_assert_true (prepare (f, "gpu", &error));
  g_assert_no_error (error);
  /* 01:00.1 moved with 01:00.0: bound once, passed through twice. */
  seen = calls (&f->fake);
  g_assert_cmpstr (seen, ==, "recover ; preflight 0000:01:00.0,0000:01:00.1; bind 0000:01:00.0");
  xml = inactive_xml (dom);
  g_assert_nonnull (strstr (xml, "ua-vmdesk-pci-0000-01-00-0"));
  g_assert_nonnull (strstr (xml, "ua-vmdesk-pci-0000-01-00-1"));
  g_assert_nonnull (strstr (xml, "managed='no'"));
  WAIT_FOR (has_signal (f, "bound gpu 0000:01:00.0 0000:01:00.0,0000:01:00.1|"));

  /* The start succeeds (the test driver runs anything): nothing is given back. */
  g_assert_cmpint (virDomainCreate (dom), ==, 0);
  WAIT_FOR (vmd_libvirt_lookup (f->libvirt, "gpu")->state == VIR_DOMAIN_RUNNING);
  g_assert_false (has_call (f, "release"));

  /* libvirt's stopped event: given back. */
  g_assert_cmpint (virDomainDestroy (dom), ==, 0);
  WAIT_FOR (has_signal (f, "released gpu 0000:01:00.0 0000:01:00.0,0000:01:00.1|the VM stopped"));
  g_free (seen);
  seen = calls (&f->fake);
  g_assert_cmpstr (seen, ==, "recover ; preflight 0000:01:00.0,0000:01:00.1; bind 0000:01:00.0; "
                             "release 0000:01:00.0");
  /* Once: a second stop event has nothing left to give back. */
  g_assert_cmpint (virDomainCreate (dom), ==, 0);
  g_assert_cmpint (virDomainDestroy (dom), ==, 0);
  WAIT_FOR (vmd_libvirt_lookup (f->libvirt, "gpu")->state == VIR_DOMAIN_SHUTOFF);
  g_assert_cmpuint (f->signals->len, ==, 2);
  virDomainFree (dom);
}

static void
test_failed_start_undo_releases (Fixture *f, gconstpointer data)
{
  virDomainPtr dom = define (f, "gpu", PT_GPU, "");
  Undone u = { 0 };
  Undone nothing = { 0 };

  g_assert_true (prepare (f, "gpu", NULL));
  undo (f, "gpu", &u);
  /* The answer comes once the device is back, and says so. */
  g_assert_true (u.ok);
  g_assert_no_error (u.error);
  g_assert_cmpstr (u.summary, ==, "0000:01:00.0 was given back to the host");
  g_assert_nonnull (strstr (u.calls_then, "release 0000:01:00.0"));
  WAIT_FOR (has_signal (f, "released gpu 0000:01:00.0"));
  g_assert_true (has_signal (f, "released gpu 0000:01:00.0 0000:01:00.0,0000:01:00.1|the start failed"));
  /* A VM that holds nothing has nothing to undo. */
  undo (f, "gpu", &nothing);
  g_assert_true (nothing.ok);
  g_assert_null (nothing.summary);
  undone_clear (&u);
  undone_clear (&nothing);
  virDomainFree (dom);
}

/* A stop's release under way when the undo is asked for (both follow one failed start):
 * the undo answers once that release is done, with its outcome, and nothing is released
 * twice. */
static void
test_undo_waits_for_a_release_under_way (Fixture *f, gconstpointer data)
{
  virDomainPtr dom = define (f, "gpu", PT_GPU, "");
  Undone u = { 0 };
  g_autofree char *seen = NULL;

  g_assert_true (prepare (f, "gpu", NULL));
  g_assert_cmpint (virDomainCreate (dom), ==, 0);
  WAIT_FOR (vmd_libvirt_lookup (f->libvirt, "gpu")->state == VIR_DOMAIN_RUNNING);
  set_gate (f, TRUE);
  g_assert_cmpint (virDomainDestroy (dom), ==, 0);
  WAIT_FOR (has_call (f, "release 0000:01:00.0"));

  vmd_vfio_start_hook ()->undo (f->vfio, "gpu", on_undone, &u);
  while (g_main_context_iteration (NULL, FALSE))
    ;
  g_assert_false (u.done);
  set_gate (f, FALSE);
  WAIT_FOR (u.done);
  g_assert_true (u.ok);
  g_assert_cmpstr (u.summary, ==, "0000:01:00.0 was given back to the host");
  seen = calls (&f->fake);
  g_assert_cmpstr (seen, ==, "recover ; preflight 0000:01:00.0,0000:01:00.1; bind 0000:01:00.0; "
                             "release 0000:01:00.0");
  undone_clear (&u);
  virDomainFree (dom);
}

/* The give-back fails: the answer says so and in which state; the device stays recorded,
 * and the VM's next start tries again first. */
static void
test_failed_undo_is_said_and_retried_at_the_next_start (Fixture *f, gconstpointer data)
{
  virDomainPtr dom = define (f, "gpu", PT_GPU, "");
  Undone u = { 0 };
  g_autofree char *seen = NULL;

  g_assert_true (prepare (f, "gpu", NULL));
  undo_failing (f, "gpu", "0000:01:00.0", &u);
  g_assert_error (u.error, VMD_ERROR, VMD_ERROR_FAILED);
  g_assert_cmpstr (u.error->message, ==, "giving 0000:01:00.0 back failed: 0000:01:00.0: unbind "
                                         "from vfio-pci failed: EBUSY; " VMD_VFIO_RETRY_NOTE);
  WAIT_FOR (has_signal (f, "release-failed gpu 0000:01:00.0 0000:01:00.0,0000:01:00.1|"));

  /* The next start: the give-back first (it works now), then the bind as usual. */
  g_clear_pointer (&f->fake.fail_release, g_free);
  g_assert_true (prepare (f, "gpu", NULL));
  seen = calls (&f->fake);
  g_assert_cmpstr (seen, ==, "recover ; preflight 0000:01:00.0,0000:01:00.1; bind 0000:01:00.0; "
                             "release 0000:01:00.0; release 0000:01:00.0; "
                             "preflight 0000:01:00.0,0000:01:00.1; bind 0000:01:00.0");
  WAIT_FOR (has_signal (f, "released gpu 0000:01:00.0 0000:01:00.0,0000:01:00.1|retried before "
                           "starting VM 'gpu'"));
  undone_clear (&u);
  virDomainFree (dom);
}

/* Started outside vmdesk while its device is still on vfio-pci, the VM holds it again, and
 * its stop gives it back. */
static void
test_failed_give_back_held_again_when_the_vm_runs (Fixture *f, gconstpointer data)
{
  virDomainPtr dom = define (f, "gpu", PT_GPU, "");
  Undone u = { 0 };

  g_assert_true (prepare (f, "gpu", NULL));
  undo_failing (f, "gpu", "0000:01:00.0", &u);
  g_clear_pointer (&f->fake.fail_release, g_free);

  g_assert_cmpint (virDomainCreate (dom), ==, 0);
  WAIT_FOR (has_signal (f, "bound gpu 0000:01:00.0 0000:01:00.0,0000:01:00.1|the VM runs again"));
  g_assert_false (has_call (f, "confirm"));
  g_assert_cmpint (virDomainDestroy (dom), ==, 0);
  WAIT_FOR (has_signal (f, "released gpu 0000:01:00.0 0000:01:00.0,0000:01:00.1|the VM stopped"));
  undone_clear (&u);
  virDomainFree (dom);
}

static void
test_failed_bind_gives_back_the_earlier_ones (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  virDomainPtr dom = define (f, "gpu", "<passthrough><pci bdf='0000:01:00.0'/>"
                                       "<pci bdf='0000:02:00.0'/></passthrough>", "");
  g_autofree char *xml = NULL;
  g_autofree char *seen = NULL;

  f->fake.fail_bind = g_strdup ("0000:02:00.0");
  g_assert_false (prepare (f, "gpu", &error));
  g_assert_error (error, VMD_ERROR, VMD_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "VM 'gpu': binding 0000:02:00.0 failed, everything was "
                                       "rolled back: EIO; 0000:01:00.0 was given back");
  seen = calls (&f->fake);
  g_assert_cmpstr (seen, ==, "recover ; preflight 0000:01:00.0,0000:02:00.0; bind 0000:01:00.0; "
                             "bind 0000:02:00.0; release 0000:01:00.0");
  xml = inactive_xml (dom);
  g_assert_null (strstr (xml, "ua-vmdesk-pci"));
  g_assert_cmpuint (f->signals->len, ==, 0);
  virDomainFree (dom);
}

/* ... and when that give-back fails too, the error says so, and the device is recorded as
 * stuck for the VM (ListPassthrough, the signal, a retry at its next start). */
static void
test_failed_bind_whose_give_back_fails (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) listed = NULL;
  g_autoptr(GVariantDict) d = NULL;
  const char *s;
  virDomainPtr dom = define (f, "gpu", "<passthrough><pci bdf='0000:01:00.0'/>"
                                       "<pci bdf='0000:02:00.0'/></passthrough>", "");

  f->fake.fail_bind = g_strdup ("0000:02:00.0");
  f->fake.fail_release = g_strdup ("0000:01:00.0");
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  g_assert_false (prepare (f, "gpu", &error));
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_assert_error (error, VMD_ERROR, VMD_ERROR_FAILED);
  g_assert_cmpstr (error->message, ==, "VM 'gpu': binding 0000:02:00.0 failed, everything was "
                                       "rolled back: EIO; giving 0000:01:00.0 back failed "
                                       "(0000:01:00.0: unbind from vfio-pci failed: EBUSY): "
                                       VMD_VFIO_RETRY_NOTE);
  WAIT_FOR (has_signal (f, "release-failed gpu 0000:01:00.0 0000:01:00.0,0000:01:00.1|"));
  listed = call (f, "ListPassthrough", NULL, NULL);
  g_assert_cmpuint (g_variant_n_children (g_variant_get_child_value (listed, 0)), ==, 1);
  d = g_variant_dict_new (g_variant_get_child_value (g_variant_get_child_value (listed, 0), 0));
  g_assert_true (g_variant_dict_lookup (d, "bdf", "&s", &s));
  g_assert_cmpstr (s, ==, "0000:01:00.0");
  g_assert_true (g_variant_dict_lookup (d, "vm", "&s", &s));
  g_assert_cmpstr (s, ==, "gpu");
  g_assert_true (g_variant_dict_lookup (d, "state", "&s", &s));
  g_assert_cmpstr (s, ==, "release-failed");
  g_assert_true (g_variant_dict_lookup (d, "error", "&s", &s));
  g_assert_cmpstr (s, ==, "0000:01:00.0: unbind from vfio-pci failed: EBUSY");
  virDomainFree (dom);
}

static void
test_refusal_touches_nothing (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  virDomainPtr dom = define (f, "gpu", "<passthrough single-gpu='yes'><pci bdf='05:00.0'/>"
                                       "</passthrough>", "");
  g_autofree char *seen = NULL;

  f->fake.refuse = TRUE;
  g_assert_false (prepare (f, "gpu", &error));
  g_assert_error (error, VMD_ERROR, VMD_ERROR_DENIED);
  g_assert_cmpstr (error->message, ==, "VM 'gpu': pass-through refused, nothing was changed: "
                                       "0000:05:00.0: [iommu-group] IOMMU group 14 is not viable "
                                       "(fix: another slot)");
  seen = calls (&f->fake);
  g_assert_cmpstr (seen, ==, "recover ; preflight-single-gpu 0000:05:00.0");
  virDomainFree (dom);
}

static void
test_no_devices_no_change (Fixture *f, gconstpointer data)
{
  virDomainPtr dom = define (f, "plain", "<role>work</role>",
                             "<hostdev mode='subsystem' type='pci' managed='yes'><source>"
                             "<address domain='0' bus='3' slot='0' function='0'/></source>"
                             "<alias name='ua-mine'/></hostdev>");
  g_autofree char *before = inactive_xml (dom);
  g_autofree char *after = NULL;
  g_autofree char *seen = NULL;

  g_assert_true (prepare (f, "plain", NULL));
  after = inactive_xml (dom);
  g_assert_cmpstr (before, ==, after);
  seen = calls (&f->fake);
  g_assert_cmpstr (seen, ==, "recover ");
  /* An unknown VM is an error, not a crash. */
  {
    g_autoptr(GError) error = NULL;
    g_assert_false (prepare (f, "nope", &error));
    g_assert_error (error, VMD_ERROR, VMD_ERROR_UNKNOWN_VM);
  }
  virDomainFree (dom);
}

static void
test_single_gpu_confirmed_when_running (Fixture *f, gconstpointer data)
{
  virDomainPtr dom = define (f, "gpu", "<passthrough single-gpu='yes'><pci bdf='0000:01:00.0'/>"
                                       "</passthrough>", "");

  g_assert_true (prepare (f, "gpu", NULL));
  g_assert_true (has_call (f, "preflight-single-gpu 0000:01:00.0"));
  g_assert_false (has_call (f, "confirm"));
  g_assert_cmpint (virDomainCreate (dom), ==, 0);
  WAIT_FOR (has_call (f, "confirm 0000:01:00.0"));
  g_assert_cmpint (virDomainDestroy (dom), ==, 0);
  WAIT_FOR (has_call (f, "release 0000:01:00.0"));
  virDomainFree (dom);
}

/* A device one VM holds is not another's; a failed release keeps it, and says so. */
static void
test_held_by_another_vm (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) busy = NULL;
  g_autoptr(GError) stuck = NULL;
  g_autofree char *seen = NULL;
  Undone u = { 0 };
  virDomainPtr a = define (f, "a", PT_GPU, "");
  virDomainPtr b = define (f, "b", "<passthrough><pci bdf='0000:01:00.1'/></passthrough>", "");

  g_assert_true (prepare (f, "a", NULL));
  g_assert_false (prepare (f, "b", &busy));
  g_assert_error (busy, VMD_ERROR, VMD_ERROR_CONFLICT);
  g_assert_nonnull (strstr (busy->message, "VM 'b': 0000:01:00.1 is held by vmdesk's "
                                           "transaction for 0000:01:00.0"));
  g_assert_nonnull (strstr (busy->message, "(0000:01:00.0 is in use by VM 'a')"));

  f->fake.fail_release = g_strdup ("0000:01:00.0");
  /* The daemon warns, as it should; here that is the expected outcome. */
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  undo (f, "a", &u);
  WAIT_FOR (has_signal (f, "release-failed a 0000:01:00.0 0000:01:00.0,0000:01:00.1|"
                           "0000:01:00.0: unbind from vfio-pci failed"));
  /* b needs that device: its start retries the give-back, which fails again. */
  g_assert_false (prepare (f, "b", &stuck));
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_assert_error (stuck, VMD_ERROR, VMD_ERROR_CONFLICT);
  g_assert_nonnull (strstr (stuck->message, "(giving 0000:01:00.0 back from VM 'a' failed: "
                                            "0000:01:00.0: unbind from vfio-pci failed"));
  seen = calls (&f->fake);
  g_assert_true (g_str_has_suffix (seen, "release 0000:01:00.0; release 0000:01:00.0; "
                                         "preflight 0000:01:00.1; bind 0000:01:00.1"));
  /* Once the device lets go, b's next start gets it back from a, then binds it. */
  g_clear_pointer (&f->fake.fail_release, g_free);
  g_assert_true (prepare (f, "b", NULL));
  WAIT_FOR (has_signal (f, "released a 0000:01:00.0 0000:01:00.0,0000:01:00.1|retried before "
                           "starting VM 'b'"));
  WAIT_FOR (has_signal (f, "bound b 0000:01:00.1 0000:01:00.1|"));
  undone_clear (&u);
  virDomainFree (a);
  virDomainFree (b);
}

/* A retry while the holder runs, before its start event reached the daemon: libvirt, asked
 * on the worker, says it runs, so nothing is released and the device is held for it again. */
static void
test_retry_while_the_holder_runs (Fixture *f, gconstpointer data)
{
  g_autoptr(GError) busy = NULL;
  g_autofree char *before = NULL;
  g_autofree char *after = NULL;
  Undone u = { 0 };
  virDomainPtr a = define (f, "a", PT_GPU, "");
  virDomainPtr b = define (f, "b", "<passthrough><pci bdf='0000:01:00.1'/></passthrough>", "");

  g_assert_true (prepare (f, "a", NULL));
  f->fake.fail_release = g_strdup ("0000:01:00.0");
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL);
  undo (f, "a", &u);
  WAIT_FOR (has_signal (f, "release-failed a 0000:01:00.0 0000:01:00.0,0000:01:00.1|"));
  g_log_set_always_fatal (G_LOG_FATAL_MASK | G_LOG_LEVEL_CRITICAL | G_LOG_LEVEL_WARNING);
  g_clear_pointer (&f->fake.fail_release, g_free);
  before = calls (&f->fake);

  /* a runs (started outside vmdesk); b's start comes before the daemon saw that. */
  g_assert_cmpint (virDomainCreate (a), ==, 0);
  g_assert_cmpint (vmd_libvirt_lookup (f->libvirt, "a")->state, ==, VIR_DOMAIN_SHUTOFF);
  g_assert_false (prepare (f, "b", &busy));
  g_assert_error (busy, VMD_ERROR, VMD_ERROR_CONFLICT);
  after = calls (&f->fake);
  g_assert_true (g_str_has_prefix (after, before));
  g_assert_null (strstr (after + strlen (before), "release"));
  WAIT_FOR (has_signal (f, "bound a 0000:01:00.0 0000:01:00.0,0000:01:00.1|the VM runs again"));
  g_assert_false (has_signal (f, "released a 0000:01:00.0 0000:01:00.0,0000:01:00.1|retried before "
                                 "starting VM 'b'"));
  g_assert_cmpint (virDomainDestroy (a), ==, 0);
  undone_clear (&u);
  virDomainFree (a);
  virDomainFree (b);
}

static const char *const held[] = { "0000:03:00.0", "0000:04:00.0", NULL };
static const Start nothing_runs = { held, NULL };
static const Start kept_runs = {
  held, "<hostdev mode='subsystem' type='pci' managed='no'><source><address domain='0x0000' "
        "bus='0x03' slot='0x00' function='0x0'/></source></hostdev>"
};

/* Recovery found complete binds and no running VM passes them: given back at once. */
static void
test_recovered_held_devices_no_vm (Fixture *f, gconstpointer data)
{
  WAIT_FOR (has_call (f, "release 0000:04:00.0") && has_call (f, "release 0000:03:00.0"));
  WAIT_FOR (f->signals->len == 2);
  g_assert_true (has_signal (f, "released  0000:03:00.0 |no running VM passes it"));
}

/* One of them a running VM passes: kept, and given back when that VM stops. */
static void
test_recovered_held_devices_vm_runs (Fixture *f, gconstpointer data)
{
  virDomainPtr dom = virDomainLookupByName (vmd_libvirt_get_connection (f->libvirt), "kept");

  WAIT_FOR (has_call (f, "release 0000:04:00.0"));
  g_assert_false (has_call (f, "release 0000:03:00.0"));
  g_assert_cmpint (virDomainDestroy (dom), ==, 0);
  WAIT_FOR (has_signal (f, "released kept 0000:03:00.0 |the VM stopped"));
  g_assert_true (has_call (f, "release 0000:03:00.0"));
  virDomainFree (dom);
}

typedef struct {
  GVariant *reply;
  GError   *error;
  gboolean  done;
} Call;

static void
on_reply (GObject *source, GAsyncResult *res, gpointer data)
{
  Call *c = data;

  c->reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &c->error);
  c->done = TRUE;
}

/* The daemon's part answers on this thread's loop: an async call and a wait. */
static GVariant *
call (Fixture *f, const char *method, GVariant *params, const char *expected_error)
{
  Call c = { 0 };

  g_dbus_connection_call (f->bus, g_dbus_connection_get_unique_name (f->bus), VMD_DBUS_PATH,
                          VMD_DBUS_INTERFACE, method, params, NULL, G_DBUS_CALL_FLAGS_NONE, 5000,
                          NULL, on_reply, &c);
  WAIT_FOR (c.done);
  if (expected_error)
    {
      g_autofree char *remote = c.error ? g_dbus_error_get_remote_error (c.error) : NULL;
      g_assert_cmpstr (remote, ==, expected_error);
      g_clear_error (&c.error);
      return NULL;
    }
  g_assert_no_error (c.error);
  return c.reply;
}

static void
test_dbus_methods (Fixture *f, gconstpointer data)
{
  g_autoptr(GVariant) check = NULL;
  g_autoptr(GVariant) listed = NULL;
  g_autoptr(GVariant) record = NULL;
  g_autoptr(GVariantDict) d = NULL;
  g_autofree const char **functions = NULL;
  virDomainPtr dom = define (f, "gpu", PT_GPU, "");
  const char *json, *s;
  const char *expected[] = { "0000:01:00.0", "0000:01:00.1", NULL };
  gboolean single_gpu;

  check = call (f, "CheckPassthrough", g_variant_new_parsed ("(['0000:01:00.0', '02:00.0'],)"), NULL);
  g_variant_get (check, "(&s)", &json);
  g_assert_cmpstr (json, ==, "{\"schema\":1}");
  call (f, "CheckPassthrough", g_variant_new_parsed ("(['0000:01:00.0', '0000:01:00'],)"),
        "org.vmdesk.Error.InvalidArgs");
  {
    const char *bdfs[34];
    for (guint i = 0; i < 33; i++)
      bdfs[i] = "0000:01:00.0";
    bdfs[33] = NULL;
    call (f, "CheckPassthrough", g_variant_new ("(^as)", bdfs), "org.vmdesk.Error.InvalidArgs");
  }
  call (f, "PlanPassthrough", g_variant_new ("(sb)", "0000:07:00.0", FALSE),
        "org.vmdesk.Error.UnknownDevice");
  call (f, "PlanPassthrough", g_variant_new ("(sb)", "0000:07:00.0\n", FALSE),
        "org.vmdesk.Error.InvalidArgs");

  g_assert_true (prepare (f, "gpu", NULL));
  listed = call (f, "ListPassthrough", NULL, NULL);
  g_assert_cmpuint (g_variant_n_children (g_variant_get_child_value (listed, 0)), ==, 1);
  record = g_variant_get_child_value (g_variant_get_child_value (listed, 0), 0);
  d = g_variant_dict_new (record);
  g_assert_true (g_variant_dict_lookup (d, "bdf", "&s", &s));
  g_assert_cmpstr (s, ==, "0000:01:00.0");
  g_assert_true (g_variant_dict_lookup (d, "vm", "&s", &s));
  g_assert_cmpstr (s, ==, "gpu");
  g_assert_true (g_variant_dict_lookup (d, "state", "&s", &s));
  g_assert_cmpstr (s, ==, "bound");
  g_assert_true (g_variant_dict_lookup (d, "functions", "^a&s", &functions));
  g_assert_cmpstrv (functions, expected);
  g_assert_true (g_variant_dict_lookup (d, "single-gpu", "b", &single_gpu));
  g_assert_false (single_gpu);
  g_assert_false (g_variant_dict_contains (d, "error"));
  virDomainFree (dom);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  virInitialize ();
  gvir_event_register ();
#define ADD(path, fn, data) g_test_add (path, Fixture, data, set_up, fn, tear_down)
  ADD ("/vfio/stopped-event-releases", test_stopped_event_releases, NULL);
  ADD ("/vfio/failed-start-undo-releases", test_failed_start_undo_releases, NULL);
  ADD ("/vfio/undo-waits-for-a-release-under-way", test_undo_waits_for_a_release_under_way, NULL);
  ADD ("/vfio/failed-undo-said-and-retried", test_failed_undo_is_said_and_retried_at_the_next_start, NULL);
  ADD ("/vfio/failed-give-back-held-again", test_failed_give_back_held_again_when_the_vm_runs, NULL);
  ADD ("/vfio/failed-bind-gives-back-earlier", test_failed_bind_gives_back_the_earlier_ones, NULL);
  ADD ("/vfio/failed-bind-give-back-fails", test_failed_bind_whose_give_back_fails, NULL);
  ADD ("/vfio/refusal-touches-nothing", test_refusal_touches_nothing, NULL);
  ADD ("/vfio/no-devices-no-change", test_no_devices_no_change, NULL);
  ADD ("/vfio/held-by-another-vm", test_held_by_another_vm, NULL);
  ADD ("/vfio/retry-while-the-holder-runs", test_retry_while_the_holder_runs, NULL);
  ADD ("/vfio/single-gpu-confirmed-when-running", test_single_gpu_confirmed_when_running, NULL);
  ADD ("/vfio/recovered-held-no-vm", test_recovered_held_devices_no_vm, &nothing_runs);
  ADD ("/vfio/recovered-held-vm-runs", test_recovered_held_devices_vm_runs, &kept_runs);
  ADD ("/vfio/dbus-methods", test_dbus_methods, NULL);
  return g_test_run ();
}
