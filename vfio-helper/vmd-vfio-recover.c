/* vmd-vfio-recover.c: what the daemon runs at start. Each journal left in STATE_DIR/vfio is
 * one device a crash may have left half-moved:
 *   - a bind that never completed is rolled back;
 *   - a release or rollback that never completed is finished (the same undo);
 *   - a completed bind whose single-GPU watchdog expired unconfirmed is released;
 *   - a completed bind otherwise stays: a VM may be using the device;
 *   - a journal from an earlier boot is dropped untouched: the kernel started afresh, and
 *     whatever bound the device since (vfio-pci.ids=, a user) is not ours to undo. */
#include "vmd-vfio-private.h"

#include <glib/gstdio.h>
#include <unistd.h>

const char *
vmd_vfio_recovered_action_to_string (VmdVfioRecoveredAction action)
{
  static const char *const names[] = {
    [VMD_VFIO_RECOVERED_ROLLED_BACK] = "rolled-back",
    [VMD_VFIO_RECOVERED_RELEASED]    = "released",
    [VMD_VFIO_RECOVERED_STALE]       = "stale",
    [VMD_VFIO_RECOVERED_HELD]        = "held",
    [VMD_VFIO_RECOVERED_FAILED]      = "failed",
  };
  return names[action];
}

static void
recovered_free (gpointer data)
{
  VmdVfioRecovered *r = data;

  g_free (r->bdf);
  g_free (r->detail);
  g_free (r);
}

G_GNUC_PRINTF (4, 5) static void
report (GPtrArray *out, const char *bdf, VmdVfioRecoveredAction action, const char *format, ...)
{
  VmdVfioRecovered *r = g_new0 (VmdVfioRecovered, 1);
  va_list ap;

  va_start (ap, format);
  r->detail = g_strdup_vprintf (format, ap);
  va_end (ap);
  r->bdf = g_strdup (bdf);
  r->action = action;
  g_ptr_array_add (out, r);
}

static void
recover_one (const char *path, const char *boot_id, GPtrArray *out)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdTransaction) txn = vmd_journal_load (path, &error);
  g_autoptr(VmdJournal) journal = NULL;
  g_autofree char *damage = NULL;
  g_autofree char *name = g_path_get_basename (path);
  VmdVfioRecoveredAction action;
  const char *reason;

  if (txn == NULL)
    {
      /* Nothing in it can be trusted to undo anything; set it aside so binds are not
       * blocked forever, and say so loudly. */
      g_autofree char *aside = g_strconcat (path, ".corrupt", NULL);
      g_rename (path, aside);
      report (out, NULL, VMD_VFIO_RECOVERED_FAILED,
              "%s; moved to %s: check the devices it names by hand", error->message, aside);
      return;
    }
  if (txn->corrupt_line)
    damage = g_strdup_printf (" (journal damaged at line %u; undone from the records before "
                              "it)", txn->corrupt_line);
  journal = vmd_journal_open (path, &error);
  if (journal == NULL)
    {
      report (out, txn->primary, VMD_VFIO_RECOVERED_FAILED, "%s", error->message);
      return;
    }
  if (txn->done)
    {
      if (vmd_journal_remove (journal, &error))
        report (out, txn->primary, VMD_VFIO_RECOVERED_RELEASED,
                "already given back; removed its journal");
      else
        report (out, txn->primary, VMD_VFIO_RECOVERED_FAILED, "%s", error->message);
      return;
    }
  if (*boot_id && *txn->boot_id && !g_str_equal (boot_id, txn->boot_id))
    {
      if (vmd_journal_remove (journal, &error))
        report (out, txn->primary, VMD_VFIO_RECOVERED_STALE,
                "journal from an earlier boot; dropped without touching the device");
      else
        report (out, txn->primary, VMD_VFIO_RECOVERED_FAILED, "%s", error->message);
      return;
    }
  if (txn->bound && !txn->undoing && !txn->corrupt_line)
    {
      gboolean expired = txn->handover && txn->deadline > 0 && !txn->confirmed
                         && vmd_boottime_us () >= txn->deadline;
      if (!expired)
        {
          report (out, txn->primary, VMD_VFIO_RECOVERED_HELD,
                  "bound to vfio-pci%s; left alone", txn->confirmed ? ", VM confirmed" : "");
          return;
        }
      action = VMD_VFIO_RECOVERED_RELEASED;
      reason = "watchdog";
    }
  else if (txn->bound)
    {
      action = VMD_VFIO_RECOVERED_RELEASED;
      reason = "recover";
    }
  else
    {
      action = VMD_VFIO_RECOVERED_ROLLED_BACK;
      reason = "recover";
    }
  g_debug ("recovering %s from %s (%u steps recorded)", txn->primary, name, txn->n_steps);
  if (vmd_transaction_undo (txn, journal, reason, &error))
    report (out, txn->primary, action, "%s%s%s",
            action == VMD_VFIO_RECOVERED_ROLLED_BACK ? "an interrupted bind was rolled back"
            : g_str_equal (reason, "watchdog") ? "the watchdog expired without confirm: given back"
            : "an interrupted release was finished",
            txn->handover ? ", host display restored" : "", damage ? damage : "");
  else
    report (out, txn->primary, VMD_VFIO_RECOVERED_FAILED, "%s", error->message);
}

GPtrArray *
vmd_vfio_recover (const char *state_dir, GError **error)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (recovered_free);
  g_autofree char *dir = vmd_journal_dir (state_dir, error);
  g_autofree char *boot_id = vmd_boot_id ();
  g_autoptr(GPtrArray) names = NULL;
  int lock;

  if (dir == NULL)
    return NULL;
  lock = vmd_journal_lock (state_dir, error);
  if (lock < 0)
    return NULL;
  names = vmd_sysfs_list (dir, error);
  if (names == NULL && error && *error)
    {
      close (lock);
      return NULL;
    }
  for (guint i = 0; names && i < names->len; i++)
    {
      g_autofree char *path = NULL;

      if (!g_str_has_suffix (names->pdata[i], ".journal"))
        continue;
      path = g_build_filename (dir, names->pdata[i], NULL);
      recover_one (path, boot_id, out);
    }
  close (lock);
  return g_steal_pointer (&out);
}

JsonNode *
vmd_vfio_recovered_to_json (GPtrArray *recovered)
{
  g_autoptr(JsonBuilder) b = json_builder_new ();

  json_builder_begin_object (b);
  json_builder_set_member_name (b, "schema");
  json_builder_add_int_value (b, 1);
  json_builder_set_member_name (b, "journals");
  json_builder_begin_array (b);
  for (guint i = 0; i < recovered->len; i++)
    {
      VmdVfioRecovered *r = recovered->pdata[i];
      json_builder_begin_object (b);
      vmd_json_add_string_or_null (b, "bdf", r->bdf);
      vmd_json_add_string_or_null (b, "action", vmd_vfio_recovered_action_to_string (r->action));
      vmd_json_add_string_or_null (b, "detail", r->detail);
      json_builder_end_object (b);
    }
  json_builder_end_array (b);
  json_builder_end_object (b);
  return json_builder_get_root (b);
}
