/* vmd-vfio-parse.c: parsers for text vmdesk does not control: sysfs attributes, the kernel
 * command line, /proc/cpuinfo, mountinfo. Pure functions over bounded strings, so the
 * fuzzer (tests/fuzz-parse.c) can drive them directly. */
#include "vmd-vfio-private.h"

#include <string.h>

gboolean
vmd_parse_hex (const char *text, guint64 max, guint64 *value)
{
  guint64 v = 0;
  const char *p = text;
  gsize digits = 0;

  if (g_str_has_prefix (p, "0x") || g_str_has_prefix (p, "0X"))
    p += 2;
  for (; g_ascii_isxdigit (*p); p++, digits++)
    {
      if (digits >= 16)
        return FALSE;
      v = v << 4 | (guint64) g_ascii_xdigit_value (*p);
    }
  /* sysfs ends values with a newline; nothing else may follow the digits. */
  if (*p == '\n')
    p++;
  if (digits == 0 || *p != '\0' || v > max)
    return FALSE;
  *value = v;
  return TRUE;
}

gboolean
vmd_parse_name_is_valid (const char *name)
{
  gsize len = 0;

  if (name == NULL || g_str_equal (name, ".") || g_str_equal (name, ".."))
    return FALSE;
  for (const char *p = name; *p; p++, len++)
    if (len >= VMD_NAME_MAX
        || !(g_ascii_isalnum (*p) || strchr ("_.:+-", *p) != NULL))
      return FALSE;
  return len > 0;
}

GStrv
vmd_parse_words (const char *text, guint max_words)
{
  g_autoptr(GPtrArray) out = g_ptr_array_new_with_free_func (g_free);
  g_auto(GStrv) words = g_strsplit_set (text, " \n", -1);

  for (guint i = 0; words[i]; i++)
    {
      if (*words[i] == '\0')
        continue;
      if (!vmd_parse_name_is_valid (words[i]) || out->len >= max_words)
        return NULL;
      g_ptr_array_add (out, g_strdup (words[i]));
    }
  g_ptr_array_add (out, NULL);
  return (GStrv) g_ptr_array_free (g_steal_pointer (&out), FALSE);
}

gboolean
vmd_parse_bitmap (const char *text, guint64 *bits, guint n_words)
{
  g_auto(GStrv) words = NULL;
  guint n = 0;

  memset (bits, 0, n_words * sizeof *bits);
  words = g_strsplit_set (text, " \n", -1);
  for (guint i = 0; words[i]; i++)
    if (*words[i])
      n++;
  if (n == 0)
    return FALSE;
  /* Most significant word first: the last word printed is bits 0..63. */
  for (guint i = 0, w = n; words[i]; i++)
    {
      guint64 value;

      if (*words[i] == '\0')
        continue;
      w--;
      if (!vmd_parse_hex (words[i], G_MAXUINT64, &value))
        return FALSE;
      if (w < n_words)
        bits[w] = value;
    }
  return TRUE;
}

void
vmd_cmdline_iommu_clear (VmdCmdlineIommu *cmdline)
{
  g_clear_pointer (&cmdline->tokens, g_free);
}

void
vmd_parse_cmdline_iommu (const char *cmdline, VmdCmdlineIommu *out)
{
  g_auto(GStrv) words = g_strsplit_set (cmdline, " \t\n", -1);
  g_autoptr(GString) tokens = g_string_new (NULL);

  memset (out, 0, sizeof *out);
  for (guint i = 0; words[i]; i++)
    {
      const char *w = words[i];
      gboolean relevant = TRUE;

      if (g_str_equal (w, "intel_iommu=on") || g_str_has_prefix (w, "intel_iommu=on,"))
        out->intel_on = TRUE;
      else if (g_str_equal (w, "intel_iommu=off"))
        out->intel_off = TRUE;
      else if (g_str_equal (w, "amd_iommu=off"))
        out->amd_off = TRUE;
      else if (g_str_has_prefix (w, "amd_iommu="))
        out->amd_on = TRUE;
      else if (g_str_equal (w, "iommu=pt"))
        out->pt = TRUE;
      else if (g_str_equal (w, "iommu=off"))
        out->iommu_off = TRUE;
      else if (!g_str_has_prefix (w, "intel_iommu=") && !g_str_has_prefix (w, "iommu="))
        relevant = FALSE;
      /* Shown in findings: bounded, and only the words that matter. */
      if (relevant && tokens->len < 256)
        {
          g_autofree char *shown = vmd_shown (w, 64);
          g_string_append_printf (tokens, "%s%s", tokens->len ? " " : "", shown);
        }
    }
  out->tokens = g_string_free (g_steal_pointer (&tokens), FALSE);
}

/* The value of the first "key : value" line, or NULL. */
static char *
cpuinfo_field (const char *cpuinfo, const char *key)
{
  g_auto(GStrv) lines = g_strsplit (cpuinfo, "\n", -1);

  for (guint i = 0; lines[i]; i++)
    {
      char *colon = strchr (lines[i], ':');

      if (colon == NULL)
        continue;
      *colon = '\0';
      if (g_str_equal (g_strstrip (lines[i]), key))
        return g_strdup (g_strstrip (colon + 1));
    }
  return NULL;
}

const char *
vmd_parse_cpuinfo_virt (const char *cpuinfo)
{
  g_autofree char *flags = cpuinfo_field (cpuinfo, "flags");
  g_auto(GStrv) words = NULL;

  if (flags == NULL)
    return NULL;
  words = g_strsplit (flags, " ", -1);
  if (g_strv_contains ((const char *const *) words, "vmx"))
    return "vmx";
  if (g_strv_contains ((const char *const *) words, "svm"))
    return "svm";
  return NULL;
}

char *
vmd_parse_cpuinfo_vendor (const char *cpuinfo)
{
  g_autofree char *vendor = cpuinfo_field (cpuinfo, "vendor_id");

  return vendor && vmd_parse_name_is_valid (vendor) ? g_steal_pointer (&vendor) : NULL;
}

/* mountinfo: "ID PARENT MAJ:MIN ROOT MOUNTPOINT OPTIONS [OPTIONAL...] - FSTYPE SOURCE ..."
 * The last line mounting "/" wins: later mounts hide earlier ones. */
gboolean
vmd_parse_mountinfo_root (const char *mountinfo, guint *major, guint *minor, char **source)
{
  g_auto(GStrv) lines = g_strsplit (mountinfo, "\n", -1);
  gboolean found = FALSE;

  *source = NULL;
  for (guint i = 0; lines[i]; i++)
    {
      g_auto(GStrv) f = g_strsplit (lines[i], " ", -1);
      guint n = g_strv_length (f);
      guint sep;
      guint64 maj, min;
      char *colon;

      if (n < 7 || !g_str_equal (f[4], "/"))
        continue;
      colon = strchr (f[2], ':');
      if (colon == NULL)
        continue;
      *colon = '\0';
      if (!g_ascii_string_to_unsigned (f[2], 10, 0, G_MAXUINT32, &maj, NULL)
          || !g_ascii_string_to_unsigned (colon + 1, 10, 0, G_MAXUINT32, &min, NULL))
        continue;
      for (sep = 6; sep < n && !g_str_equal (f[sep], "-"); sep++)
        ;
      if (sep + 2 >= n)
        continue;
      *major = (guint) maj;
      *minor = (guint) min;
      g_free (*source);
      *source = strlen (f[sep + 2]) < 256 ? g_strdup (f[sep + 2]) : NULL;
      found = TRUE;
    }
  return found;
}

char *
vmd_shown (const char *text, gsize max)
{
  gsize len = strnlen (text, max);
  const char *p = text;
  const char *end = text + len;
  GString *out = g_string_sized_new (len);

  while (p < end)
    {
      gunichar c = g_utf8_get_char_validated (p, end - p);

      if (c == (gunichar) -1 || c == (gunichar) -2)
        {
          g_string_append_printf (out, "\\x%02x", (guchar) *p);
          p++;
          continue;
        }
      p = g_utf8_next_char (p);
      if (c == '\\')
        g_string_append (out, "\\\\");
      else if (g_unichar_iscntrl (c) || c == 0x2028 || c == 0x2029
               || (c >= 0x202A && c <= 0x202E) || (c >= 0x2066 && c <= 0x2069))
        g_string_append_printf (out, c < 0x100 ? "\\x%02x" : "\\u%04x", c);
      else
        g_string_append_unichar (out, c);
    }
  if (text[len] != '\0')
    g_string_append (out, "...");
  return g_string_free (out, FALSE);
}

char *
vmd_join (GPtrArray *strings, const char *separator)
{
  GString *out = g_string_new (NULL);

  for (guint i = 0; i < strings->len; i++)
    g_string_append_printf (out, "%s%s", i ? separator : "", (const char *) strings->pdata[i]);
  return g_string_free (out, FALSE);
}
