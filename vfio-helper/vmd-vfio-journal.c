/* vmd-vfio-journal.c: the write-ahead journal of a bind. One file per bound device,
 * STATE_DIR/vfio/<bdf>.journal, one record per line:
 *
 *     kind key=value ... sum=<first 16 hex digits of SHA-256 of what precedes " sum=">
 *
 * Values are percent-encoded. Records are appended with one write and fsynced before the
 * step they announce is taken, so after a crash the file says at least everything that was
 * done; a torn last line is an intent that never ran. Format and record kinds: docs/vfio.md. */
#include "vmd-vfio-private.h"

#include <errno.h>
#include <glib/gstdio.h>
#include <fcntl.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define SUM_LEN      16
#define MAX_RECORDS  4096
#define MAX_PAIRS    16
#define KEEP_CHARS   "-._:,"

struct _VmdJournal {
  int   fd;
  char *path;
  char *dir;
};

void
vmd_journal_record_free (VmdJournalRecord *record)
{
  if (record == NULL)
    return;
  g_free (record->kind);
  g_clear_pointer (&record->keys, g_ptr_array_unref);
  g_clear_pointer (&record->values, g_ptr_array_unref);
  g_free (record);
}

const char *
vmd_journal_record_get (const VmdJournalRecord *record, const char *key)
{
  for (guint i = 0; i < record->keys->len; i++)
    if (g_str_equal (record->keys->pdata[i], key))
      return record->values->pdata[i];
  return NULL;
}

static gboolean
is_word (const char *s, gsize len)
{
  if (len == 0)
    return FALSE;
  for (gsize i = 0; i < len; i++)
    if (!(g_ascii_islower (s[i]) || s[i] == '_' || s[i] == '-'))
      return FALSE;
  return TRUE;
}

static char *
line_sum (const char *line, gsize len)
{
  g_autofree char *hex = g_compute_checksum_for_data (G_CHECKSUM_SHA256, (const guchar *) line,
                                                      len);
  return g_strndup (hex, SUM_LEN);
}

char *
vmd_journal_format (const char *kind, const char *const *pairs)
{
  g_autoptr(GString) line = g_string_new (kind);
  g_autofree char *sum = NULL;

  g_return_val_if_fail (is_word (kind, strlen (kind)), NULL);
  for (guint i = 0; pairs && pairs[i]; i += 2)
    {
      g_autofree char *value = NULL;

      g_return_val_if_fail (is_word (pairs[i], strlen (pairs[i])) && pairs[i + 1], NULL);
      value = g_uri_escape_string (pairs[i + 1], KEEP_CHARS, FALSE);
      g_string_append_printf (line, " %s=%s", pairs[i], value);
    }
  sum = line_sum (line->str, line->len);
  g_string_append_printf (line, " sum=%s\n", sum);
  return g_string_free (g_steal_pointer (&line), FALSE);
}

/* One line without its newline; NULL if anything about it is wrong. */
static VmdJournalRecord *
parse_line (const char *line, gsize len)
{
  g_autoptr(GPtrArray) keys = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) values = g_ptr_array_new_with_free_func (g_free);
  g_autofree char *text = NULL;
  g_autofree char *sum = NULL;
  g_auto(GStrv) fields = NULL;
  const char *sum_at;
  VmdJournalRecord *record;

  if (len > VMD_JOURNAL_MAX_LINE || memchr (line, '\0', len) != NULL)
    return NULL;
  text = g_strndup (line, len);
  sum_at = g_strrstr (text, " sum=");
  if (sum_at == NULL || strlen (sum_at + 5) != SUM_LEN)
    return NULL;
  sum = line_sum (text, sum_at - text);
  if (!g_str_equal (sum, sum_at + 5))
    return NULL;
  text[sum_at - text] = '\0';

  fields = g_strsplit (text, " ", MAX_PAIRS + 2);
  /* " sum=..." alone (a correct sum of nothing) splits into no field at all. */
  if (fields[0] == NULL || !is_word (fields[0], strlen (fields[0])))
    return NULL;
  for (guint i = 1; fields[i]; i++)
    {
      const char *eq = strchr (fields[i], '=');
      char *value;

      if (i > MAX_PAIRS || eq == NULL || !is_word (fields[i], eq - fields[i]))
        return NULL;
      value = g_uri_unescape_string (eq + 1, NULL);
      if (value == NULL || !g_utf8_validate (value, -1, NULL))
        {
          g_free (value);
          return NULL;
        }
      g_ptr_array_add (keys, g_strndup (fields[i], eq - fields[i]));
      g_ptr_array_add (values, value);
    }
  record = g_new0 (VmdJournalRecord, 1);
  record->kind = g_strdup (fields[0]);
  record->keys = g_steal_pointer (&keys);
  record->values = g_steal_pointer (&values);
  return record;
}

GPtrArray *
vmd_journal_parse (const char *data, gsize length, gboolean *torn, guint *corrupt_line)
{
  GPtrArray *records = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_journal_record_free);
  gsize pos = 0;
  guint line_no = 0;

  *torn = FALSE;
  *corrupt_line = 0;
  if (length > VMD_JOURNAL_MAX_SIZE)
    {
      *corrupt_line = 1;
      return records;
    }
  while (pos < length)
    {
      const char *start = data + pos;
      const char *nl = memchr (start, '\n', length - pos);
      gsize len = nl ? (gsize) (nl - start) : length - pos;
      gboolean last = nl == NULL || pos + len + 1 >= length;
      VmdJournalRecord *record;

      line_no++;
      record = nl && records->len < MAX_RECORDS ? parse_line (start, len) : NULL;
      if (record == NULL)
        {
          if (last)
            *torn = TRUE;
          else
            *corrupt_line = line_no;
          break;
        }
      g_ptr_array_add (records, record);
      pos += len + 1;
    }
  return records;
}

/* --- decoding a transaction ------------------------------------------------------------- */

static void
journal_function_free (gpointer data)
{
  VmdJournalFunction *f = data;

  g_free (f->bdf);
  g_free (f->driver);
  g_free (f->override);
  g_free (f);
}

static void
journal_fb_free (gpointer data)
{
  VmdFirmwareFb *fb = data;

  g_free (fb->device);
  g_free (fb->driver);
  g_free (fb);
}

void
vmd_transaction_free (VmdTransaction *txn)
{
  if (txn == NULL)
    return;
  g_free (txn->primary);
  g_free (txn->boot_id);
  g_clear_pointer (&txn->functions, g_ptr_array_unref);
  g_clear_pointer (&txn->vtcons, g_ptr_array_unref);
  g_clear_pointer (&txn->fbs, g_ptr_array_unref);
  g_free (txn);
}

/* A name field (empty meaning none, where allowed); FALSE if absent or not a valid name. */
static gboolean
get_name (const VmdJournalRecord *r, const char *key, gboolean empty_is_none, char **out)
{
  const char *value = vmd_journal_record_get (r, key);

  *out = NULL;
  if (value == NULL)
    return FALSE;
  if (empty_is_none && *value == '\0')
    return TRUE;
  if (!vmd_parse_name_is_valid (value))
    return FALSE;
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
get_bdf (const VmdJournalRecord *r, const char *key, char **out)
{
  const char *value = vmd_journal_record_get (r, key);
  char buf[VMD_VFIO_BDF_BUFSIZE];
  VmdVfioBdf addr;

  if (value == NULL || !vmd_vfio_bdf_parse (value, &addr, NULL))
    return FALSE;
  *out = g_strdup (vmd_vfio_bdf_format (&addr, buf));
  return TRUE;
}

static gboolean
get_uint (const VmdJournalRecord *r, const char *key, guint64 max, guint64 *out)
{
  const char *value = vmd_journal_record_get (r, key);

  return value && g_ascii_string_to_unsigned (value, 10, 0, max, out, NULL);
}

static gboolean
decode_record (VmdTransaction *txn, const VmdJournalRecord *r)
{
  const char *kind = r->kind;
  guint64 n;

  if (g_str_equal (kind, "function"))
    {
      VmdJournalFunction *f = g_new0 (VmdJournalFunction, 1);

      g_ptr_array_add (txn->functions, f);
      return get_bdf (r, "bdf", &f->bdf) && get_name (r, "driver", TRUE, &f->driver)
          && get_name (r, "override", TRUE, &f->override) && txn->functions->len <= 8;
    }
  if (g_str_equal (kind, "vtcon"))
    {
      char *name;
      if (!get_name (r, "name", FALSE, &name))
        return FALSE;
      g_ptr_array_add (txn->vtcons, name);
      return txn->vtcons->len <= 16;
    }
  if (g_str_equal (kind, "framebuffer"))
    {
      VmdFirmwareFb *fb = g_new0 (VmdFirmwareFb, 1);

      g_ptr_array_add (txn->fbs, fb);
      return get_name (r, "device", FALSE, &fb->device)
          && get_name (r, "driver", FALSE, &fb->driver) && txn->fbs->len <= 8;
    }
  if (g_str_equal (kind, "sessions") || g_str_equal (kind, "undo"))
    {
      txn->undoing |= g_str_equal (kind, "undo");
      return TRUE;
    }
  if (g_str_equal (kind, "step"))
    {
      txn->n_steps++;
      return vmd_journal_record_get (r, "op") != NULL;
    }
  if (g_str_equal (kind, "bound"))
    {
      if (!get_uint (r, "deadline", G_MAXINT64, &n))
        return FALSE;
      txn->bound = TRUE;
      txn->deadline = (gint64) n;
      return TRUE;
    }
  if (g_str_equal (kind, "confirm"))
    return (txn->confirmed = TRUE);
  if (g_str_equal (kind, "done"))
    return (txn->done = TRUE);
  return FALSE;
}

VmdTransaction *
vmd_transaction_new (void)
{
  VmdTransaction *txn = g_new0 (VmdTransaction, 1);

  txn->functions = g_ptr_array_new_with_free_func (journal_function_free);
  txn->vtcons = g_ptr_array_new_with_free_func (g_free);
  txn->fbs = g_ptr_array_new_with_free_func (journal_fb_free);
  return txn;
}

VmdTransaction *
vmd_transaction_decode (GPtrArray *records, GError **error)
{
  g_autoptr(VmdTransaction) txn = vmd_transaction_new ();
  const VmdJournalRecord *begin;
  guint64 value;
  if (records->len == 0 || !g_str_equal (((VmdJournalRecord *) records->pdata[0])->kind, "begin"))
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL,
                   "the journal does not start with a begin record");
      return NULL;
    }
  begin = records->pdata[0];
  if (g_strcmp0 (vmd_journal_record_get (begin, "v"), "1") != 0
      || !get_bdf (begin, "primary", &txn->primary)
      || !get_uint (begin, "single_gpu", 1, &value))
    goto bad;
  txn->handover = value == 1;
  if (!get_uint (begin, "watchdog", 86400, &value))
    goto bad;
  txn->watchdog = (guint) value;
  txn->boot_id = g_strdup (vmd_journal_record_get (begin, "boot"));
  if (txn->boot_id == NULL)
    goto bad;

  for (guint i = 1; i < records->len; i++)
    if (!decode_record (txn, records->pdata[i]))
      {
        g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL,
                     "journal record %u (%s) is not understood", i + 1,
                     ((VmdJournalRecord *) records->pdata[i])->kind);
        return NULL;
      }
  return g_steal_pointer (&txn);

bad:
  g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL,
               "the journal's begin record is not understood");
  return NULL;
}

/* --- files ------------------------------------------------------------------------------ */

static gboolean
fsync_dir (const char *dir, GError **error)
{
  int fd = open (dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);

  if (fd < 0 || fsync (fd) < 0)
    {
      int e = errno;
      if (fd >= 0)
        close (fd);
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL, "syncing %s: %s", dir,
                   g_strerror (e));
      return FALSE;
    }
  close (fd);
  return TRUE;
}

char *
vmd_journal_dir (const char *state_dir, GError **error)
{
  g_autofree char *dir = g_build_filename (state_dir, "vfio", NULL);

  if (g_mkdir_with_parents (dir, 0700) < 0)
    {
      int e = errno;
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL, "creating %s: %s", dir,
                   g_strerror (e));
      return NULL;
    }
  return g_steal_pointer (&dir);
}

char *
vmd_journal_path (const char *state_dir, const char *bdf)
{
  g_autofree char *name = g_strconcat (bdf, ".journal", NULL);

  return g_build_filename (state_dir, "vfio", name, NULL);
}

int
vmd_journal_lock (const char *state_dir, GError **error)
{
  g_autofree char *dir = vmd_journal_dir (state_dir, error);
  g_autofree char *path = NULL;
  int fd;

  if (dir == NULL)
    return -1;
  path = g_build_filename (dir, "lock", NULL);
  fd = open (path, O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL, "opening %s: %s", path,
                   g_strerror (e));
      return -1;
    }
  /* The kernel drops the lock with the process, so a crash never leaves it taken. */
  if (flock (fd, LOCK_EX | LOCK_NB) < 0)
    {
      int e = errno;
      close (fd);
      g_set_error (error, VMD_VFIO_ERROR, e == EWOULDBLOCK ? VMD_VFIO_ERROR_BUSY
                                                           : VMD_VFIO_ERROR_JOURNAL,
                   "another vmdesk-vfio is at work on %s (%s)", dir, g_strerror (e));
      return -1;
    }
  return fd;
}

static VmdJournal *
journal_open (const char *path, int flags, GError **error)
{
  g_autoptr(VmdJournal) journal = g_new0 (VmdJournal, 1);
  int fd;

  journal->fd = -1;
  journal->dir = g_path_get_dirname (path);
  journal->path = g_strdup (path);
  fd = open (journal->path, O_WRONLY | O_APPEND | O_CLOEXEC | flags, 0600);
  if (fd < 0)
    {
      int e = errno;
      g_set_error (error, VMD_VFIO_ERROR,
                   e == EEXIST ? VMD_VFIO_ERROR_BUSY
                   : e == ENOENT ? VMD_VFIO_ERROR_NOT_FOUND : VMD_VFIO_ERROR_JOURNAL,
                   "%s: %s", journal->path,
                   e == EEXIST ? "a transaction for this device exists already "
                                 "(release it, or run recover)" : g_strerror (e));
      return NULL;
    }
  journal->fd = fd;
  return g_steal_pointer (&journal);
}

VmdJournal *
vmd_journal_create (const char *state_dir, const char *bdf, GError **error)
{
  g_autofree char *dir = vmd_journal_dir (state_dir, error);
  g_autofree char *path = NULL;
  g_autoptr(VmdJournal) journal = NULL;

  if (dir == NULL)
    return NULL;
  path = vmd_journal_path (state_dir, bdf);
  journal = journal_open (path, O_CREAT | O_EXCL, error);
  /* The directory entry must be durable before any step relies on the file. */
  if (journal == NULL || !fsync_dir (journal->dir, error))
    return NULL;
  return g_steal_pointer (&journal);
}

VmdJournal *
vmd_journal_open (const char *path, GError **error)
{
  return journal_open (path, 0, error);
}

gboolean
vmd_journal_append (VmdJournal *journal, const char *kind, const char *const *pairs,
                    GError **error)
{
  g_autofree char *line = vmd_journal_format (kind, pairs);
  gsize len;
  ssize_t n;

  g_return_val_if_fail (line != NULL, FALSE);
  len = strlen (line);
  do
    n = write (journal->fd, line, len);
  while (n < 0 && errno == EINTR);
  if (n < 0 || (gsize) n != len || fsync (journal->fd) < 0)
    {
      int e = n >= 0 && (gsize) n != len ? ENOSPC : errno;
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL, "writing %s: %s",
                   journal->path, g_strerror (e));
      return FALSE;
    }
  return TRUE;
}

VmdTransaction *
vmd_journal_load (const char *path, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *data = NULL;
  g_autoptr(GPtrArray) records = NULL;
  VmdTransaction *txn;
  gboolean torn;
  guint corrupt_line;
  gsize length;
  GStatBuf st;

  /* Bounded before reading: a journal is small, and whatever sits there is read whole. */
  if (g_stat (path, &st) == 0 && (!S_ISREG (st.st_mode) || st.st_size > VMD_JOURNAL_MAX_SIZE))
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL,
                   "%s: not a regular file of at most %d bytes", path, VMD_JOURNAL_MAX_SIZE);
      return NULL;
    }
  if (!g_file_get_contents (path, &data, &length, &local))
    {
      g_set_error (error, VMD_VFIO_ERROR,
                   g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT)
                   ? VMD_VFIO_ERROR_NOT_FOUND : VMD_VFIO_ERROR_JOURNAL,
                   "%s", local->message);
      return NULL;
    }
  records = vmd_journal_parse (data, length, &torn, &corrupt_line);
  txn = vmd_transaction_decode (records, error);
  if (txn == NULL)
    {
      g_prefix_error (error, "%s: ", path);
      return NULL;
    }
  txn->corrupt_line = corrupt_line;
  return txn;
}

gboolean
vmd_journal_remove (VmdJournal *journal, GError **error)
{
  if (unlink (journal->path) < 0 && errno != ENOENT)
    {
      int e = errno;
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_JOURNAL, "removing %s: %s",
                   journal->path, g_strerror (e));
      return FALSE;
    }
  return fsync_dir (journal->dir, error);
}

void
vmd_journal_close (VmdJournal *journal)
{
  if (journal == NULL)
    return;
  if (journal->fd >= 0)
    close (journal->fd);
  g_free (journal->path);
  g_free (journal->dir);
  g_free (journal);
}

const char *
vmd_journal_get_path (VmdJournal *journal)
{
  return journal->path;
}

char *
vmd_boot_id (void)
{
  g_autofree char *id = vmd_sysfs_read_attr ("/proc/sys/kernel/random", "boot_id", NULL);

  return id && vmd_parse_name_is_valid (id) ? g_steal_pointer (&id) : g_strdup ("");
}

gint64
vmd_boottime_us (void)
{
  struct timespec ts;

  /* CLOCK_BOOTTIME keeps counting through suspend, as a user waiting for a VM does. */
  clock_gettime (CLOCK_BOOTTIME, &ts);
  return (gint64) ts.tv_sec * G_USEC_PER_SEC + ts.tv_nsec / 1000;
}
