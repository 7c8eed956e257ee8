/* vmd-libvirt.c: connection lifecycle (open in a worker thread, close callback, backoff)
 * and the inventory of VMs kept in step with libvirt's domain events. */
#include "vmd-libvirt.h"

#include "vmd-live-xml.h"

#include <libvirt/virterror.h>

/* Reconnect delays while libvirt is away: the only timer the daemon runs, and only while
 * disconnected (libvirt has no "daemon is back" event to wait for). */
#define BACKOFF_FIRST_MS 100
#define BACKOFF_MAX_MS   5000

struct _VmdLibvirt {
  GObject        parent;
  char          *uri;
  virConnectPtr  conn;
  GHashTable    *vms;          /* uuid -> VmdVm */
  GHashTable    *refreshing;   /* uuid -> RefreshSlot, while a read is on a worker thread */
  int            cb_lifecycle;
  int            cb_metadata;
  int            cb_agent;
  guint          retry_id;
  guint          backoff_ms;
  gboolean       connecting;
  gboolean       first_sync_done;
  GCancellable  *cancellable;
};

enum { SIG_VM_CHANGED, SIG_VM_STATE_CHANGED, SIG_VM_REMOVED, SIG_FIRST_SYNC,
       SIG_VM_AGENT_CONNECTED, N_SIGNALS };
static guint signals[N_SIGNALS];
enum { PROP_0, PROP_CONNECTED, N_PROPS };
static GParamSpec *props[N_PROPS];

G_DEFINE_TYPE (VmdLibvirt, vmd_libvirt, G_TYPE_OBJECT)

static void connect_start (VmdLibvirt *self);

void
vmd_set_libvirt_error (GError **error, const char *format, ...)
{
  g_autofree char *what = NULL;
  const char *msg = virGetLastErrorMessage ();
  va_list args;

  va_start (args, format);
  what = g_strdup_vprintf (format, args);
  va_end (args);
  g_set_error (error, VMD_ERROR, VMD_ERROR_LIBVIRT, "%s: %s", what, msg ? msg : "unknown libvirt error");
}

static VmdVm *
lookup_uuid (VmdLibvirt *self, const char *uuid)
{
  return g_hash_table_lookup (self->vms, uuid);
}

static char *
read_settings_xml (virDomainPtr dom, gboolean *gone, GError **error)
{
  char *xml = virDomainGetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT, VMD_SETTINGS_NS,
                                    VIR_DOMAIN_AFFECT_CURRENT);

  /* A domain undefined since its state was read is no error: its event follows. */
  if (xml == NULL && virGetLastErrorCode () == VIR_ERR_NO_DOMAIN)
    *gone = TRUE;
  else if (xml == NULL && virGetLastErrorCode () != VIR_ERR_NO_DOMAIN_METADATA)
    vmd_set_libvirt_error (error, "reading vmdesk metadata");
  return xml;
}

static void
read_settings (VmdVm *vm, virDomainPtr dom, gboolean *gone)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *xml = read_settings_xml (dom, gone, &error);

  vmd_vm_settings_free (vm->settings);
  vm->settings = vmd_vm_settings_parse (xml, warnings);
  if (error)
    g_ptr_array_add (warnings, g_strdup (error->message));
  g_clear_pointer (&vm->settings_warning, g_free);
  if (warnings->len > 0)
    {
      g_ptr_array_add (warnings, NULL);
      vm->settings_warning = g_strjoinv ("; ", (char **) warnings->pdata);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_WARNING, "VMDESK_VM", vm->name,
                        "MESSAGE", "VM '%s': settings: %s", vm->name, vm->settings_warning);
    }
}

/* The display of the live definition while running, else of the persistent one: what
 * virDomainGetXMLDesc gives without flags. */
static const char *
read_display (virDomainPtr dom, gboolean *gone)
{
  g_autofree char *xml = virDomainGetXMLDesc (dom, 0);

  if (xml == NULL && virGetLastErrorCode () == VIR_ERR_NO_DOMAIN)
    *gone = TRUE;
  return xml ? vmd_live_xml_display (xml, NULL) : "none";
}

static gboolean
settings_equal (const VmdVm *a, const VmdVm *b)
{
  /* Compared as the one serializer writes them, so no field can be forgotten here. */
  g_autofree char *x = vmd_vm_settings_to_xml (a->settings);
  g_autofree char *y = vmd_vm_settings_to_xml (b->settings);

  return g_str_equal (x, y) && g_strcmp0 (a->settings_warning, b->settings_warning) == 0;
}

static void
remove_vm (VmdLibvirt *self, const char *uuid)
{
  VmdVm *vm = lookup_uuid (self, uuid);
  g_autofree char *name = NULL;

  if (vm == NULL)
    return;
  name = g_strdup (vm->name);
  g_hash_table_remove (self->vms, uuid);
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VMDESK_VM", name,
                    "MESSAGE", "VM '%s' is gone from libvirt", name);
  g_signal_emit (self, signals[SIG_VM_REMOVED], 0, name);
}

/* One domain as libvirt describes it now. settings_read: FALSE when the metadata was not
 * asked for, and the inventory's copy stands. */
typedef struct {
  VmdVm    *vm;
  gboolean  settings_read;
  gboolean  gone;
} DomainRead;

static void
domain_read_clear (DomainRead *r)
{
  g_clear_pointer (&r->vm, vmd_vm_free);
}

/* Only libvirt calls: safe on any thread, and it may block for as long as a job on the
 * domain (a managed save, a hung QEMU) holds it. Returns FALSE if nothing could be read. */
static gboolean
read_domain (virDomainPtr dom, gboolean with_settings, DomainRead *out)
{
  char uuid[VIR_UUID_STRING_BUFLEN];
  int state, state_reason, persistent;

  if (virDomainGetUUIDString (dom, uuid) < 0)
    return FALSE;
  if (virDomainGetState (dom, &state, &state_reason, 0) < 0
      || (persistent = virDomainIsPersistent (dom)) < 0)
    {
      if (virGetLastErrorCode () != VIR_ERR_NO_DOMAIN)
        {
          g_warning ("reading domain %s: %s", uuid, virGetLastErrorMessage ());
          return FALSE;
        }
      out->vm = vmd_vm_new (uuid);
      out->gone = TRUE;
      return TRUE;
    }
  out->vm = vmd_vm_new (uuid);
  g_free (out->vm->name);
  out->vm->name = g_strdup (virDomainGetName (dom));
  out->vm->state = state;
  out->vm->reason = state_reason;
  out->vm->persistent = persistent;
  /* Undefined half-way through: no partial read (empty settings) may be folded in. */
  out->vm->display = read_display (dom, &out->gone);
  if (with_settings && !out->gone)
    read_settings (out->vm, dom, &out->gone);
  out->settings_read = with_settings;
  return TRUE;
}

/* Folds a fresh read into the inventory, emitting what changed. The fresh read (state and
 * its reason, not an event's detail) decides, so events that race with a resync, or arrive
 * in libvirt's own order (RESUMED before STARTED on boot), can never leave a stale state
 * behind. Returns FALSE when the read lacked settings the inventory does not have. */
static gboolean
fold_domain (VmdLibvirt *self, DomainRead *r)
{
  g_autoptr(VmdVm) fresh = g_steal_pointer (&r->vm);
  VmdVm *old = lookup_uuid (self, fresh->uuid);
  gboolean state_changed, changed;

  if (r->gone)
    {
      remove_vm (self, fresh->uuid);
      return TRUE;
    }
  if (!r->settings_read)
    {
      if (old == NULL)
        return FALSE;
      vmd_vm_settings_free (fresh->settings);
      fresh->settings = vmd_vm_settings_copy (old->settings);
      fresh->settings_warning = g_strdup (old->settings_warning);
    }

  state_changed = old == NULL || old->state != fresh->state || old->reason != fresh->reason;
  changed = state_changed || !g_str_equal (old->name, fresh->name)
         || old->persistent != fresh->persistent || !settings_equal (old, fresh)
         || !g_str_equal (old->display, fresh->display);
  if (!changed)
    return TRUE;

  old = g_steal_pointer (&fresh);
  g_hash_table_replace (self->vms, old->uuid, old);
  g_signal_emit (self, signals[SIG_VM_CHANGED], 0, old);
  if (state_changed)
    {
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VMDESK_VM", old->name,
                        "MESSAGE", "VM '%s' is %s (%s)", old->name,
                        vmd_domain_state_to_string (old->state),
                        vmd_state_reason_to_string (old->state, old->reason));
      g_signal_emit (self, signals[SIG_VM_STATE_CHANGED], 0, old);
    }
  return TRUE;
}

/* Reads `dom` and folds it in at once: for the listing at connect time. Returns FALSE if
 * the domain no longer exists. */
static gboolean
refresh_domain (VmdLibvirt *self, virDomainPtr dom)
{
  DomainRead r = { 0 };
  gboolean exists;

  if (!read_domain (dom, TRUE, &r))
    return TRUE;
  exists = !r.gone;
  fold_domain (self, &r);
  domain_read_clear (&r);
  return exists;
}

/* Event-driven refreshes read on a worker thread, one at a time per domain: events that
 * arrive meanwhile only ask for one more read once it is done, so the last read always
 * follows the last event, and the main loop never waits for a busy domain. */
typedef struct {
  gboolean again;
  gboolean again_settings;
} RefreshSlot;

typedef struct {
  virConnectPtr conn;
  virDomainPtr  dom;
  char         *uuid;
  gboolean      with_settings;
  DomainRead    read;
} RefreshJob;

static void
refresh_job_free (RefreshJob *job)
{
  virDomainFree (job->dom);
  virConnectClose (job->conn);
  g_free (job->uuid);
  domain_read_clear (&job->read);
  g_free (job);
}

static void start_refresh (VmdLibvirt *self, virDomainPtr dom, const char *uuid,
                           gboolean with_settings);

static void
read_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  RefreshJob *job = data;

  g_task_return_boolean (task, read_domain (job->dom, job->with_settings, &job->read));
}

static void
on_refresh_read (GObject *source, GAsyncResult *res, gpointer data)
{
  VmdLibvirt *self = VMD_LIBVIRT (source);
  RefreshJob *job = g_task_get_task_data (G_TASK (res));
  RefreshSlot *slot = g_hash_table_lookup (self->refreshing, job->uuid);
  gboolean again = slot != NULL && slot->again;
  gboolean again_settings = slot != NULL && slot->again_settings;

  g_hash_table_remove (self->refreshing, job->uuid);
  /* A read from a connection since dropped is stale: the next connection's listing
   * re-reads every domain. */
  if (job->conn != self->conn)
    return;
  if (g_task_propagate_boolean (G_TASK (res), NULL) && !fold_domain (self, &job->read))
    again = again_settings = TRUE;
  if (again)
    start_refresh (self, job->dom, job->uuid, again_settings);
}

static void
start_refresh (VmdLibvirt *self, virDomainPtr dom, const char *uuid, gboolean with_settings)
{
  g_autoptr(GTask) task = g_task_new (self, NULL, on_refresh_read, NULL);
  RefreshJob *job = g_new0 (RefreshJob, 1);

  job->conn = self->conn;
  virConnectRef (job->conn);
  job->dom = dom;
  virDomainRef (dom);
  job->uuid = g_strdup (uuid);
  job->with_settings = with_settings || lookup_uuid (self, uuid) == NULL;
  g_hash_table_insert (self->refreshing, g_strdup (uuid), g_new0 (RefreshSlot, 1));
  g_task_set_task_data (task, job, (GDestroyNotify) refresh_job_free);
  g_task_run_in_thread (task, read_in_thread);
}

static void
refresh_domain_later (VmdLibvirt *self, virDomainPtr dom, gboolean reread_settings)
{
  char uuid[VIR_UUID_STRING_BUFLEN];
  RefreshSlot *slot;

  if (self->conn == NULL || virDomainGetUUIDString (dom, uuid) < 0)
    return;
  slot = g_hash_table_lookup (self->refreshing, uuid);
  if (slot != NULL)
    {
      slot->again = TRUE;
      slot->again_settings |= reread_settings;
      return;
    }
  start_refresh (self, dom, uuid, reread_settings);
}

static void
reconcile (VmdLibvirt *self)
{
  virDomainPtr *doms = NULL;
  g_autoptr(GHashTable) seen = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  g_autoptr(GPtrArray) gone = g_ptr_array_new_with_free_func (g_free);
  GHashTableIter iter;
  gpointer key;
  int n;

  n = virConnectListAllDomains (self->conn, &doms, 0);
  if (n < 0)
    {
      g_warning ("listing domains on %s: %s", self->uri, virGetLastErrorMessage ());
      return;
    }
  for (int i = 0; i < n; i++)
    {
      char uuid[VIR_UUID_STRING_BUFLEN];
      if (virDomainGetUUIDString (doms[i], uuid) == 0
          && refresh_domain (self, doms[i]))
        g_hash_table_add (seen, g_strdup (uuid));
      virDomainFree (doms[i]);
    }
  free (doms);

  g_hash_table_iter_init (&iter, self->vms);
  while (g_hash_table_iter_next (&iter, &key, NULL))
    if (!g_hash_table_contains (seen, key))
      g_ptr_array_add (gone, g_strdup (key));
  for (guint i = 0; i < gone->len; i++)
    remove_vm (self, gone->pdata[i]);
}

static int
on_lifecycle (virConnectPtr conn, virDomainPtr dom, int event, int detail, void *opaque)
{
  refresh_domain_later (opaque, dom, event == VIR_DOMAIN_EVENT_DEFINED);
  return 0;
}

static void
on_metadata_change (virConnectPtr conn, virDomainPtr dom, int type, const char *nsuri, void *opaque)
{
  if (type == VIR_DOMAIN_METADATA_ELEMENT && g_strcmp0 (nsuri, VMD_SETTINGS_NS) == 0)
    refresh_domain_later (opaque, dom, TRUE);
}

/* libvirt emits it once its agent connection is up, so a call made after it finds qemu-ga. */
static void
on_agent_lifecycle (virConnectPtr conn, virDomainPtr dom, int state, int reason, void *opaque)
{
  const char *name = virDomainGetName (dom);

  if (state == VIR_CONNECT_DOMAIN_EVENT_AGENT_LIFECYCLE_STATE_CONNECTED && name != NULL)
    g_signal_emit (opaque, signals[SIG_VM_AGENT_CONNECTED], 0, name);
}

static void
set_connected (VmdLibvirt *self, virConnectPtr conn)
{
  self->conn = conn;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_CONNECTED]);
}

static void schedule_retry (VmdLibvirt *self);
static void on_close (virConnectPtr conn, int reason, void *opaque);

static void
drop_connection (VmdLibvirt *self)
{
  virConnectPtr conn = self->conn;

  if (conn == NULL)
    return;
  virConnectDomainEventDeregisterAny (conn, self->cb_lifecycle);
  virConnectDomainEventDeregisterAny (conn, self->cb_metadata);
  virConnectDomainEventDeregisterAny (conn, self->cb_agent);
  virConnectUnregisterCloseCallback (conn, on_close);
  virConnectClose (conn);
  set_connected (self, NULL);
}

static gboolean
on_closed_idle (gpointer data)
{
  VmdLibvirt *self = data;

  g_warning ("lost the connection to libvirt (%s); reconnecting", self->uri);
  drop_connection (self);
  schedule_retry (self);
  return G_SOURCE_REMOVE;
}

static void
on_close (virConnectPtr conn, int reason, void *opaque)
{
  /* Tearing the connection down from inside its own callback is not allowed. */
  g_idle_add_full (G_PRIORITY_DEFAULT, on_closed_idle, g_object_ref (opaque), g_object_unref);
}

static void
adopt_connection (VmdLibvirt *self, virConnectPtr conn)
{
  /* Callbacks first, then the listing: events queued meanwhile are handled after it,
   * and each re-reads its domain, so nothing is missed. */
  virConnectRegisterCloseCallback (conn, on_close, self, NULL);
  self->cb_lifecycle = virConnectDomainEventRegisterAny (
    conn, NULL, VIR_DOMAIN_EVENT_ID_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK (on_lifecycle), self, NULL);
  self->cb_metadata = virConnectDomainEventRegisterAny (
    conn, NULL, VIR_DOMAIN_EVENT_ID_METADATA_CHANGE, VIR_DOMAIN_EVENT_CALLBACK (on_metadata_change),
    self, NULL);
  self->cb_agent = virConnectDomainEventRegisterAny (
    conn, NULL, VIR_DOMAIN_EVENT_ID_AGENT_LIFECYCLE, VIR_DOMAIN_EVENT_CALLBACK (on_agent_lifecycle),
    self, NULL);
  /* Connected is announced after the listing, so whoever reacts to it sees every VM. */
  self->conn = conn;
  reconcile (self);
  set_connected (self, conn);
  g_message ("connected to libvirt at %s, %u VMs", self->uri, g_hash_table_size (self->vms));
}

static void
close_connection (gpointer conn)
{
  virConnectClose (conn);
}

static void
open_in_thread (GTask *task, gpointer source, gpointer data, GCancellable *cancellable)
{
  const char *uri = data;
  virConnectPtr conn = virConnectOpen (uri);

  if (conn == NULL)
    {
      g_autoptr(GError) error = NULL;
      vmd_set_libvirt_error (&error, "opening %s", uri);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, conn, close_connection);
}

static void
on_opened (GObject *source, GAsyncResult *res, gpointer data)
{
  VmdLibvirt *self = VMD_LIBVIRT (source);
  g_autoptr(GError) error = NULL;
  virConnectPtr conn = g_task_propagate_pointer (G_TASK (res), &error);

  self->connecting = FALSE;
  if (conn == NULL)
    {
      if (!g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
        {
          /* Said once; the retries that follow would only repeat it. */
          if (!self->first_sync_done)
            g_warning ("%s; retrying", error->message);
          else
            g_debug ("%s", error->message);
          schedule_retry (self);
        }
    }
  else
    {
      self->backoff_ms = BACKOFF_FIRST_MS;
      adopt_connection (self, conn);
    }
  if (!self->first_sync_done)
    {
      self->first_sync_done = TRUE;
      g_signal_emit (self, signals[SIG_FIRST_SYNC], 0);
    }
}

static void
connect_start (VmdLibvirt *self)
{
  g_autoptr(GTask) task = NULL;

  if (self->connecting || self->conn)
    return;
  self->connecting = TRUE;
  task = g_task_new (self, self->cancellable, on_opened, NULL);
  g_task_set_task_data (task, g_strdup (self->uri), g_free);
  g_task_set_return_on_cancel (task, TRUE);
  g_task_run_in_thread (task, open_in_thread);
}

static gboolean
on_retry (gpointer data)
{
  VmdLibvirt *self = data;

  self->retry_id = 0;
  connect_start (self);
  return G_SOURCE_REMOVE;
}

static void
schedule_retry (VmdLibvirt *self)
{
  if (self->retry_id)
    return;
  self->retry_id = g_timeout_add (self->backoff_ms, on_retry, self);
  self->backoff_ms = MIN (self->backoff_ms * 2, BACKOFF_MAX_MS);
}

void
vmd_libvirt_start (VmdLibvirt *self)
{
  connect_start (self);
}

void
vmd_libvirt_resync (VmdLibvirt *self)
{
  if (self->conn)
    reconcile (self);
}

const char *
vmd_libvirt_get_uri (VmdLibvirt *self)
{
  return self->uri;
}

gboolean
vmd_libvirt_is_connected (VmdLibvirt *self)
{
  return self->conn != NULL;
}

virConnectPtr
vmd_libvirt_get_connection (VmdLibvirt *self)
{
  return self->conn;
}

static int
compare_by_name (gconstpointer a, gconstpointer b)
{
  const VmdVm *x = *(const VmdVm *const *) a, *y = *(const VmdVm *const *) b;

  return g_strcmp0 (x->name, y->name);
}

GPtrArray *
vmd_libvirt_list_vms (VmdLibvirt *self)
{
  GPtrArray *vms = g_ptr_array_sized_new (g_hash_table_size (self->vms));
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->vms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    g_ptr_array_add (vms, value);
  g_ptr_array_sort (vms, compare_by_name);
  return vms;
}

const VmdVm *
vmd_libvirt_lookup (VmdLibvirt *self, const char *name)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->vms);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (g_str_equal (((VmdVm *) value)->name, name))
      return value;
  return NULL;
}

static void
vmd_libvirt_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  switch (id)
    {
    case PROP_CONNECTED:
      g_value_set_boolean (value, VMD_LIBVIRT (object)->conn != NULL);
      break;
    default:
      G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
vmd_libvirt_dispose (GObject *object)
{
  VmdLibvirt *self = VMD_LIBVIRT (object);

  g_cancellable_cancel (self->cancellable);
  g_clear_handle_id (&self->retry_id, g_source_remove);
  drop_connection (self);
  G_OBJECT_CLASS (vmd_libvirt_parent_class)->dispose (object);
}

static void
vmd_libvirt_finalize (GObject *object)
{
  VmdLibvirt *self = VMD_LIBVIRT (object);

  g_hash_table_unref (self->vms);
  g_hash_table_unref (self->refreshing);
  g_object_unref (self->cancellable);
  g_free (self->uri);
  G_OBJECT_CLASS (vmd_libvirt_parent_class)->finalize (object);
}

static void
vmd_libvirt_class_init (VmdLibvirtClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->get_property = vmd_libvirt_get_property;
  object_class->dispose = vmd_libvirt_dispose;
  object_class->finalize = vmd_libvirt_finalize;

  props[PROP_CONNECTED] = g_param_spec_boolean ("connected", NULL, NULL, FALSE,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS);
  g_object_class_install_properties (object_class, N_PROPS, props);

  signals[SIG_VM_CHANGED] = g_signal_new ("vm-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_POINTER);
  signals[SIG_VM_STATE_CHANGED] = g_signal_new ("vm-state-changed", G_TYPE_FROM_CLASS (klass),
                                                G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL, G_TYPE_NONE,
                                                1, G_TYPE_POINTER);
  signals[SIG_VM_REMOVED] = g_signal_new ("vm-removed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
  signals[SIG_FIRST_SYNC] = g_signal_new ("first-sync", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 0);
  signals[SIG_VM_AGENT_CONNECTED] = g_signal_new ("vm-agent-connected", G_TYPE_FROM_CLASS (klass),
                                                  G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                  G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vmd_libvirt_init (VmdLibvirt *self)
{
  self->vms = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) vmd_vm_free);
  self->refreshing = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  self->backoff_ms = BACKOFF_FIRST_MS;
  self->cancellable = g_cancellable_new ();
}

VmdLibvirt *
vmd_libvirt_new (const char *uri)
{
  VmdLibvirt *self = g_object_new (VMD_TYPE_LIBVIRT, NULL);

  self->uri = g_strdup (uri);
  return self;
}
