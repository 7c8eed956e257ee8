/* vmd-manager.c: org.vmdesk.Manager1. Arguments are validated first, then the caller is
 * authorized (the method table names the polkit action, so no handler can forget), then
 * the handler runs. */
#include "vmd-manager.h"

#include "vmd-setup.h"
#include "vmd-vm-start.h"

void vmd_daemon_register_resource (void);

struct _VmdManager {
  GObject          parent;
  VmdLibvirt      *libvirt;
  VmdBouncer      *bouncer;
  VmdState        *state;
  GDBusConnection *bus;
  GDBusNodeInfo   *introspection;
  guint            registration_id;
  GArray          *tables;    /* of MethodTable: the manager's own, then each part's */
  const VmdStartHook *start_hook;
  gpointer         start_hook_data;
};

typedef struct {
  const VmdMethod *methods;
  guint            n_methods;
  gpointer         owner;
} MethodTable;

enum { SIGNAL_FOCUS_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

G_DEFINE_TYPE (VmdManager, vmd_manager, G_TYPE_OBJECT)

void
vmd_manager_emit (VmdManager *self, const char *signal, GVariant *params)
{
  g_autoptr(GError) error = NULL;

  if (self->bus == NULL)
    {
      g_variant_unref (g_variant_ref_sink (params));
      return;
    }
  if (!g_dbus_connection_emit_signal (self->bus, NULL, VMD_DBUS_PATH, VMD_DBUS_INTERFACE, signal,
                                      params, &error))
    g_warning ("emitting %s: %s", signal, error->message);
}

static void
emit_property_changed (VmdManager *self, const char *property, GVariant *value)
{
  GVariantBuilder changed;
  g_autoptr(GError) error = NULL;

  g_variant_builder_init (&changed, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&changed, "{sv}", property, value);
  if (self->bus == NULL)
    {
      g_variant_builder_clear (&changed);
      return;
    }
  if (!g_dbus_connection_emit_signal (self->bus, NULL, VMD_DBUS_PATH, "org.freedesktop.DBus.Properties",
                                      "PropertiesChanged",
                                      g_variant_new ("(sa{sv}as)", VMD_DBUS_INTERFACE, &changed, NULL),
                                      &error))
    g_warning ("emitting PropertiesChanged(%s): %s", property, error->message);
}

static GVariant *
vm_record (VmdManager *self, const VmdVm *vm)
{
  return vmd_vm_to_variant (vm, g_str_equal (vm->name, vmd_state_get_on_screen (self->state)));
}

static void
set_on_screen (VmdManager *self, const char *name)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *previous = g_strdup (vmd_state_get_on_screen (self->state));
  const VmdVm *vm;

  if (g_str_equal (previous, name))
    return;
  if (!vmd_state_set_on_screen (self->state, name, &error))
    g_warning ("saving the on-screen VM: %s", error->message);
  g_message ("on screen: %s (was %s)", *name ? name : "host", *previous ? previous : "host");

  emit_property_changed (self, "OnScreen", g_variant_new_string (name));
  vmd_manager_emit (self, "FocusChanged", g_variant_new ("(ss)", name, previous));
  g_signal_emit (self, signals[SIGNAL_FOCUS_CHANGED], 0, previous, name);
  if ((vm = vmd_libvirt_lookup (self->libvirt, previous)))
    vmd_manager_emit (self, "VMChanged", g_variant_new_tuple ((GVariant *[]) { vm_record (self, vm) }, 1));
  if ((vm = vmd_libvirt_lookup (self->libvirt, name)))
    vmd_manager_emit (self, "VMChanged", g_variant_new_tuple ((GVariant *[]) { vm_record (self, vm) }, 1));
}

static gboolean
can_be_on_screen (const VmdVm *vm)
{
  return vm->state == VIR_DOMAIN_RUNNING || vm->state == VIR_DOMAIN_PAUSED
      || vm->state == VIR_DOMAIN_BLOCKED;
}

/* --- argument checks: cheap, before polkit, so garbage never reaches a handler --- */

static gboolean
check_vm_name_arg (GVariant *params, GError **error)
{
  const char *name;

  g_variant_get_child (params, 0, "&s", &name);
  return vmd_vm_name_validate (name, error);
}

static gboolean
check_switch_args (GVariant *params, GError **error)
{
  const char *name;

  g_variant_get_child (params, 0, "&s", &name);
  return *name == '\0' || vmd_vm_name_validate (name, error);
}

/* --- handlers --- */

static void
handle_list_vms (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdManager *self = owner;
  g_autoptr(GPtrArray) vms = vmd_libvirt_list_vms (self->libvirt);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < vms->len; i++)
    g_variant_builder_add_value (&b, vm_record (self, vms->pdata[i]));
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(aa{sv})", &b));
}

static const VmdVm *
lookup_or_error (VmdManager *self, const char *name, GDBusMethodInvocation *invocation)
{
  const VmdVm *vm = vmd_libvirt_lookup (self->libvirt, name);

  if (vm == NULL)
    g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_UNKNOWN_VM,
                                           "no VM named '%s'", name);
  return vm;
}

static void
handle_get_vm (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdManager *self = owner;
  const char *name;
  const VmdVm *vm;

  g_variant_get (params, "(&s)", &name);
  if ((vm = lookup_or_error (self, name, invocation)))
    g_dbus_method_invocation_return_value (invocation,
                                           g_variant_new_tuple ((GVariant *[]) { vm_record (self, vm) }, 1));
}

static void
handle_switch (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdManager *self = owner;
  const char *name;
  const VmdVm *vm;

  g_variant_get (params, "(&s)", &name);
  if (*name != '\0' && !vmd_libvirt_is_connected (self->libvirt))
    {
      /* The last known state may be stale; better refuse than switch to a dead VM. */
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_NOT_CONNECTED,
                                             "not connected to libvirt (%s)",
                                             vmd_libvirt_get_uri (self->libvirt));
      return;
    }
  if (*name != '\0')
    {
      if ((vm = lookup_or_error (self, name, invocation)) == NULL)
        return;
      if (!can_be_on_screen (vm))
        {
          g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_NOT_RUNNING,
                                                 "VM '%s' is %s; only a running VM can be on screen",
                                                 name, vmd_domain_state_to_string (vm->state));
          return;
        }
    }
  set_on_screen (self, name);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static void
handle_setup_vm (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdManager *self = owner;
  g_autoptr(GError) error = NULL;
  g_autofree char *old_xml = NULL;
  g_autofree char *new_xml = NULL;
  virConnectPtr conn = vmd_libvirt_get_connection (self->libvirt);
  const char *name, *expected_old;
  gboolean dry_run;

  g_variant_get (params, "(&sb&s)", &name, &dry_run, &expected_old);
  if (conn == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_NOT_CONNECTED,
                                             "not connected to libvirt (%s)",
                                             vmd_libvirt_get_uri (self->libvirt));
      return;
    }
  if (!vmd_setup_domain (conn, name, dry_run, expected_old, &old_xml, &new_xml, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(ss)", old_xml, new_xml));
}

/* StartVM: prepare (the start hook), start, and undo the preparation if the start fails.
 * A failed start replies only once the undo is done, with its outcome in the error: a
 * caller that sees the error may rely on the host having its devices back, or be told
 * that it does not. */
typedef struct {
  VmdManager            *self;
  GDBusMethodInvocation *invocation;   /* the return consumes it */
  char                  *name;
  const VmdStartHook    *hook;         /* the one that prepared, kept for its undo */
  gpointer               hook_data;
  gboolean               prepared;
  GError                *error;        /* the start's, while the undo runs */
} Starting;

static void
starting_reply (Starting *st, const GError *error)
{
  if (error)
    g_dbus_method_invocation_return_gerror (st->invocation, error);
  else
    g_dbus_method_invocation_return_value (st->invocation, NULL);
  g_clear_error (&st->error);
  g_object_unref (st->self);
  g_free (st->name);
  g_free (st);
}

static void
on_start_undone (GObject *source, GAsyncResult *result, gpointer data)
{
  Starting *st = data;
  g_autoptr(GError) undo_error = NULL;
  g_autofree char *summary = NULL;
  g_autofree char *start_message = st->error->message;

  /* The start's error keeps its name (the cause); its message gains the undo's outcome. */
  if (!st->hook->undo_finish (st->hook_data, result, &summary, &undo_error))
    st->error->message = g_strdup_printf ("%s; %s", start_message, undo_error->message);
  else if (summary)
    st->error->message = g_strdup_printf ("%s; %s", start_message, summary);
  else
    st->error->message = g_steal_pointer (&start_message);
  starting_reply (st, st->error);
}

static void
starting_done (Starting *st, const GError *error)
{
  if (error && st->prepared)
    {
      st->error = g_error_copy (error);
      st->hook->undo (st->hook_data, st->name, on_start_undone, st);
      return;
    }
  starting_reply (st, error);
}

static void
on_vm_started (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;

  vmd_vm_start_finish (result, &error);
  starting_done (data, error);
}

static void
start_now (Starting *st)
{
  virConnectPtr conn = vmd_libvirt_get_connection (st->self->libvirt);

  if (conn == NULL)
    {
      g_autoptr(GError) error = g_error_new (VMD_ERROR, VMD_ERROR_NOT_CONNECTED, "not connected to libvirt (%s)",
                                             vmd_libvirt_get_uri (st->self->libvirt));
      starting_done (st, error);
      return;
    }
  vmd_vm_start_async (conn, st->name, on_vm_started, st);
}

static void
on_vm_prepared (GObject *source, GAsyncResult *result, gpointer data)
{
  Starting *st = data;
  g_autoptr(GError) error = NULL;

  if (!st->hook->prepare_finish (st->hook_data, result, &error))
    {
      starting_done (st, error);
      return;
    }
  st->prepared = TRUE;
  start_now (st);
}

static void
handle_start_vm (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdManager *self = owner;
  const char *name;
  Starting *st;

  g_variant_get (params, "(&s)", &name);
  if (!vmd_libvirt_is_connected (self->libvirt))
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_NOT_CONNECTED,
                                             "not connected to libvirt (%s)",
                                             vmd_libvirt_get_uri (self->libvirt));
      return;
    }
  if (lookup_or_error (self, name, invocation) == NULL)
    return;
  g_message ("starting VM '%s' for %s", name, g_dbus_method_invocation_get_sender (invocation));
  st = g_new0 (Starting, 1);
  st->self = g_object_ref (self);
  st->invocation = invocation;
  st->name = g_strdup (name);
  st->hook = self->start_hook;
  st->hook_data = self->start_hook_data;
  if (st->hook)
    st->hook->prepare (st->hook_data, name, on_vm_prepared, st);
  else
    start_now (st);
}

static const VmdMethod methods[] = {
  { "ListVMs", NULL,                NULL,              handle_list_vms },
  { "GetVM",   NULL,                check_vm_name_arg, handle_get_vm },
  { "Switch",  "org.vmdesk.switch", check_switch_args, handle_switch },
  { "SetupVM", "org.vmdesk.setup",  check_vm_name_arg, handle_setup_vm },
  { "StartVM", "org.vmdesk.start",  check_vm_name_arg, handle_start_vm },
};

typedef struct {
  VmdManager            *self;
  const VmdMethod       *method;
  gpointer               owner;
  GDBusMethodInvocation *invocation;
} PendingCall;

static void
on_authorized (GObject *source, GAsyncResult *res, gpointer data)
{
  PendingCall *call = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) params = NULL;

  if (!vmd_bouncer_check_finish (VMD_BOUNCER (source), res, &error))
    {
      g_message ("denied %s to %s: %s", call->method->name,
                 g_dbus_method_invocation_get_sender (call->invocation), error->message);
      g_dbus_method_invocation_return_gerror (call->invocation, error);
    }
  else
    {
      params = g_variant_ref (g_dbus_method_invocation_get_parameters (call->invocation));
      call->method->handler (call->owner, params, call->invocation);
    }
  g_object_unref (call->self);
  g_free (call);
}

static void
method_call (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
             const char *name, GVariant *params, GDBusMethodInvocation *invocation, gpointer data)
{
  VmdManager *self = data;
  g_autoptr(GError) error = NULL;
  const VmdMethod *method = NULL;
  gpointer owner = NULL;
  PendingCall *call;

  for (guint t = 0; t < self->tables->len && method == NULL; t++)
    {
      const MethodTable *table = &g_array_index (self->tables, MethodTable, t);
      for (guint i = 0; i < table->n_methods; i++)
        if (g_str_equal (table->methods[i].name, name))
          {
            method = &table->methods[i];
            owner = table->owner;
          }
    }
  if (method == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_METHOD,
                                             "no method %s", name);
      return;
    }
  if (method->check && !method->check (params, &error))
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  if (method->action == NULL)
    {
      method->handler (owner, params, invocation);
      return;
    }
  call = g_new0 (PendingCall, 1);
  call->self = g_object_ref (self);
  call->method = method;
  call->owner = owner;
  call->invocation = invocation;
  vmd_bouncer_check_async (self->bouncer, invocation, method->action, on_authorized, call);
}

static GVariant *
get_property (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
              const char *name, GError **error, gpointer data)
{
  VmdManager *self = data;

  if (g_str_equal (name, "Version"))
    return g_variant_new_string (VMDESK_VERSION);
  if (g_str_equal (name, "OnScreen"))
    return g_variant_new_string (vmd_state_get_on_screen (self->state));
  if (g_str_equal (name, "Connected"))
    return g_variant_new_boolean (vmd_libvirt_is_connected (self->libvirt));
  if (g_str_equal (name, "LibvirtUri"))
    return g_variant_new_string (vmd_libvirt_get_uri (self->libvirt));
  g_set_error (error, G_DBUS_ERROR, G_DBUS_ERROR_UNKNOWN_PROPERTY, "no property %s", name);
  return NULL;
}

static const GDBusInterfaceVTable vtable = { method_call, get_property, NULL, { 0 } };

/* --- libvirt -> D-Bus --- */

static void
on_vm_changed (VmdLibvirt *libvirt, const VmdVm *vm, VmdManager *self)
{
  vmd_manager_emit (self, "VMChanged", g_variant_new_tuple ((GVariant *[]) { vm_record (self, vm) }, 1));
}

static void
on_vm_state_changed (VmdLibvirt *libvirt, const VmdVm *vm, VmdManager *self)
{
  vmd_manager_emit (self, "VMStateChanged",
        g_variant_new ("(sss)", vm->name, vmd_domain_state_to_string (vm->state),
                       vmd_state_reason_to_string (vm->state, vm->reason)));
  if (!can_be_on_screen (vm) && g_str_equal (vm->name, vmd_state_get_on_screen (self->state)))
    set_on_screen (self, "");
}

static void
on_vm_removed (VmdLibvirt *libvirt, const char *name, VmdManager *self)
{
  vmd_manager_emit (self, "VMRemoved", g_variant_new ("(s)", name));
  if (g_str_equal (name, vmd_state_get_on_screen (self->state)))
    set_on_screen (self, "");
}

static void
on_connected (VmdLibvirt *libvirt, GParamSpec *pspec, VmdManager *self)
{
  emit_property_changed (self, "Connected", g_variant_new_boolean (vmd_libvirt_is_connected (libvirt)));
}

static void
on_first_sync (VmdLibvirt *libvirt, VmdManager *self)
{
  const char *name = vmd_state_get_on_screen (self->state);
  const VmdVm *vm = vmd_libvirt_lookup (libvirt, name);

  /* A remembered on-screen VM that stopped while the daemon was away is no longer on screen. */
  if (*name && vmd_libvirt_is_connected (libvirt) && (vm == NULL || !can_be_on_screen (vm)))
    set_on_screen (self, "");
}

gboolean
vmd_manager_export (VmdManager *self, GDBusConnection *bus, GError **error)
{
  g_autoptr(GBytes) xml = NULL;

  /* Registered by hand: a static library would drop a constructor-registered resource. */
  vmd_daemon_register_resource ();
  xml = g_resources_lookup_data ("/org/vmdesk/daemon/org.vmdesk.Manager1.xml",
                                 G_RESOURCE_LOOKUP_FLAGS_NONE, error);
  if (xml == NULL)
    return FALSE;
  self->introspection = g_dbus_node_info_new_for_xml (g_bytes_get_data (xml, NULL), error);
  if (self->introspection == NULL)
    return FALSE;
  self->registration_id = g_dbus_connection_register_object (
    bus, VMD_DBUS_PATH, g_dbus_node_info_lookup_interface (self->introspection, VMD_DBUS_INTERFACE),
    &vtable, self, NULL, error);
  if (self->registration_id == 0)
    return FALSE;
  self->bus = g_object_ref (bus);
  return TRUE;
}

void
vmd_manager_unexport (VmdManager *self)
{
  if (self->bus && self->registration_id)
    g_dbus_connection_unregister_object (self->bus, self->registration_id);
  self->registration_id = 0;
  g_clear_object (&self->bus);
}

static void
vmd_manager_dispose (GObject *object)
{
  VmdManager *self = VMD_MANAGER (object);

  vmd_manager_unexport (self);
  if (self->libvirt)
    g_signal_handlers_disconnect_by_data (self->libvirt, self);
  g_clear_object (&self->libvirt);
  g_clear_object (&self->bouncer);
  g_clear_pointer (&self->introspection, g_dbus_node_info_unref);
  g_clear_pointer (&self->state, vmd_state_free);
  G_OBJECT_CLASS (vmd_manager_parent_class)->dispose (object);
}

static void
vmd_manager_finalize (GObject *object)
{
  g_array_unref (VMD_MANAGER (object)->tables);
  G_OBJECT_CLASS (vmd_manager_parent_class)->finalize (object);
}

static void
vmd_manager_class_init (VmdManagerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_manager_dispose;
  G_OBJECT_CLASS (klass)->finalize = vmd_manager_finalize;
  signals[SIGNAL_FOCUS_CHANGED] = g_signal_new ("focus-changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                                0, NULL, NULL, NULL, G_TYPE_NONE, 2, G_TYPE_STRING, G_TYPE_STRING);
}

static void
vmd_manager_init (VmdManager *self)
{
  self->tables = g_array_new (FALSE, FALSE, sizeof (MethodTable));
  vmd_manager_add_methods (self, methods, G_N_ELEMENTS (methods), self);
}

void
vmd_manager_add_methods (VmdManager *self, const VmdMethod *table, guint n_methods, gpointer owner)
{
  MethodTable t = { table, n_methods, owner };

  g_array_append_val (self->tables, t);
}

void
vmd_manager_set_start_hook (VmdManager *self, const VmdStartHook *hook, gpointer data)
{
  self->start_hook = hook;
  self->start_hook_data = data;
}

const char *
vmd_manager_get_on_screen (VmdManager *self)
{
  return vmd_state_get_on_screen (self->state);
}

VmdManager *
vmd_manager_new (VmdLibvirt *libvirt, VmdBouncer *bouncer, VmdState *state)
{
  VmdManager *self = g_object_new (VMD_TYPE_MANAGER, NULL);

  self->libvirt = g_object_ref (libvirt);
  self->bouncer = g_object_ref (bouncer);
  self->state = state;
  g_signal_connect (libvirt, "vm-changed", G_CALLBACK (on_vm_changed), self);
  g_signal_connect (libvirt, "vm-state-changed", G_CALLBACK (on_vm_state_changed), self);
  g_signal_connect (libvirt, "vm-removed", G_CALLBACK (on_vm_removed), self);
  g_signal_connect (libvirt, "notify::connected", G_CALLBACK (on_connected), self);
  g_signal_connect (libvirt, "first-sync", G_CALLBACK (on_first_sync), self);
  return self;
}
