"""umockdev testbeds for vmdesk tests: USB devices and their interfaces, PCI devices in IOMMU
groups, power supplies, and the uevents that announce them.

The daemon under test runs under umockdev's preload (Testbed.env()) and sees the testbed as
/sys; the test edits the testbed and fires uevents at it. umockdev builds each uevent by
reading the device back through /sys, so the test process must run under the preload as
well: call ensure_preloaded() first thing. Outside Testbed's own calls the test process
still sees the real /sys (an in-process libvirt needs it).

A device is written whole (attributes, properties, links) before umockdev announces it with
"add", so a listener never sees a half-built device.

Attribute values are bytes as the kernel would show them, newline included; builders take
str or bytes for strings, so hostile values (XML metacharacters, invalid UTF-8, very long)
reach the daemon unchanged. udev-derived properties (ID_SERIAL_SHORT) are sanitised as udev
does.

Testbed(usb_hostdev=True) is for USB hostdevs through a preloaded libvirt into a preloaded
QEMU: each USB device also gets its /dev/bus/usb node, answered by a usbfs.UsbfsDevice, and
the machine's own /sys parts that libvirt and QEMU read (CPUs, cgroups, modules) show
through the testbed.
"""
import contextlib
import os
import re
import struct
import sys
from dataclasses import dataclass, field

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import GLib, UMockdev  # noqa: E402

from harness.usbfs import UsbfsDevice, string_descriptor  # noqa: E402

PRELOAD = "libumockdev-preload.so.0"
USB_MAJOR = 189
# umockdev redirects all of /sys: these parts of the machine's /sys show through in a
# usb_hostdev testbed, for libvirt (CPUs, cgroups, kernel and module parameters) and QEMU.
HOST_SYS = ("fs", "devices/system", "module", "firmware")
# /sys/kernel shows through entry by entry: the testbed keeps iommu_groups to itself.
HOST_SYS_KERNEL_OWN = ("iommu_groups",)


def preloaded():
    with open("/proc/self/maps") as f:
        return "libumockdev-preload" in f.read()


def ensure_preloaded():
    """Re-exec this interpreter under umockdev's preload unless it already runs under it.

    Call before starting anything (threads, children). After the re-exec LD_PRELOAD is
    dropped from the environment again, so children do not inherit the preload.
    """
    if preloaded():
        preload = os.environ.get("LD_PRELOAD", "").replace(PRELOAD, "").strip()
        if preload:
            os.environ["LD_PRELOAD"] = preload
        else:
            os.environ.pop("LD_PRELOAD", None)
        return
    env = dict(os.environ)
    env["LD_PRELOAD"] = " ".join(filter(None, [PRELOAD, env.get("LD_PRELOAD")]))
    sys.stdout.flush()
    sys.stderr.flush()
    os.execve(sys.executable, sys.orig_argv, env)


def _bytes(value):
    if isinstance(value, bytes):
        return value
    return str(value).encode()


def _udev_safe(value):
    """udev's ID_* string sanitising: whitespace and unsafe ASCII become '_'; a USB string
    descriptor holds at most 126 characters."""
    text = _bytes(value).decode("utf-8", "replace")[:126].strip()
    return "".join(c if (c.isascii() and c.isalnum()) or c in "#+-.:=@_" or
                   (not c.isascii() and c != "\ufffd") else "_" for c in text)


@dataclass
class Device:
    syspath: str      # /sys/devices/..., as the daemon sees it
    subsystem: str
    children: list = field(default_factory=list)

    @property
    def name(self):
        return os.path.basename(self.syspath)


class Testbed:
    """A umockdev testbed with a permanent USB root hub (usb1), so /sys/bus/usb exists
    (libvirt refuses every USB hostdev without it)."""

    def __init__(self, usb_hostdev=False):
        """usb_hostdev: USB devices get usbfs nodes that QEMU's libusb can open, and the
        machine's CPU, cgroup and module parts of /sys show through (see HOST_SYS)."""
        if not preloaded():
            raise RuntimeError("the test process must run under umockdev's preload: "
                               "call harness.sysfs.ensure_preloaded() first")
        self._tb = UMockdev.Testbed.new()
        self.root = self._tb.get_root_dir()
        GLib.unsetenv("UMOCKDEV_DIR")  # Testbed.new() set it for the whole process
        self.usb_hostdev = usb_hostdev
        self._whole_process = False
        self._usb = {}        # port name ("1-2.3", "usb1") -> Device
        self._devnums = {}    # bus -> the devnum handed out last
        self._usbfs = {}      # syspath -> UsbfsDevice of a plugged device
        self._unplugged = {}  # devnode -> UsbfsDevice still attached for open clients
        self._batteries = 0
        self._mains = 0
        if usb_hostdev:
            self._show_host_sys()
        self.root_hub = self._root_hub(1)

    def close(self):
        """Remove the testbed directory (umockdev does so when the object goes). A QEMU
        that still has a node of it open aborts on its next request: stop QEMU first."""
        if self._tb is None:
            return
        for usbfs in [*self._usbfs.values(), *self._unplugged.values()]:
            self._tb.detach_ioctl(usbfs.devnode)
        self._usbfs.clear()
        self._unplugged.clear()
        self._tb = None

    def redirect_process(self):
        """From now on this whole process sees the testbed as /sys, for good: what a
        libvirt embedded driver opened in this process needs to find USB devices. Call it
        before that driver starts its threads (setenv is not thread-safe)."""
        if not self.usb_hostdev:
            raise RuntimeError("redirect_process() needs Testbed(usb_hostdev=True): "
                               "libvirt fails without the machine's /sys/fs and CPUs")
        GLib.setenv("UMOCKDEV_DIR", self.root, True)
        self._whole_process = True

    def usbfs(self, dev):
        """The UsbfsDevice answering `dev`'s node (usb_hostdev testbeds only)."""
        return self._usbfs[dev.syspath]

    def _show_host_sys(self):
        for part in HOST_SYS:
            link = os.path.join(self.root, "sys", part)
            os.makedirs(os.path.dirname(link), exist_ok=True)
            os.symlink("/sys/" + part, link)
        kernel = os.path.join(self.root, "sys", "kernel")
        os.makedirs(kernel, exist_ok=True)
        for entry in os.listdir("/sys/kernel"):
            if entry not in HOST_SYS_KERNEL_OWN:
                os.symlink("/sys/kernel/" + entry, os.path.join(kernel, entry))

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def env(self, base=None):
        """`base` (default: os.environ) plus what a process needs to see the testbed as /sys.
        An ASan build refuses a preload ahead of its runtime unless told not to check."""
        env = dict(os.environ if base is None else base)
        preload = env.get("LD_PRELOAD", "")
        if PRELOAD not in preload:
            env["LD_PRELOAD"] = " ".join(filter(None, [PRELOAD, preload]))
        asan = env.get("ASAN_OPTIONS", "")
        if "verify_asan_link_order" not in asan:
            env["ASAN_OPTIONS"] = ":".join(filter(None, [asan, "verify_asan_link_order=0"]))
        env["UMOCKDEV_DIR"] = self.root
        return env

    @contextlib.contextmanager
    def _redirected(self):
        if self._whole_process:
            yield self._tb
            return
        GLib.setenv("UMOCKDEV_DIR", self.root, True)
        try:
            yield self._tb
        finally:
            GLib.unsetenv("UMOCKDEV_DIR")

    # generic

    def path(self, dev_or_syspath, name=""):
        """Where a device's attribute `name` lives on the real filesystem."""
        path = self.root + getattr(dev_or_syspath, "syspath", dev_or_syspath)
        return os.path.join(path, name) if name else path

    def add_device(self, subsystem, syspath, attrs, props, links=None):
        """Add the device at `syspath` (/sys/devices/...) and announce it.

        attrs: name -> str/bytes, written byte for byte; props: uevent properties; links:
        name -> syspath of a symlink attribute (driver, iommu_group). umockdev sends the
        "add" uevent once all of them are in place.
        """
        self._check_absent(syspath)
        lines = [f"P: {syspath[len('/sys'):]}", f"E: SUBSYSTEM={subsystem}"]
        for key, value in props.items():
            if "\n" in value:
                raise ValueError(f"newline in property {key}")
            lines.append(f"E: {key}={value}")
        for key, value in attrs.items():
            # "dev" as text: umockdev then adds /sys/dev/char/M:N and the node's numbers.
            lines.append(f"A: dev={value}" if key == "dev" else f"H: {key}={_bytes(value).hex()}")
        for key, target in (links or {}).items():
            lines.append(f"L: {key}={os.path.relpath(target, syspath)}")
        with self._redirected() as tb:
            tb.add_from_string("\n".join(lines) + "\n")
        return Device(syspath, subsystem)

    def _check_absent(self, syspath):
        if os.path.exists(self.path(syspath, "uevent")):
            raise ValueError(f"{syspath} exists already")  # umockdev would abort()

    def set_attr(self, dev, name, value):
        """Write an attribute; power_supply devices get the matching uevent property too.
        Sends no uevent."""
        self._tb.set_attribute_binary(dev.syspath, name, _bytes(value))
        if dev.subsystem == "power_supply":
            self.set_property(dev, "POWER_SUPPLY_" + name.upper(),
                              _bytes(value).decode(errors="replace").strip())

    def read_attr(self, dev, name):
        """An attribute as bytes, e.g. what the daemon wrote to `authorized`."""
        with open(self.path(dev, name), "rb") as f:
            return f.read()

    def set_property(self, dev, name, value):
        self._tb.set_property(dev.syspath, name, str(value))

    def remove_property(self, dev, name):
        path = self.path(dev, "uevent")
        with open(path, "rb") as f:
            lines = [ln for ln in f.read().splitlines(True)
                     if not ln.startswith(name.encode() + b"=")]
        with open(path, "wb") as f:
            f.writelines(lines)

    def set_link(self, dev, name, target_syspath):
        """A relative symlink attribute, as sysfs has them."""
        link = self.path(dev, name)
        if os.path.islink(link):
            os.unlink(link)
        os.symlink(os.path.relpath(target_syspath, dev.syspath), link)

    def uevent(self, dev, action):
        """Send `action` (add, remove, change, bind, unbind) for `dev` to every preloaded
        process that listens for uevents."""
        with self._redirected() as tb:
            tb.uevent(dev.syspath, action)

    def remove(self, dev):
        """Remove `dev`, children first, each announced with a remove uevent just before it
        goes (so, unlike on a real system, a listener can still read it). A USB device's
        node fails with ENODEV before the uevent, and is gone after it, as with usbfs."""
        for child in reversed(dev.children):
            self.remove(child)
        usbfs = self._usbfs.pop(dev.syspath, None)
        if usbfs:
            usbfs.unplug()
        self.uevent(dev, "remove")
        with self._redirected() as tb:
            tb.remove_device(dev.syspath)
        if usbfs:
            self._retire_usbfs(usbfs)

    def _mkdir(self, syspath):
        os.makedirs(self.path(syspath), exist_ok=True)
        return syspath

    def _write(self, syspath, text):
        with open(self.path(syspath), "w") as f:
            f.write(text)

    # USB

    def _root_hub(self, bus):
        hub = self._usb_device(
            f"/sys/devices/pci0000:00/0000:00:14.0/usb{bus}", bus, 1, "0", {}, vid=0x1d6b,
            pid=0x0002, bcd_device=0x0601, serial=b"0000:00:14.0",
            manufacturer=b"Linux xhci-hcd", product=b"xHCI Host Controller",
            interfaces=[(9, 0, 0)], device_class=(9, 0, 1), bcd_usb=0x0200, speed="480",
            removable="unknown", authorized=1, max_power_ma=0, maxchild=16)
        self._usb[f"usb{bus}"] = hub
        return hub

    def add_usb_device(self, vid, pid, port="1-1", devnum=None, serial=None,
                       manufacturer=None, product=None, interfaces=((0xff, 0, 0),),
                       device_class=(0, 0, 0), bcd_device=0x0100, bcd_usb=0x0200,
                       speed="480", removable="removable", connect_type="hotplug",
                       authorized=1, max_power_ma=100, parent=None):
        """Plug in a USB device at `port` ("<bus>-<port>[.<port>...]"): it is announced,
        then its interfaces, as the kernel does. interfaces: (class, subclass, protocol).
        Its parent is `parent`, else the device at the upstream port, else the bus's root
        hub (added on demand). Returns the device; its children are the interfaces."""
        bus = int(port.split("-")[0])
        upstream = port.rsplit(".", 1)[0] if "." in port else f"usb{bus}"
        hub = parent or self._usb.get(upstream) or self._root_hub(bus)
        if devnum is None:
            devnum = self._next_devnum(bus)
        self._devnums[bus] = devnum
        # The hub port; connect_type says whether users can reach it (hotplug) or it is
        # internal (hardwired). Named "usb1-port2", "1-2-port3" below the hub's interface.
        port_dir = self._mkdir(f"{hub.children[0].syspath}/{hub.name}-port"
                               f"{re.split('[-.]', port)[-1]}")
        self._write(port_dir + "/connect_type", connect_type + "\n")
        dev = self._usb_device(
            f"{hub.syspath}/{port}", bus, devnum, port.split("-", 1)[1], {"port": port_dir},
            vid=vid, pid=pid, bcd_device=bcd_device, serial=serial, manufacturer=manufacturer,
            product=product, interfaces=interfaces, device_class=device_class,
            bcd_usb=bcd_usb, speed=speed, removable=removable, authorized=authorized,
            max_power_ma=max_power_ma, maxchild=0)
        self._usb[port] = dev
        return dev

    def _next_devnum(self, bus):
        """As the kernel numbers devices: the next free one after the last, wrapping
        within 2..127 (1 is the root hub), so long plug loops stay valid addresses."""
        used = {int(self.read_attr(d, "devnum")) for d in self._usb.values()
                if int(self.read_attr(d, "busnum")) == bus}
        candidate = self._devnums.get(bus, 1)
        for _ in range(126):
            candidate = candidate + 1 if candidate < 127 else 2
            if candidate not in used:
                return candidate
        raise RuntimeError(f"bus {bus} has no free device number")

    def remove_usb_device(self, dev):
        """Unplug: remove uevents for the interfaces, then the device."""
        self.remove(dev)
        self._usb = {k: v for k, v in self._usb.items() if v is not dev}

    def _plug_usbfs(self, syspath, bus, devnum, minor, speed, descriptors, strings):
        """The device's /dev/bus/usb node with its handler, in place before the device is
        announced: a router may hand it to QEMU as soon as it hears the uevent."""
        devnode = f"/dev/bus/usb/{bus:03d}/{devnum:03d}"
        stale = self._unplugged.pop(devnode, None)
        if stale:  # devnum reused while a client of the unplugged device lingers
            self._tb.detach_ioctl(devnode)
        node = self.root + devnode
        os.makedirs(os.path.dirname(node), exist_ok=True)
        # Not umockdev's plain file: a regular file always polls writable, and libusb,
        # which waits for POLLOUT to reap URBs, would spin. /dev/random never is writable
        # once the CRNG is up, seeks, and is still a char device as umockdev's stat() shows
        # it: with the numbers from dev/.node.
        os.symlink("/dev/random", node)
        numbers = os.path.join(self.root, "dev", ".node", devnode[5:].replace("/", "_"))
        os.makedirs(os.path.dirname(numbers), exist_ok=True)
        os.symlink(f"{USB_MAJOR}:{minor}", numbers)
        usbfs = UsbfsDevice(devnode, devnum, speed, descriptors, strings)
        self._tb.attach_ioctl(devnode, usbfs.handler)
        self._usbfs[syspath] = usbfs

    def _retire_usbfs(self, usbfs):
        """Drop an unplugged device's node; its handler stays (answering ENODEV) while a
        client such as QEMU still has the node open, and goes with the next device on the
        same node or with the testbed."""
        node = self.root + usbfs.devnode
        numbers = os.path.join(self.root, "dev", ".node", usbfs.devnode[5:].replace("/", "_"))
        for path in (node, numbers):
            if os.path.lexists(path):
                os.unlink(path)
        if usbfs.clients:
            self._unplugged[usbfs.devnode] = usbfs
        else:
            self._tb.detach_ioctl(usbfs.devnode)

    def _usb_device(self, syspath, bus, devnum, devpath, links, *, vid, pid, bcd_device,
                    serial, manufacturer, product, interfaces, device_class, bcd_usb, speed,
                    removable, authorized, max_power_ma, maxchild):
        cls, sub, proto = device_class
        minor = (bus - 1) * 128 + devnum - 1
        descriptors = usb_descriptors(vid, pid, bcd_device, device_class, bcd_usb, interfaces,
                                      max_power_ma, manufacturer is not None,
                                      product is not None, serial is not None)
        props = {
            "MAJOR": str(USB_MAJOR), "MINOR": str(minor),
            "DEVNAME": f"bus/usb/{bus:03d}/{devnum:03d}", "DEVTYPE": "usb_device",
            "DRIVER": "usb", "PRODUCT": f"{vid:x}/{pid:x}/{bcd_device:x}",
            "TYPE": f"{cls}/{sub}/{proto}", "BUSNUM": f"{bus:03d}", "DEVNUM": f"{devnum:03d}",
            # udev's usb_id adds these; umockdev has no udev database, so they sit in uevent
            "ID_BUS": "usb", "ID_VENDOR_ID": f"{vid:04x}", "ID_MODEL_ID": f"{pid:04x}",
            "ID_REVISION": f"{bcd_device:04x}",
            "ID_USB_INTERFACES": ":" + "".join(f"{c:02x}{s:02x}{p:02x}:"
                                               for c, s, p in interfaces),
        }
        if serial is not None:
            props["ID_SERIAL_SHORT"] = _udev_safe(serial)
        attrs = {
            "dev": f"{USB_MAJOR}:{minor}",
            "idVendor": f"{vid:04x}\n", "idProduct": f"{pid:04x}\n",
            "bcdDevice": f"{bcd_device:04x}\n",
            "version": f"{bcd_usb >> 8:2x}.{bcd_usb & 0xff:02x}\n",
            "bDeviceClass": f"{cls:02x}\n", "bDeviceSubClass": f"{sub:02x}\n",
            "bDeviceProtocol": f"{proto:02x}\n", "bMaxPacketSize0": "64\n",
            "bNumConfigurations": "1\n", "bConfigurationValue": "1\n",
            "bNumInterfaces": f"{len(interfaces):2d}\n", "bmAttributes": "a0\n",
            "bMaxPower": f"{max_power_ma}mA\n", "speed": f"{speed}\n", "busnum": f"{bus}\n",
            "devnum": f"{devnum}\n", "devpath": f"{devpath}\n", "maxchild": f"{maxchild}\n",
            "removable": f"{removable}\n", "authorized": f"{authorized}\n",
            "descriptors": descriptors,
        }
        for key, value in (("serial", serial), ("manufacturer", manufacturer),
                           ("product", product)):
            if value is not None:
                attrs[key] = _bytes(value) + b"\n"
        if self.usb_hostdev:
            self._check_absent(syspath)
            self._plug_usbfs(syspath, bus, devnum, minor, speed, descriptors,
                             usb_strings(manufacturer, product, serial))
        dev = self.add_device("usb", syspath, attrs, props, links)
        # interfaces are "<device>:<configuration>.<n>"; a root hub's device part is "<bus>-0"
        prefix = f"{bus}-0" if devpath == "0" else dev.name
        for number, iface in enumerate(interfaces):
            dev.children.append(self._usb_interface(
                f"{syspath}/{prefix}:1.{number}", number, iface, vid, pid, bcd_device,
                device_class))
        return dev

    def _usb_interface(self, syspath, number, iface, vid, pid, bcd_device, device_class):
        cls, sub, proto = device_class
        icls, isub, iproto = iface
        modalias = (f"usb:v{vid:04X}p{pid:04X}d{bcd_device:04X}dc{cls:02X}dsc{sub:02X}"
                    f"dp{proto:02X}ic{icls:02X}isc{isub:02X}ip{iproto:02X}in{number:02X}")
        props = {
            "DEVTYPE": "usb_interface", "PRODUCT": f"{vid:x}/{pid:x}/{bcd_device:x}",
            "TYPE": f"{cls}/{sub}/{proto}", "INTERFACE": f"{icls}/{isub}/{iproto}",
            "MODALIAS": modalias,
        }
        attrs = {
            "bInterfaceNumber": f"{number:02x}\n", "bAlternateSetting": " 0\n",
            "bInterfaceClass": f"{icls:02x}\n", "bInterfaceSubClass": f"{isub:02x}\n",
            "bInterfaceProtocol": f"{iproto:02x}\n", "bNumEndpoints": "01\n",
            "authorized": "1\n", "supports_autosuspend": "1\n", "modalias": modalias + "\n",
        }
        return self.add_device("usb", syspath, attrs, props)

    # PCI

    def add_pci_device(self, bdf, vendor, device, pci_class, driver=None, iommu_group=None,
                       boot_vga=None, reset_method="flr bus", power_state="D0",
                       subsystem_vendor=None, subsystem_device=None, revision=0,
                       parent=None, header_type=0):
        """A PCI function at `bdf` ("0000:01:00.0") below `parent` (a bridge) or the root
        bus, in IOMMU group `iommu_group` (None: no IOMMU), bound to `driver`."""
        sub_vendor = vendor if subsystem_vendor is None else subsystem_vendor
        sub_device = device if subsystem_device is None else subsystem_device
        base, sub, prog = pci_class >> 16, (pci_class >> 8) & 0xff, pci_class & 0xff
        modalias = (f"pci:v{vendor:08X}d{device:08X}sv{sub_vendor:08X}sd{sub_device:08X}"
                    f"bc{base:02X}sc{sub:02X}i{prog:02X}")
        props = {
            "PCI_CLASS": f"{pci_class:X}", "PCI_ID": f"{vendor:04X}:{device:04X}",
            "PCI_SUBSYS_ID": f"{sub_vendor:04X}:{sub_device:04X}", "PCI_SLOT_NAME": bdf,
            "MODALIAS": modalias,
        }
        attrs = {
            "vendor": f"0x{vendor:04x}\n", "device": f"0x{device:04x}\n",
            "subsystem_vendor": f"0x{sub_vendor:04x}\n",
            "subsystem_device": f"0x{sub_device:04x}\n", "class": f"0x{pci_class:06x}\n",
            "revision": f"0x{revision:02x}\n", "enable": "1\n", "irq": "16\n",
            "numa_node": "-1\n", "local_cpulist": "0-1\n", "power_state": f"{power_state}\n",
            "d3cold_allowed": "1\n", "driver_override": "(null)\n", "modalias": modalias + "\n",
            "config": pci_config(vendor, device, pci_class, revision, sub_vendor, sub_device,
                                 header_type),
        }
        if reset_method is not None:  # no attribute when the kernel knows no reset for it
            attrs["reset_method"] = reset_method + "\n"
        if boot_vga is not None:
            attrs["boot_vga"] = f"{int(boot_vga)}\n"
        # without a bridge it sits on the domain's root bus
        syspath = f"{parent.syspath}/{bdf}" if parent else f"/sys/devices/pci{bdf[:4]}:00/{bdf}"
        links = {}
        if iommu_group is not None:
            group = f"/sys/kernel/iommu_groups/{iommu_group}"
            self._mkdir(group + "/devices")
            self._write(group + "/type", "DMA\n")
            os.symlink(os.path.relpath(syspath, group + "/devices"),
                       self.path(group, f"devices/{bdf}"))
            links["iommu_group"] = group
        if driver:
            links["driver"] = self._bind_back(syspath, driver)
            props["DRIVER"] = driver
        return self.add_device("pci", syspath, attrs, props, links)

    def add_pci_bridge(self, bdf, vendor=0x8086, device=0xa110, iommu_group=None,
                       parent=None):
        """A PCIe root port (class 0x060400, pcieport) to put devices behind."""
        return self.add_pci_device(bdf, vendor, device, 0x060400, driver="pcieport",
                                   iommu_group=iommu_group, reset_method=None,
                                   parent=parent, header_type=1)

    def set_driver(self, dev, driver):
        """Rebind `dev` to `driver` (None: unbind) as the kernel shows it: driver link, the
        driver's link back, DRIVER property. Sends no uevent (the kernel sends bind/unbind)."""
        old = self.path(dev, "driver")
        if os.path.islink(old):
            os.unlink(os.path.join(os.path.realpath(old), dev.name))
            os.unlink(old)
        if driver is None:
            self.remove_property(dev, "DRIVER")
            return
        self.set_link(dev, "driver", self._bind_back(dev.syspath, driver))
        self.set_property(dev, "DRIVER", driver)

    def _bind_back(self, syspath, driver):
        """The driver's directory, with its control files and a link to the device."""
        ddir = self._mkdir(f"/sys/bus/pci/drivers/{driver}")
        for control in ("bind", "unbind", "new_id", "remove_id"):
            if not os.path.exists(self.path(ddir, control)):
                self._write(f"{ddir}/{control}", "")
        os.symlink(os.path.relpath(syspath, ddir), self.path(ddir, os.path.basename(syspath)))
        return ddir

    # power supplies

    def add_power_supply(self, name="BAT0", type="Battery", **attrs):
        """A power_supply device; `attrs` override the defaults (capacity, status, online,
        energy_now, ...). Every attribute is mirrored as a POWER_SUPPLY_* property."""
        if type == "Mains":
            defaults = {"online": 1}
            acpi = f"ACPI0003:{self._mains:02d}"
            self._mains += 1
        else:
            defaults = {"present": 1, "status": "Discharging", "capacity": 50,
                        "capacity_level": "Normal", "energy_now": 25000000,
                        "energy_full": 50000000, "energy_full_design": 52000000,
                        "power_now": 10000000, "voltage_now": 12000000,
                        "technology": "Li-ion", "manufacturer": "vmdesk",
                        "model_name": "Mock Battery", "cycle_count": 0}
            acpi = f"PNP0C0A:{self._batteries:02d}"
            self._batteries += 1
        values = {"type": type, **defaults, **attrs}
        props = {"POWER_SUPPLY_NAME": name}
        props.update((f"POWER_SUPPLY_{k.upper()}", str(v)) for k, v in values.items())
        return self.add_device(
            "power_supply", f"/sys/devices/LNXSYSTM:00/LNXSYBUS:00/{acpi}/power_supply/{name}",
            {k: f"{v}\n" for k, v in values.items()}, props)


def usb_strings(manufacturer, product, serial):
    """String index -> string descriptor, with the indices usb_descriptors() gives them."""
    return {index: string_descriptor(_bytes(value)) for index, value in
            enumerate((manufacturer, product, serial), 1) if value is not None}


def usb_descriptors(vid, pid, bcd_device, device_class, bcd_usb, interfaces, max_power_ma,
                    has_manufacturer, has_product, has_serial):
    """The `descriptors` attribute: the device descriptor, then the active configuration
    with its interface and endpoint descriptors, little-endian as on the wire. Strings are
    numbered 1, 2, 3 for manufacturer, product, serial when present (see usb_strings)."""
    cls, sub, proto = device_class
    strings = [i if present else 0 for i, present in
               enumerate((has_manufacturer, has_product, has_serial), 1)]
    device = struct.pack("<BBHBBBBHHHBBBB", 18, 1, bcd_usb, cls, sub, proto, 64, vid, pid,
                         bcd_device, *strings, 1)
    body = b""
    for number, (icls, isub, iproto) in enumerate(interfaces):
        body += struct.pack("<BBBBBBBBB", 9, 4, number, 0, 1, icls, isub, iproto, 0)
        # one interrupt-IN endpoint each, as on a HID or hub interface
        body += struct.pack("<BBBBHB", 7, 5, 0x80 | (number % 15 + 1), 3, 8, 10)
    config = struct.pack("<BBHBBBBB", 9, 2, 9 + len(body), len(interfaces), 1, 0, 0xa0,
                         max_power_ma // 2)
    return device + config + body


def pci_config(vendor, device, pci_class, revision, sub_vendor, sub_device, header_type):
    """The first 64 bytes of config space (the standard header), zero-padded to 256."""
    header = struct.pack("<HHHHI", vendor, device, 0x0006, 0x0010,
                         revision | pci_class << 8)
    header += struct.pack("<BBBB", 0, 0, header_type, 0) + bytes(24)
    if header_type == 0:
        header += struct.pack("<IHH", 0, sub_vendor, sub_device)
    return header.ljust(256, b"\0")
