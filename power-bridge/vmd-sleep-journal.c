/* vmd-sleep-journal.c: which VMs vmdesk paused, suspended, saved or shut down, on disk, so
 * that a daemon that died between host sleep and wake (or a host that powered off) still
 * brings them back, and never touches a VM it did not quiesce itself. */
#include "vmd-power-private.h"

/* A laptop runs a handful of VMs; anything far beyond is not a journal vmdesk wrote. */
#define ENTRIES_MAX 256

struct _VmdSleepJournal {
  char      *path;
  GPtrArray *entries;   /* of VmdJournalEntry */
};

static void
entry_free (VmdJournalEntry *e)
{
  g_free (e->vm);
  g_free (e->reason);
  g_free (e);
}

static VmdPowerAction
action_from_string (const char *s)
{
  static const VmdPowerAction journaled[] = {
    VMD_POWER_ACTION_SUSPEND, VMD_POWER_ACTION_PAUSE, VMD_POWER_ACTION_SAVE,
    VMD_POWER_ACTION_HIBERNATE, VMD_POWER_ACTION_SHUTDOWN,
  };

  for (gsize i = 0; s != NULL && i < G_N_ELEMENTS (journaled); i++)
    if (strcmp (s, vmd_power_action_to_string (journaled[i])) == 0)
      return journaled[i];
  return VMD_POWER_ACTION_NONE;
}

static void
load_entries (VmdSleepJournal *j, GKeyFile *kf)
{
  g_auto(GStrv) groups = g_key_file_get_groups (kf, NULL);

  for (guint i = 0; groups[i] != NULL && j->entries->len < ENTRIES_MAX; i++)
    {
      g_autofree char *vm = g_key_file_get_string (kf, groups[i], "vm", NULL);
      g_autofree char *action = g_key_file_get_string (kf, groups[i], "action", NULL);
      g_autofree char *reason = g_key_file_get_string (kf, groups[i], "reason", NULL);
      g_autoptr(GError) error = NULL;
      VmdPowerAction a = action_from_string (action);

      if (!vmd_vm_name_validate (vm, &error) || a == VMD_POWER_ACTION_NONE)
        {
          g_warning ("%s: ignoring entry [%s]: %s", j->path, groups[i],
                     error != NULL ? error->message : "no valid action");
          continue;
        }
      vmd_sleep_journal_put (j, vm, g_key_file_get_int64 (kf, groups[i], "instance", NULL), a,
                             g_key_file_get_boolean (kf, groups[i], "user-paused", NULL),
                             reason != NULL ? reason : "");
    }
}

VmdSleepJournal *
vmd_sleep_journal_load (const char *dir, GError **error)
{
  g_autoptr(VmdSleepJournal) j = g_new0 (VmdSleepJournal, 1);
  g_autoptr(GKeyFile) kf = NULL;

  j->entries = g_ptr_array_new_with_free_func ((GDestroyNotify) entry_free);
  if (!vmd_state_dir_ensure (dir, error))
    return NULL;
  j->path = g_build_filename (dir, "power-journal.ini", NULL);
  kf = vmd_keyfile_load_or_quarantine (j->path);
  load_entries (j, kf);
  return g_steal_pointer (&j);
}

void
vmd_sleep_journal_free (VmdSleepJournal *journal)
{
  if (journal == NULL)
    return;
  g_ptr_array_unref (journal->entries);
  g_free (journal->path);
  g_free (journal);
}

GPtrArray *
vmd_sleep_journal_entries (VmdSleepJournal *journal)
{
  return journal->entries;
}

static guint
find (VmdSleepJournal *j, const char *vm)
{
  for (guint i = 0; i < j->entries->len; i++)
    if (strcmp (((VmdJournalEntry *) j->entries->pdata[i])->vm, vm) == 0)
      return i;
  return G_MAXUINT;
}

const VmdJournalEntry *
vmd_sleep_journal_lookup (VmdSleepJournal *journal, const char *vm)
{
  guint i = find (journal, vm);
  return i == G_MAXUINT ? NULL : journal->entries->pdata[i];
}

void
vmd_sleep_journal_put (VmdSleepJournal *journal, const char *vm, gint64 instance,
                       VmdPowerAction action, gboolean user_paused, const char *reason)
{
  VmdJournalEntry *e = g_new0 (VmdJournalEntry, 1);

  e->vm = g_strdup (vm);
  e->instance = instance;
  e->action = action;
  e->user_paused = user_paused;
  e->reason = g_strdup (reason);
  vmd_sleep_journal_remove (journal, vm);
  g_ptr_array_add (journal->entries, e);
}

void
vmd_sleep_journal_remove (VmdSleepJournal *journal, const char *vm)
{
  guint i = find (journal, vm);

  if (i != G_MAXUINT)
    g_ptr_array_remove_index (journal->entries, i);
}

gboolean
vmd_sleep_journal_save (VmdSleepJournal *journal, GError **error)
{
  g_autoptr(GKeyFile) kf = g_key_file_new ();

  g_key_file_set_comment (kf, NULL, NULL,
                          " VMs vmdesk quiesced for host sleep, host shutdown or a critical\n"
                          " battery and has not brought back yet. Written by vmdeskd; see\n"
                          " docs/power-bridge.md.",
                          NULL);
  for (guint i = 0; i < journal->entries->len; i++)
    {
      const VmdJournalEntry *e = journal->entries->pdata[i];
      g_autofree char *group = g_strdup_printf ("vm-%u", i);

      g_key_file_set_string (kf, group, "vm", e->vm);
      g_key_file_set_int64 (kf, group, "instance", e->instance);
      g_key_file_set_string (kf, group, "action", vmd_power_action_to_string (e->action));
      g_key_file_set_boolean (kf, group, "user-paused", e->user_paused);
      g_key_file_set_string (kf, group, "reason", e->reason);
    }
  if (!vmd_keyfile_save (kf, journal->path, error))
    {
      g_prefix_error (error, "writing the power journal %s: ", journal->path);
      return FALSE;
    }
  return TRUE;
}
