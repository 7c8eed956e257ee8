/* vmd-upower-monitor.c: the laptop's batteries and AC as UPower sees them, kept current
 * from PropertiesChanged and DeviceAdded/-Removed, re-read whole whenever UPower
 * (re)appears on the bus. Consumers hear only about changes worth a guest update. */
#include "vmd-power-private.h"

#include <math.h>

#define UPOWER_NAME       "org.freedesktop.UPower"
#define UPOWER_PATH       "/org/freedesktop/UPower"
#define UPOWER_IFACE      "org.freedesktop.UPower"
#define DEVICE_IFACE      "org.freedesktop.UPower.Device"
#define DISPLAY_PATH      "/org/freedesktop/UPower/devices/DisplayDevice"
#define PROPERTIES_IFACE  "org.freedesktop.DBus.Properties"
#define UP_KIND_BATTERY   2
/* UPower lists every mouse and phone too; a laptop has a handful of power supplies. */
#define DEVICES_MAX       64

typedef struct {
  guint32    kind;
  gboolean   power_supply;
  gboolean   present;
  guint32    warning_level;
  char      *native_path;
  VmdBattery battery;
} Device;

struct _VmdUpowerMonitor {
  GObject          parent;
  VmdBusPeer       upower;
  guint            reads;         /* outstanding reads of a full re-read */
  gboolean         available;
  gboolean         on_battery;
  Device           display;
  GHashTable      *devices;       /* object path -> Device */
  VmdPowerState    state;
  VmdPowerState    announced;
  gboolean         announced_once;
  double           critical_percent;
  gboolean         critical;
};

G_DEFINE_TYPE (VmdUpowerMonitor, vmd_upower_monitor, G_TYPE_OBJECT)

enum { SIGNAL_CHANGED, SIGNAL_CRITICAL, N_SIGNALS };
static guint signals[N_SIGNALS];
enum { PROP_0, PROP_AVAILABLE, N_PROPS };
static GParamSpec *props[N_PROPS];

static void read_device (VmdUpowerMonitor *self, const char *path);

static void
device_free (Device *d)
{
  g_free (d->native_path);
  g_free (d);
}

static Device *
device_new (void)
{
  Device *d = g_new0 (Device, 1);
  d->present = TRUE;   /* UPower leaves IsPresent out for some kinds */
  return d;
}

static double
finite_or_zero (double value)
{
  return isfinite (value) ? value : 0.0;
}

/* Every value is type-checked: a property of an unexpected type is ignored. */
static void
device_apply (Device *d, GVariant *dict)
{
  VmdBattery *b = &d->battery;
  GVariantIter iter;
  const char *name;
  GVariant *value;

  g_variant_iter_init (&iter, dict);
  while (g_variant_iter_next (&iter, "{&sv}", &name, &value))
    {
      const GVariantType *t = g_variant_get_type (value);
      gboolean is_u = g_variant_type_equal (t, G_VARIANT_TYPE_UINT32);
      gboolean is_d = g_variant_type_equal (t, G_VARIANT_TYPE_DOUBLE);
      gboolean is_x = g_variant_type_equal (t, G_VARIANT_TYPE_INT64);
      gboolean is_b = g_variant_type_equal (t, G_VARIANT_TYPE_BOOLEAN);

      if (is_u && strcmp (name, "Type") == 0)
        d->kind = g_variant_get_uint32 (value);
      else if (is_b && strcmp (name, "PowerSupply") == 0)
        d->power_supply = g_variant_get_boolean (value);
      else if (is_b && strcmp (name, "IsPresent") == 0)
        d->present = g_variant_get_boolean (value);
      else if (is_u && strcmp (name, "WarningLevel") == 0)
        d->warning_level = g_variant_get_uint32 (value);
      else if (is_u && strcmp (name, "State") == 0)
        {
          guint32 state = g_variant_get_uint32 (value);
          b->state = state <= VMD_BATTERY_PENDING_DISCHARGE ? (VmdBatteryState) state
                                                            : VMD_BATTERY_UNKNOWN;
        }
      else if (is_d && strcmp (name, "Percentage") == 0)
        b->percent = CLAMP (finite_or_zero (g_variant_get_double (value)), 0.0, 100.0);
      else if (is_d && strcmp (name, "Energy") == 0)
        b->energy_wh = finite_or_zero (g_variant_get_double (value));
      else if (is_d && strcmp (name, "EnergyFull") == 0)
        b->energy_full_wh = finite_or_zero (g_variant_get_double (value));
      else if (is_d && strcmp (name, "EnergyRate") == 0)
        b->energy_rate_w = finite_or_zero (g_variant_get_double (value));
      else if (is_x && strcmp (name, "TimeToEmpty") == 0)
        b->time_to_empty_s = MAX (g_variant_get_int64 (value), 0);
      else if (is_x && strcmp (name, "TimeToFull") == 0)
        b->time_to_full_s = MAX (g_variant_get_int64 (value), 0);
      else if (g_variant_type_equal (t, G_VARIANT_TYPE_STRING) && strcmp (name, "NativePath") == 0)
        {
          g_free (d->native_path);
          d->native_path = g_variant_dup_string (value, NULL);
        }
      g_variant_unref (value);
    }
}

/* "BAT0" from NativePath, else the object path's last element, made to fit the
 * protocol's [A-Za-z0-9_-]{1,32}. */
static void
device_name (const Device *d, const char *path, char out[VMD_BATTERY_NAME_MAX + 1])
{
  const char *src = d->native_path != NULL && *d->native_path ? d->native_path : NULL;
  gsize n = 0;

  if (src == NULL)
    src = strrchr (path, '/') != NULL ? strrchr (path, '/') + 1 : path;
  else if (strrchr (src, '/') != NULL)
    src = strrchr (src, '/') + 1;
  for (; *src && n < VMD_BATTERY_NAME_MAX; src++)
    out[n++] = g_ascii_isalnum (*src) || *src == '-' ? *src : '_';
  out[n] = '\0';
  if (n == 0)
    g_strlcpy (out, "BAT", VMD_BATTERY_NAME_MAX + 1);
}

static int
compare_battery (const void *a, const void *b)
{
  return strcmp (((const VmdBattery *) a)->name, ((const VmdBattery *) b)->name);
}

static void
build_state (VmdUpowerMonitor *self, VmdPowerState *s)
{
  GHashTableIter iter;
  gpointer key, value;
  VmdBattery found[DEVICES_MAX];
  guint n = 0;

  memset (s, 0, sizeof *s);
  s->ac_online = !self->on_battery;
  s->warning_level = self->display.warning_level <= VMD_WARNING_ACTION
                       ? (VmdWarningLevel) self->display.warning_level : VMD_WARNING_UNKNOWN;
  s->display_present = self->display.kind == UP_KIND_BATTERY && self->display.present;
  if (s->display_present)
    {
      s->display = self->display.battery;
      g_strlcpy (s->display.name, "display", sizeof s->display.name);
    }

  g_hash_table_iter_init (&iter, self->devices);
  while (g_hash_table_iter_next (&iter, &key, &value) && n < DEVICES_MAX)
    {
      Device *d = value;
      if (d->kind != UP_KIND_BATTERY || !d->power_supply || !d->present)
        continue;
      found[n] = d->battery;
      device_name (d, key, found[n].name);
      n++;
    }
  qsort (found, n, sizeof found[0], compare_battery);
  s->n_batteries = MIN (n, VMD_POWER_MAX_BATTERIES);
  memcpy (s->batteries, found, s->n_batteries * sizeof found[0]);
  /* No battery device, but a composite one: guests get that as their battery. */
  if (s->n_batteries == 0 && s->display_present)
    {
      s->batteries[0] = s->display;
      g_strlcpy (s->batteries[0].name, "BAT0", sizeof s->batteries[0].name);
      s->n_batteries = 1;
    }
}

static gboolean
compute_critical (VmdUpowerMonitor *self)
{
  const VmdPowerState *s = &self->state;

  if (s->ac_online)
    return FALSE;
  if (s->warning_level == VMD_WARNING_ACTION)
    return TRUE;
  return self->critical_percent > 0 && s->display_present
         && s->display.percent <= self->critical_percent;
}

/* After every change, unless a full re-read is still under way. */
static void
update (VmdUpowerMonitor *self)
{
  gboolean critical;

  if (self->reads > 0)
    return;
  build_state (self, &self->state);
  if (!self->announced_once || vmd_power_state_differs (&self->announced, &self->state))
    {
      self->announced = self->state;
      self->announced_once = TRUE;
      g_signal_emit (self, signals[SIGNAL_CHANGED], 0);
    }
  critical = compute_critical (self);
  if (critical != self->critical)
    {
      self->critical = critical;
      if (critical)
        g_signal_emit (self, signals[SIGNAL_CRITICAL], 0);
    }
}

static void
set_available (VmdUpowerMonitor *self, gboolean available)
{
  if (self->available == available)
    return;
  self->available = available;
  g_object_notify_by_pspec (G_OBJECT (self), props[PROP_AVAILABLE]);
}

static void
apply_main (VmdUpowerMonitor *self, GVariant *dict)
{
  gboolean on_battery;

  if (g_variant_lookup (dict, "OnBattery", "b", &on_battery))
    self->on_battery = on_battery;
}

/* The record for `path`, NULL for objects this monitor does not track. */
static Device *
lookup_device (VmdUpowerMonitor *self, const char *path)
{
  if (strcmp (path, DISPLAY_PATH) == 0)
    return &self->display;
  return g_hash_table_lookup (self->devices, path);
}

/* ---- reading ---- */

typedef struct {
  VmdUpowerMonitor *self;   /* not a reference: the call is cancelled before self goes */
  char             *path;
} Read;

static void
read_free (Read *r)
{
  g_free (r->path);
  g_free (r);
}

static void
read_done (VmdUpowerMonitor *self)
{
  if (self->reads > 0 && --self->reads == 0)
    {
      set_available (self, TRUE);
      update (self);
    }
}

static void
on_get_all (GObject *source, GAsyncResult *res, gpointer data)
{
  Read *r = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  g_autoptr(GVariant) dict = NULL;
  VmdUpowerMonitor *self = r->self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    {
      read_free (r);
      return;
    }
  if (reply == NULL)
    g_debug ("UPower: reading %s: %s", r->path, error->message);
  else
    {
      dict = g_variant_get_child_value (reply, 0);
      if (strcmp (r->path, UPOWER_PATH) == 0)
        apply_main (self, dict);
      else
        {
          Device *d = lookup_device (self, r->path);
          if (d == NULL && g_hash_table_size (self->devices) < DEVICES_MAX)
            {
              d = device_new ();
              g_hash_table_insert (self->devices, g_strdup (r->path), d);
            }
          if (d != NULL)
            device_apply (d, dict);
        }
    }
  read_free (r);
  if (self->reads > 0)
    read_done (self);
  else
    update (self);
}

static void
get_all (VmdUpowerMonitor *self, const char *path, const char *iface)
{
  Read *r = g_new0 (Read, 1);

  r->self = self;
  r->path = g_strdup (path);
  vmd_bus_peer_call (&self->upower, path, PROPERTIES_IFACE, "GetAll",
                     g_variant_new ("(s)", iface), G_VARIANT_TYPE ("(a{sv})"), on_get_all, r);
}

static void
read_device (VmdUpowerMonitor *self, const char *path)
{
  if (self->reads > 0)
    self->reads++;
  get_all (self, path, DEVICE_IFACE);
}

static void
on_enumerated (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  VmdUpowerMonitor *self = data;
  g_autoptr(GVariantIter) iter = NULL;
  const char *path;
  guint n = 0;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    g_warning ("UPower: EnumerateDevices failed: %s", error->message);
  else
    {
      g_variant_get (reply, "(ao)", &iter);
      while (g_variant_iter_next (iter, "&o", &path) && n++ < DEVICES_MAX)
        read_device (self, path);
    }
  read_done (self);
}

/* Everything, from scratch: the first time and after every UPower restart. The
 * "changed" check waits until the last reply, so a re-read announces at most once. */
static void
read_everything (VmdUpowerMonitor *self)
{
  g_hash_table_remove_all (self->devices);
  g_clear_pointer (&self->display.native_path, g_free);
  memset (&self->display, 0, sizeof self->display);
  self->display.present = TRUE;
  self->on_battery = FALSE;
  self->reads = 3;
  get_all (self, UPOWER_PATH, UPOWER_IFACE);
  get_all (self, DISPLAY_PATH, DEVICE_IFACE);
  vmd_bus_peer_call (&self->upower, UPOWER_PATH, UPOWER_IFACE, "EnumerateDevices", NULL,
                     G_VARIANT_TYPE ("(ao)"), on_enumerated, self);
}

/* ---- signals and the name owner ---- */

static void
on_properties_changed (GDBusConnection *bus, const char *sender, const char *path,
                       const char *iface, const char *signal, GVariant *params, gpointer data)
{
  VmdUpowerMonitor *self = data;
  const char *changed_iface;
  g_autoptr(GVariant) changed = NULL;
  g_autoptr(GVariantIter) invalidated = NULL;
  Device *d;

  if (self->upower.owner == NULL
      || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  g_variant_get (params, "(&s@a{sv}as)", &changed_iface, &changed, &invalidated);
  if (strcmp (path, UPOWER_PATH) == 0 && strcmp (changed_iface, UPOWER_IFACE) == 0)
    apply_main (self, changed);
  else if (strcmp (changed_iface, DEVICE_IFACE) == 0 && (d = lookup_device (self, path)) != NULL)
    {
      device_apply (d, changed);
      if (g_variant_iter_n_children (invalidated) > 0)
        read_device (self, path);
    }
  else
    return;
  update (self);
}

static void
on_device_signal (GDBusConnection *bus, const char *sender, const char *path,
                  const char *iface, const char *signal, GVariant *params, gpointer data)
{
  VmdUpowerMonitor *self = data;
  const char *device;

  if (self->upower.owner == NULL || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(o)")))
    return;
  g_variant_get (params, "(&o)", &device);
  if (strcmp (signal, "DeviceAdded") == 0)
    read_device (self, device);
  else if (g_hash_table_remove (self->devices, device))
    update (self);
}

static void
on_upower_appeared (gpointer data)
{
  read_everything (data);
}

static void
on_upower_vanished (gpointer data)
{
  VmdUpowerMonitor *self = data;

  /* The last state stays: guests keep what they had until UPower is back. */
  self->reads = 0;
  set_available (self, FALSE);
}

/* ---- public ---- */

gboolean
vmd_upower_monitor_is_available (VmdUpowerMonitor *self)
{
  g_return_val_if_fail (VMD_IS_UPOWER_MONITOR (self), FALSE);
  return self->available;
}

const VmdPowerState *
vmd_upower_monitor_get_state (VmdUpowerMonitor *self)
{
  g_return_val_if_fail (VMD_IS_UPOWER_MONITOR (self), NULL);
  return &self->state;
}

void
vmd_upower_monitor_set_critical_percent (VmdUpowerMonitor *self, double percent)
{
  g_return_if_fail (VMD_IS_UPOWER_MONITOR (self));

  self->critical_percent = CLAMP (finite_or_zero (percent), 0.0, 100.0);
  if (self->available)
    update (self);
}

gboolean
vmd_upower_monitor_is_critical (VmdUpowerMonitor *self)
{
  g_return_val_if_fail (VMD_IS_UPOWER_MONITOR (self), FALSE);
  return self->critical;
}

VmdUpowerMonitor *
vmd_upower_monitor_new (GDBusConnection *system_bus)
{
  VmdUpowerMonitor *self = g_object_new (VMD_TYPE_UPOWER_MONITOR, NULL);

  vmd_bus_peer_init (&self->upower, system_bus, UPOWER_NAME, on_upower_appeared,
                     on_upower_vanished, self);
  vmd_bus_peer_subscribe (&self->upower, PROPERTIES_IFACE, "PropertiesChanged", NULL,
                          on_properties_changed);
  vmd_bus_peer_subscribe (&self->upower, UPOWER_IFACE, "DeviceAdded", UPOWER_PATH,
                          on_device_signal);
  vmd_bus_peer_subscribe (&self->upower, UPOWER_IFACE, "DeviceRemoved", UPOWER_PATH,
                          on_device_signal);
  vmd_bus_peer_watch (&self->upower);
  return self;
}

static void
vmd_upower_monitor_dispose (GObject *object)
{
  VmdUpowerMonitor *self = VMD_UPOWER_MONITOR (object);

  vmd_bus_peer_clear (&self->upower);
  G_OBJECT_CLASS (vmd_upower_monitor_parent_class)->dispose (object);
}

static void
vmd_upower_monitor_finalize (GObject *object)
{
  VmdUpowerMonitor *self = VMD_UPOWER_MONITOR (object);

  g_hash_table_unref (self->devices);
  g_free (self->display.native_path);
  G_OBJECT_CLASS (vmd_upower_monitor_parent_class)->finalize (object);
}

static void
vmd_upower_monitor_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VmdUpowerMonitor *self = VMD_UPOWER_MONITOR (object);

  if (id == PROP_AVAILABLE)
    g_value_set_boolean (value, self->available);
  else
    G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
}

static void
vmd_upower_monitor_class_init (VmdUpowerMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);

  object_class->dispose = vmd_upower_monitor_dispose;
  object_class->finalize = vmd_upower_monitor_finalize;
  object_class->get_property = vmd_upower_monitor_get_property;
  props[PROP_AVAILABLE] = g_param_spec_boolean ("available", NULL, NULL, FALSE,
                                                G_PARAM_READABLE | G_PARAM_STATIC_STRINGS
                                                | G_PARAM_EXPLICIT_NOTIFY);
  g_object_class_install_properties (object_class, N_PROPS, props);
  signals[SIGNAL_CHANGED] = g_signal_new ("changed", G_TYPE_FROM_CLASS (klass),
                                          G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                          G_TYPE_NONE, 0);
  signals[SIGNAL_CRITICAL] = g_signal_new ("critical", G_TYPE_FROM_CLASS (klass),
                                           G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                           G_TYPE_NONE, 0);
}

static void
vmd_upower_monitor_init (VmdUpowerMonitor *self)
{
  self->devices = g_hash_table_new_full (g_str_hash, g_str_equal, g_free,
                                         (GDestroyNotify) device_free);
  self->display.present = TRUE;
}
