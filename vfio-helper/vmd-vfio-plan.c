/* vmd-vfio-plan.c: what `bind BDF` would do and what the host would lose, without doing
 * it; and what refuses it. A refusal is forceable only where overriding it cannot hurt the
 * host behind the user's back (docs/vfio.md lists which). */
#include "vmd-vfio-private.h"

/* Both ways to ask for it: the CLI's and a VM's settings, which vmdeskd reads. */
#define SINGLE_GPU_HOW "(--single-gpu; for vmdeskd, the VM's passthrough single-gpu=\"yes\")"

static void
refusal_free (gpointer data)
{
  VmdRefusal *r = data;

  g_free (r->id);
  g_free (r->message);
  g_free (r->fix);
  g_free (r);
}

G_GNUC_PRINTF (5, 6) static void
refuse (VmdVfioPlan *plan, const char *id, gboolean forceable, const char *fix,
        const char *format, ...)
{
  VmdRefusal *r = g_new0 (VmdRefusal, 1);
  va_list ap;

  va_start (ap, format);
  r->message = g_strdup_vprintf (format, ap);
  va_end (ap);
  r->id = g_strdup (id);
  r->fix = g_strdup (fix);
  r->forceable = forceable;
  r->overridden = forceable && (plan->flags & VMD_VFIO_PLAN_FORCE);
  g_ptr_array_add (plan->refusals, r);
}

void
vmd_vfio_plan_free (VmdVfioPlan *plan)
{
  if (plan == NULL)
    return;
  g_free (plan->bdf);
  g_clear_pointer (&plan->analysis, vmd_analysis_free);
  g_clear_pointer (&plan->host, vmd_host_free);
  g_clear_pointer (&plan->refusals, g_ptr_array_unref);
  g_clear_pointer (&plan->sessions, g_ptr_array_unref);
  g_free (plan->sessions_error);
  g_free (plan);
}

static void
judge_group (VmdVfioPlan *plan)
{
  VmdAnalysis *a = plan->analysis;

  if (a->fn->iommu_group < 0)
    refuse (plan, "iommu-group", FALSE, vmd_iommu_fix (plan->host),
            "%s is not in an IOMMU group%s", a->fn->bdf,
            plan->host->iommu_groups ? "" : " (the IOMMU is off)");
  else if (a->group == NULL)
    refuse (plan, "iommu-group", FALSE, NULL, "%s", a->group_error);
  else if (!a->group->viable)
    {
      g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *list = NULL;

      for (guint i = 0; i < a->foreign->len; i++)
        {
          VmdPciFunction *m = a->foreign->pdata[i];
          g_autofree char *desc = vmd_pci_function_describe (m);
          g_ptr_array_add (names, g_strdup_printf ("%s (%s, driver %s)", m->bdf, desc,
                                                   m->driver));
        }
      list = vmd_join (names, ", ");
      refuse (plan, "iommu-group", FALSE,
              "put the card in a slot with an IOMMU group of its own, or unbind those "
              "devices from their host drivers first",
              "IOMMU group %d is not viable: it also holds %s", a->group->number, list);
    }
  for (guint i = 0; i < a->functions->len; i++)
    {
      VmdPciFunction *m = a->functions->pdata[i];
      if (m->driver && !m->driver_valid)
        refuse (plan, "sysfs", FALSE, NULL,
                "%s: its driver link cannot be trusted (see vmdesk-vfio check %s)", m->bdf,
                m->bdf);
    }
}

/* The only display while a graphical session runs needs the explicit hand-over; sessions are
 * asked about only when the answer matters. */
static void
judge_display (VmdVfioPlan *plan, GDBusConnection *system_bus)
{
  VmdAnalysis *a = plan->analysis;
  gboolean single_gpu = (plan->flags & VMD_VFIO_PLAN_SINGLE_GPU) != 0;
  g_autoptr(GError) error = NULL;

  plan->handover = single_gpu && (a->only_display || a->console->len > 0);
  if (a->only_display || plan->handover)
    {
      if (system_bus)
        plan->sessions = vmd_logind_graphical_sessions (system_bus, &error);
      else
        g_set_error (&error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_LOGIND, "no system bus");
      if (plan->sessions == NULL)
        plan->sessions_error = g_strdup (error->message);
    }

  if (a->only_display && !single_gpu)
    {
      if (plan->sessions == NULL)
        refuse (plan, "only-display", TRUE,
                "enable the single-GPU hand-over " SINGLE_GPU_HOW ", or --force if no graphical "
                "session runs",
                "%s is the host's only display device and whether a graphical session runs "
                "cannot be told (%s)", a->fn->bdf, plan->sessions_error);
      else if (plan->sessions->len > 0)
        {
          g_autoptr(GPtrArray) names = g_ptr_array_new_with_free_func (g_free);
          g_autofree char *list = NULL;

          for (guint i = 0; i < plan->sessions->len; i++)
            {
              VmdSession *s = plan->sessions->pdata[i];
              g_ptr_array_add (names, g_strdup_printf ("%s (%s, %s)", s->id, s->type, s->user));
            }
          list = vmd_join (names, ", ");
          /* Not forceable: unbinding a GPU under a running compositor hangs or kills it. */
          refuse (plan, "only-display", FALSE,
                  "log out of the graphical sessions, or enable the single-GPU hand-over "
                  SINGLE_GPU_HOW ", which asks logind to end them and gives the display back "
                  "on release",
                  "%s is the host's only display device and graphical sessions run on it: %s",
                  a->fn->bdf, list);
        }
    }
  else if (plan->handover && plan->sessions == NULL)
    refuse (plan, "logind", TRUE, "start systemd-logind, or --force if no graphical session runs",
            "the single-GPU hand-over cannot ask logind for the graphical sessions (%s)",
            plan->sessions_error);

  if (a->console->len > 0 && !plan->handover)
    {
      g_autofree char *list = vmd_join (a->console, ", ");
      refuse (plan, "host-console", TRUE,
              "enable the single-GPU hand-over " SINGLE_GPU_HOW ", which unbinds them and gives "
              "them back on release; or boot with video=efifb:off",
              "%s drives the host console (%s), which keeps part of its memory", a->fn->bdf,
              list);
    }
}

static void
judge_host_needs (VmdVfioPlan *plan)
{
  VmdAnalysis *a = plan->analysis;

  if (plan->host->vfio_pci != VMD_VFIO_PCI_LOADED)
    refuse (plan, "vfio-pci", FALSE,
            plan->host->vfio_pci == VMD_VFIO_PCI_AVAILABLE ? "modprobe vfio-pci"
            : "install a kernel built with CONFIG_VFIO_PCI",
            "vfio-pci is not loaded");
  if (a->holds_root)
    refuse (plan, "root-device", FALSE, NULL,
            "the root filesystem (%s) is on %s: the host would lose its own disk",
            plan->host->root_device ? plan->host->root_device : "?", a->holds_root);
  if (a->last_keyboard)
    {
      g_autofree char *list = vmd_join (a->keyboards_lost, ", ");
      refuse (plan, "keyboard", TRUE,
              "connect a keyboard to a controller the host keeps, or --force",
              "the host's only keyboard would go with it: %s", list);
    }
}

VmdVfioPlan *
vmd_vfio_plan_new (const char *bdf, VmdVfioPlanFlags flags, GDBusConnection *system_bus,
                   GError **error)
{
  g_autoptr(VmdVfioPlan) plan = g_new0 (VmdVfioPlan, 1);
  char buf[VMD_VFIO_BDF_BUFSIZE];
  VmdVfioBdf addr;

  if (!vmd_vfio_bdf_parse (bdf, &addr, error))
    return NULL;
  plan->bdf = g_strdup (vmd_vfio_bdf_format (&addr, buf));
  plan->flags = flags;
  plan->refusals = g_ptr_array_new_with_free_func (refusal_free);
  plan->host = vmd_host_read ();
  plan->analysis = vmd_analysis_new (plan->host, plan->bdf);
  if (!plan->analysis->fn->present)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_NOT_FOUND, "no PCI device %s",
                   plan->bdf);
      return NULL;
    }
  judge_group (plan);
  judge_display (plan, system_bus);
  judge_host_needs (plan);
  return g_steal_pointer (&plan);
}

gboolean
vmd_vfio_plan_check_allowed (const VmdVfioPlan *plan, GError **error)
{
  g_autoptr(GString) why = g_string_new (NULL);

  for (guint i = 0; i < plan->refusals->len; i++)
    {
      VmdRefusal *r = plan->refusals->pdata[i];

      if (r->overridden)
        continue;
      g_string_append_printf (why, "%s%s", why->len ? "; " : "", r->message);
      if (r->fix)
        g_string_append_printf (why, " (fix: %s%s)", r->fix,
                                r->forceable && !g_strrstr (r->fix, "--force") ? "; or --force" : "");
    }
  if (why->len == 0)
    return TRUE;
  g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_REFUSED, "refusing to bind %s: %s",
               plan->bdf, why->str);
  return FALSE;
}

const char *
vmd_vfio_plan_get_bdf (const VmdVfioPlan *plan)
{
  return plan->bdf;
}

guint
vmd_vfio_plan_get_n_functions (const VmdVfioPlan *plan)
{
  return plan->analysis->functions->len;
}

const char *
vmd_vfio_plan_get_function (const VmdVfioPlan *plan, guint index)
{
  g_return_val_if_fail (index < plan->analysis->functions->len, NULL);
  return ((VmdPciFunction *) plan->analysis->functions->pdata[index])->bdf;
}

static gboolean
on_vfio (const VmdPciFunction *fn)
{
  return g_strcmp0 (fn->driver, "vfio-pci") == 0;
}

/* One line per sysfs write a bind takes, in order (what the journal will record). */
static GPtrArray *
plan_steps (const VmdVfioPlan *plan)
{
  GPtrArray *steps = g_ptr_array_new_with_free_func (g_free);
  VmdAnalysis *a = plan->analysis;

  if (plan->handover)
    {
      for (guint i = 0; plan->sessions && i < plan->sessions->len; i++)
        {
          VmdSession *s = plan->sessions->pdata[i];
          g_ptr_array_add (steps, g_strdup_printf ("logind: end %s session %s of %s", s->type,
                                                   s->id, s->user));
        }
      for (guint i = 0; i < plan->host->vtcons->len; i++)
        {
          VmdVtcon *v = plan->host->vtcons->pdata[i];
          if (v->bound && g_strrstr (v->description, "frame buffer"))
            g_ptr_array_add (steps, g_strdup_printf ("%s: unbind the console (%s)", v->name,
                                                     v->description));
        }
      for (guint i = 0; i < plan->host->firmware_fbs->len; i++)
        {
          VmdFirmwareFb *fb = plan->host->firmware_fbs->pdata[i];
          if (fb->driver)
            g_ptr_array_add (steps, g_strdup_printf ("%s: unbind from %s", fb->device,
                                                     fb->driver));
        }
    }
  for (guint i = 0; i < a->functions->len; i++)
    {
      VmdPciFunction *fn = a->functions->pdata[i];

      if (on_vfio (fn))
        {
          g_ptr_array_add (steps, g_strdup_printf ("%s: already on vfio-pci", fn->bdf));
          continue;
        }
      g_ptr_array_add (steps, g_strdup_printf ("%s: write vfio-pci to driver_override",
                                               fn->bdf));
      if (fn->driver)
        g_ptr_array_add (steps, g_strdup_printf ("%s: unbind from %s", fn->bdf, fn->driver));
      g_ptr_array_add (steps, g_strdup_printf ("%s: drivers_probe, expect vfio-pci", fn->bdf));
    }
  return steps;
}

/* What the host gives up while the device is bound. */
static GPtrArray *
plan_losses (const VmdVfioPlan *plan)
{
  GPtrArray *losses = g_ptr_array_new_with_free_func (g_free);
  VmdAnalysis *a = plan->analysis;

  for (guint i = 0; i < a->functions->len; i++)
    {
      VmdPciFunction *fn = a->functions->pdata[i];
      g_autofree char *desc = vmd_pci_function_describe (fn);

      if (fn->driver && !on_vfio (fn))
        g_ptr_array_add (losses, g_strdup_printf ("%s %s (driver %s leaves)", fn->bdf, desc,
                                                  fn->driver));
    }
  for (guint i = 0; i < a->panels->len; i++)
    g_ptr_array_add (losses, g_strdup_printf ("screen %s", (char *) a->panels->pdata[i]));
  if (a->only_display)
    g_ptr_array_add (losses, g_strdup ("the host's only display device: no host screen until "
                                       "release"));
  for (guint i = 0; plan->handover && i < a->console->len; i++)
    g_ptr_array_add (losses, g_strdup_printf ("console framebuffer %s",
                                              (char *) a->console->pdata[i]));
  for (guint i = 0; plan->handover && plan->sessions && i < plan->sessions->len; i++)
    {
      VmdSession *s = plan->sessions->pdata[i];
      g_ptr_array_add (losses, g_strdup_printf ("graphical session %s of %s (ended through "
                                                "logind)", s->id, s->user));
    }
  for (guint i = 0; i < a->keyboards_lost->len; i++)
    g_ptr_array_add (losses, g_strdup_printf ("keyboard %s", (char *) a->keyboards_lost->pdata[i]));
  return losses;
}

JsonNode *
vmd_vfio_plan_to_json (const VmdVfioPlan *plan)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();
  g_autoptr(GPtrArray) steps = plan_steps (plan);
  g_autoptr(GPtrArray) losses = plan_losses (plan);
  VmdAnalysis *a = plan->analysis;

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_int_value (b, 1);
  vmd_json_add_string_or_null (b, "bdf", plan->bdf);
  json_builder_set_member_name (b, "allowed");
  json_builder_add_boolean_value (b, vmd_vfio_plan_check_allowed (plan, NULL));
  json_builder_set_member_name (b, "single_gpu");
  json_builder_add_boolean_value (b, plan->handover);
  json_builder_set_member_name (b, "iommu_group");
  if (a->fn->iommu_group >= 0)
    json_builder_add_int_value (b, a->fn->iommu_group);
  else
    json_builder_add_null_value (b);
  json_builder_set_member_name (b, "group_viable");
  json_builder_add_boolean_value (b, a->group && a->group->viable);
  json_builder_set_member_name (b, "functions");
  json_builder_begin_array (b);
  for (guint i = 0; i < a->functions->len; i++)
    {
      VmdPciFunction *fn = a->functions->pdata[i];
      json_builder_begin_object (b);
      vmd_json_add_function (b, fn);
      vmd_json_add_string_or_null (b, "target", "vfio-pci");
      vmd_json_add_string_or_null (b, "action", on_vfio (fn) ? "none" : "move");
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  vmd_json_add_strings (b, "steps", steps);
  vmd_json_add_strings (b, "host_loses", losses);
  json_builder_set_member_name (b, "sessions");
  json_builder_begin_array (b);
  for (guint i = 0; plan->sessions && i < plan->sessions->len; i++)
    {
      VmdSession *s = plan->sessions->pdata[i];
      json_builder_begin_object (b);
      vmd_json_add_string_or_null (b, "id", s->id);
      vmd_json_add_string_or_null (b, "type", s->type);
      vmd_json_add_string_or_null (b, "class", s->klass);
      vmd_json_add_string_or_null (b, "seat", s->seat);
      vmd_json_add_string_or_null (b, "user", s->user);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_set_member_name (b, "refusals");
  json_builder_begin_array (b);
  for (guint i = 0; i < plan->refusals->len; i++)
    {
      VmdRefusal *r = plan->refusals->pdata[i];
      json_builder_begin_object (b);
      vmd_json_add_string_or_null (b, "id", r->id);
      vmd_json_add_string_or_null (b, "message", r->message);
      vmd_json_add_string_or_null (b, "fix", r->fix);
      json_builder_set_member_name (b, "forceable");
      json_builder_add_boolean_value (b, r->forceable);
      json_builder_set_member_name (b, "overridden");
      json_builder_add_boolean_value (b, r->overridden);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}

char *
vmd_vfio_plan_to_text (const VmdVfioPlan *plan)
{
  g_autoptr(GPtrArray) steps = plan_steps (plan);
  g_autoptr(GPtrArray) losses = plan_losses (plan);
  GString *out = g_string_new (NULL);
  gboolean allowed = vmd_vfio_plan_check_allowed (plan, NULL);

  g_string_append_printf (out, "Plan for %s%s\n", plan->bdf,
                          plan->handover ? " (single-GPU hand-over)" : "");
  g_string_append (out, "\nSteps:\n");
  for (guint i = 0; i < steps->len; i++)
    g_string_append_printf (out, "  %2u. %s\n", i + 1, (char *) steps->pdata[i]);
  g_string_append (out, "\nThe host loses:\n");
  if (losses->len == 0)
    g_string_append (out, "  nothing in use\n");
  for (guint i = 0; i < losses->len; i++)
    g_string_append_printf (out, "  - %s\n", (char *) losses->pdata[i]);
  if (plan->refusals->len)
    g_string_append (out, "\nRefusals:\n");
  for (guint i = 0; i < plan->refusals->len; i++)
    {
      VmdRefusal *r = plan->refusals->pdata[i];
      g_string_append_printf (out, "  %-13s %s%s\n", r->id, r->message,
                              r->overridden ? " [overridden by --force]" : "");
      if (r->fix && !r->overridden)
        g_string_append_printf (out, "  %-13s fix: %s%s\n", "", r->fix,
                                r->forceable && !g_strrstr (r->fix, "--force") ? "; or --force" : "");
    }
  g_string_append_printf (out, "\n%s\n", allowed ? "Allowed: bind would proceed."
                                                 : "Refused: bind would do nothing.");
  return g_string_free (out, FALSE);
}
