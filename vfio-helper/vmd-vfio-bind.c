/* vmd-vfio-bind.c: the transactional bind, release and confirm.
 *
 * A bind first writes what it will need to undo itself (each function's original driver and
 * driver_override, the consoles and framebuffers a hand-over unbinds), then journals each
 * step before it takes it and checks the kernel's answer after. Any failure undoes
 * everything (vmd-vfio-undo.c); a crash leaves a journal that vmd_vfio_recover reads. */
#include "vmd-vfio-private.h"

#include <unistd.h>

typedef struct {
  VmdJournal     *journal;
  VmdTransaction *txn;
} Bind;

static gboolean
announce (Bind *b, const char *op, const char *target, const char *key, const char *value,
          GError **error)
{
  g_autofree char *n = g_strdup_printf ("%u", ++b->txn->n_steps);
  const char *pairs[] = { "n", n, "op", op, "target", target, key, value, NULL };

  return vmd_journal_append (b->journal, "step", pairs, error);
}

static gboolean
on_vfio (const VmdPciFunction *fn)
{
  return g_strcmp0 (fn->driver, "vfio-pci") == 0;
}

static gboolean
is_fb_console (const VmdVtcon *v)
{
  return v->bound && g_strrstr (v->description, "frame buffer") != NULL;
}

/* Everything an undo needs, journaled before the first step. */
static gboolean
write_originals (Bind *b, VmdVfioPlan *plan, guint watchdog, GError **error)
{
  VmdAnalysis *a = plan->analysis;
  g_autofree char *boot = vmd_boot_id ();
  g_autofree char *watchdog_text = g_strdup_printf ("%u", plan->handover ? watchdog : 0);
  const char *begin[] = { "v", "1", "primary", plan->bdf, "boot", boot,
                          "single_gpu", plan->handover ? "1" : "0",
                          "watchdog", watchdog_text, NULL };
  VmdTransaction *txn = b->txn;

  txn->primary = g_strdup (plan->bdf);
  txn->boot_id = g_strdup (boot);
  txn->handover = plan->handover;
  txn->watchdog = plan->handover ? watchdog : 0;
  if (!vmd_journal_append (b->journal, "begin", begin, error))
    return FALSE;
  for (guint i = 0; i < a->functions->len; i++)
    {
      VmdPciFunction *fn = a->functions->pdata[i];
      const char *pairs[] = { "bdf", fn->bdf, "driver", fn->driver ? fn->driver : "",
                              "override", fn->driver_override ? fn->driver_override : "",
                              NULL };
      VmdJournalFunction *f = g_new0 (VmdJournalFunction, 1);

      f->bdf = g_strdup (fn->bdf);
      f->driver = g_strdup (fn->driver);
      f->override = g_strdup (fn->driver_override);
      g_ptr_array_add (txn->functions, f);
      if (!vmd_journal_append (b->journal, "function", pairs, error))
        return FALSE;
    }
  if (!plan->handover)
    return TRUE;
  for (guint i = 0; i < plan->host->vtcons->len; i++)
    {
      VmdVtcon *v = plan->host->vtcons->pdata[i];
      const char *pairs[] = { "name", v->name, NULL };

      if (!is_fb_console (v))
        continue;
      g_ptr_array_add (txn->vtcons, g_strdup (v->name));
      if (!vmd_journal_append (b->journal, "vtcon", pairs, error))
        return FALSE;
    }
  for (guint i = 0; i < plan->host->firmware_fbs->len; i++)
    {
      VmdFirmwareFb *fb = plan->host->firmware_fbs->pdata[i];
      const char *pairs[] = { "device", fb->device, "driver", fb->driver, NULL };
      VmdFirmwareFb *copy;

      if (fb->driver == NULL)
        continue;
      copy = g_new0 (VmdFirmwareFb, 1);
      copy->device = g_strdup (fb->device);
      copy->driver = g_strdup (fb->driver);
      g_ptr_array_add (txn->fbs, copy);
      if (!vmd_journal_append (b->journal, "framebuffer", pairs, error))
        return FALSE;
    }
  return TRUE;
}

/* Sessions, then consoles, then the framebuffer: nothing may hold the GPU when its driver
 * is asked to let go. */
static gboolean
hand_over (Bind *b, VmdVfioPlan *plan, GDBusConnection *bus, GError **error)
{
  VmdTransaction *txn = b->txn;

  if (plan->sessions && plan->sessions->len)
    {
      g_autoptr(GPtrArray) ids = g_ptr_array_new ();
      g_autofree char *list = NULL;

      for (guint i = 0; i < plan->sessions->len; i++)
        g_ptr_array_add (ids, ((VmdSession *) plan->sessions->pdata[i])->id);
      list = vmd_join (ids, ",");
      {
        const char *pairs[] = { "ids", list, NULL };
        if (!vmd_journal_append (b->journal, "sessions", pairs, error)
            || !vmd_logind_terminate (bus, plan->sessions, error))
          return FALSE;
      }
    }
  for (guint i = 0; i < txn->vtcons->len; i++)
    {
      const char *vtcon = txn->vtcons->pdata[i];
      if (!announce (b, "vtcon-unbind", vtcon, "bind", "0", error)
          || !vmd_step_vtcon (vtcon, FALSE, error))
        return FALSE;
    }
  for (guint i = 0; i < txn->fbs->len; i++)
    {
      VmdFirmwareFb *fb = txn->fbs->pdata[i];
      if (!announce (b, "fb-unbind", fb->device, "driver", fb->driver, error)
          || !vmd_step_fb_unbind (fb, error))
        return FALSE;
    }
  return TRUE;
}

static gboolean
move_functions (Bind *b, VmdVfioPlan *plan, GError **error)
{
  VmdAnalysis *a = plan->analysis;

  for (guint i = 0; i < a->functions->len; i++)
    {
      VmdPciFunction *fn = a->functions->pdata[i];

      if (on_vfio (fn))
        continue;
      if (!announce (b, "override", fn->bdf, "value", "vfio-pci", error)
          || !vmd_step_set_override (fn->bdf, "vfio-pci", error))
        return FALSE;
      if (fn->driver && (!announce (b, "unbind", fn->bdf, "driver", fn->driver, error)
                         || !vmd_step_unbind (fn->bdf, fn->driver, error)))
        return FALSE;
      if (!announce (b, "probe", fn->bdf, "driver", "vfio-pci", error)
          || !vmd_step_probe (fn->bdf, "vfio-pci", error))
        return FALSE;
    }
  return TRUE;
}

/* No other transaction may hold any of our functions. */
static gboolean
check_not_held (const char *state_dir, VmdVfioPlan *plan, GError **error)
{
  g_autofree char *dir = g_build_filename (state_dir, "vfio", NULL);
  g_autoptr(GPtrArray) names = vmd_sysfs_list (dir, error);

  if (names == NULL)
    return error == NULL || *error == NULL;
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *path = NULL;
      g_autoptr(VmdTransaction) txn = NULL;
      g_autoptr(GError) local = NULL;

      if (!g_str_has_suffix (name, ".journal"))
        continue;
      path = g_build_filename (dir, name, NULL);
      txn = vmd_journal_load (path, &local);
      if (txn == NULL)
        {
          g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_BUSY,
                       "%s (run vmdesk-vfio recover)", local->message);
          return FALSE;
        }
      for (guint j = 0; j < txn->functions->len; j++)
        for (guint k = 0; k < vmd_vfio_plan_get_n_functions (plan); k++)
          {
            const char *held = ((VmdJournalFunction *) txn->functions->pdata[j])->bdf;
            if (g_str_equal (held, vmd_vfio_plan_get_function (plan, k)))
              {
                g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_BUSY,
                             "%s is %s by vmdesk's transaction for %s (release it, or run "
                             "recover)", held, txn->bound ? "held" : "being moved",
                             txn->primary);
                return FALSE;
              }
          }
    }
  return TRUE;
}

/* The plan was read earlier; a driver that changed since means it no longer describes the
 * machine, and the originals it would record would be wrong. */
static gboolean
check_unchanged (VmdVfioPlan *plan, GError **error)
{
  for (guint i = 0; i < plan->analysis->functions->len; i++)
    {
      VmdPciFunction *fn = plan->analysis->functions->pdata[i];
      g_autofree char *now = vmd_pci_driver_now (fn->bdf, error);

      if (error && *error)
        return FALSE;
      if (g_strcmp0 (now, fn->driver) != 0)
        {
          g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_FAILED,
                       "%s: its driver changed since the plan was made (%s, now %s); plan "
                       "again", fn->bdf, fn->driver ? fn->driver : "none", now ? now : "none");
          return FALSE;
        }
    }
  return TRUE;
}

gboolean
vmd_vfio_bind (VmdVfioPlan *plan, const char *state_dir, guint watchdog_seconds,
               GDBusConnection *system_bus, GError **error)
{
  g_autoptr(VmdJournal) journal = NULL;
  g_autoptr(VmdTransaction) txn = vmd_transaction_new ();
  g_autoptr(GError) step_error = NULL;
  g_autoptr(GError) undo_error = NULL;
  Bind b;
  gboolean ok = FALSE;
  int lock;

  if (!vmd_vfio_plan_check_allowed (plan, error))
    return FALSE;
  lock = vmd_journal_lock (state_dir, error);
  if (lock < 0)
    return FALSE;
  if (!check_not_held (state_dir, plan, error) || !check_unchanged (plan, error))
    goto out;
  journal = vmd_journal_create (state_dir, plan->bdf, error);
  if (journal == NULL)
    goto out;

  b.journal = journal;
  b.txn = txn;
  if (write_originals (&b, plan, watchdog_seconds, &step_error)
      && (!plan->handover || hand_over (&b, plan, system_bus, &step_error))
      && move_functions (&b, plan, &step_error))
    {
      gint64 deadline = txn->watchdog ? vmd_boottime_us () + (gint64) txn->watchdog * G_USEC_PER_SEC : 0;
      g_autofree char *text = g_strdup_printf ("%" G_GINT64_FORMAT, deadline);
      const char *pairs[] = { "deadline", text, NULL };

      if (vmd_journal_append (journal, "bound", pairs, &step_error))
        {
          ok = TRUE;
          goto out;
        }
    }

  /* Undo in reverse; the error says what failed and whether the undo worked. */
  if (vmd_transaction_undo (txn, journal, "rollback", &undo_error))
    g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_STEP_FAILED,
                 "binding %s failed, everything was rolled back: %s", plan->bdf,
                 step_error->message);
  else
    g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_INCONSISTENT,
                 "binding %s failed (%s) and %s", plan->bdf, step_error->message,
                 undo_error->message);

out:
  close (lock);
  return ok;
}
