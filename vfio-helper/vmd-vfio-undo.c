/* vmd-vfio-undo.c: bring every function of a transaction back to its recorded original
 * driver and driver_override, then the firmware framebuffer and the virtual consoles.
 * Rollback, release and recovery are all this one operation: it looks at what sysfs says
 * now and takes only the steps still needed, so running it again after a crash halfway
 * through is always right. */
#include "vmd-vfio-private.h"

typedef struct {
  VmdJournal *journal;
  guint       n;         /* step number for the journal */
  GPtrArray  *failures;  /* one line each */
} Undo;

/* Journal the step before taking it. Undo moves toward the safe state and the journal
 * already leads recovery there, so a journal that cannot be written does not stop it. */
static void
announce (Undo *u, const char *op, const char *target, const char *key, const char *value)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *n = g_strdup_printf ("%u", ++u->n);
  const char *pairs[] = { "n", n, "op", op, "target", target, key, value, NULL };

  if (u->journal && !vmd_journal_append (u->journal, "step", pairs, &error))
    g_warning ("%s", error->message);
}

static void
failed (Undo *u, GError *error)
{
  g_ptr_array_add (u->failures, g_strdup (error->message));
}

static void
restore_function (Undo *u, const VmdJournalFunction *f)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *driver = vmd_pci_driver_now (f->bdf, &error);
  g_autofree char *override = NULL;
  const char *want_override = f->override ? f->override : "";

  if (error)
    {
      failed (u, error);
      return;
    }
  if (g_strcmp0 (driver, "vfio-pci") == 0 && g_strcmp0 (f->driver, "vfio-pci") != 0)
    {
      announce (u, "unbind", f->bdf, "driver", "vfio-pci");
      if (!vmd_step_unbind (f->bdf, "vfio-pci", &error))
        {
          failed (u, error);
          return;
        }
      g_clear_pointer (&driver, g_free);
    }
  override = vmd_pci_override_now (f->bdf, &error);
  if (override == NULL)
    {
      failed (u, error);
      return;
    }
  if (!g_str_equal (override, want_override))
    {
      announce (u, "override", f->bdf, "value", want_override);
      if (!vmd_step_set_override (f->bdf, want_override, &error))
        {
          failed (u, error);
          return;
        }
    }
  if (f->driver && driver == NULL)
    {
      announce (u, "bind", f->bdf, "driver", f->driver);
      if (!vmd_step_bind (f->bdf, f->driver, &error))
        {
          /* The driver's own bind can refuse where a probe finds it (new_id devices). */
          g_info ("%s; trying drivers_probe", error->message);
          g_clear_error (&error);
          announce (u, "probe", f->bdf, "driver", f->driver);
          if (!vmd_step_probe (f->bdf, f->driver, &error))
            {
              failed (u, error);
              return;
            }
        }
      driver = g_strdup (f->driver);
    }
  if (g_strcmp0 (driver, f->driver) != 0)
    {
      /* Someone else's driver: not ours to remove. */
      g_set_error (&error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_INCONSISTENT,
                   "%s: bound to %s, not to its original driver %s; left alone", f->bdf,
                   driver, f->driver ? f->driver : "(none)");
      failed (u, error);
    }
}

gboolean
vmd_transaction_undo (VmdTransaction *txn, VmdJournal *journal, const char *reason,
                      GError **error)
{
  g_autoptr(GPtrArray) failures = g_ptr_array_new_with_free_func (g_free);
  Undo u = { journal, txn->n_steps, failures };
  const char *pairs[] = { "reason", reason, NULL };
  g_autoptr(GError) local = NULL;

  if (journal && !vmd_journal_append (journal, "undo", pairs, &local))
    {
      g_warning ("%s", local->message);
      g_clear_error (&local);
    }
  for (guint i = txn->functions->len; i-- > 0;)
    restore_function (&u, txn->functions->pdata[i]);
  /* The console comes back once the GPU has its host driver again. */
  for (guint i = txn->fbs->len; i-- > 0;)
    {
      VmdFirmwareFb *fb = txn->fbs->pdata[i];

      if (vmd_fb_is_bound (fb))
        continue;
      announce (&u, "fb-bind", fb->device, "driver", fb->driver);
      if (!vmd_step_fb_bind (fb, &local))
        {
          failed (&u, local);
          g_clear_error (&local);
        }
    }
  for (guint i = txn->vtcons->len; i-- > 0;)
    {
      const char *vtcon = txn->vtcons->pdata[i];

      if (vmd_vtcon_bound (vtcon) == 1)
        continue;
      announce (&u, "vtcon-bind", vtcon, "bind", "1");
      if (!vmd_step_vtcon (vtcon, TRUE, &local))
        {
          failed (&u, local);
          g_clear_error (&local);
        }
    }

  if (failures->len > 0)
    {
      g_autofree char *list = vmd_join (failures, "; ");
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_INCONSISTENT,
                   "%s of %s incomplete: %s (journal %s kept; run vmdesk-vfio recover)",
                   reason, txn->primary, list,
                   journal ? vmd_journal_get_path (journal) : "(none)");
      return FALSE;
    }
  if (journal && (!vmd_journal_append (journal, "done", NULL, error)
                  || !vmd_journal_remove (journal, error)))
    return FALSE;
  return TRUE;
}
