"""Machines for vfio-helper's tests: umockdev testbeds laid out like real PCs, plus the /proc
files vmdesk-vfio reads and the data of the test-side kernel emulator (kernel-emulator.c).

Each builder returns a Machine whose env() runs a process under umockdev's preload with the
kernel emulator in front of it, so `vmdesk-vfio` sees the testbed as /sys and its writes to
unbind/bind/drivers_probe/driver_override move the `driver` links as the kernel would.

    m = desktop_nvidia()
    out = m.run("check", "--json")
    m.driver("0000:01:00.0")  -> "nvidia"
"""
import json
import os
import subprocess

from harness import sysfs

BUILD_DIR = os.environ.get("VMDESK_BUILD_DIR", os.path.join(os.path.dirname(__file__),
                                                            "../../build"))
VMDESK_VFIO = os.path.join(BUILD_DIR, "vfio-helper", "vmdesk-vfio")
EMULATOR = os.path.join(BUILD_DIR, "vfio-helper", "tests", "libvmdesk-kernel-emulator.so")

INTEL_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
cpu family\t: 6
model name\t: 13th Gen Intel(R) Core(TM) i7-13700H
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush dts acpi mmx fxsr sse sse2 ss ht tm pbe syscall nx pdpe1gb rdtscp lm constant_tsc vmx smx est tm2 ssse3

processor\t: 1
vendor_id\t: GenuineIntel
flags\t\t: fpu vme vmx
"""
AMD_CPUINFO = """processor\t: 0
vendor_id\t: AuthenticAMD
cpu family\t: 25
model name\t: AMD Ryzen 7 5800X 8-Core Processor
flags\t\t: fpu vme de pse tsc msr pae mce cx8 apic sep mtrr pge mca cmov pat pse36 clflush mmx fxsr sse sse2 ht syscall nx mmxext fxsr_opt pdpe1gb rdtscp lm constant_tsc rep_good nopl svm extapic
"""
NO_VIRT_CPUINFO = """processor\t: 0
vendor_id\t: GenuineIntel
flags\t\t: fpu vme de pse tsc msr pae
"""
BOOT_ID = "5c1f4d9e-7a21-4a8e-9b1e-2f0c7e6d3a10"

# A keyboard's capabilities as the kernel prints them (EV_SYN|EV_KEY|EV_MSC|EV_LED|EV_REP;
# every key of a full layout).
KEYBOARD_EV = "120013\n"
KEYBOARD_KEY = "1000000000007 ff9f207ac14057ff febeffdfffefffff fffffffffffffffe\n"
MOUSE_EV = "17\n"
MOUSE_KEY = "1f0000 0 0 0 0\n"


class Machine:
    """A testbed with the kernel-level files vfio-helper reads (see the builders below)."""

    def __init__(self, cpuinfo=INTEL_CPUINFO, cmdline="BOOT_IMAGE=/vmlinuz root=UUID=1 ro "
                 "quiet splash intel_iommu=on iommu=pt", iommu=True, kvm=True,
                 vfio_pci=True, host_sys=False):
        """host_sys: the machine's CPU, cgroup and module parts of /sys show through (a
        usb_hostdev testbed), for a libvirt running under the testbed (vmdeskd's tests)."""
        sysfs.ensure_preloaded()
        self.tb = sysfs.Testbed(usb_hostdev=host_sys)
        self.root = self.tb.root
        self.iommu = iommu
        self.devices = {}
        self.vtcons = []
        self.fbs = []
        self._inputs = 0
        self.write("proc/cpuinfo", cpuinfo)
        self.write("proc/cmdline", cmdline + "\n")
        self.write("proc/sys/kernel/random/boot_id", BOOT_ID + "\n")
        self.write("proc/self/mountinfo",
                   "22 1 0:21 / /proc rw,relatime - proc proc rw\n")
        self.write("sys/bus/pci/drivers_probe", "")
        self.write("sys/bus/platform/drivers_probe", "")
        os.makedirs(self.path("sys/kernel/iommu_groups"), exist_ok=True) if iommu else None
        if kvm:
            self.tb.add_device("misc", "/sys/devices/virtual/misc/kvm", {"dev": "10:232"},
                               {"MAJOR": "10", "MINOR": "232", "DEVNAME": "kvm"})
        if vfio_pci:
            self.driver_dir("pci", "vfio-pci")

    def close(self):
        self.tb.close()

    # --- files ---

    def path(self, rel):
        return os.path.join(self.root, rel)

    def write(self, rel, text, mode="w"):
        path = self.path(rel)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, mode) as f:
            f.write(text)

    def driver_dir(self, bus, name):
        """A loaded driver: bus/B/drivers/NAME with its control files."""
        for control in ("bind", "unbind", "new_id", "remove_id"):
            path = self.path(f"sys/bus/{bus}/drivers/{name}/{control}")
            if not os.path.exists(path):
                self.write(f"sys/bus/{bus}/drivers/{name}/{control}", "")

    def native(self, name, driver):
        """What drivers_probe binds to `name` when it has no driver_override."""
        self.write(f"kernel-emulator/native/{name}", driver + "\n")

    # --- PCI ---

    def pci(self, bdf, vendor, device, pci_class, driver=None, group=None, parent=None,
            **kw):
        dev = self.tb.add_pci_device(bdf, vendor, device, pci_class, driver=driver,
                                     iommu_group=group if self.iommu else None,
                                     parent=parent, **kw)
        if driver:
            self.driver_dir("pci", driver)
            if driver != "vfio-pci":
                self.native(bdf, driver)
        self.devices[bdf] = dev
        return dev

    def bridge(self, bdf, group=None, parent=None, device=0xa110):
        dev = self.tb.add_pci_bridge(bdf, device=device,
                                     iommu_group=group if self.iommu else None, parent=parent)
        self.devices[bdf] = dev
        return dev

    def connector(self, gpu, card, name, status):
        """A DRM connector: drm/cardN/cardN-NAME/status under the GPU."""
        self.write(os.path.relpath(self.tb.path(gpu, f"drm/{card}/{card}-{name}/status"),
                                   self.root), status + "\n")

    def fbdev(self, gpu, fb, name):
        """An fbdev drawn by the GPU's driver (graphics/fbN with its name)."""
        self.write(os.path.relpath(self.tb.path(gpu, f"graphics/{fb}/name"), self.root),
                   name + "\n")

    # --- consoles and firmware framebuffers ---

    def vtcon(self, name, description, bound):
        dev = self.tb.add_device("vtconsole", f"/sys/devices/virtual/vtconsole/{name}",
                                 {"name": description + "\n", "bind": f"{int(bound)}\n"}, {})
        self.vtcons.append(name)
        return dev

    def firmware_fb(self, name, driver):
        """A platform framebuffer (efi-framebuffer.0, simple-framebuffer.0) bound to `driver`."""
        syspath = f"/sys/devices/platform/{name}"
        links = {}
        if driver:
            self.driver_dir("platform", driver)
            self.native(name, driver)
            links["driver"] = f"/sys/bus/platform/drivers/{driver}"
        dev = self.tb.add_device("platform", syspath, {"modalias": f"platform:{name}\n"},
                                 {"DRIVER": driver} if driver else {}, links)
        if driver:
            os.symlink(os.path.relpath(syspath, f"/sys/bus/platform/drivers/{driver}"),
                       self.path(f"sys/bus/platform/drivers/{driver}/{name}"))
        self.fbs.append(name)
        return dev

    # --- what the host must keep ---

    def keyboard(self, parent_syspath, name="AT Translated Set 2 keyboard", keyboard=True):
        """An input device below `parent_syspath` (a USB interface, serio0, ...)."""
        self._inputs += 1
        n = self._inputs
        return self.tb.add_device(
            "input", f"{parent_syspath}/input/input{n}",
            {"name": name + "\n", "capabilities/ev": KEYBOARD_EV if keyboard else MOUSE_EV,
             "capabilities/key": KEYBOARD_KEY if keyboard else MOUSE_KEY},
            {"NAME": f'"{name}"'})

    def root_disk(self, syspath, major=259, minor=2):
        """The block device the root filesystem is mounted from."""
        self.tb.add_device("block", syspath, {"dev": f"{major}:{minor}"},
                           {"MAJOR": str(major), "MINOR": str(minor),
                            "DEVNAME": os.path.basename(syspath), "DEVTYPE": "partition"})
        link = self.path(f"sys/dev/block/{major}:{minor}")
        os.makedirs(os.path.dirname(link), exist_ok=True)
        os.symlink(os.path.relpath(syspath, "/sys/dev/block"), link)
        self.write("proc/self/mountinfo",
                   f"29 1 {major}:{minor} / / rw,relatime shared:1 - ext4 /dev/"
                   f"{os.path.basename(syspath)} rw,errors=remount-ro\n", mode="a")

    # --- running vmdesk-vfio and looking at the result ---

    def env(self, extra=None, bus_address=None):
        env = {k: v for k, v in os.environ.items()
               if not k.startswith("VMDESK_KEMU_") and k not in ("LD_PRELOAD",)}
        env["LD_PRELOAD"] = f"{EMULATOR} {sysfs.PRELOAD}"
        # Never the machine's own system bus: a dead socket unless a test's private bus.
        env["DBUS_SYSTEM_BUS_ADDRESS"] = bus_address or \
            f"unix:path={self.root}/no-system-bus"
        env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={self.root}/no-session-bus"
        env["VMDESK_MODULES_DIR"] = self.path("lib-modules")
        env.update(extra or {})
        return self.tb.env(env)

    def run(self, *args, env=None, bus_address=None, timeout=60):
        """vmdesk-vfio ARGS under the testbed; returns the CompletedProcess (text)."""
        return subprocess.run([VMDESK_VFIO, *args], env=self.env(env, bus_address),
                              capture_output=True, text=True, timeout=timeout)

    def run_json(self, command, *args, **kw):
        """With --json right after the command (so a "--" among `args` cannot swallow it)."""
        proc = self.run(command, "--json", *args, **kw)
        try:
            return proc, json.loads(proc.stdout)
        except ValueError as e:
            raise AssertionError(f"not JSON ({e}): {proc.stdout!r}\nstderr: {proc.stderr}")

    def driver(self, name, bus="pci"):
        link = self.path(f"sys/bus/{bus}/devices/{name}/driver")
        return os.path.basename(os.readlink(link)) if os.path.islink(link) else None

    def override(self, bdf):
        with open(self.path(f"sys/bus/pci/devices/{bdf}/driver_override")) as f:
            value = f.read().strip()
        return None if value == "(null)" else value

    def vtcon_bound(self, name):
        with open(self.path(f"sys/class/vtconsole/{name}/bind")) as f:
            return f.read().strip() == "1"

    def state(self):
        """Everything a bind may change: PCI drivers and overrides, consoles, framebuffers.
        Also checks the kernel's invariant that each `driver` link has its link back."""
        state = {}
        for bdf in self.devices:
            drv = self.driver(bdf)
            if drv:
                back = self.path(f"sys/bus/pci/drivers/{drv}/{bdf}")
                assert os.path.islink(back), f"{bdf}: driver {drv} has no link back"
            state[bdf] = (drv, self.override(bdf))
        for name in self.vtcons:
            state[name] = self.vtcon_bound(name)
        for name in self.fbs:
            state[name] = self.driver(name, "platform")
        return state


# --- the machines -----------------------------------------------------------------------

def desktop_nvidia(**machine):
    """A desktop: Intel CPU, one NVIDIA RTX 4090 with its HDMI audio in IOMMU group 1 with
    the root port (viable); it is the boot VGA and the only display, with an efifb console.
    USB keyboard on the chipset xHCI, root filesystem on an NVMe SSD."""
    m = Machine(**machine)
    m.pci("0000:00:00.0", 0x8086, 0xa700, 0x060000, group=0)
    port = m.bridge("0000:00:01.0", group=1, device=0xa70d)
    gpu = m.pci("0000:01:00.0", 0x10de, 0x2684, 0x030000, driver="nvidia", group=1,
                parent=port, boot_vga=True, reset_method="flr bus")
    m.pci("0000:01:00.1", 0x10de, 0x22ba, 0x040300, driver="snd_hda_intel", group=1,
          parent=port, reset_method="flr")
    m.connector(gpu, "card0", "DP-1", "connected")
    m.connector(gpu, "card0", "HDMI-A-1", "disconnected")
    m.pci("0000:00:14.0", 0x8086, 0x7ae0, 0x0c0330, driver="xhci_hcd", group=2)
    usb_kbd = m.tb.add_usb_device(0x046d, 0xc31c, port="1-2", interfaces=[(3, 1, 1)])
    m.keyboard(usb_kbd.children[0].syspath + "/0003:046D:C31C.0001", "Logitech USB Keyboard")
    m.pci("0000:00:17.0", 0x8086, 0x7ae2, 0x010601, driver="ahci", group=3)
    nvme_port = m.bridge("0000:00:1b.0", group=4, device=0x7ac0)
    m.pci("0000:02:00.0", 0x144d, 0xa80a, 0x010802, driver="nvme", group=4, parent=nvme_port)
    m.root_disk(m.devices["0000:02:00.0"].syspath + "/nvme/nvme0/nvme0n1/nvme0n1p2")
    m.firmware_fb("efi-framebuffer.0", "efi-framebuffer")
    m.vtcon("vtcon0", "(S) dummy device", False)
    m.vtcon("vtcon1", "(M) frame buffer device", True)
    return m


def hybrid_laptop(**machine):
    """A laptop: Intel iGPU (boot VGA, i915, drives the eDP panel and the console) and an
    NVIDIA RTX 4060 Laptop dGPU with HDMI audio in its own group. Internal keyboard on the
    i8042 (not PCI), a USB mouse on the xHCI, NVMe root."""
    m = Machine(**machine)
    igpu = m.pci("0000:00:02.0", 0x8086, 0xa7a0, 0x030000, driver="i915", group=0,
                 boot_vga=True, reset_method="flr")
    m.connector(igpu, "card1", "eDP-1", "connected")
    m.connector(igpu, "card1", "HDMI-A-1", "disconnected")
    m.fbdev(igpu, "fb0", "i915drmfb")
    port = m.bridge("0000:00:01.0", group=1, device=0xa70d)
    dgpu = m.pci("0000:01:00.0", 0x10de, 0x28e0, 0x030000, driver="nvidia", group=1,
                 parent=port, boot_vga=False, reset_method="flr bus", power_state="D3hot")
    m.connector(dgpu, "card0", "HDMI-A-2", "disconnected")
    m.pci("0000:01:00.1", 0x10de, 0x22be, 0x040300, driver="snd_hda_intel", group=1,
          parent=port, reset_method="flr")
    m.pci("0000:00:14.0", 0x8086, 0x7a60, 0x0c0330, driver="xhci_hcd", group=2)
    mouse = m.tb.add_usb_device(0x046d, 0xc077, port="1-1", interfaces=[(3, 1, 2)])
    m.keyboard(mouse.children[0].syspath + "/0003:046D:C077.0002", "USB Optical Mouse",
               keyboard=False)
    m.keyboard("/sys/devices/platform/i8042/serio0")
    nvme_port = m.bridge("0000:00:06.0", group=3, device=0xa74d)
    m.pci("0000:02:00.0", 0x15b7, 0x5017, 0x010802, driver="nvme", group=3, parent=nvme_port)
    m.root_disk(m.devices["0000:02:00.0"].syspath + "/nvme/nvme0/nvme0n1/nvme0n1p3", minor=3)
    m.vtcon("vtcon0", "(S) dummy device", False)
    m.vtcon("vtcon1", "(M) frame buffer device", True)
    return m


def shared_group(**machine):
    """A desktop whose GPU slot hangs off the chipset: the GTX 1650 shares IOMMU group 14
    with a SATA controller and a NIC behind the same switch (not viable). Intel iGPU is the
    boot VGA and display."""
    m = Machine(**machine)
    m.pci("0000:00:02.0", 0x8086, 0x3e92, 0x030000, driver="i915", group=0, boot_vga=True)
    port = m.bridge("0000:00:1c.0", group=14, device=0xa2e7)
    sw = m.bridge("0000:02:00.0", group=14, parent=port, device=0x1184)
    m.pci("0000:03:00.0", 0x1b21, 0x1062, 0x010601, driver="ahci", group=14, parent=sw)
    m.pci("0000:04:00.0", 0x10ec, 0x8168, 0x020000, driver="r8169", group=14, parent=sw)
    m.pci("0000:05:00.0", 0x10de, 0x1f82, 0x030000, driver="nouveau", group=14, parent=sw,
          boot_vga=False)
    m.pci("0000:05:00.1", 0x10de, 0x10fa, 0x040300, driver="snd_hda_intel", group=14,
          parent=sw)
    m.keyboard("/sys/devices/platform/i8042/serio0")
    m.pci("0000:00:17.0", 0x8086, 0xa352, 0x010601, driver="ahci", group=5)
    m.root_disk("/sys/devices/pci0000:00/0000:00:17.0/ata1/host0/target0:0:0/0:0:0:0/block/"
                "sda/sda2", major=8, minor=2)
    return m


def iommu_off(**machine):
    """The hybrid laptop as shipped: VT-d off in the firmware, no IOMMU words on the kernel
    command line, so no IOMMU groups at all."""
    m = Machine(cmdline="BOOT_IMAGE=/vmlinuz root=UUID=1 ro quiet splash", iommu=False,
                **machine)
    m.pci("0000:00:02.0", 0x8086, 0xa7a0, 0x030000, driver="i915", boot_vga=True)
    port = m.bridge("0000:00:01.0", device=0xa70d)
    m.pci("0000:01:00.0", 0x10de, 0x28e0, 0x030000, driver="nvidia", parent=port,
          boot_vga=False)
    m.pci("0000:01:00.1", 0x10de, 0x22be, 0x040300, driver="snd_hda_intel", parent=port)
    m.keyboard("/sys/devices/platform/i8042/serio0")
    return m


def amd_no_flr(**machine):
    """A Ryzen desktop: the boot display is a Radeon RX 6400 (flr); the RX 580 (Polaris) to
    pass has only a bus reset, its HDMI audio in the same group."""
    m = Machine(cpuinfo=AMD_CPUINFO,
                cmdline="BOOT_IMAGE=/vmlinuz root=UUID=1 ro amd_iommu=on iommu=pt", **machine)
    port0 = m.bridge("0000:00:01.1", group=2, device=0x1483)
    main = m.pci("0000:09:00.0", 0x1002, 0x743f, 0x030000, driver="amdgpu", group=2,
                 parent=port0, boot_vga=True, reset_method="flr bus")
    m.connector(main, "card0", "DP-1", "connected")
    port1 = m.bridge("0000:00:03.1", group=20, device=0x1483)
    gpu = m.pci("0000:0b:00.0", 0x1002, 0x67df, 0x030000, driver="amdgpu", group=20,
                parent=port1, boot_vga=False, reset_method="bus")
    m.connector(gpu, "card1", "HDMI-A-2", "disconnected")
    m.pci("0000:0b:00.1", 0x1002, 0xaaf0, 0x040300, driver="snd_hda_intel", group=20,
          parent=port1, reset_method="bus")
    m.pci("0000:0c:00.3", 0x1022, 0x149c, 0x0c0330, driver="xhci_hcd", group=25)
    m.keyboard("/sys/devices/pci0000:00/0000:0c:00.3/usb3/3-1/3-1:1.0/0003:04D9:0169.0003",
               "USB Keyboard")
    return m


MACHINES = {
    "desktop_nvidia": desktop_nvidia,
    "hybrid_laptop": hybrid_laptop,
    "shared_group": shared_group,
    "iommu_off": iommu_off,
    "amd_no_flr": amd_no_flr,
}
