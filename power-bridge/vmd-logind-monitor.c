/* vmd-logind-monitor.c: what logind says about the lid, docking, sleep and shutdown,
 * re-read whole whenever logind (re)appears on the bus. */
#include "vmd-power-private.h"

#define LOGIND_NAME      "org.freedesktop.login1"
#define LOGIND_PATH      "/org/freedesktop/login1"
#define LOGIND_IFACE     "org.freedesktop.login1.Manager"
#define PROPERTIES_IFACE "org.freedesktop.DBus.Properties"

struct _VmdLogindMonitor {
  GObject          parent;
  VmdBusPeer       logind;
  gboolean         available;
  gboolean         lid_closed;
  gboolean         docked;
  gboolean         preparing_for_sleep;
  gboolean         preparing_for_shutdown;
  guint64          inhibit_delay_max;
};

G_DEFINE_TYPE (VmdLogindMonitor, vmd_logind_monitor, G_TYPE_OBJECT)

enum { SIGNAL_PREPARE_FOR_SLEEP, SIGNAL_PREPARE_FOR_SHUTDOWN, N_SIGNALS };
static guint signals[N_SIGNALS];
enum {
  PROP_0,
  PROP_AVAILABLE,
  PROP_LID_CLOSED,
  PROP_DOCKED,
  PROP_PREPARING_FOR_SLEEP,
  PROP_PREPARING_FOR_SHUTDOWN,
  PROP_INHIBIT_DELAY_MAX,
  N_PROPS
};
static GParamSpec *props[N_PROPS];

static void
set_bool (VmdLogindMonitor *self, gboolean *field, gboolean value, guint prop)
{
  value = !!value;
  if (*field == value)
    return;
  *field = value;
  g_object_notify_by_pspec (G_OBJECT (self), props[prop]);
}

/* Everything but LidClosed, which waits for Docked (see on_properties_changed). */
static void
apply (VmdLogindMonitor *self, GVariant *dict)
{
  gboolean b;
  guint64 t;

  if (g_variant_lookup (dict, "Docked", "b", &b))
    set_bool (self, &self->docked, b, PROP_DOCKED);
  if (g_variant_lookup (dict, "PreparingForSleep", "b", &b))
    set_bool (self, &self->preparing_for_sleep, b, PROP_PREPARING_FOR_SLEEP);
  if (g_variant_lookup (dict, "PreparingForShutdown", "b", &b))
    set_bool (self, &self->preparing_for_shutdown, b, PROP_PREPARING_FOR_SHUTDOWN);
  if (g_variant_lookup (dict, "InhibitDelayMaxUSec", "t", &t) && t != self->inhibit_delay_max)
    {
      self->inhibit_delay_max = t;
      g_object_notify_by_pspec (G_OBJECT (self), props[PROP_INHIBIT_DELAY_MAX]);
    }
}

static void
on_get_all (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  g_autoptr(GVariant) dict = NULL;
  VmdLogindMonitor *self = data;
  gboolean lid;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply == NULL)
    {
      g_warning ("logind: reading its properties failed: %s", error->message);
      return;
    }
  dict = g_variant_get_child_value (reply, 0);
  apply (self, dict);
  if (g_variant_lookup (dict, "LidClosed", "b", &lid))
    set_bool (self, &self->lid_closed, lid, PROP_LID_CLOSED);
  set_bool (self, &self->available, TRUE, PROP_AVAILABLE);
}

typedef struct {
  VmdLogindMonitor *self;   /* not a reference: the call is cancelled before self goes */
  gboolean          lid_closed;
} LidChange;

static void
on_docked (GObject *source, GAsyncResult *res, gpointer data)
{
  g_autofree LidChange *change = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GVariant) reply = g_dbus_connection_call_finish (G_DBUS_CONNECTION (source), res, &error);
  g_autoptr(GVariant) value = NULL;
  VmdLogindMonitor *self = change->self;

  if (g_error_matches (error, G_IO_ERROR, G_IO_ERROR_CANCELLED))
    return;
  if (reply != NULL)
    {
      g_variant_get (reply, "(v)", &value);
      if (g_variant_is_of_type (value, G_VARIANT_TYPE_BOOLEAN))
        set_bool (self, &self->docked, g_variant_get_boolean (value), PROP_DOCKED);
    }
  else
    g_debug ("logind: reading Docked failed: %s", error->message);
  set_bool (self, &self->lid_closed, change->lid_closed, PROP_LID_CLOSED);
}

static void
on_properties_changed (GDBusConnection *bus, const char *sender, const char *path,
                       const char *iface, const char *signal, GVariant *params, gpointer data)
{
  VmdLogindMonitor *self = data;
  const char *changed_iface;
  g_autoptr(GVariant) changed = NULL;
  gboolean lid;

  if (self->logind.owner == NULL
      || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(sa{sv}as)")))
    return;
  g_variant_get (params, "(&s@a{sv}^a&s)", &changed_iface, &changed, NULL);
  if (strcmp (changed_iface, LOGIND_IFACE) != 0)
    return;
  apply (self, changed);
  /* logind announces no change of Docked; it decides docking at lid events, so it is
   * read again here, before the lid change is passed on. */
  if (g_variant_lookup (changed, "LidClosed", "b", &lid))
    {
      LidChange *change = g_new0 (LidChange, 1);
      change->self = self;
      change->lid_closed = lid;
      vmd_bus_peer_call (&self->logind, LOGIND_PATH, PROPERTIES_IFACE, "Get",
                         g_variant_new ("(ss)", LOGIND_IFACE, "Docked"), G_VARIANT_TYPE ("(v)"),
                         on_docked, change);
    }
}

static void
on_prepare (GDBusConnection *bus, const char *sender, const char *path, const char *iface,
            const char *signal, GVariant *params, gpointer data)
{
  VmdLogindMonitor *self = data;
  gboolean start;

  if (self->logind.owner == NULL || !g_variant_is_of_type (params, G_VARIANT_TYPE ("(b)")))
    return;
  g_variant_get (params, "(b)", &start);
  if (strcmp (signal, "PrepareForSleep") == 0)
    {
      set_bool (self, &self->preparing_for_sleep, start, PROP_PREPARING_FOR_SLEEP);
      g_signal_emit (self, signals[SIGNAL_PREPARE_FOR_SLEEP], 0, start);
    }
  else
    {
      set_bool (self, &self->preparing_for_shutdown, start, PROP_PREPARING_FOR_SHUTDOWN);
      g_signal_emit (self, signals[SIGNAL_PREPARE_FOR_SHUTDOWN], 0, start);
    }
}

static void
on_logind_appeared (gpointer data)
{
  VmdLogindMonitor *self = data;

  vmd_bus_peer_call (&self->logind, LOGIND_PATH, PROPERTIES_IFACE, "GetAll",
                     g_variant_new ("(s)", LOGIND_IFACE), G_VARIANT_TYPE ("(a{sv})"),
                     on_get_all, self);
}

static void
on_logind_vanished (gpointer data)
{
  VmdLogindMonitor *self = data;

  set_bool (self, &self->available, FALSE, PROP_AVAILABLE);
}

VmdLogindMonitor *
vmd_logind_monitor_new (GDBusConnection *system_bus)
{
  VmdLogindMonitor *self = g_object_new (VMD_TYPE_LOGIND_MONITOR, NULL);

  vmd_bus_peer_init (&self->logind, system_bus, LOGIND_NAME, on_logind_appeared,
                     on_logind_vanished, self);
  vmd_bus_peer_subscribe (&self->logind, PROPERTIES_IFACE, "PropertiesChanged", LOGIND_PATH,
                          on_properties_changed);
  vmd_bus_peer_subscribe (&self->logind, LOGIND_IFACE, "PrepareForSleep", LOGIND_PATH,
                          on_prepare);
  vmd_bus_peer_subscribe (&self->logind, LOGIND_IFACE, "PrepareForShutdown", LOGIND_PATH,
                          on_prepare);
  vmd_bus_peer_watch (&self->logind);
  return self;
}

GDBusConnection *
vmd_logind_monitor_get_connection (VmdLogindMonitor *self)
{
  g_return_val_if_fail (VMD_IS_LOGIND_MONITOR (self), NULL);
  return self->logind.bus;
}

gboolean
vmd_logind_monitor_is_available (VmdLogindMonitor *self)
{
  g_return_val_if_fail (VMD_IS_LOGIND_MONITOR (self), FALSE);
  return self->available;
}

gboolean
vmd_logind_monitor_get_lid_closed (VmdLogindMonitor *self)
{
  g_return_val_if_fail (VMD_IS_LOGIND_MONITOR (self), FALSE);
  return self->lid_closed;
}

gboolean
vmd_logind_monitor_get_docked (VmdLogindMonitor *self)
{
  g_return_val_if_fail (VMD_IS_LOGIND_MONITOR (self), FALSE);
  return self->docked;
}

gboolean
vmd_logind_monitor_get_preparing_for_sleep (VmdLogindMonitor *self)
{
  g_return_val_if_fail (VMD_IS_LOGIND_MONITOR (self), FALSE);
  return self->preparing_for_sleep;
}

gboolean
vmd_logind_monitor_get_preparing_for_shutdown (VmdLogindMonitor *self)
{
  g_return_val_if_fail (VMD_IS_LOGIND_MONITOR (self), FALSE);
  return self->preparing_for_shutdown;
}

guint64
vmd_logind_monitor_get_inhibit_delay_max (VmdLogindMonitor *self)
{
  g_return_val_if_fail (VMD_IS_LOGIND_MONITOR (self), 0);
  return self->inhibit_delay_max;
}

static void
vmd_logind_monitor_dispose (GObject *object)
{
  vmd_bus_peer_clear (&VMD_LOGIND_MONITOR (object)->logind);
  G_OBJECT_CLASS (vmd_logind_monitor_parent_class)->dispose (object);
}

static void
vmd_logind_monitor_get_property (GObject *object, guint id, GValue *value, GParamSpec *pspec)
{
  VmdLogindMonitor *self = VMD_LOGIND_MONITOR (object);

  switch (id)
    {
    case PROP_AVAILABLE:           g_value_set_boolean (value, self->available); break;
    case PROP_LID_CLOSED:          g_value_set_boolean (value, self->lid_closed); break;
    case PROP_DOCKED:              g_value_set_boolean (value, self->docked); break;
    case PROP_PREPARING_FOR_SLEEP: g_value_set_boolean (value, self->preparing_for_sleep); break;
    case PROP_PREPARING_FOR_SHUTDOWN:
      g_value_set_boolean (value, self->preparing_for_shutdown);
      break;
    case PROP_INHIBIT_DELAY_MAX:   g_value_set_uint64 (value, self->inhibit_delay_max); break;
    default:                       G_OBJECT_WARN_INVALID_PROPERTY_ID (object, id, pspec);
    }
}

static void
vmd_logind_monitor_class_init (VmdLogindMonitorClass *klass)
{
  GObjectClass *object_class = G_OBJECT_CLASS (klass);
  GParamFlags flags = G_PARAM_READABLE | G_PARAM_STATIC_STRINGS | G_PARAM_EXPLICIT_NOTIFY;

  object_class->dispose = vmd_logind_monitor_dispose;
  object_class->get_property = vmd_logind_monitor_get_property;
  props[PROP_AVAILABLE] = g_param_spec_boolean ("available", NULL, NULL, FALSE, flags);
  props[PROP_LID_CLOSED] = g_param_spec_boolean ("lid-closed", NULL, NULL, FALSE, flags);
  props[PROP_DOCKED] = g_param_spec_boolean ("docked", NULL, NULL, FALSE, flags);
  props[PROP_PREPARING_FOR_SLEEP] = g_param_spec_boolean ("preparing-for-sleep", NULL, NULL,
                                                          FALSE, flags);
  props[PROP_PREPARING_FOR_SHUTDOWN] = g_param_spec_boolean ("preparing-for-shutdown", NULL,
                                                             NULL, FALSE, flags);
  props[PROP_INHIBIT_DELAY_MAX] = g_param_spec_uint64 ("inhibit-delay-max", NULL, NULL, 0,
                                                       G_MAXUINT64, 0, flags);
  g_object_class_install_properties (object_class, N_PROPS, props);
  signals[SIGNAL_PREPARE_FOR_SLEEP] = g_signal_new ("prepare-for-sleep", G_TYPE_FROM_CLASS (klass),
                                                    G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                    G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
  signals[SIGNAL_PREPARE_FOR_SHUTDOWN] = g_signal_new ("prepare-for-shutdown",
                                                       G_TYPE_FROM_CLASS (klass),
                                                       G_SIGNAL_RUN_LAST, 0, NULL, NULL, NULL,
                                                       G_TYPE_NONE, 1, G_TYPE_BOOLEAN);
}

static void
vmd_logind_monitor_init (VmdLogindMonitor *self)
{
}
