/* vmd-usb.c: wires the USB router to the daemon. The router knows nothing of libvirt's
 * inventory or of D-Bus: this file answers its questions about VMs from VmdLibvirt,
 * forwards VM and focus changes to it, and exports its requests and signals. */
#include "vmd-usb.h"

#include <string.h>

struct _VmdUsb {
  GObject           parent;
  VmdManager       *manager;
  VmdLibvirt       *libvirt;
  char             *rules_file;
  char             *rules_dir;
  VmdUsbLibvirtOps *ops;
  VmdUsbMemory     *memory;
  VmdUsbRouter     *router;
  VmdUsbWatcher    *watcher;
  GHashTable       *up;              /* names of the VMs the router was told are running */
  GStrv             policy_files;
  char             *policy_error;    /* the last reload's error, or NULL */
  guint             ask_timeout_ms;
};

G_DEFINE_TYPE (VmdUsb, vmd_usb, G_TYPE_OBJECT)

/* ---- what the router asks about VMs ---- */

static gboolean
vm_is_up (const VmdVm *vm)
{
  return vm != NULL && (vm->state == VIR_DOMAIN_RUNNING || vm->state == VIR_DOMAIN_PAUSED ||
                        vm->state == VIR_DOMAIN_BLOCKED);
}

static gboolean
view_is_running (const char *name, gpointer data)
{
  VmdUsb *self = data;

  return vmd_libvirt_is_connected (self->libvirt) && vm_is_up (vmd_libvirt_lookup (self->libvirt, name));
}

static gboolean
view_auto_assign (const char *name, gpointer data)
{
  VmdUsb *self = data;
  const VmdVm *vm = vmd_libvirt_lookup (self->libvirt, name);

  return vm != NULL && vm->settings->auto_assign_usb;
}

static const char *
view_on_screen (gpointer data)
{
  VmdUsb *self = data;
  const char *name = vmd_manager_get_on_screen (self->manager);

  return *name ? name : NULL;
}

static GStrv
view_running (gpointer data)
{
  VmdUsb *self = data;
  g_autoptr(GPtrArray) vms = vmd_libvirt_list_vms (self->libvirt);
  GPtrArray *names = g_ptr_array_new ();

  for (guint i = 0; i < vms->len; i++)
    if (vm_is_up (vms->pdata[i]))
      g_ptr_array_add (names, g_strdup (((const VmdVm *) vms->pdata[i])->name));
  g_ptr_array_add (names, NULL);
  return (GStrv) g_ptr_array_free (names, FALSE);
}

static const VmdUsbVmView view = { view_is_running, view_auto_assign, view_on_screen, view_running };

/* ---- VM and focus changes in ---- */

static void
on_vm_state_changed (VmdLibvirt *libvirt, const VmdVm *vm, VmdUsb *self)
{
  gboolean was_up = g_hash_table_contains (self->up, vm->name);

  if (vm_is_up (vm) && !was_up)
    {
      g_hash_table_add (self->up, g_strdup (vm->name));
      vmd_usb_router_vm_started (self->router, vm->name);
    }
  else if (!vm_is_up (vm) && was_up)
    {
      g_hash_table_remove (self->up, vm->name);
      vmd_usb_router_vm_stopped (self->router, vm->name);
    }
}

static void
on_vm_removed (VmdLibvirt *libvirt, const char *name, VmdUsb *self)
{
  if (g_hash_table_remove (self->up, name))
    vmd_usb_router_vm_stopped (self->router, name);
  vmd_usb_libvirt_ops_forget_vm (self->ops, name);
}

static void
on_focus_changed (VmdManager *manager, const char *previous, const char *current, VmdUsb *self)
{
  vmd_usb_router_focus_changed (self->router, *previous ? previous : NULL, *current ? current : NULL);
}

/* libvirt (re)connected or went away. On connect the inventory is already complete
 * (VmdLibvirt announces "connected" after listing), so the router can reconcile. */
static void
on_connected (VmdLibvirt *libvirt, GParamSpec *pspec, VmdUsb *self)
{
  g_auto(GStrv) running = NULL;

  vmd_usb_libvirt_ops_set_connection (self->ops, vmd_libvirt_get_connection (libvirt));
  if (!vmd_libvirt_is_connected (libvirt))
    {
      vmd_usb_router_connection_lost (self->router);
      return;
    }
  running = view_running (self);
  g_hash_table_remove_all (self->up);
  for (guint i = 0; running[i]; i++)
    g_hash_table_add (self->up, g_strdup (running[i]));
  vmd_usb_router_reconcile (self->router);
}

/* ---- router out ---- */

static void
on_device_changed (VmdUsbRouter *router, const VmdUsbDeviceInfo *info, VmdUsb *self)
{
  vmd_manager_emit (self->manager, "USBDeviceChanged", g_variant_new_tuple ((GVariant *[]) { vmd_usb_info_to_variant (info) }, 1));
}

static void
on_device_removed (VmdUsbRouter *router, const char *id, VmdUsb *self)
{
  g_autofree char *valid = g_utf8_make_valid (id, -1);

  vmd_manager_emit (self->manager, "USBDeviceRemoved", g_variant_new ("(s)", valid));
}

static void
on_ask (VmdUsbRouter *router, const VmdUsbDeviceInfo *info, VmdUsb *self)
{
  g_message ("USB %s: asking where it goes", info->id);
  vmd_manager_emit (self->manager, "USBAsk",
                    g_variant_new ("(@a{sv}^asu)", vmd_usb_info_to_variant (info),
                                   info->candidates, self->ask_timeout_ms));
}

static void
on_watcher_added (VmdUsbWatcher *watcher, const VmdUsbPresent *present, VmdUsb *self)
{
  vmd_usb_router_device_added (self->router, present);
}

static void
on_watcher_removed (VmdUsbWatcher *watcher, const char *syspath, VmdUsb *self)
{
  vmd_usb_router_device_removed (self->router, syspath);
}

/* ---- policy ---- */

static VmdPolicy *
load_policy (VmdUsb *self, GStrv *files, GError **error)
{
  return vmd_policy_new_from_files (self->rules_file, self->rules_dir, files, error);
}

gboolean
vmd_usb_reload_policy (VmdUsb *self, GError **error)
{
  g_auto(GStrv) files = NULL;
  g_autoptr(GError) local = NULL;
  g_autoptr(VmdPolicy) policy = load_policy (self, &files, &local);

  g_clear_pointer (&self->policy_error, g_free);
  if (policy == NULL)
    {
      self->policy_error = g_strdup (local->message);
      g_warning ("USB policy not reloaded, the old one stays: %s", local->message);
      vmd_manager_emit (self->manager, "PolicyReloaded",
                        g_variant_new ("(us)", vmd_policy_get_n_rules (vmd_usb_router_get_policy (self->router)),
                                       self->policy_error));
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  g_strfreev (self->policy_files);
  self->policy_files = g_steal_pointer (&files);
  g_message ("USB policy reloaded: %u rules from %u files", vmd_policy_get_n_rules (policy),
             g_strv_length (self->policy_files));
  vmd_usb_router_set_policy (self->router, policy);
  vmd_manager_emit (self->manager, "PolicyReloaded", g_variant_new ("(us)", vmd_policy_get_n_rules (policy), ""));
  return TRUE;
}

/* ---- D-Bus methods ---- */

static gboolean
check_id_arg (GVariant *params, GError **error)
{
  const char *id;

  g_variant_get_child (params, 0, "&s", &id);
  return vmd_usb_port_validate (id, error);
}

/* (s id, s vm, b remember); vm may be "" (keep on host) only when answering. */
static gboolean
check_id_vm_args (GVariant *params, GError **error)
{
  const char *id, *vm;

  g_variant_get_child (params, 0, "&s", &id);
  g_variant_get_child (params, 1, "&s", &vm);
  return vmd_usb_port_validate (id, error) && (*vm == '\0' || vmd_vm_name_validate (vm, error));
}

static void
return_router_result (GDBusMethodInvocation *invocation, gboolean ok, GError *error)
{
  if (ok)
    {
      g_dbus_method_invocation_return_value (invocation, NULL);
      return;
    }
  /* Map the router's errors onto org.vmdesk.Error.* so clients can tell them apart. */
  if (error->domain == VMD_USB_ROUTER_ERROR)
    {
      VmdError code = VMD_ERROR_FAILED;
      switch ((VmdUsbRouterError) error->code)
        {
        case VMD_USB_ROUTER_ERROR_UNKNOWN_DEVICE: code = VMD_ERROR_UNKNOWN_DEVICE; break;
        case VMD_USB_ROUTER_ERROR_DENIED:         code = VMD_ERROR_DENIED; break;
        case VMD_USB_ROUTER_ERROR_NOT_RUNNING:    code = VMD_ERROR_NOT_RUNNING; break;
        case VMD_USB_ROUTER_ERROR_NOT_ASKING:     code = VMD_ERROR_CONFLICT; break;
        case VMD_USB_ROUTER_ERROR_AMBIGUOUS:      code = VMD_ERROR_AMBIGUOUS; break;
        }
      g_dbus_method_invocation_return_error_literal (invocation, VMD_ERROR, code, error->message);
    }
  else if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT))
    g_dbus_method_invocation_return_error_literal (invocation, VMD_ERROR, VMD_ERROR_INVALID_ARGS, error->message);
  else
    g_dbus_method_invocation_return_error_literal (invocation, VMD_ERROR, VMD_ERROR_FAILED, error->message);
}

static void
handle_list (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdUsb *self = owner;
  g_autoptr(GPtrArray) infos = vmd_usb_router_list (self->router);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < infos->len; i++)
    g_variant_builder_add_value (&b, vmd_usb_info_to_variant (infos->pdata[i]));
  g_dbus_method_invocation_return_value (invocation, g_variant_new ("(aa{sv})", &b));
}

static void
handle_attach (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdUsb *self = owner;
  g_autoptr(GError) error = NULL;
  const char *id, *vm;
  gboolean remember, ok;

  g_variant_get (params, "(&s&sb)", &id, &vm, &remember);
  if (*vm == '\0')
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_INVALID_ARGS,
                                             "name a VM (DetachUSBDevice keeps a device on the host)");
      return;
    }
  if (vmd_libvirt_lookup (self->libvirt, vm) == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_UNKNOWN_VM, "no VM named '%s'", vm);
      return;
    }
  ok = vmd_usb_router_attach (self->router, id, vm, remember, &error);
  return_router_result (invocation, ok, error);
}

static void
handle_detach (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdUsb *self = owner;
  g_autoptr(GError) error = NULL;
  const char *id;
  gboolean ok;

  g_variant_get (params, "(&s)", &id);
  ok = vmd_usb_router_detach (self->router, id, &error);
  return_router_result (invocation, ok, error);
}

static void
handle_forget (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdUsb *self = owner;
  g_autoptr(GError) error = NULL;
  const char *id;
  gboolean ok;

  g_variant_get (params, "(&s)", &id);
  ok = vmd_usb_router_forget (self->router, id, &error);
  return_router_result (invocation, ok, error);
}

static void
handle_answer (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdUsb *self = owner;
  g_autoptr(GError) error = NULL;
  const char *id, *vm;
  gboolean remember, ok;

  g_variant_get (params, "(&s&sb)", &id, &vm, &remember);
  ok = vmd_usb_router_answer (self->router, id, vm, remember, &error);
  return_router_result (invocation, ok, error);
}

static GVariant *
files_variant (VmdUsb *self)
{
  return g_variant_new_strv ((const char *const *) self->policy_files, -1);
}

static void
handle_get_policy (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdUsb *self = owner;
  g_autofree char *text = vmd_policy_to_text (vmd_usb_router_get_policy (self->router));
  g_autofree char *valid = g_utf8_make_valid (text, -1);

  g_dbus_method_invocation_return_value (invocation,
                                         g_variant_new ("(s@ass)", valid, files_variant (self),
                                                        self->policy_error ? self->policy_error : ""));
}

static void
handle_reload_policy (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdUsb *self = owner;
  g_autoptr(GError) error = NULL;

  if (!vmd_usb_reload_policy (self, &error))
    {
      g_dbus_method_invocation_return_error_literal (invocation, VMD_ERROR, VMD_ERROR_INVALID_POLICY,
                                                     error->message);
      return;
    }
  g_dbus_method_invocation_return_value (
    invocation, g_variant_new ("(u@as)", vmd_policy_get_n_rules (vmd_usb_router_get_policy (self->router)),
                               files_variant (self)));
}

static const VmdMethod methods[] = {
  { "ListUSBDevices",  NULL,                        NULL,             handle_list },
  { "AttachUSBDevice", "org.vmdesk.usb",            check_id_vm_args, handle_attach },
  { "DetachUSBDevice", "org.vmdesk.usb",            check_id_arg,     handle_detach },
  { "ForgetUSBDevice", "org.vmdesk.usb",            check_id_arg,     handle_forget },
  { "AnswerUSBAsk",    "org.vmdesk.usb",            check_id_vm_args, handle_answer },
  { "GetPolicy",       NULL,                        NULL,             handle_get_policy },
  { "ReloadPolicy",    "org.vmdesk.policy-reload",  NULL,             handle_reload_policy },
};

/* ---- object ---- */

VmdUsb *
vmd_usb_new (VmdManager *manager, VmdLibvirt *libvirt, const char *config_dir, const char *state_dir,
             guint ask_timeout_ms, GError **error)
{
  g_autoptr(VmdUsb) self = g_object_new (VMD_TYPE_USB, NULL);
  g_autoptr(VmdPolicy) policy = NULL;

  self->manager = g_object_ref (manager);
  self->libvirt = g_object_ref (libvirt);
  self->rules_file = g_build_filename (config_dir, "usb.rules", NULL);
  self->rules_dir = g_build_filename (config_dir, "usb.rules.d", NULL);
  self->ask_timeout_ms = ask_timeout_ms;
  if ((policy = load_policy (self, &self->policy_files, error)) == NULL)
    return NULL;
  if ((self->memory = vmd_usb_memory_new (state_dir, error)) == NULL)
    return NULL;
  self->ops = vmd_usb_libvirt_ops_new ();
  self->router = vmd_usb_router_new (policy, self->memory, vmd_usb_libvirt_ops_vtable (), self->ops, &view, self);
  vmd_usb_router_set_ask_timeout (self->router, ask_timeout_ms);
  self->watcher = vmd_usb_watcher_new ();

  g_signal_connect (self->router, "device-changed", G_CALLBACK (on_device_changed), self);
  g_signal_connect (self->router, "device-removed", G_CALLBACK (on_device_removed), self);
  g_signal_connect (self->router, "ask", G_CALLBACK (on_ask), self);
  g_signal_connect (self->watcher, "added", G_CALLBACK (on_watcher_added), self);
  g_signal_connect (self->watcher, "removed", G_CALLBACK (on_watcher_removed), self);
  g_signal_connect (libvirt, "vm-state-changed", G_CALLBACK (on_vm_state_changed), self);
  g_signal_connect (libvirt, "vm-removed", G_CALLBACK (on_vm_removed), self);
  g_signal_connect (libvirt, "notify::connected", G_CALLBACK (on_connected), self);
  g_signal_connect (manager, "focus-changed", G_CALLBACK (on_focus_changed), self);
  vmd_manager_add_methods (manager, methods, G_N_ELEMENTS (methods), self);
  g_message ("USB policy: %u rules from %u files", vmd_policy_get_n_rules (policy),
             g_strv_length (self->policy_files));
  return g_steal_pointer (&self);
}

void
vmd_usb_start (VmdUsb *self)
{
  vmd_usb_watcher_start (self->watcher);
  if (vmd_libvirt_is_connected (self->libvirt))
    on_connected (self->libvirt, NULL, self);
}

static void
vmd_usb_init (VmdUsb *self)
{
  self->up = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

static void
vmd_usb_dispose (GObject *object)
{
  VmdUsb *self = VMD_USB (object);

  if (self->libvirt)
    g_signal_handlers_disconnect_by_data (self->libvirt, self);
  if (self->manager)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->watcher);
  g_clear_object (&self->router);
  g_clear_object (&self->memory);
  g_clear_pointer (&self->ops, vmd_usb_libvirt_ops_free);
  g_clear_object (&self->libvirt);
  g_clear_object (&self->manager);
  G_OBJECT_CLASS (vmd_usb_parent_class)->dispose (object);
}

static void
vmd_usb_finalize (GObject *object)
{
  VmdUsb *self = VMD_USB (object);

  g_hash_table_unref (self->up);
  g_strfreev (self->policy_files);
  g_free (self->policy_error);
  g_free (self->rules_file);
  g_free (self->rules_dir);
  G_OBJECT_CLASS (vmd_usb_parent_class)->finalize (object);
}

static void
vmd_usb_class_init (VmdUsbClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_usb_dispose;
  G_OBJECT_CLASS (klass)->finalize = vmd_usb_finalize;
}
