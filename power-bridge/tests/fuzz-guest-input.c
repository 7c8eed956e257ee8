/* libFuzzer target: a guest's bytes through the line reader and the decoder, the way
 * VmdGuestLink takes them. The first byte chooses the read size and how fast time runs,
 * so framing across reads and the rate limit are exercised too. */
#include "vmdesk-power.h"

#include <stdint.h>
#include <stdlib.h>

static void
check_message (const VmdGuestMessage *msg)
{
  /* What the decoder hands on must be safe to log and to put on D-Bus. */
  const char *strings[] = { msg->agent, msg->message, msg->type_name };

  for (gsize i = 0; i < G_N_ELEMENTS (strings); i++)
    if (strings[i] != NULL && (!g_utf8_validate (strings[i], -1, NULL) || strlen (strings[i]) > 512))
      abort ();
  if ((msg->type == VMD_GUEST_MSG_ACK && (!msg->has_seq || msg->seq == 0))
      || (msg->type == VMD_GUEST_MSG_HELLO && (msg->version < 1 || msg->agent == NULL)))
    abort ();
}

static gboolean
on_line (const char *line, gsize len, gpointer data, GError **error)
{
  g_autoptr(VmdGuestMessage) msg = vmd_guest_message_parse (line, len, error);

  if (msg == NULL)
    {
      if (error == NULL || *error == NULL)
        abort ();   /* every refusal says why */
      return FALSE;
    }
  check_message (msg);
  return TRUE;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autoptr(VmdLineReader) reader = vmd_line_reader_new (NULL);
  gsize chunk, offset;
  gint64 now = 0, step;

  if (size == 0)
    return 0;
  chunk = 1 + (gsize) (data[0] % 97) * 43;
  step = (gint64) (data[0] / 97) * 20000;
  data++, size--;
  for (offset = 0; offset < size; offset += chunk, now += step)
    if (!vmd_line_reader_feed (reader, data + offset, MIN (chunk, size - offset), now,
                               on_line, NULL))
      break;
  if (vmd_line_reader_get_stats (reader)->malformed > 0
      && vmd_line_reader_get_last_error (reader) == NULL)
    abort ();
  return 0;
}
