/* vmd-vfio-host.c: host-wide facts pass-through depends on: CPU virtualization, KVM, the
 * IOMMU, vfio-pci, the display devices, and what the host must not lose (the disk holding
 * the root filesystem, the last keyboard, the firmware framebuffer and virtual consoles).
 * Read from /sys and /proc only, so a umockdev testbed describes a whole machine. */
#include "vmd-vfio-private.h"

#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/utsname.h>
#include <unistd.h>

#define PCI_DEVICES "/sys/bus/pci/devices"

static void
keyboard_free (gpointer data)
{
  VmdKeyboard *k = data;

  g_free (k->name);
  g_free (k->controller);
  g_free (k);
}

static void
firmware_fb_free (gpointer data)
{
  VmdFirmwareFb *fb = data;

  g_free (fb->device);
  g_free (fb->driver);
  g_free (fb);
}

static void
vtcon_free (gpointer data)
{
  VmdVtcon *v = data;

  g_free (v->name);
  g_free (v->description);
  g_free (v);
}

void
vmd_host_free (VmdHost *host)
{
  if (host == NULL)
    return;
  g_free (host->cpu_vendor);
  vmd_cmdline_iommu_clear (&host->cmdline);
  g_clear_pointer (&host->displays, g_ptr_array_unref);
  g_clear_pointer (&host->root_path, g_ptr_array_unref);
  g_free (host->root_device);
  g_clear_pointer (&host->keyboards, g_ptr_array_unref);
  g_clear_pointer (&host->firmware_fbs, g_ptr_array_unref);
  g_clear_pointer (&host->vtcons, g_ptr_array_unref);
  g_free (host);
}

static void
read_cpu (VmdHost *host)
{
  /* The first CPU's lines are enough: flags are the same on every core. */
  g_autofree char *cpuinfo = vmd_sysfs_read_head ("/proc/cpuinfo", 64 * 1024, NULL);

  if (cpuinfo == NULL)
    return;
  host->virt_flag = vmd_parse_cpuinfo_virt (cpuinfo);
  host->cpu_vendor = vmd_parse_cpuinfo_vendor (cpuinfo);
}

static void
read_iommu (VmdHost *host)
{
  g_autoptr(GPtrArray) groups = vmd_sysfs_list ("/sys/kernel/iommu_groups", NULL);
  g_autofree char *cmdline = vmd_sysfs_read_head ("/proc/cmdline", 64 * 1024, NULL);

  host->iommu_groups = groups ? groups->len : 0;
  host->cmdline_read = cmdline != NULL;
  vmd_parse_cmdline_iommu (cmdline ? cmdline : "", &host->cmdline);
}

/* Registered (loaded or built in) shows as the driver's directory. Otherwise look for the
 * module; VMDESK_MODULES_DIR replaces /lib/modules/$(uname -r) for tests. */
static VmdVfioPciState
read_vfio_pci (void)
{
  const char *modules = g_getenv ("VMDESK_MODULES_DIR");
  g_autofree char *dir = NULL;
  g_autofree char *dep_path = NULL;
  g_autofree char *dep = NULL;
  struct utsname uts;

  if (vmd_sysfs_exists ("/sys/bus/pci/drivers/vfio-pci"))
    return VMD_VFIO_PCI_LOADED;
  if (modules)
    dir = g_strdup (modules);
  else if (uname (&uts) == 0)
    dir = g_build_filename ("/lib/modules", uts.release, NULL);
  else
    return VMD_VFIO_PCI_MISSING;
  dep_path = g_build_filename (dir, "modules.dep", NULL);
  dep = vmd_sysfs_read (dep_path, 16 * 1024 * 1024, NULL);
  if (dep && (strstr (dep, "/vfio-pci.ko") || strstr (dep, "/vfio_pci.ko")))
    return VMD_VFIO_PCI_AVAILABLE;
  return VMD_VFIO_PCI_MISSING;
}

static void
read_displays (VmdHost *host)
{
  g_autoptr(GPtrArray) names = vmd_sysfs_list (PCI_DEVICES, NULL);

  for (guint i = 0; names && i < names->len; i++)
    {
      g_autofree char *dir = g_build_filename (PCI_DEVICES, names->pdata[i], NULL);
      g_autofree char *class_text = vmd_sysfs_read_attr (dir, "class", NULL);
      guint64 class_code;
      VmdVfioBdf addr;

      if (class_text == NULL || !vmd_parse_hex (class_text, 0xffffff, &class_code)
          || (class_code >> 16) != 0x03 || !vmd_vfio_bdf_parse (names->pdata[i], &addr, NULL))
        continue;
      g_ptr_array_add (host->displays, vmd_pci_function_read (names->pdata[i]));
    }
}

/* Every path component that is a PCI address: the functions a sysfs device hangs off. */
static void
add_pci_ancestors (const char *syspath, GPtrArray *out)
{
  g_auto(GStrv) parts = g_strsplit (syspath, "/", -1);

  for (guint i = 0; parts[i]; i++)
    {
      VmdVfioBdf addr;
      char buf[VMD_VFIO_BDF_BUFSIZE];

      if (vmd_vfio_bdf_parse (parts[i], &addr, NULL)
          && !g_ptr_array_find_with_equal_func (out, vmd_vfio_bdf_format (&addr, buf),
                                                g_str_equal, NULL))
        g_ptr_array_add (out, g_strdup (buf));
    }
}

/* A block device and, through slaves/ (device mapper, md), what it is built on. */
static void
add_block_ancestors (const char *block_dir, guint depth, GPtrArray *out)
{
  char *real = realpath (block_dir, NULL);
  g_autofree char *slaves_dir = NULL;
  g_autoptr(GPtrArray) slaves = NULL;

  if (real == NULL || depth > 8)
    {
      free (real);
      return;
    }
  add_pci_ancestors (real, out);
  slaves_dir = g_build_filename (real, "slaves", NULL);
  free (real);
  slaves = vmd_sysfs_list (slaves_dir, NULL);
  for (guint i = 0; slaves && i < slaves->len && i < 64; i++)
    {
      g_autofree char *slave = g_build_filename (slaves_dir, slaves->pdata[i], NULL);
      add_block_ancestors (slave, depth + 1, out);
    }
}

static void
read_root (VmdHost *host)
{
  g_autofree char *mountinfo = vmd_sysfs_read ("/proc/self/mountinfo", 4 * 1024 * 1024, NULL);
  g_autofree char *source = NULL;
  g_autofree char *block = NULL;
  guint dev_major, dev_minor;
  char *real;

  if (mountinfo == NULL
      || !vmd_parse_mountinfo_root (mountinfo, &dev_major, &dev_minor, &source))
    return;
  /* btrfs and others report an anonymous device (major 0); the source names the disk. */
  if (dev_major == 0 && source && g_str_has_prefix (source, "/dev/"))
    {
      struct stat st;

      if (stat (source, &st) == 0 && S_ISBLK (st.st_mode))
        {
          dev_major = major (st.st_rdev);
          dev_minor = minor (st.st_rdev);
        }
    }
  if (dev_major == 0)
    return;
  block = g_strdup_printf ("/sys/dev/block/%u:%u", dev_major, dev_minor);
  real = realpath (block, NULL);
  if (real)
    {
      host->root_device = vmd_shown (strrchr (real, '/') + 1, 64);
      free (real);
    }
  add_block_ancestors (block, 0, host->root_path);
}

/* udev's rule of thumb: a keyboard has EV_KEY and all of KEY_ESC..KEY_D (bits 1-31). */
static gboolean
input_is_keyboard (const char *dir)
{
  g_autofree char *caps = g_build_filename (dir, "capabilities", NULL);
  g_autofree char *ev = vmd_sysfs_read_attr (caps, "ev", NULL);
  g_autofree char *key = NULL;
  guint64 ev_bits[1], key_bits[12];

  if (ev == NULL || !vmd_parse_bitmap (ev, ev_bits, G_N_ELEMENTS (ev_bits))
      || !(ev_bits[0] & (1 << 1)))
    return FALSE;
  key = vmd_sysfs_read_attr (caps, "key", NULL);
  return key && vmd_parse_bitmap (key, key_bits, G_N_ELEMENTS (key_bits))
      && (key_bits[0] & 0xfffffffe) == 0xfffffffe;
}

static void
read_keyboards (VmdHost *host)
{
  g_autoptr(GPtrArray) names = vmd_sysfs_list ("/sys/class/input", NULL);

  for (guint i = 0; names && i < names->len && host->keyboards->len < 64; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *dir = g_build_filename ("/sys/class/input", name, NULL);
      g_autoptr(GPtrArray) ancestors = g_ptr_array_new_with_free_func (g_free);
      g_autofree char *shown_name = NULL;
      VmdKeyboard *k;
      char *real;

      if (!g_str_has_prefix (name, "input") || !input_is_keyboard (dir))
        continue;
      real = realpath (dir, NULL);
      if (real)
        add_pci_ancestors (real, ancestors);
      free (real);
      {
        g_autofree char *text = vmd_sysfs_read_attr (dir, "name", NULL);
        shown_name = vmd_shown (text ? text : name, 80);
      }
      k = g_new0 (VmdKeyboard, 1);
      k->name = g_steal_pointer (&shown_name);
      /* The deepest PCI function is the controller (the USB host), the rest are bridges. */
      k->controller = ancestors->len ? g_strdup (ancestors->pdata[ancestors->len - 1]) : NULL;
      g_ptr_array_add (host->keyboards, k);
    }
}

static gboolean
is_firmware_fb (const char *name)
{
  return g_str_has_prefix (name, "efi-framebuffer.")
      || g_str_has_prefix (name, "simple-framebuffer.")
      || g_str_has_prefix (name, "vesa-framebuffer.")
      || g_str_has_prefix (name, "vga-framebuffer.");
}

static void
read_firmware_fbs (VmdHost *host)
{
  g_autoptr(GPtrArray) names = vmd_sysfs_list ("/sys/bus/platform/devices", NULL);

  for (guint i = 0; names && i < names->len && host->firmware_fbs->len < 8; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *link = NULL;
      g_autofree char *driver = NULL;
      VmdFirmwareFb *fb;

      if (!is_firmware_fb (name) || !vmd_parse_name_is_valid (name))
        continue;
      link = g_build_filename ("/sys/bus/platform/devices", name, "driver", NULL);
      driver = vmd_sysfs_link_name (link, NULL);
      fb = g_new0 (VmdFirmwareFb, 1);
      fb->device = g_strdup (name);
      fb->driver = driver && vmd_parse_name_is_valid (driver) ? g_steal_pointer (&driver) : NULL;
      g_ptr_array_add (host->firmware_fbs, fb);
    }
}

static void
read_vtcons (VmdHost *host)
{
  g_autoptr(GPtrArray) names = vmd_sysfs_list ("/sys/class/vtconsole", NULL);

  for (guint i = 0; names && i < names->len && host->vtcons->len < 16; i++)
    {
      const char *name = names->pdata[i];
      g_autofree char *dir = NULL;
      g_autofree char *description = NULL;
      VmdVtcon *v;
      int bound;

      if (!g_str_has_prefix (name, "vtcon") || !vmd_parse_name_is_valid (name))
        continue;
      dir = g_build_filename ("/sys/class/vtconsole", name, NULL);
      description = vmd_sysfs_read_attr (dir, "name", NULL);
      bound = vmd_vtcon_bound (name);
      if (bound < 0)
        continue;
      v = g_new0 (VmdVtcon, 1);
      v->name = g_strdup (name);
      v->description = vmd_shown (description ? description : "", 80);
      v->bound = bound;
      g_ptr_array_add (host->vtcons, v);
    }
}

VmdHost *
vmd_host_read (void)
{
  VmdHost *host = g_new0 (VmdHost, 1);

  host->displays = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_pci_function_free);
  host->root_path = g_ptr_array_new_with_free_func (g_free);
  host->keyboards = g_ptr_array_new_with_free_func (keyboard_free);
  host->firmware_fbs = g_ptr_array_new_with_free_func (firmware_fb_free);
  host->vtcons = g_ptr_array_new_with_free_func (vtcon_free);

  read_cpu (host);
  host->kvm_loaded = vmd_sysfs_exists ("/sys/class/misc/kvm");
  host->dev_kvm = access ("/dev/kvm", R_OK | W_OK) == 0;
  read_iommu (host);
  host->vfio_pci = read_vfio_pci ();
  read_displays (host);
  read_root (host);
  read_keyboards (host);
  read_firmware_fbs (host);
  read_vtcons (host);
  return host;
}
