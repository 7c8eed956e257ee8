/* vmd-vfio-release.c: giving a device back to the host (release), and telling a single-GPU
 * hand-over's watchdog that the VM started (confirm). */
#include "vmd-vfio-private.h"

#include <unistd.h>

/* The state directory's lock (the fd, -1 on error) and the journal path of `bdf`. */
static int
lock_journal (const char *bdf, const char *state_dir, char **canonical, char **path,
              GError **error)
{
  char buf[VMD_VFIO_BDF_BUFSIZE];
  VmdVfioBdf addr;
  int lock;

  if (!vmd_vfio_bdf_parse (bdf, &addr, error))
    return -1;
  lock = vmd_journal_lock (state_dir, error);
  if (lock < 0)
    return -1;
  *canonical = g_strdup (vmd_vfio_bdf_format (&addr, buf));
  *path = vmd_journal_path (state_dir, *canonical);
  return lock;
}

/* No journal: the functions of the device that sit on vfio-pci go back to whatever driver
 * the kernel picks for them. */
static gboolean
release_unjournaled (const char *bdf, GError **error)
{
  g_autoptr(GPtrArray) names = vmd_sysfs_list ("/sys/bus/pci/devices", error);
  VmdVfioBdf primary;
  guint moved = 0;

  if (names == NULL)
    return FALSE;
  vmd_vfio_bdf_parse (bdf, &primary, NULL);
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *driver = NULL;
      g_autofree char *now = NULL;
      VmdVfioBdf addr;

      if (!vmd_vfio_bdf_parse (name, &addr, NULL) || !vmd_vfio_bdf_same_device (&primary, &addr))
        continue;
      driver = vmd_pci_driver_now (name, error);
      if (error && *error)
        return FALSE;
      if (g_strcmp0 (driver, "vfio-pci") != 0)
        continue;
      if (!vmd_step_set_override (name, "", error)
          || !vmd_step_unbind (name, "vfio-pci", error)
          || !vmd_sysfs_write ("/sys/bus/pci/drivers_probe", name, error))
        return FALSE;
      now = vmd_pci_driver_now (name, NULL);
      g_info ("%s: re-probed, driver now %s", name, now ? now : "none");
      moved++;
    }
  if (moved == 0)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_NOT_FOUND,
                   "no function of %s is on vfio-pci", bdf);
      return FALSE;
    }
  return TRUE;
}

gboolean
vmd_vfio_release (const char *bdf, const char *state_dir, VmdVfioReleaseFlags flags,
                  GError **error)
{
  g_autofree char *canonical = NULL;
  g_autofree char *path = NULL;
  g_autoptr(VmdTransaction) txn = NULL;
  g_autoptr(VmdJournal) journal = NULL;
  gboolean ok = FALSE;
  int lock = lock_journal (bdf, state_dir, &canonical, &path, error);

  if (lock < 0)
    return FALSE;
  if (!g_file_test (path, G_FILE_TEST_EXISTS))
    {
      if (flags & VMD_VFIO_RELEASE_FORCE)
        ok = release_unjournaled (canonical, error);
      else
        g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_NOT_FOUND,
                     "vmdesk holds no binding of %s (no %s); --force re-probes a device "
                     "bound to vfio-pci by other means", canonical, path);
      goto out;
    }
  txn = vmd_journal_load (path, error);
  if (txn == NULL)
    goto out;
  journal = vmd_journal_open (path, error);
  if (journal == NULL)
    goto out;
  ok = vmd_transaction_undo (txn, journal, "release", error);

out:
  close (lock);
  return ok;
}

gboolean
vmd_vfio_confirm (const char *bdf, const char *state_dir, GError **error)
{
  g_autofree char *canonical = NULL;
  g_autofree char *path = NULL;
  g_autoptr(VmdTransaction) txn = NULL;
  g_autoptr(VmdJournal) journal = NULL;
  gboolean ok = FALSE;
  int lock = lock_journal (bdf, state_dir, &canonical, &path, error);

  if (lock < 0)
    return FALSE;
  txn = vmd_journal_load (path, error);
  if (txn == NULL)
    goto out;
  if (!txn->bound || txn->undoing)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_NOT_FOUND,
                   "%s is not bound (its journal records no completed bind)", canonical);
      goto out;
    }
  if (txn->confirmed)
    {
      ok = TRUE;
      goto out;
    }
  journal = vmd_journal_open (path, error);
  ok = journal && vmd_journal_append (journal, "confirm", NULL, error);

out:
  close (lock);
  return ok;
}
