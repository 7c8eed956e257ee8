/* The parsers of sysfs and /proc text: what a hostile or broken kernel interface can say. */
#include "vmd-vfio-private.h"

#include <string.h>

static void
test_hex (void)
{
  guint64 v = 0;

  g_assert_true (vmd_parse_hex ("0x10de\n", 0xffff, &v));
  g_assert_cmphex (v, ==, 0x10de);
  g_assert_true (vmd_parse_hex ("030000", 0xffffff, &v));
  g_assert_cmphex (v, ==, 0x030000);
  g_assert_true (vmd_parse_hex ("0XFFFF", 0xffff, &v));
  for (const char *const *bad = (const char *const[]) { "", "0x", "\n", "0x10de\nx", "0x10de ",
                                                        " 0x10de", "0x1ffff", "garbage",
                                                        "0x10de\n\n", "-1",
                                                        "0x11112222333344445", NULL };
       *bad; bad++)
    g_assert_false (vmd_parse_hex (*bad, 0xffff, &v));
}

static void
test_names (void)
{
  g_autofree char *longest = g_strnfill (VMD_NAME_MAX, 'a');
  g_autofree char *too_long = g_strnfill (VMD_NAME_MAX + 1, 'a');
  const char *good[] = { "vfio-pci", "snd_hda_intel", "efi-framebuffer.0", "0000:01:00.0",
                         "D3hot", "c2", "x+y", NULL };
  const char *bad[] = { "", ".", "..", "a/b", "a b", "(null)", "caf\xc3\xa9", "a\nb", "a\\b",
                        NULL };

  for (guint i = 0; good[i]; i++)
    g_assert_true (vmd_parse_name_is_valid (good[i]));
  for (guint i = 0; bad[i]; i++)
    g_assert_false (vmd_parse_name_is_valid (bad[i]));
  g_assert_true (vmd_parse_name_is_valid (longest));
  g_assert_false (vmd_parse_name_is_valid (too_long));
  g_assert_false (vmd_parse_name_is_valid (NULL));
}

static void
test_words (void)
{
  g_auto(GStrv) two = vmd_parse_words ("flr  bus\n", 8);
  g_auto(GStrv) none = vmd_parse_words ("", 8);
  g_auto(GStrv) bad = vmd_parse_words ("flr b/us", 8);
  g_auto(GStrv) many = vmd_parse_words ("a b c d e f g h i", 8);

  g_assert_cmpuint (g_strv_length (two), ==, 2);
  g_assert_cmpstr (two[0], ==, "flr");
  g_assert_cmpstr (two[1], ==, "bus");
  g_assert_nonnull (none);
  g_assert_cmpuint (g_strv_length (none), ==, 0);
  g_assert_null (bad);
  g_assert_null (many);
}

static void
test_bitmap (void)
{
  guint64 bits[2];

  g_assert_true (vmd_parse_bitmap ("120013\n", bits, 2));
  g_assert_cmphex (bits[0], ==, 0x120013);
  g_assert_cmphex (bits[1], ==, 0);
  g_assert_true (vmd_parse_bitmap ("1 fffffffffffffffe", bits, 2));
  g_assert_cmphex (bits[0], ==, 0xfffffffffffffffe);
  g_assert_cmphex (bits[1], ==, 1);
  /* Words beyond what the caller keeps are ignored, not written past the array. */
  g_assert_true (vmd_parse_bitmap ("7 6 5 4", bits, 2));
  g_assert_cmphex (bits[0], ==, 4);
  g_assert_cmphex (bits[1], ==, 5);
  g_assert_false (vmd_parse_bitmap ("", bits, 2));
  g_assert_false (vmd_parse_bitmap ("12 zz", bits, 2));
  g_assert_false (vmd_parse_bitmap ("11112222333344445", bits, 2));
}

static void
test_cmdline (void)
{
  VmdCmdlineIommu c;

  vmd_parse_cmdline_iommu ("BOOT_IMAGE=/vmlinuz ro quiet intel_iommu=on iommu=pt\n", &c);
  g_assert_true (c.intel_on && c.pt);
  g_assert_false (c.intel_off || c.amd_on || c.amd_off || c.iommu_off);
  g_assert_cmpstr (c.tokens, ==, "intel_iommu=on iommu=pt");
  vmd_cmdline_iommu_clear (&c);

  vmd_parse_cmdline_iommu ("amd_iommu=off quiet", &c);
  g_assert_true (c.amd_off);
  g_assert_false (c.amd_on);
  vmd_cmdline_iommu_clear (&c);

  vmd_parse_cmdline_iommu ("intel_iommu=on,sm_on amd_iommu=force_isolation iommu=off", &c);
  g_assert_true (c.intel_on && c.amd_on && c.iommu_off);
  vmd_cmdline_iommu_clear (&c);

  /* Control characters in the command line are escaped in what is shown. */
  vmd_parse_cmdline_iommu ("iommu=\x1b[31mred", &c);
  g_assert_null (strchr (c.tokens, '\x1b'));
  vmd_cmdline_iommu_clear (&c);

  vmd_parse_cmdline_iommu ("", &c);
  g_assert_cmpstr (c.tokens, ==, "");
  vmd_cmdline_iommu_clear (&c);
}

static void
test_cpuinfo (void)
{
  g_autofree char *vendor = NULL;

  g_assert_cmpstr (vmd_parse_cpuinfo_virt ("vendor_id\t: GenuineIntel\nflags\t\t: fpu vmx sse\n"),
                   ==, "vmx");
  g_assert_cmpstr (vmd_parse_cpuinfo_virt ("flags : fpu svm\n"), ==, "svm");
  g_assert_null (vmd_parse_cpuinfo_virt ("flags : fpu vmxx svmm\n"));
  g_assert_null (vmd_parse_cpuinfo_virt ("no colon here"));
  g_assert_null (vmd_parse_cpuinfo_virt (""));
  vendor = vmd_parse_cpuinfo_vendor ("processor : 0\nvendor_id\t: AuthenticAMD\n");
  g_assert_cmpstr (vendor, ==, "AuthenticAMD");
  g_assert_null (vmd_parse_cpuinfo_vendor ("vendor_id : <script>\n"));
}

static void
test_mountinfo (void)
{
  g_autofree char *source = NULL;
  guint major = 0, minor = 0;

  g_assert_true (vmd_parse_mountinfo_root (
      "22 1 0:21 / /proc rw - proc proc rw\n"
      "29 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n", &major, &minor, &source));
  g_assert_cmpuint (major, ==, 259);
  g_assert_cmpuint (minor, ==, 2);
  g_assert_cmpstr (source, ==, "/dev/nvme0n1p2");
  g_clear_pointer (&source, g_free);

  /* The last mount on / wins (an overlay on top of the disk, a btrfs subvolume). */
  g_assert_true (vmd_parse_mountinfo_root (
      "29 1 8:2 / / rw - ext4 /dev/sda2 rw\n"
      "40 29 0:33 /@ / rw - btrfs /dev/nvme0n1p3 rw\n", &major, &minor, &source));
  g_assert_cmpuint (major, ==, 0);
  g_assert_cmpstr (source, ==, "/dev/nvme0n1p3");
  g_clear_pointer (&source, g_free);

  g_assert_false (vmd_parse_mountinfo_root ("", &major, &minor, &source));
  g_assert_false (vmd_parse_mountinfo_root ("29 1 x:y / / rw - ext4 /dev/sda2 rw\n", &major,
                                            &minor, &source));
  g_assert_false (vmd_parse_mountinfo_root ("29 1 8:2 / / rw ext4 /dev/sda2\n", &major, &minor,
                                            &source));
  g_assert_false (vmd_parse_mountinfo_root ("29 1 8:2 / /home rw - ext4 /dev/sda2 rw\n", &major,
                                            &minor, &source));
  g_assert_null (source);
}

static void
test_shown (void)
{
  g_autofree char *ctrl = vmd_shown ("a\nb\x1b", 64);
  g_autofree char *bad = vmd_shown ("\xff\xfe ok", 64);
  g_autofree char *cut = vmd_shown ("abcdef", 3);
  g_autofree char *bidi = vmd_shown ("x\xe2\x80\xaey", 64);

  g_assert_cmpstr (ctrl, ==, "a\\x0ab\\x1b");
  g_assert_cmpstr (bad, ==, "\\xff\\xfe ok");
  g_assert_cmpstr (cut, ==, "abc...");
  g_assert_cmpstr (bidi, ==, "x\\u202ey");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vfio/parse/hex", test_hex);
  g_test_add_func ("/vfio/parse/names", test_names);
  g_test_add_func ("/vfio/parse/words", test_words);
  g_test_add_func ("/vfio/parse/bitmap", test_bitmap);
  g_test_add_func ("/vfio/parse/cmdline", test_cmdline);
  g_test_add_func ("/vfio/parse/cpuinfo", test_cpuinfo);
  g_test_add_func ("/vfio/parse/mountinfo", test_mountinfo);
  g_test_add_func ("/vfio/parse/shown", test_shown);
  return g_test_run ();
}
