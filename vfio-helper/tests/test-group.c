/* group_viable, exactly as docs/vfio.md defines it, member by member. */
#include "vmd-vfio-private.h"

static VmdPciFunction *
member (const char *bdf, gint64 class_code, const char *driver)
{
  VmdPciFunction *fn = g_new0 (VmdPciFunction, 1);

  fn->bdf = g_strdup (bdf);
  g_assert_true (vmd_vfio_bdf_parse (bdf, &fn->addr, NULL));
  fn->present = TRUE;
  fn->class_code = class_code;
  fn->driver = g_strdup (driver);
  fn->driver_valid = TRUE;
  fn->connectors = g_ptr_array_new ();
  fn->framebuffers = g_ptr_array_new ();
  fn->problems = g_ptr_array_new ();
  return fn;
}

static void
test_classify (void)
{
  static const struct {
    const char   *bdf;
    gint64        class_code;
    const char   *driver;
    VmdMemberKind kind;
  } cases[] = {
    { "0000:01:00.0", 0x030000, "nvidia",        VMD_MEMBER_SELF },
    { "0000:01:00.1", 0x040300, "snd_hda_intel", VMD_MEMBER_SAME_DEVICE },
    { "0000:01:00.2", 0x0c0330, "xhci_hcd",      VMD_MEMBER_SAME_DEVICE },
    { "0000:01:00.3", 0x0c8000, NULL,            VMD_MEMBER_SAME_DEVICE },
    { "0000:00:01.0", 0x060400, "pcieport",      VMD_MEMBER_BRIDGE },
    { "0000:00:1e.0", 0x060401, NULL,            VMD_MEMBER_BRIDGE },
    { "0000:00:1f.0", 0x060900, "pcieport",      VMD_MEMBER_BRIDGE },
    { "0000:03:00.0", 0x010601, "vfio-pci",      VMD_MEMBER_PARKED },
    { "0000:04:00.0", 0x020000, NULL,            VMD_MEMBER_PARKED },
    { "0000:03:00.0", 0x010601, "ahci",          VMD_MEMBER_FOREIGN },
    { "0000:04:00.0", 0x020000, "r8169",         VMD_MEMBER_FOREIGN },
    /* A host bridge and an ISA bridge are endpoints with drivers, not PCI bridges. */
    { "0000:00:00.0", 0x060000, "skl_uncore",    VMD_MEMBER_FOREIGN },
    { "0000:00:1f.0", 0x060100, "lpc_ich",       VMD_MEMBER_FOREIGN },
    /* Another slot on the same bus is another device. */
    { "0000:01:01.0", 0x030000, "nvidia",        VMD_MEMBER_FOREIGN },
    { "0001:01:00.1", 0x040300, "snd_hda_intel", VMD_MEMBER_FOREIGN },
    /* Unreadable class: not a bridge, judged by its driver. */
    { "0000:05:00.0", -1,       "mystery",       VMD_MEMBER_FOREIGN },
  };
  VmdVfioBdf primary;

  vmd_vfio_bdf_parse ("0000:01:00.0", &primary, NULL);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(VmdPciFunction) fn = member (cases[i].bdf, cases[i].class_code, cases[i].driver);
      g_assert_cmpstr (vmd_member_kind_to_string (vmd_group_classify (&primary, fn)), ==,
                       vmd_member_kind_to_string (cases[i].kind));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vfio/group/classify", test_classify);
  return g_test_run ();
}
