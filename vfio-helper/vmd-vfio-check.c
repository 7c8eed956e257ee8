/* vmd-vfio-check.c: the pre-flight report. Each finding has a stable id, a severity, one
 * line saying what was found and the concrete fix. The ids and their meaning are listed in
 * docs/vfio.md; the JSON and text forms are in vmd-vfio-report.c. */
#include "vmd-vfio-private.h"

#include <string.h>

void
vmd_finding_free (VmdVfioFinding *f)
{
  if (f == NULL)
    return;
  g_free (f->id);
  g_free (f->bdf);
  g_free (f->message);
  g_free (f->fix);
  g_free (f);
}

const char *
vmd_vfio_severity_to_string (VmdVfioSeverity severity)
{
  static const char *const names[] = { "ok", "warn", "fail" };

  return names[severity];
}

G_GNUC_PRINTF (6, 7) static void
add (VmdVfioReport *r, const char *id, VmdVfioSeverity severity, const char *bdf,
     const char *fix, const char *format, ...)
{
  VmdVfioFinding *f = g_new0 (VmdVfioFinding, 1);
  va_list ap;

  va_start (ap, format);
  f->message = g_strdup_vprintf (format, ap);
  va_end (ap);
  f->id = g_strdup (id);
  f->severity = severity;
  f->bdf = g_strdup (bdf);
  f->fix = g_strdup (fix);
  g_ptr_array_add (r->findings, f);
}

static gboolean
is_amd_cpu (const VmdHost *host)
{
  return g_strcmp0 (host->cpu_vendor, "AuthenticAMD") == 0
      || g_strcmp0 (host->virt_flag, "svm") == 0;
}

/* What turns the IOMMU on for this CPU. */
const char *
vmd_iommu_fix (const VmdHost *host)
{
  if (host->cmdline.intel_off || host->cmdline.amd_off || host->cmdline.iommu_off)
    return "remove intel_iommu=off, amd_iommu=off and iommu=off from the kernel command line";
  if (is_amd_cpu (host))
    return "enable the IOMMU (AMD-Vi) in the firmware setup; add iommu=pt to the kernel "
           "command line";
  if (host->cmdline.intel_on)
    return "enable VT-d in the firmware setup";
  return "enable VT-d in the firmware setup and add intel_iommu=on iommu=pt to the kernel "
         "command line";
}

static void
check_host (VmdVfioReport *r)
{
  const VmdHost *host = r->host;
  const char *kvm_module = is_amd_cpu (host) ? "kvm_amd" : "kvm_intel";

  if (host->virt_flag)
    add (r, "cpu-virtualization", VMD_VFIO_OK, NULL, NULL, "CPU virtualization: %s (%s)",
         host->virt_flag, g_str_equal (host->virt_flag, "vmx") ? "Intel VT-x" : "AMD-V");
  else
    add (r, "cpu-virtualization", VMD_VFIO_FAIL, NULL,
         "enable Intel VT-x or AMD SVM in the firmware setup (inside a VM: enable nested "
         "virtualization)",
         "the CPU shows neither the vmx nor the svm flag in /proc/cpuinfo");

  if (host->kvm_loaded && host->dev_kvm)
    add (r, "kvm", VMD_VFIO_OK, NULL, NULL, "/dev/kvm is available");
  else if (host->kvm_loaded)
    add (r, "kvm", VMD_VFIO_FAIL, NULL,
         "run as root, or add the user to the kvm group",
         "KVM is loaded but /dev/kvm cannot be opened for reading and writing");
  else
    {
      g_autofree char *fix = g_strdup_printf ("modprobe %s; if that fails, enable "
                                              "virtualization in the firmware setup",
                                              kvm_module);
      add (r, "kvm", VMD_VFIO_FAIL, NULL, fix, "KVM is not loaded (no /sys/class/misc/kvm)");
    }

  if (host->iommu_groups > 0)
    add (r, "iommu", VMD_VFIO_OK, NULL, NULL, "IOMMU enabled: %u groups%s%s%s",
         host->iommu_groups, *host->cmdline.tokens ? " (" : "", host->cmdline.tokens,
         *host->cmdline.tokens ? ")" : "");
  else if (host->cmdline.intel_off || host->cmdline.amd_off || host->cmdline.iommu_off)
    add (r, "iommu", VMD_VFIO_FAIL, NULL, vmd_iommu_fix (host),
         "the IOMMU is off: the kernel command line says %s", host->cmdline.tokens);
  else if (host->cmdline.intel_on || host->cmdline.amd_on)
    add (r, "iommu", VMD_VFIO_FAIL, NULL, vmd_iommu_fix (host),
         "the IOMMU is off: the kernel command line asks for it (%s) but there are no "
         "IOMMU groups, so the firmware does not enable it", host->cmdline.tokens);
  else
    add (r, "iommu", VMD_VFIO_FAIL, NULL, vmd_iommu_fix (host),
         "the IOMMU is off: there are no IOMMU groups in /sys/kernel/iommu_groups");

  switch (host->vfio_pci)
    {
    case VMD_VFIO_PCI_LOADED:
      add (r, "vfio-pci", VMD_VFIO_OK, NULL, NULL, "vfio-pci is loaded");
      break;
    case VMD_VFIO_PCI_AVAILABLE:
      add (r, "vfio-pci", VMD_VFIO_WARN, NULL,
           "modprobe vfio-pci (and list it in /etc/modules-load.d/vfio.conf to load it at "
           "boot)", "vfio-pci is not loaded; bind will fail until it is");
      break;
    case VMD_VFIO_PCI_MISSING:
      add (r, "vfio-pci", VMD_VFIO_FAIL, NULL,
           "install a kernel built with CONFIG_VFIO_PCI", "this kernel has no vfio-pci");
      break;
    }
}

static char *
describe_member (const VmdPciFunction *m)
{
  g_autofree char *what = vmd_pci_function_describe (m);

  return g_strdup_printf ("%s (%s, %s%s)", m->bdf, what, m->driver ? "driver " : "no driver",
                          m->driver ? m->driver : "");
}

static void
check_group (VmdVfioReport *r, const VmdAnalysis *a)
{
  const char *bdf = a->fn->bdf;
  g_autoptr(GString) list = g_string_new (NULL);

  if (a->fn->iommu_group < 0)
    {
      add (r, "iommu-group", VMD_VFIO_FAIL, bdf, vmd_iommu_fix (r->host),
           "not in an IOMMU group, so it cannot be passed through%s",
           r->host->iommu_groups ? "" : " (the IOMMU is off)");
      return;
    }
  if (a->group == NULL)
    {
      add (r, "iommu-group", VMD_VFIO_FAIL, bdf, NULL, "%s", a->group_error);
      return;
    }
  if (a->group->viable)
    {
      for (guint i = 0; i < a->group->members->len; i++)
        {
          VmdPciFunction *m = a->group->members->pdata[i];
          VmdMemberKind kind = g_array_index (a->group->kinds, VmdMemberKind, i);
          g_string_append_printf (list, "%s%s (%s)", i ? ", " : "", m->bdf,
                                  vmd_member_kind_to_string (kind));
        }
      add (r, "iommu-group", VMD_VFIO_OK, bdf, NULL, "IOMMU group %d is viable: %s",
           a->group->number, list->str);
      return;
    }
  for (guint i = 0; i < a->foreign->len; i++)
    {
      g_autofree char *m = describe_member (a->foreign->pdata[i]);
      g_string_append_printf (list, "%s%s", i ? ", " : "", m);
    }
  add (r, "iommu-group", VMD_VFIO_FAIL, bdf,
       "put the card in a slot with an IOMMU group of its own (often the first x16 slot), "
       "or unbind those devices from their host drivers first; ACS-override kernels are "
       "not safe",
       "IOMMU group %d is not viable: %s %s it and %s on a host driver", a->group->number,
       list->str, a->foreign->len > 1 ? "share" : "shares",
       a->foreign->len > 1 ? "are" : "is");
}

static void
check_functions (VmdVfioReport *r, const VmdAnalysis *a)
{
  g_autoptr(GString) list = g_string_new (NULL);

  if (a->functions->len < 2)
    return;
  for (guint i = 0; i < a->functions->len; i++)
    {
      VmdPciFunction *m = a->functions->pdata[i];
      g_autofree char *desc = NULL;

      if (m == a->fn)
        continue;
      desc = describe_member (m);
      g_string_append_printf (list, "%s%s", list->len ? ", " : "", desc);
    }
  add (r, "functions", VMD_VFIO_OK, a->fn->bdf, NULL, "moves along: %s", list->str);
}

static void
check_display (VmdVfioReport *r, const VmdAnalysis *a)
{
  const VmdPciFunction *fn = a->fn;
  const char *bdf = fn->bdf;
  const char *single_gpu_fix =
    "make the other GPU the primary display in the firmware setup, or use the single-GPU "
    "hand-over (vmdesk-vfio bind --single-gpu; for vmdeskd, the VM's passthrough "
    "single-gpu=\"yes\")";

  if (fn->boot_vga == 1)
    add (r, "boot-vga", VMD_VFIO_WARN, bdf, single_gpu_fix,
         "the boot VGA device: firmware and early boot draw on it");
  else if (fn->boot_vga == 0)
    add (r, "boot-vga", VMD_VFIO_OK, bdf, NULL, "not the boot VGA device");

  if (!vmd_pci_function_is_display (fn))
    return;
  if (a->console->len)
    {
      g_autofree char *list = vmd_join (a->console, ", ");
      add (r, "host-console", VMD_VFIO_WARN, bdf, single_gpu_fix,
           "drives the host console: %s", list);
    }
  else
    add (r, "host-console", VMD_VFIO_OK, bdf, NULL, "no framebuffer console on it");

  if (a->panels->len)
    {
      g_autofree char *list = vmd_join (a->panels, ", ");
      add (r, "display-connectors", VMD_VFIO_WARN, bdf,
           "the host loses these screens while the VM runs; on a hybrid laptop, pass the GPU "
           "that does not drive the built-in panel",
           "drives connected screens: %s", list);
    }
  else if (fn->connectors->len)
    add (r, "display-connectors", VMD_VFIO_OK, bdf, NULL, "no connected screens");

  if (a->only_display)
    add (r, "only-display", VMD_VFIO_WARN, bdf,
         "use the single-GPU hand-over (bind --single-gpu; for vmdeskd, the VM's passthrough "
         "single-gpu=\"yes\"), or add a second GPU for the host",
         "the host's only display device: while the VM runs the host has no screen");
}

static void
check_reset (VmdVfioReport *r, const VmdAnalysis *a)
{
  const VmdPciFunction *fn = a->fn;
  const char *fix = fn->vendor == 0x1002
    ? "the vendor-reset kernel module resets many AMD GPUs; otherwise reboot the host "
      "between VM runs"
    : "reboot the host if the VM cannot initialise the device a second time";

  if (fn->reset_methods && g_strv_contains ((const char *const *) fn->reset_methods, "flr"))
    {
      g_autofree char *list = g_strjoinv (" ", fn->reset_methods);
      add (r, "reset", VMD_VFIO_OK, fn->bdf, NULL, "reset methods: %s", list);
    }
  else if (fn->reset_methods && fn->reset_methods[0])
    {
      g_autofree char *list = g_strjoinv (" ", fn->reset_methods);
      add (r, "reset", VMD_VFIO_WARN, fn->bdf, fix,
           "no function-level reset (only %s): the device may not come back clean after "
           "a VM stops", list);
    }
  else
    add (r, "reset", VMD_VFIO_FAIL, fn->bdf, fix,
         "the kernel knows no way to reset it: the device keeps its state between VMs");
}

static void
check_power (VmdVfioReport *r, const VmdAnalysis *a)
{
  const char *state = a->fn->power_state;

  if (state == NULL)
    return;
  if (g_str_equal (state, "D3cold"))
    {
      g_autofree char *fix = g_strdup_printf ("keep it powered: echo on > "
                                              "/sys/bus/pci/devices/%s/power/control",
                                              a->fn->bdf);
      add (r, "power-state", VMD_VFIO_WARN, a->fn->bdf, fix,
           "powered off (D3cold): some devices fail to wake for the VM");
    }
  else
    add (r, "power-state", VMD_VFIO_OK, a->fn->bdf, NULL, "power state %s", state);
}

static void
check_host_needs (VmdVfioReport *r, const VmdAnalysis *a)
{
  const char *bdf = a->fn->bdf;

  if (a->holds_root)
    add (r, "root-device", VMD_VFIO_FAIL, bdf, "pass a device the host does not run from",
         "the root filesystem (%s) is on %s", r->host->root_device ? r->host->root_device : "?",
         a->holds_root);
  if (a->keyboards_lost->len)
    {
      g_autofree char *list = vmd_join (a->keyboards_lost, ", ");
      if (a->last_keyboard)
        add (r, "keyboard", VMD_VFIO_FAIL, bdf,
             "connect a keyboard to a controller the host keeps (bind --force overrides)",
             "the host's only keyboard would go with it: %s", list);
      else
        add (r, "keyboard", VMD_VFIO_WARN, bdf, NULL,
             "keyboards that go with it (others remain): %s", list);
    }
}

static void
check_device (VmdVfioReport *r, const VmdAnalysis *a)
{
  const VmdPciFunction *fn = a->fn;
  g_autofree char *desc = NULL;
  gboolean bad_driver = FALSE;

  if (!fn->present)
    {
      add (r, "device", VMD_VFIO_FAIL, fn->bdf, "list PCI devices with lspci -D",
           "no PCI device %s", fn->bdf);
      return;
    }
  desc = vmd_pci_function_describe (fn);
  add (r, "device", VMD_VFIO_OK, fn->bdf, NULL, "%s, %s%s", desc,
       fn->driver ? "driver " : "no driver", fn->driver ? fn->driver : "");
  for (guint i = 0; i < fn->problems->len; i++)
    add (r, "sysfs", VMD_VFIO_WARN, fn->bdf, NULL, "%s", (char *) fn->problems->pdata[i]);
  bad_driver = fn->driver && !fn->driver_valid;
  if (bad_driver)
    add (r, "sysfs", VMD_VFIO_FAIL, fn->bdf, NULL,
         "its driver cannot be identified, so it cannot be moved safely");
  check_group (r, a);
  check_functions (r, a);
  check_display (r, a);
  check_reset (r, a);
  check_power (r, a);
  check_host_needs (r, a);
}

void
vmd_vfio_report_free (VmdVfioReport *report)
{
  if (report == NULL)
    return;
  g_clear_pointer (&report->host, vmd_host_free);
  g_clear_pointer (&report->analyses, g_ptr_array_unref);
  g_clear_pointer (&report->findings, g_ptr_array_unref);
  g_free (report);
}

VmdVfioReport *
vmd_vfio_check (const char *const *bdfs, GError **error)
{
  g_autoptr(VmdVfioReport) r = g_new0 (VmdVfioReport, 1);
  g_autoptr(GPtrArray) wanted = g_ptr_array_new_with_free_func (g_free);

  /* Malformed addresses are refused before anything is read. */
  for (guint i = 0; bdfs && bdfs[i]; i++)
    {
      VmdVfioBdf addr;
      char buf[VMD_VFIO_BDF_BUFSIZE];

      if (!vmd_vfio_bdf_parse (bdfs[i], &addr, error))
        return NULL;
      vmd_vfio_bdf_format (&addr, buf);
      if (!g_ptr_array_find_with_equal_func (wanted, buf, g_str_equal, NULL))
        g_ptr_array_add (wanted, g_strdup (buf));
    }

  r->host = vmd_host_read ();
  r->analyses = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_analysis_free);
  r->findings = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_finding_free);
  if (wanted->len == 0)
    for (guint i = 0; i < r->host->displays->len; i++)
      g_ptr_array_add (wanted, g_strdup (((VmdPciFunction *) r->host->displays->pdata[i])->bdf));

  check_host (r);
  for (guint i = 0; i < wanted->len; i++)
    {
      VmdAnalysis *a = vmd_analysis_new (r->host, wanted->pdata[i]);
      g_ptr_array_add (r->analyses, a);
      check_device (r, a);
    }
  return g_steal_pointer (&r);
}

VmdVfioSeverity
vmd_vfio_report_worst (const VmdVfioReport *report)
{
  VmdVfioSeverity worst = VMD_VFIO_OK;

  for (guint i = 0; i < report->findings->len; i++)
    worst = MAX (worst, ((VmdVfioFinding *) report->findings->pdata[i])->severity);
  return worst;
}

GPtrArray *
vmd_vfio_report_get_findings (const VmdVfioReport *report)
{
  return report->findings;
}
