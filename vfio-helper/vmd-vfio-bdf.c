/* vmd-vfio-bdf.c: PCI addresses as the kernel spells them. They arrive from the command
 * line, D-Bus, VM settings and sysfs directory names, so the parser is strict and fuzzed. */
#include "vmd-vfio-private.h"

#include <stdio.h>
#include <string.h>

/* Exactly `n` hex digits at *p (or 1..n when `at_most`); advances *p. */
static gboolean
take_hex (const char **p, guint n, gboolean at_most, guint32 *value)
{
  guint32 v = 0;
  guint i;

  for (i = 0; i < n && g_ascii_isxdigit ((*p)[i]); i++)
    v = v << 4 | (guint32) g_ascii_xdigit_value ((*p)[i]);
  if (i == 0 || (!at_most && i != n))
    return FALSE;
  *p += i;
  *value = v;
  return TRUE;
}

gboolean
vmd_vfio_bdf_parse (const char *text, VmdVfioBdf *bdf, GError **error)
{
  const char *p = text;
  guint32 domain = 0, bus, slot, function;
  const char *first_colon;

  if (text == NULL || strnlen (text, VMD_VFIO_BDF_BUFSIZE) >= VMD_VFIO_BDF_BUFSIZE)
    goto malformed;
  /* With a domain there is a second colon. */
  first_colon = strchr (text, ':');
  if (first_colon && strchr (first_colon + 1, ':'))
    {
      const char *start = p;
      if (!take_hex (&p, 8, TRUE, &domain) || p - start < 4 || *p++ != ':')
        goto malformed;
    }
  if (!take_hex (&p, 2, FALSE, &bus) || *p++ != ':'
      || !take_hex (&p, 2, FALSE, &slot) || *p++ != '.'
      || !take_hex (&p, 1, FALSE, &function) || *p != '\0'
      || slot > 0x1f || function > 7)
    goto malformed;
  bdf->domain = domain;
  bdf->bus = (guint8) bus;
  bdf->slot = (guint8) slot;
  bdf->function = (guint8) function;
  return TRUE;

malformed:
  {
    g_autofree char *shown = vmd_shown (text ? text : "", 64);
    g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_INVALID_BDF,
                 "\"%s\" is not a PCI address (expected DDDD:BB:SS.F, e.g. 0000:01:00.0)",
                 shown);
    return FALSE;
  }
}

const char *
vmd_vfio_bdf_format (const VmdVfioBdf *bdf, char buf[VMD_VFIO_BDF_BUFSIZE])
{
  g_snprintf (buf, VMD_VFIO_BDF_BUFSIZE, "%04x:%02x:%02x.%x", bdf->domain, bdf->bus,
              bdf->slot, bdf->function);
  return buf;
}

gboolean
vmd_vfio_bdf_same_device (const VmdVfioBdf *a, const VmdVfioBdf *b)
{
  return a->domain == b->domain && a->bus == b->bus && a->slot == b->slot;
}
