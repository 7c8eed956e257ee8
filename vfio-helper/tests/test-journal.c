/* The journal is what recovery trusts after a crash: every prefix of it must parse, damage
 * must be told apart from a torn last write, and hostile values must round-trip. */
#include "vmd-vfio-private.h"

#include <glib/gstdio.h>
#include <string.h>

static char *
sample_journal (void)
{
  const char *begin[] = { "v", "1", "primary", "0000:01:00.0", "boot", "abc-123",
                          "single_gpu", "1", "watchdog", "60", NULL };
  const char *gpu[] = { "bdf", "0000:01:00.0", "driver", "nvidia", "override", "", NULL };
  const char *audio[] = { "bdf", "0000:01:00.1", "driver", "", "override", "", NULL };
  const char *vtcon[] = { "name", "vtcon1", NULL };
  const char *fb[] = { "device", "efi-framebuffer.0", "driver", "efi-framebuffer", NULL };
  const char *step[] = { "n", "1", "op", "override", "target", "0000:01:00.0", "value",
                         "vfio-pci", NULL };
  const char *bound[] = { "deadline", "123456789", NULL };
  GString *out = g_string_new (NULL);
  char *line;

#define ADD(kind, pairs) line = vmd_journal_format (kind, pairs); \
                         g_string_append (out, line); g_free (line)
  ADD ("begin", begin);
  ADD ("function", gpu);
  ADD ("function", audio);
  ADD ("vtcon", vtcon);
  ADD ("framebuffer", fb);
  ADD ("step", step);
  ADD ("bound", bound);
  ADD ("confirm", NULL);
#undef ADD
  return g_string_free (out, FALSE);
}

static void
test_round_trip_hostile_values (void)
{
  const char *values[] = { "a b", "x=y", "100%", "line\nbreak", "caf\xc3\xa9", "<&>\"'",
                           "sum=0000000000000000", "", "\t", NULL };

  for (guint i = 0; values[i]; i++)
    {
      const char *pairs[] = { "key", values[i], "other", "ok", NULL };
      g_autofree char *line = vmd_journal_format ("step", pairs);
      g_autoptr(GPtrArray) records = NULL;
      gboolean torn;
      guint corrupt;

      /* One line, whatever the value. */
      g_assert_cmpuint (strchr (line, '\n') - line, ==, strlen (line) - 1);
      records = vmd_journal_parse (line, strlen (line), &torn, &corrupt);
      g_assert_false (torn);
      g_assert_cmpuint (corrupt, ==, 0);
      g_assert_cmpuint (records->len, ==, 1);
      g_assert_cmpstr (vmd_journal_record_get (records->pdata[0], "key"), ==, values[i]);
      g_assert_cmpstr (vmd_journal_record_get (records->pdata[0], "other"), ==, "ok");
    }
}

/* A crash can cut the file anywhere in its last write: every prefix parses to the complete
 * records before the cut, and a cut inside a line is a torn tail, never corruption. */
static void
test_every_prefix (void)
{
  g_autofree char *text = sample_journal ();
  gsize len = strlen (text);

  for (gsize cut = 0; cut <= len; cut++)
    {
      g_autoptr(GPtrArray) records = NULL;
      guint complete = 0;
      gboolean torn;
      guint corrupt;

      for (gsize i = 0; i < cut; i++)
        complete += text[i] == '\n';
      records = vmd_journal_parse (text, cut, &torn, &corrupt);
      g_assert_cmpuint (records->len, ==, complete);
      g_assert_cmpuint (corrupt, ==, 0);
      g_assert_true (torn == (cut > 0 && text[cut - 1] != '\n'));
    }
}

static void
test_damage (void)
{
  g_autofree char *text = sample_journal ();
  char *second = strchr (text, '\n') + 1;
  char *last = g_strrstr_len (text, strlen (text) - 1, "\n") + 1;
  g_autoptr(GPtrArray) records = NULL;
  gboolean torn;
  guint corrupt;

  /* One flipped byte in the second line: corruption, and only the first record is kept. */
  second[3] ^= 0x20;
  records = vmd_journal_parse (text, strlen (text), &torn, &corrupt);
  g_assert_cmpuint (corrupt, ==, 2);
  g_assert_false (torn);
  g_assert_cmpuint (records->len, ==, 1);
  second[3] ^= 0x20;
  g_clear_pointer (&records, g_ptr_array_unref);

  /* In the last line it is indistinguishable from a torn write: dropped, not fatal. */
  last[2] ^= 0x01;
  records = vmd_journal_parse (text, strlen (text), &torn, &corrupt);
  g_assert_true (torn);
  g_assert_cmpuint (corrupt, ==, 0);
  g_assert_cmpuint (records->len, ==, 7);
  last[2] ^= 0x01;
  g_clear_pointer (&records, g_ptr_array_unref);

  /* A line that is nothing but a correct sum of nothing (found by fuzz-vfio-journal): a
   * bad last line, so a torn tail, not a crash. */
  {
    const char *nothing = " sum=e3b0c44298fc1c14\n";
    g_autoptr(GPtrArray) none = vmd_journal_parse (nothing, strlen (nothing), &torn, &corrupt);

    g_assert_cmpuint (none->len, ==, 0);
    g_assert_true (torn);
    g_assert_cmpuint (corrupt, ==, 0);
  }

  /* Zeros after the last record (a crash after the size grew) are a torn tail too. */
  {
    g_autofree char *padded = g_malloc0 (strlen (text) + 64);
    memcpy (padded, text, strlen (text));
    records = vmd_journal_parse (padded, strlen (text) + 64, &torn, &corrupt);
    g_assert_true (torn);
    g_assert_cmpuint (records->len, ==, 8);
  }
}

static void
test_decode (void)
{
  g_autofree char *text = sample_journal ();
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(VmdTransaction) txn = NULL;
  g_autoptr(GError) error = NULL;
  VmdJournalFunction *f;
  gboolean torn;
  guint corrupt;

  records = vmd_journal_parse (text, strlen (text), &torn, &corrupt);
  txn = vmd_transaction_decode (records, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (txn->primary, ==, "0000:01:00.0");
  g_assert_cmpstr (txn->boot_id, ==, "abc-123");
  g_assert_true (txn->handover);
  g_assert_cmpuint (txn->watchdog, ==, 60);
  g_assert_cmpuint (txn->functions->len, ==, 2);
  f = txn->functions->pdata[0];
  g_assert_cmpstr (f->driver, ==, "nvidia");
  g_assert_null (f->override);
  f = txn->functions->pdata[1];
  g_assert_null (f->driver);
  g_assert_cmpuint (txn->vtcons->len, ==, 1);
  g_assert_cmpuint (txn->fbs->len, ==, 1);
  g_assert_cmpuint (txn->n_steps, ==, 1);
  g_assert_true (txn->bound && txn->confirmed);
  g_assert_false (txn->undoing || txn->done);
  g_assert_cmpint (txn->deadline, ==, 123456789);
}

static void
expect_undecodable (const char *kind, const char *const *pairs, gboolean as_first)
{
  g_autofree char *text = sample_journal ();
  g_autofree char *extra = vmd_journal_format (kind, pairs);
  g_autofree char *all = as_first ? g_strconcat (extra, text, NULL)
                                  : g_strconcat (text, extra, NULL);
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(VmdTransaction) txn = NULL;
  g_autoptr(GError) error = NULL;
  gboolean torn;
  guint corrupt;

  records = vmd_journal_parse (all, strlen (all), &torn, &corrupt);
  txn = vmd_transaction_decode (records, &error);
  g_assert_null (txn);
  g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL);
}

static void
test_decode_refuses (void)
{
  const char *bad_bdf[] = { "bdf", "../../etc", "driver", "", "override", "", NULL };
  const char *bad_driver[] = { "bdf", "0000:01:00.0", "driver", "../x", "override", "", NULL };
  const char *no_op[] = { "n", "1", NULL };
  const char *bad_deadline[] = { "deadline", "-5", NULL };
  g_autoptr(GPtrArray) empty = g_ptr_array_new ();
  g_autoptr(GError) error = NULL;

  expect_undecodable ("function", bad_bdf, FALSE);
  expect_undecodable ("function", bad_driver, FALSE);
  expect_undecodable ("step", no_op, FALSE);
  expect_undecodable ("bound", bad_deadline, FALSE);
  expect_undecodable ("mystery", NULL, FALSE);
  expect_undecodable ("done", NULL, TRUE);   /* not starting with begin */
  g_assert_null (vmd_transaction_decode (empty, &error));
  g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL);
}

static void
test_files (void)
{
  g_autofree char *state = g_dir_make_tmp ("vmdesk-vfio-journal-XXXXXX", NULL);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdJournal) journal = NULL;
  g_autoptr(VmdJournal) again = NULL;
  g_autoptr(VmdTransaction) txn = NULL;
  const char *begin[] = { "v", "1", "primary", "0000:01:00.0", "boot", "", "single_gpu", "0",
                          "watchdog", "0", NULL };
  int lock, lock2;

  lock = vmd_journal_lock (state, &error);
  g_assert_no_error (error);
  g_assert_cmpint (lock, >=, 0);
  /* flock is per open file: a second open in the same process is refused too. */
  lock2 = vmd_journal_lock (state, &error);
  g_assert_cmpint (lock2, ==, -1);
  g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_BUSY);
  g_clear_error (&error);

  journal = vmd_journal_create (state, "0000:01:00.0", &error);
  g_assert_no_error (error);
  g_assert_true (vmd_journal_append (journal, "begin", begin, &error));
  again = vmd_journal_create (state, "0000:01:00.0", &error);
  g_assert_null (again);
  g_assert_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_BUSY);
  g_clear_error (&error);

  txn = vmd_journal_load (vmd_journal_get_path (journal), &error);
  g_assert_no_error (error);
  g_assert_cmpstr (txn->primary, ==, "0000:01:00.0");
  g_assert_false (txn->bound);

  /* An undo with nothing to restore writes undo and done, then removes the journal. */
  g_assert_true (vmd_transaction_undo (txn, journal, "rollback", &error));
  g_assert_no_error (error);
  g_assert_false (g_file_test (vmd_journal_get_path (journal), G_FILE_TEST_EXISTS));

  close (lock);
  lock = vmd_journal_lock (state, &error);
  g_assert_cmpint (lock, >=, 0);
  close (lock);
  {
    g_autofree char *dir = g_build_filename (state, "vfio", NULL);
    g_autofree char *lockfile = g_build_filename (dir, "lock", NULL);
    g_unlink (lockfile);
    g_rmdir (dir);
    g_rmdir (state);
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vfio/journal/round-trip", test_round_trip_hostile_values);
  g_test_add_func ("/vfio/journal/every-prefix", test_every_prefix);
  g_test_add_func ("/vfio/journal/damage", test_damage);
  g_test_add_func ("/vfio/journal/decode", test_decode);
  g_test_add_func ("/vfio/journal/decode-refuses", test_decode_refuses);
  g_test_add_func ("/vfio/journal/files", test_files);
  return g_test_run ();
}
