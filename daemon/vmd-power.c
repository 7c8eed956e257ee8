/* vmd-power.c: wires the power bridge to the daemon. power-bridge/ knows neither libvirt
 * nor D-Bus exports: this file feeds UPower's and logind's state to the guests' links,
 * runs the sleep plan on logind's PrepareForSleep and PrepareForShutdown and on a critical
 * battery (with the libvirt operations of vmd-power-ops.c), and exports the summary and
 * the reports. */
#include "vmd-power.h"

#include "vmd-power-links.h"
#include "vmd-power-ops.h"
#include "vmdesk-power.h"

/* What a critical battery leaves for saving the VMs: UPower's own action follows its
 * "action" warning level by about 20 s (upower.conf's default). */
#define CRITICAL_BUDGET_US (15 * G_USEC_PER_SEC)
/* logind's InhibitDelayMaxSec default, until logind was read. */
#define DEFAULT_DELAY_US   (5 * G_USEC_PER_SEC)
/* What a host power-off gives the guests to shut down or be saved, from PrepareForShutdown
 * (vmdeskd --host-shutdown-timeout); the unit's TimeoutStopSec is longer. */
#define DEFAULT_SHUTDOWN_TIMEOUT_S 60

typedef struct _Run Run;

struct _VmdPower {
  GObject            parent;
  VmdManager        *manager;
  VmdLibvirt        *libvirt;
  VmdUpowerMonitor  *upower;
  VmdLogindMonitor  *logind;
  VmdSleepInhibitor *inhibitor;
  VmdPowerOps       *ops;
  VmdSleepPlan      *plan;
  VmdPowerLinks     *links;
  gboolean           recovery_pending;   /* a previous daemon's journal waits for a wake */
  gboolean           critical_saved;     /* a critical run saved VMs: AC back restores them */
  GPtrArray         *under_way;          /* runs reading the VMs or in the plan (Run *, not
                                          * owned), shown in GetPower */
  /* The host's power-off, from PrepareForShutdown(true) until its report. It starts only
   * when no other run is under way (`shutdown_waiting` until then), so that it reads the
   * VMs as they are after that run. */
  Run               *shutdown;
  gboolean           shutdown_waiting;
  gint64             shutdown_timeout_us;
  GPtrArray         *drains;             /* GTasks of vmd_power_drain_async */
};

G_DEFINE_TYPE (VmdPower, vmd_power, G_TYPE_OBJECT)

/* One run of the plan: who asked, since when, and the inhibitor handle it keeps. */
struct _Run {
  VmdPower       *self;
  const char     *kind;     /* "host-sleep", "host-shutdown", "wake" or "critical-battery" */
  gint64          began;
  VmdSleepHandle *handle;   /* host-sleep, -shutdown: released when the plan is done ... */
  GSource        *release;  /* host-shutdown: ... or at the inhibitor's budget */
  gboolean        cancelled;   /* host-shutdown: logind could not start it */
};

/* ---- the summary clients show ---- */

static const char *
warning_level_to_string (VmdWarningLevel level)
{
  switch (level)
    {
    case VMD_WARNING_NONE:        return "none";
    case VMD_WARNING_DISCHARGING: return "discharging";
    case VMD_WARNING_LOW:         return "low";
    case VMD_WARNING_CRITICAL:    return "critical";
    case VMD_WARNING_ACTION:      return "action";
    case VMD_WARNING_UNKNOWN:
    default:                      return "unknown";
    }
}

static GVariant *
battery_variant (const VmdBattery *b)
{
  GVariantBuilder d;

  g_variant_builder_init (&d, G_VARIANT_TYPE_VARDICT);
  /* Names are [A-Za-z0-9_-] (power-bridge squeezes them): valid UTF-8 already. */
  g_variant_builder_add (&d, "{sv}", "name", g_variant_new_string (b->name));
  g_variant_builder_add (&d, "{sv}", "percentage", g_variant_new_double (b->percent));
  g_variant_builder_add (&d, "{sv}", "state", g_variant_new_string (vmd_battery_state_to_string (b->state)));
  g_variant_builder_add (&d, "{sv}", "time-to-empty", g_variant_new_int64 (b->time_to_empty_s));
  g_variant_builder_add (&d, "{sv}", "time-to-full", g_variant_new_int64 (b->time_to_full_s));
  return g_variant_builder_end (&d);
}

/* What vmdesk is doing to the VMs for the host's power: the runs under way, in the order they
 * started, and a host shutdown that waits for them. */
static GVariant *
under_way_variant (VmdPower *self)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_STRING_ARRAY);
  for (guint i = 0; i < self->under_way->len; i++)
    g_variant_builder_add (&b, "s", ((Run *) self->under_way->pdata[i])->kind);
  if (self->shutdown != NULL && self->shutdown_waiting)
    g_variant_builder_add (&b, "s", "host-shutdown");
  return g_variant_builder_end (&b);
}

static GVariant *
summary_variant (VmdPower *self)
{
  const VmdPowerState *s = vmd_upower_monitor_get_state (self->upower);
  g_auto(GStrv) journaled = vmd_sleep_plan_get_journaled (self->plan);
  GVariantBuilder d, batteries;

  g_variant_builder_init (&batteries, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < s->n_batteries; i++)
    g_variant_builder_add_value (&batteries, battery_variant (&s->batteries[i]));

  g_variant_builder_init (&d, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&d, "{sv}", "available", g_variant_new_boolean (vmd_upower_monitor_is_available (self->upower)));
  g_variant_builder_add (&d, "{sv}", "on-battery", g_variant_new_boolean (!s->ac_online));
  g_variant_builder_add (&d, "{sv}", "battery-present", g_variant_new_boolean (s->display_present));
  g_variant_builder_add (&d, "{sv}", "percentage", g_variant_new_double (s->display_present ? s->display.percent : 0.0));
  g_variant_builder_add (&d, "{sv}", "state", g_variant_new_string (vmd_battery_state_to_string (s->display.state)));
  g_variant_builder_add (&d, "{sv}", "time-to-empty", g_variant_new_int64 (s->display.time_to_empty_s));
  g_variant_builder_add (&d, "{sv}", "time-to-full", g_variant_new_int64 (s->display.time_to_full_s));
  g_variant_builder_add (&d, "{sv}", "warning-level", g_variant_new_string (warning_level_to_string (s->warning_level)));
  g_variant_builder_add (&d, "{sv}", "critical", g_variant_new_boolean (vmd_upower_monitor_is_critical (self->upower)));
  g_variant_builder_add (&d, "{sv}", "batteries", g_variant_builder_end (&batteries));
  g_variant_builder_add (&d, "{sv}", "lid-closed", g_variant_new_boolean (vmd_logind_monitor_get_lid_closed (self->logind)));
  g_variant_builder_add (&d, "{sv}", "docked", g_variant_new_boolean (vmd_logind_monitor_get_docked (self->logind)));
  g_variant_builder_add (&d, "{sv}", "sleep-inhibitor", g_variant_new_boolean (vmd_sleep_inhibitor_is_held (self->inhibitor)));
  /* VM names come from libvirt, which takes almost any bytes. */
  for (guint i = 0; journaled[i]; i++)
    {
      char *valid = g_utf8_make_valid (journaled[i], -1);
      g_free (journaled[i]);
      journaled[i] = valid;
    }
  g_variant_builder_add (&d, "{sv}", "quiesced", g_variant_new_strv ((const char *const *) journaled, -1));
  g_variant_builder_add (&d, "{sv}", "under-way", under_way_variant (self));
  g_variant_builder_add (&d, "{sv}", "guests", vmd_power_links_to_variant (self->links));
  return g_variant_builder_end (&d);
}

static void
emit_changed (VmdPower *self)
{
  /* A run may end after dispose (its libvirt calls finish on their own). */
  if (self->inhibitor == NULL || self->manager == NULL)   /* the first and last dispose clears */
    return;
  vmd_manager_emit (self->manager, "PowerChanged", g_variant_new_tuple ((GVariant *[]) { summary_variant (self) }, 1));
}

/* ---- reports ---- */

static const char *
result_to_string (VmdSleepResult result)
{
  switch (result)
    {
    case VMD_SLEEP_RESULT_DONE:      return "done";
    case VMD_SLEEP_RESULT_SKIPPED:   return "skipped";
    case VMD_SLEEP_RESULT_FAILED:    return "failed";
    case VMD_SLEEP_RESULT_TIMED_OUT:
    default:                         return "timed-out";
    }
}

/* Logs each VM's outcome and emits SleepReport. */
static void
report (VmdPower *self, const char *kind, GPtrArray *outcomes, gint64 took_us)
{
  g_autofree char *text = vmd_sleep_report_to_string (outcomes);
  g_auto(GStrv) lines = g_strsplit (text, "\n", -1);
  GVariantBuilder b;

  g_message ("%s: %u VMs in %.2f s", kind, outcomes->len, took_us / (double) G_USEC_PER_SEC);
  g_variant_builder_init (&b, G_VARIANT_TYPE ("aa{sv}"));
  for (guint i = 0; i < outcomes->len; i++)
    {
      const VmdSleepOutcome *o = outcomes->pdata[i];
      g_autofree char *vm = g_utf8_make_valid (o->vm, -1);
      g_autofree char *message = g_utf8_make_valid (o->message, -1);
      GLogLevelFlags level = o->result == VMD_SLEEP_RESULT_FAILED || o->result == VMD_SLEEP_RESULT_TIMED_OUT
                               ? G_LOG_LEVEL_WARNING : G_LOG_LEVEL_MESSAGE;

      g_log_structured (G_LOG_DOMAIN, level, "VMDESK_VM", o->vm, "MESSAGE", "%s: %s", kind,
                        lines[i] ? lines[i] : "");
      g_variant_builder_open (&b, G_VARIANT_TYPE_VARDICT);
      g_variant_builder_add (&b, "{sv}", "vm", g_variant_new_string (vm));
      g_variant_builder_add (&b, "{sv}", "requested", g_variant_new_string (vmd_power_action_to_string (o->requested)));
      g_variant_builder_add (&b, "{sv}", "taken", g_variant_new_string (vmd_power_action_to_string (o->taken)));
      g_variant_builder_add (&b, "{sv}", "result", g_variant_new_string (result_to_string (o->result)));
      g_variant_builder_add (&b, "{sv}", "message", g_variant_new_string (message));
      g_variant_builder_close (&b);
    }
  vmd_manager_emit (self->manager, "SleepReport",
                    g_variant_new ("(s@aa{sv}x)", kind, g_variant_builder_end (&b), took_us / 1000));
}


static Run *
run_new (VmdPower *self, const char *kind)
{
  Run *run = g_new0 (Run, 1);

  run->self = g_object_ref (self);
  run->kind = kind;
  run->began = g_get_monotonic_time ();
  return run;
}

static void
release_handle (Run *run)
{
  if (run->release != NULL)
    {
      g_source_destroy (run->release);
      g_clear_pointer (&run->release, g_source_unref);
    }
  if (run->handle)
    vmd_sleep_inhibitor_release (run->self->inhibitor, g_steal_pointer (&run->handle));
}

static void
run_free (Run *run)
{
  release_handle (run);
  g_object_unref (run->self);
  g_free (run);
}

static void start_run (VmdPower *self, Run *run);

static void
finish_drains (VmdPower *self)
{
  g_autoptr(GPtrArray) drains = g_steal_pointer (&self->drains);

  self->drains = g_ptr_array_new_with_free_func (g_object_unref);
  for (guint i = 0; i < drains->len; i++)
    g_task_return_boolean (drains->pdata[i], TRUE);
}

/* The host's shutdown waited for the runs before it; it goes once they are over. */
static void
maybe_start_shutdown (VmdPower *self)
{
  if (self->shutdown == NULL || !self->shutdown_waiting || self->under_way->len > 0)
    return;
  self->shutdown_waiting = FALSE;
  start_run (self, self->shutdown);
}

/* A run is over (reported or not, or never started): the next may start. */
static void
run_done (Run *run, gboolean started)
{
  g_autoptr(VmdPower) self = g_object_ref (run->self);
  gboolean was_shutdown = run == self->shutdown;

  if (started)
    g_ptr_array_remove (self->under_way, run);
  if (was_shutdown)
    {
      self->shutdown = NULL;
      self->shutdown_waiting = FALSE;
    }
  run_free (run);
  if (was_shutdown)
    finish_drains (self);
  maybe_start_shutdown (self);
  emit_changed (self);
}

static void
on_plan_done (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  VmdPower *self = run->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GPtrArray) outcomes = NULL;

  if (g_str_equal (run->kind, "host-sleep"))
    outcomes = vmd_sleep_plan_prepare_finish (self->plan, result, &error);
  else if (g_str_equal (run->kind, "host-shutdown"))
    outcomes = vmd_sleep_plan_shutdown_finish (self->plan, result, &error);
  else if (g_str_equal (run->kind, "wake"))
    outcomes = vmd_sleep_plan_wake_finish (self->plan, result, &error);
  else
    outcomes = vmd_sleep_plan_critical_finish (self->plan, result, &error);
  if (outcomes == NULL)
    g_warning ("%s: %s", run->kind, error->message);
  else
    {
      report (self, run->kind, outcomes, g_get_monotonic_time () - run->began);
      if (g_str_equal (run->kind, "critical-battery"))
        for (guint i = 0; i < outcomes->len; i++)
          if (((VmdSleepOutcome *) outcomes->pdata[i])->result == VMD_SLEEP_RESULT_DONE)
            self->critical_saved = TRUE;
    }
  /* The inhibitor goes only now: host sleep waits for every VM (or its deadline). */
  run_done (run, TRUE);   /* says PowerChanged */
}

/* The plan wants every VM as libvirt sees it now: read them, then run. */
static void
on_vms_read (GObject *source, GAsyncResult *result, gpointer data)
{
  Run *run = data;
  VmdPower *self = run->self;
  g_autoptr(GError) error = NULL;
  g_autoptr(GArray) vms = vmd_power_ops_read_vms_finish (VMD_POWER_OPS (source), result, &error);
  const VmdSleepVm *v;

  if (vms == NULL)
    {
      g_warning ("%s: cannot read the VMs: %s", run->kind, error->message);
      if (g_str_equal (run->kind, "wake"))
        self->recovery_pending = TRUE;   /* once libvirt is back */
      run_done (run, TRUE);
      return;
    }
  v = (const VmdSleepVm *) (gpointer) vms->data;
  if (run->cancelled)
    {
      g_message ("%s: cancelled before any VM was touched", run->kind);
      run_done (run, TRUE);
      return;
    }
  if (g_str_equal (run->kind, "host-sleep"))
    {
      guint64 delay = vmd_logind_monitor_get_inhibit_delay_max (self->logind);
      gint64 spent = g_get_monotonic_time () - run->began;

      /* The budget counts from PrepareForSleep, not from here. */
      if (delay == 0)
        delay = DEFAULT_DELAY_US;
      delay = (guint64) MAX ((gint64) delay - spent, 1);
      vmd_sleep_plan_prepare_async (self->plan, v, vms->len, delay, on_plan_done, run);
    }
  else if (g_str_equal (run->kind, "host-shutdown"))
    {
      /* The budget counts from PrepareForShutdown, the time waited for another run too. */
      gint64 spent = g_get_monotonic_time () - run->began;

      vmd_sleep_plan_shutdown_async (self->plan, v, vms->len, self->shutdown_timeout_us - spent,
                                     on_plan_done, run);
    }
  else if (g_str_equal (run->kind, "wake"))
    vmd_sleep_plan_wake_async (self->plan, v, vms->len, 0, on_plan_done, run);
  else
    vmd_sleep_plan_critical_async (self->plan, v, vms->len,
                                   CRITICAL_BUDGET_US - (g_get_monotonic_time () - run->began),
                                   on_plan_done, run);
}

static void
start_run (VmdPower *self, Run *run)
{
  g_ptr_array_add (self->under_way, run);
  emit_changed (self);
  vmd_power_ops_read_vms_async (self->ops, on_vms_read, run);
}

/* While the host shuts down, its plan alone acts on the VMs. */
static gboolean
shutting_down (VmdPower *self)
{
  return self->shutdown != NULL && !self->shutdown->cancelled;
}

static void
start_wake (VmdPower *self, const char *why)
{
  g_auto(GStrv) journaled = vmd_sleep_plan_get_journaled (self->plan);
  g_autofree char *names = g_strjoinv (", ", journaled);
  g_autofree char *escaped = g_strescape (names, NULL);

  self->recovery_pending = FALSE;
  if (journaled[0] == NULL)
    return;
  if (shutting_down (self))
    {
      g_message ("%s: the host is shutting down, so nothing is brought back", why);
      return;
    }
  g_message ("%s: bringing back what vmdesk quiesced: %s", why, escaped);
  start_run (self, run_new (self, "wake"));
}

/* A previous daemon's journal: act once libvirt is synced and the host is awake (logind
 * read, not preparing for sleep or shutdown); during a sleep the next "resuming" does it,
 * and a daemon started while the host shuts down starts no VM. */
static void
maybe_recover (VmdPower *self)
{
  if (!self->recovery_pending || !vmd_libvirt_is_connected (self->libvirt)
      || !vmd_logind_monitor_is_available (self->logind)
      || vmd_logind_monitor_get_preparing_for_sleep (self->logind)
      || vmd_logind_monitor_get_preparing_for_shutdown (self->logind))
    return;
  start_wake (self, "start-up");
}

/* ---- sources in ---- */

static void
on_power_changed (VmdUpowerMonitor *upower, VmdPower *self)
{
  const VmdPowerState *state = vmd_upower_monitor_get_state (upower);

  vmd_power_links_set_power (self->links, state);
  if (self->critical_saved && state->ac_online && !vmd_upower_monitor_is_critical (upower))
    {
      self->critical_saved = FALSE;
      start_wake (self, "AC is back after a critical battery");
    }
  emit_changed (self);
}

static void
on_critical (VmdUpowerMonitor *upower, VmdPower *self)
{
  if (shutting_down (self))
    {
      g_warning ("the battery is critical while the host shuts down: its plan goes on");
      return;
    }
  g_warning ("the battery is critical: saving every VM that can be saved");
  start_run (self, run_new (self, "critical-battery"));
}

static void
update_lid (VmdPower *self)
{
  vmd_power_links_set_lid (self->links, vmd_logind_monitor_get_lid_closed (self->logind),
                           vmd_logind_monitor_get_docked (self->logind),
                           vmd_manager_get_on_screen (self->manager));
}

static void
on_lid_changed (VmdLogindMonitor *logind, GParamSpec *pspec, VmdPower *self)
{
  update_lid (self);
  emit_changed (self);
}

static void
on_focus_changed (VmdManager *manager, const char *previous, const char *current, VmdPower *self)
{
  update_lid (self);
}

static void
on_logind_state (VmdLogindMonitor *logind, GParamSpec *pspec, VmdPower *self)
{
  maybe_recover (self);
}

static void
on_libvirt_connected (VmdLibvirt *libvirt, GParamSpec *pspec, VmdPower *self)
{
  maybe_recover (self);
}

static void
on_links_changed (VmdPowerLinks *links, const char *vm, VmdPower *self)
{
  emit_changed (self);
}

/* PrepareForSleep(true). The handle is taken here, inside the signal, or the inhibitor
 * would go at once; it is released when the plan is done. */
static void
on_sleeping (VmdSleepInhibitor *inhibitor, VmdPower *self)
{
  Run *run;

  if (shutting_down (self))
    {
      g_warning ("logind announced sleep while the host shuts down: the VMs are left to the "
                 "shutdown");
      return;
    }
  run = run_new (self, "host-sleep");

  run->handle = vmd_sleep_inhibitor_take (inhibitor);
  g_message ("the host prepares to sleep: quiescing the VMs");
  vmd_power_links_send_sleep (self->links, VMD_SLEEP_PHASE_PREPARE);
  start_run (self, run);
}

static void
on_resuming (VmdSleepInhibitor *inhibitor, VmdPower *self)
{
  g_message ("the host resumed");
  vmd_power_links_send_sleep (self->links, VMD_SLEEP_PHASE_RESUME);
  start_wake (self, "resume");
}

/* Timer: logind holds the power-off at most InhibitDelayMaxUSec; at our share of it the
 * inhibitor goes, so the host's shutdown proceeds while the guests' own shutdowns and
 * saves go on: vmdeskd's stop (SIGTERM, before libvirtd's) waits for them. */
static gboolean
on_shutdown_release (gpointer data)
{
  Run *run = data;

  g_clear_pointer (&run->release, g_source_unref);
  if (run->handle != NULL)
    {
      g_message ("host-shutdown: the inhibitor goes after %.1f s; the VMs that are not done "
                 "yet go on shutting down or saving, and vmdeskd's stop waits for them",
                 (g_get_monotonic_time () - run->began) / (double) G_USEC_PER_SEC);
      vmd_sleep_inhibitor_release (run->self->inhibitor, g_steal_pointer (&run->handle));
      emit_changed (run->self);
    }
  return G_SOURCE_REMOVE;
}

/* PrepareForShutdown(true): a power-off or reboot. As for sleep, the handle is taken inside
 * the signal; the plan starts once no other run is under way, with fresh VMs. */
static void
on_shutting_down (VmdSleepInhibitor *inhibitor, VmdPower *self)
{
  guint64 delay = vmd_logind_monitor_get_inhibit_delay_max (self->logind);
  gint64 total_us, agent_us;
  Run *run;

  if (self->shutdown != NULL && !self->shutdown->cancelled)
    return;   /* announced twice: the first one is under way */
  run = run_new (self, "host-shutdown");
  run->handle = vmd_sleep_inhibitor_take (inhibitor);
  vmd_sleep_budget (delay > 0 ? delay : DEFAULT_DELAY_US, &total_us, &agent_us);
  run->release = g_timeout_source_new ((guint) (total_us / 1000));
  g_source_set_callback (run->release, on_shutdown_release, run, NULL);
  g_source_attach (run->release, NULL);
  g_message ("the host prepares to power off or reboot: shutting down or saving the VMs "
             "(%.0f s at most)", self->shutdown_timeout_us / (double) G_USEC_PER_SEC);
  if (self->shutdown != NULL)
    {
      /* An earlier, cancelled one still in the plan: this one follows it. */
      g_message ("host-shutdown: after the cancelled one is over");
    }
  else if (self->under_way->len > 0)
    g_message ("host-shutdown: after the run under way");
  self->shutdown = run;
  self->shutdown_waiting = TRUE;
  maybe_start_shutdown (self);
}

/* PrepareForShutdown(false): logind could not start the shutdown. What the plan did stays
 * done; a wake brings the saved VMs back, as after a resume. */
static void
on_shutdown_cancelled (VmdSleepInhibitor *inhibitor, VmdPower *self)
{
  g_message ("the host's shutdown was cancelled");
  if (self->shutdown != NULL)
    {
      self->shutdown->cancelled = TRUE;
      if (self->shutdown_waiting)
        run_done (self->shutdown, FALSE);
    }
  start_wake (self, "cancelled shutdown");
}

static gboolean
send_time_to_link (const char *vm, gpointer data)
{
  return vmd_power_links_send_time (data, vm);
}

/* ---- D-Bus methods ---- */

static void
handle_get_power (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  g_dbus_method_invocation_return_value (invocation, g_variant_new_tuple ((GVariant *[]) { summary_variant (owner) }, 1));
}

static gboolean
parse_button (const char *name, VmdButton *button)
{
  if (g_str_equal (name, "power"))
    *button = VMD_BUTTON_POWER;
  else if (g_str_equal (name, "sleep"))
    *button = VMD_BUTTON_SLEEP;
  else
    return FALSE;
  return TRUE;
}

/* (s vm, s button) */
static gboolean
check_press_args (GVariant *params, GError **error)
{
  const char *vm, *button;
  VmdButton b;

  g_variant_get (params, "(&s&s)", &vm, &button);
  if (!vmd_vm_name_validate (vm, error))
    return FALSE;
  if (!parse_button (button, &b))
    {
      g_set_error_literal (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS, "button must be \"power\" or \"sleep\"");
      return FALSE;
    }
  return TRUE;
}

static void
handle_press_button (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdPower *self = owner;
  g_autoptr(GError) error = NULL;
  const char *vm, *name;
  VmdButton button = VMD_BUTTON_POWER;

  g_variant_get (params, "(&s&s)", &vm, &name);
  parse_button (name, &button);
  if (vmd_libvirt_lookup (self->libvirt, vm) == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_UNKNOWN_VM,
                                             "no VM named '%s'", vm);
      return;
    }
  if (!vmd_power_links_press (self->links, vm, button, &error))
    {
      g_autofree char *valid = g_utf8_make_valid (error->message, -1);
      g_dbus_method_invocation_return_error_literal (invocation, error->domain, error->code, valid);
      return;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VMDESK_VM", vm, "MESSAGE",
                    "%s: %s button pressed for its guest", vm, name);
  g_dbus_method_invocation_return_value (invocation, NULL);
}

static const VmdMethod methods[] = {
  { "GetPower",    NULL,               NULL,              handle_get_power },
  { "PressButton", "org.vmdesk.power", check_press_args,  handle_press_button },
};

/* ---- object ---- */

VmdPower *
vmd_power_new (VmdManager *manager, VmdLibvirt *libvirt, GDBusConnection *bus,
               const char *state_dir, double critical_percent, GError **error)
{
  g_autoptr(VmdPower) self = g_object_new (VMD_TYPE_POWER, NULL);
  g_auto(GStrv) journaled = NULL;

  self->manager = g_object_ref (manager);
  self->libvirt = g_object_ref (libvirt);
  self->links = vmd_power_links_new (libvirt);
  self->ops = vmd_power_ops_new (libvirt, send_time_to_link, self->links);
  self->plan = vmd_sleep_plan_new (vmd_power_ops_vtable (), self->ops, state_dir, error);
  if (self->plan == NULL)
    return NULL;
  journaled = vmd_sleep_plan_get_journaled (self->plan);
  self->recovery_pending = journaled[0] != NULL;
  self->upower = vmd_upower_monitor_new (bus);
  vmd_upower_monitor_set_critical_percent (self->upower, critical_percent);
  self->logind = vmd_logind_monitor_new (bus);
  self->inhibitor = vmd_sleep_inhibitor_new (self->logind);

  g_signal_connect (self->upower, "changed", G_CALLBACK (on_power_changed), self);
  g_signal_connect (self->upower, "critical", G_CALLBACK (on_critical), self);
  g_signal_connect (self->logind, "notify::lid-closed", G_CALLBACK (on_lid_changed), self);
  g_signal_connect (self->logind, "notify::docked", G_CALLBACK (on_lid_changed), self);
  g_signal_connect (self->logind, "notify::available", G_CALLBACK (on_logind_state), self);
  g_signal_connect (self->logind, "notify::preparing-for-sleep", G_CALLBACK (on_logind_state), self);
  g_signal_connect (self->logind, "notify::preparing-for-shutdown", G_CALLBACK (on_logind_state),
                    self);
  g_signal_connect (self->inhibitor, "sleeping", G_CALLBACK (on_sleeping), self);
  g_signal_connect (self->inhibitor, "resuming", G_CALLBACK (on_resuming), self);
  g_signal_connect (self->inhibitor, "shutting-down", G_CALLBACK (on_shutting_down), self);
  g_signal_connect (self->inhibitor, "shutdown-cancelled", G_CALLBACK (on_shutdown_cancelled),
                    self);
  g_signal_connect (self->links, "changed", G_CALLBACK (on_links_changed), self);
  g_signal_connect (libvirt, "notify::connected", G_CALLBACK (on_libvirt_connected), self);
  g_signal_connect (manager, "focus-changed", G_CALLBACK (on_focus_changed), self);
  vmd_manager_add_methods (manager, methods, G_N_ELEMENTS (methods), self);
  if (self->recovery_pending)
    {
      g_autofree char *names = g_strjoinv (", ", journaled);
      g_autofree char *escaped = g_strescape (names, NULL);
      g_message ("the sleep journal names VMs a previous vmdeskd quiesced: %s", escaped);
    }
  return g_steal_pointer (&self);
}

void
vmd_power_set_host_shutdown_timeout (VmdPower *self, guint seconds)
{
  g_return_if_fail (VMD_IS_POWER (self));
  self->shutdown_timeout_us = (gint64) seconds * G_USEC_PER_SEC;
}

gboolean
vmd_power_get_host_shutdown (VmdPower *self, gint64 *left_us)
{
  g_return_val_if_fail (VMD_IS_POWER (self), FALSE);
  /* A cancelled one holds no stop back: the host stays up. */
  if (!shutting_down (self))
    return FALSE;
  if (left_us != NULL)
    *left_us = MAX (self->shutdown->began + self->shutdown_timeout_us - g_get_monotonic_time (), 0);
  return TRUE;
}

void
vmd_power_drain_async (VmdPower *self, GAsyncReadyCallback callback, gpointer user_data)
{
  GTask *task;

  g_return_if_fail (VMD_IS_POWER (self));
  task = g_task_new (self, NULL, callback, user_data);
  g_task_set_source_tag (task, vmd_power_drain_async);
  if (self->shutdown == NULL)
    {
      g_task_return_boolean (task, TRUE);
      g_object_unref (task);
      return;
    }
  g_ptr_array_add (self->drains, task);
}

gboolean
vmd_power_drain_finish (VmdPower *self, GAsyncResult *result, GError **error)
{
  g_return_val_if_fail (g_task_is_valid (result, self), FALSE);
  return g_task_propagate_boolean (G_TASK (result), error);
}

void
vmd_power_start (VmdPower *self)
{
  update_lid (self);
  vmd_power_links_start (self->links);
  maybe_recover (self);
}

static void
vmd_power_dispose (GObject *object)
{
  VmdPower *self = VMD_POWER (object);

  if (self->libvirt)
    g_signal_handlers_disconnect_by_data (self->libvirt, self);
  if (self->manager)
    g_signal_handlers_disconnect_by_data (self->manager, self);
  g_clear_object (&self->inhibitor);
  g_clear_object (&self->logind);
  g_clear_object (&self->upower);
  g_clear_object (&self->plan);
  g_clear_object (&self->links);
  g_clear_object (&self->ops);
  g_clear_object (&self->libvirt);
  g_clear_object (&self->manager);
  G_OBJECT_CLASS (vmd_power_parent_class)->dispose (object);
}

static void
vmd_power_finalize (GObject *object)
{
  g_ptr_array_unref (VMD_POWER (object)->drains);
  g_ptr_array_unref (VMD_POWER (object)->under_way);
  G_OBJECT_CLASS (vmd_power_parent_class)->finalize (object);
}

static void
vmd_power_class_init (VmdPowerClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_power_dispose;
  G_OBJECT_CLASS (klass)->finalize = vmd_power_finalize;
}

static void
vmd_power_init (VmdPower *self)
{
  self->shutdown_timeout_us = (gint64) DEFAULT_SHUTDOWN_TIMEOUT_S * G_USEC_PER_SEC;
  self->drains = g_ptr_array_new_with_free_func (g_object_unref);
  self->under_way = g_ptr_array_new ();
}
