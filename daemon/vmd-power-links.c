/* vmd-power-links.c: the guests' power links. A VM gets one while it runs (running,
 * paused or in S3: its QEMU and the channel are there) and its settings say
 * power-channel = yes. A link that closes (the VM stopped, the guest misbehaved, the
 * stream broke) is opened again after a backoff, or at once on the VM's next lifecycle
 * event; a VM whose definition has no channel is not retried until it boots again. */
#include "vmd-power-links.h"

#include "vmd-power-channel.h"

#include <libvirt/libvirt.h>

typedef struct {
  VmdPowerLinks   *owner;         /* not a reference: the owner frees its guests */
  char            *name;
  VmdGuestLink    *link;
  VmdPowerChannel *channel;       /* the pump behind the link */
  GCancellable    *opening;       /* an open under way */
  guint            retry_id;
  guint            backoff_ms;
  gboolean         absent;        /* this boot's definition has no power channel */
  char            *problem;       /* why there is no ready link, for GetPower */
} Guest;

struct _VmdPowerLinks {
  GObject        parent;
  VmdLibvirt    *libvirt;
  GHashTable    *guests;          /* name -> Guest */
  VmdPowerState  power;
  gboolean       have_power;
  gboolean       lid_closed;
  gboolean       docked;
  char          *on_screen;
};

G_DEFINE_TYPE (VmdPowerLinks, vmd_power_links, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, N_SIGNALS };
static guint signals[N_SIGNALS];

static void open_link (Guest *g);

static void
guest_log (Guest *g, GLogLevelFlags level, const char *format, ...) G_GNUC_PRINTF (3, 4);

static void
guest_log (Guest *g, GLogLevelFlags level, const char *format, ...)
{
  g_autofree char *text = NULL;
  va_list args;

  va_start (args, format);
  text = g_strdup_vprintf (format, args);
  va_end (args);
  g_log_structured (G_LOG_DOMAIN, level, "VMDESK_VM", g->name, "MESSAGE", "%s", text);
}

static void
set_problem (Guest *g, const char *problem)
{
  g_free (g->problem);
  g->problem = g_strdup (problem);
}

/* Drops the link and its pump, an open under way and a pending retry. */
static void
disconnect_guest (Guest *g)
{
  if (g->opening)
    {
      g_cancellable_cancel (g->opening);
      g_clear_object (&g->opening);
    }
  g_clear_handle_id (&g->retry_id, g_source_remove);
  if (g->link)
    {
      g_signal_handlers_disconnect_by_data (g->link, g);
      g_clear_object (&g->link);
    }
  g_clear_pointer (&g->channel, vmd_power_channel_free);
}

static void
guest_free (Guest *g)
{
  disconnect_guest (g);
  g_free (g->name);
  g_free (g->problem);
  g_free (g);
}

static gboolean
vm_is_up (const VmdVm *vm)
{
  return vm->state == VIR_DOMAIN_RUNNING || vm->state == VIR_DOMAIN_BLOCKED
      || vm->state == VIR_DOMAIN_PAUSED || vm->state == VIR_DOMAIN_PMSUSPENDED;
}

static gboolean
lid_for (VmdPowerLinks *self, const VmdVm *vm)
{
  return vmd_lid_guest_sees_closed (self->lid_closed, self->docked,
                                    g_strcmp0 (vm->name, self->on_screen) == 0,
                                    vm->settings->on_lid_close);
}

/* ---- reconnecting ---- */

static gboolean
on_retry (gpointer data)
{
  Guest *g = data;

  g->retry_id = 0;
  open_link (g);
  return G_SOURCE_REMOVE;
}

/* Timer: the only way to learn that a guest may talk again is to try (the VM's next
 * lifecycle event also retries at once); it runs only while a link is down. */
static void
schedule_retry (Guest *g)
{
  if (g->retry_id)
    return;
  g->retry_id = g_timeout_add (g->backoff_ms, on_retry, g);
  g->backoff_ms = MIN (g->backoff_ms * 2, VMD_POWER_LINK_BACKOFF_MAX_MS);
}

static void
on_link_closed (VmdGuestLink *link, const char *reason, Guest *g)
{
  g_autofree char *valid = g_utf8_make_valid (reason, -1);

  set_problem (g, valid);
  /* Unreferencing the link inside its "closed" handler is allowed (vmdesk-power.h). */
  g_signal_handlers_disconnect_by_data (link, g);
  g_clear_object (&g->link);
  g_clear_pointer (&g->channel, vmd_power_channel_free);
  schedule_retry (g);
  g_signal_emit (g->owner, signals[SIGNAL_CHANGED], 0, g->name);
}

static void
on_link_hello (VmdGuestLink *link, guint caps, Guest *g)
{
  guest_log (g, G_LOG_LEVEL_MESSAGE, "%s: power channel ready (guest agent caps 0x%x)", g->name, caps);
  g->backoff_ms = VMD_POWER_LINK_BACKOFF_FIRST_MS;
  set_problem (g, NULL);
  g_signal_emit (g->owner, signals[SIGNAL_CHANGED], 0, g->name);
}

static void
on_opened (GObject *source, GAsyncResult *result, gpointer data)
{
  g_autoptr(GError) error = NULL;
  int fd = -1;
  g_autoptr(VmdPowerChannel) channel = vmd_power_channel_open_finish (result, &fd, &error);
  Guest *g = data;   /* valid unless cancelled: a guest cancels its open before it goes */
  VmdPowerLinks *self;
  const VmdVm *vm;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  self = g->owner;
  g_clear_object (&g->opening);
  if (channel == NULL)
    {
      set_problem (g, error->message);
      if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_NOT_FOUND))
        {
          guest_log (g, G_LOG_LEVEL_MESSAGE, "%s", error->message);
          g->absent = TRUE;
        }
      else
        {
          guest_log (g, G_LOG_LEVEL_INFO, "%s; trying again in %u s", error->message,
                     g->backoff_ms / 1000);
          schedule_retry (g);
        }
      g_signal_emit (self, signals[SIGNAL_CHANGED], 0, g->name);
      return;
    }
  g->link = vmd_guest_link_new_for_fd (fd, g->name, &error);
  if (g->link == NULL)
    {
      set_problem (g, error->message);
      schedule_retry (g);
      return;
    }
  g->channel = g_steal_pointer (&channel);
  g_signal_connect (g->link, "closed", G_CALLBACK (on_link_closed), g);
  g_signal_connect (g->link, "hello", G_CALLBACK (on_link_hello), g);
  /* The state goes out as soon as the agent says hello. */
  if (self->have_power)
    vmd_guest_link_set_power (g->link, &self->power);
  if ((vm = vmd_libvirt_lookup (self->libvirt, g->name)) != NULL)
    vmd_guest_link_set_lid (g->link, lid_for (self, vm));
  set_problem (g, "waiting for the guest agent's hello");
  vmd_guest_link_start (g->link);
  g_signal_emit (self, signals[SIGNAL_CHANGED], 0, g->name);
}

static void
open_link (Guest *g)
{
  virConnectPtr conn = vmd_libvirt_get_connection (g->owner->libvirt);

  if (g->link || g->opening || g->absent || conn == NULL)
    return;
  g_clear_handle_id (&g->retry_id, g_source_remove);
  g->opening = g_cancellable_new ();
  vmd_power_channel_open_async (conn, g->name, VMD_GUEST_CHANNEL_NAME, g->opening, on_opened, g);
}

/* ---- following the VMs ---- */

static void
reconcile (VmdPowerLinks *self, const VmdVm *vm, gboolean lifecycle_event)
{
  Guest *g = g_hash_table_lookup (self->guests, vm->name);
  gboolean wanted = vm->settings->power_channel && vm_is_up (vm)
                    && vmd_libvirt_is_connected (self->libvirt);

  if (!wanted)
    {
      if (g != NULL && (g->link || g->opening || g->retry_id || g->absent))
        {
          disconnect_guest (g);
          g->absent = FALSE;
          g->backoff_ms = VMD_POWER_LINK_BACKOFF_FIRST_MS;
          set_problem (g, NULL);
          g_signal_emit (self, signals[SIGNAL_CHANGED], 0, vm->name);
        }
      if (g != NULL && !vm->settings->power_channel)
        g_hash_table_remove (self->guests, vm->name);
      return;
    }
  if (g == NULL)
    {
      g = g_new0 (Guest, 1);
      g->owner = self;
      g->name = g_strdup (vm->name);
      g->backoff_ms = VMD_POWER_LINK_BACKOFF_FIRST_MS;
      g_hash_table_insert (self->guests, g->name, g);
    }
  if (g->link)
    vmd_guest_link_set_lid (g->link, lid_for (self, vm));
  /* A lifecycle event is a better moment than the backoff's. */
  if (g->retry_id && lifecycle_event)
    g_clear_handle_id (&g->retry_id, g_source_remove);
  if (!g->retry_id)
    open_link (g);
}

static void
on_vm_changed (VmdLibvirt *libvirt, const VmdVm *vm, VmdPowerLinks *self)
{
  reconcile (self, vm, FALSE);
}

static void
on_vm_state_changed (VmdLibvirt *libvirt, const VmdVm *vm, VmdPowerLinks *self)
{
  reconcile (self, vm, TRUE);
}

static void
on_vm_removed (VmdLibvirt *libvirt, const char *name, VmdPowerLinks *self)
{
  if (g_hash_table_remove (self->guests, name))
    g_signal_emit (self, signals[SIGNAL_CHANGED], 0, name);
}

static void
reconcile_all (VmdPowerLinks *self)
{
  g_autoptr(GPtrArray) vms = vmd_libvirt_list_vms (self->libvirt);

  for (guint i = 0; i < vms->len; i++)
    reconcile (self, vms->pdata[i], FALSE);
}

/* Connected: every VM is listed by now. Lost: the streams went with the connection. */
static void
on_connected (VmdLibvirt *libvirt, GParamSpec *pspec, VmdPowerLinks *self)
{
  if (!vmd_libvirt_is_connected (libvirt))
    {
      GHashTableIter iter;
      gpointer value;

      g_hash_table_iter_init (&iter, self->guests);
      while (g_hash_table_iter_next (&iter, NULL, &value))
        {
          disconnect_guest (value);
          set_problem (value, "libvirt is not connected");
        }
      return;
    }
  reconcile_all (self);
}

void
vmd_power_links_start (VmdPowerLinks *self)
{
  reconcile_all (self);
}

/* ---- state out ---- */

void
vmd_power_links_set_power (VmdPowerLinks *self, const VmdPowerState *state)
{
  GHashTableIter iter;
  gpointer value;

  self->power = *state;
  self->have_power = TRUE;
  g_hash_table_iter_init (&iter, self->guests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    if (((Guest *) value)->link)
      vmd_guest_link_set_power (((Guest *) value)->link, state);
}

void
vmd_power_links_set_lid (VmdPowerLinks *self, gboolean lid_closed, gboolean docked,
                         const char *on_screen)
{
  GHashTableIter iter;
  gpointer value;

  self->lid_closed = lid_closed;
  self->docked = docked;
  g_free (self->on_screen);
  self->on_screen = g_strdup (on_screen);
  g_hash_table_iter_init (&iter, self->guests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      Guest *g = value;
      const VmdVm *vm = vmd_libvirt_lookup (self->libvirt, g->name);

      if (g->link && vm)
        vmd_guest_link_set_lid (g->link, lid_for (self, vm));
    }
}

void
vmd_power_links_send_sleep (VmdPowerLinks *self, VmdSleepPhase phase)
{
  GHashTableIter iter;
  gpointer value;

  g_hash_table_iter_init (&iter, self->guests);
  while (g_hash_table_iter_next (&iter, NULL, &value))
    {
      VmdGuestLink *link = ((Guest *) value)->link;

      if (link == NULL)
        continue;
      vmd_guest_link_send_sleep (link, phase);
      /* Every guest's clock may be off after the host slept, not only those vmdesk
       * quiesced (the wake sets theirs again once they run). */
      if (phase == VMD_SLEEP_PHASE_RESUME)
        vmd_guest_link_send_time (link);
    }
}

static VmdGuestLink *
ready_link (VmdPowerLinks *self, const char *vm)
{
  Guest *g = g_hash_table_lookup (self->guests, vm);

  return g && g->link && vmd_guest_link_is_ready (g->link) ? g->link : NULL;
}

gboolean
vmd_power_links_send_time (VmdPowerLinks *self, const char *vm)
{
  VmdGuestLink *link = ready_link (self, vm);

  if (link == NULL || !(vmd_guest_link_get_caps (link) & VMD_GUEST_CAP_TIME))
    return FALSE;
  vmd_guest_link_send_time (link);
  return TRUE;
}

gboolean
vmd_power_links_press (VmdPowerLinks *self, const char *vm, VmdButton button, GError **error)
{
  VmdGuestLink *link = ready_link (self, vm);
  Guest *g = g_hash_table_lookup (self->guests, vm);

  if (link == NULL)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_NOT_RUNNING, "%s has no ready power channel%s%s", vm,
                   g && g->problem ? ": " : "", g && g->problem ? g->problem : "");
      return FALSE;
    }
  if (!(vmd_guest_link_get_caps (link) & VMD_GUEST_CAP_BUTTON))
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "%s's guest agent cannot press buttons", vm);
      return FALSE;
    }
  vmd_guest_link_send_button (link, button);
  return TRUE;
}

static const char *
link_state (Guest *g)
{
  if (g->link)
    return vmd_guest_link_is_ready (g->link) ? "ready" : "connected";
  if (g->opening)
    return "connecting";
  if (g->absent)
    return "absent";
  if (g->retry_id)
    return "waiting";
  return "off";
}

GVariant *
vmd_power_links_to_variant (VmdPowerLinks *self)
{
  g_autoptr(GPtrArray) vms = vmd_libvirt_list_vms (self->libvirt);
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < vms->len; i++)
    {
      const VmdVm *vm = vms->pdata[i];
      Guest *g = g_hash_table_lookup (self->guests, vm->name);
      GVariantBuilder caps;
      VmdGuestCaps have = g && g->link && vmd_guest_link_is_ready (g->link)
                          ? vmd_guest_link_get_caps (g->link) : 0;
      static const char *const cap_names[] = { "power", "lid", "button", "sleep", "time" };

      if (!vm->settings->power_channel)
        continue;
      g_variant_builder_init (&caps, G_VARIANT_TYPE_STRING_ARRAY);
      for (guint c = 0; c < G_N_ELEMENTS (cap_names); c++)
        if (have & (1u << c))
          g_variant_builder_add (&caps, "s", cap_names[c]);
      g_variant_builder_open (&b, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (vm->name));
      g_variant_builder_add (&b, "{sv}", "link", g_variant_new_string (g ? link_state (g) : "off"));
      g_variant_builder_add (&b, "{sv}", "caps", g_variant_builder_end (&caps));
      g_variant_builder_add (&b, "{sv}", "lid-closed", g_variant_new_boolean (vm_is_up (vm) && lid_for (self, vm)));
      g_variant_builder_add (&b, "{sv}", "problem",
                             g_variant_new_string (g && g->problem ? g->problem : ""));
      g_variant_builder_close (&b);
    }
  return g_variant_builder_end (&b);
}

/* ---- object ---- */

VmdPowerLinks *
vmd_power_links_new (VmdLibvirt *libvirt)
{
  VmdPowerLinks *self = g_object_new (VMD_TYPE_POWER_LINKS, NULL);

  self->libvirt = g_object_ref (libvirt);
  g_signal_connect (libvirt, "vm-changed", G_CALLBACK (on_vm_changed), self);
  g_signal_connect (libvirt, "vm-state-changed", G_CALLBACK (on_vm_state_changed), self);
  g_signal_connect (libvirt, "vm-removed", G_CALLBACK (on_vm_removed), self);
  g_signal_connect (libvirt, "notify::connected", G_CALLBACK (on_connected), self);
  return self;
}

static void
vmd_power_links_dispose (GObject *object)
{
  VmdPowerLinks *self = VMD_POWER_LINKS (object);

  if (self->libvirt)
    g_signal_handlers_disconnect_by_data (self->libvirt, self);
  g_hash_table_remove_all (self->guests);
  g_clear_object (&self->libvirt);
  G_OBJECT_CLASS (vmd_power_links_parent_class)->dispose (object);
}

static void
vmd_power_links_finalize (GObject *object)
{
  VmdPowerLinks *self = VMD_POWER_LINKS (object);

  g_hash_table_unref (self->guests);
  g_free (self->on_screen);
  G_OBJECT_CLASS (vmd_power_links_parent_class)->finalize (object);
}

static void
vmd_power_links_class_init (VmdPowerLinksClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_power_links_dispose;
  G_OBJECT_CLASS (klass)->finalize = vmd_power_links_finalize;
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass), G_SIGNAL_RUN_LAST,
                                          0, NULL, NULL, NULL, G_TYPE_NONE, 1, G_TYPE_STRING);
}

static void
vmd_power_links_init (VmdPowerLinks *self)
{
  self->guests = g_hash_table_new_full (g_str_hash, g_str_equal, NULL, (GDestroyNotify) guest_free);
  self->on_screen = g_strdup ("");
}
