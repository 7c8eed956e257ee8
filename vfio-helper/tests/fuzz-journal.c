/* Fuzz the journal reader: recovery runs it on whatever a crash (or a person) left. */
#include "vmd-vfio-private.h"

#include <stdint.h>
#include <stdlib.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(GPtrArray) records = NULL;
  g_autoptr(VmdTransaction) txn = NULL;
  gboolean torn;
  guint corrupt;

  records = vmd_journal_parse ((const char *) data, size, &torn, &corrupt);
  txn = vmd_transaction_decode (records, NULL);
  if (txn)
    for (guint i = 0; i < txn->functions->len; i++)
      {
        VmdJournalFunction *f = txn->functions->pdata[i];
        /* Whatever decodes must be safe to build sysfs paths from. */
        if ((f->driver && !vmd_parse_name_is_valid (f->driver))
            || !vmd_vfio_bdf_parse (f->bdf, &(VmdVfioBdf) { 0 }, NULL))
          abort ();
      }
  return 0;
}
