/* vmd-vfio-names.c: words for PCI classes and vendors, so findings say "SATA controller"
 * rather than "0x010601". Only what messages about pass-through need; the numbers are
 * always shown too. */
#include "vmd-vfio-private.h"

static const struct {
  guint32     code;   /* class << 8 | subclass */
  const char *name;
} classes[] = {
  { 0x0100, "SCSI controller" },
  { 0x0101, "IDE controller" },
  { 0x0104, "RAID controller" },
  { 0x0106, "SATA controller" },
  { 0x0108, "NVMe controller" },
  { 0x0200, "Ethernet controller" },
  { 0x0280, "Network controller" },
  { 0x0300, "VGA compatible controller" },
  { 0x0302, "3D controller" },
  { 0x0380, "Display controller" },
  { 0x0401, "Audio device" },
  { 0x0403, "Audio device" },
  { 0x0600, "Host bridge" },
  { 0x0601, "ISA bridge" },
  { 0x0604, "PCI bridge" },
  { 0x0609, "PCI bridge" },
  { 0x0c03, "USB controller" },
  { 0x0c05, "SMBus" },
  { 0x0c80, "Serial bus controller" },
};

const char *
vmd_pci_class_name (gint64 class_code)
{
  if (class_code < 0)
    return "PCI device";
  for (guint i = 0; i < G_N_ELEMENTS (classes); i++)
    if (classes[i].code == (guint32) (class_code >> 8))
      return classes[i].name;
  return "PCI device";
}

const char *
vmd_pci_vendor_name (int vendor)
{
  switch (vendor)
    {
    case 0x10de: return "NVIDIA";
    case 0x1002: return "AMD";
    case 0x1022: return "AMD";
    case 0x8086: return "Intel";
    case 0x1b21: return "ASMedia";
    case 0x10ec: return "Realtek";
    case 0x14e4: return "Broadcom";
    default:     return NULL;
    }
}
