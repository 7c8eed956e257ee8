"""USB hostdevs through real libvirt into real QEMU, with no USB hardware: a testbed USB
device is attached to the tiny guest by libvirt's embedded driver, opened by this very
process under umockdev's preload, and QEMU (under the same preload) opens its usbfs node.

Run from tests/: VMDESK_GUEST_DIR=... /usr/bin/python3 harness/test_usb_hostdev.py -v
Prints attach/detach latencies; asserts behaviour only.
"""
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import sysfs, virt  # noqa: E402

virt.ensure_libvirt_user()     # a root QEMU driver in this process needs libvirt-qemu
sysfs.ensure_preloaded()

import libvirt  # noqa: E402
import libvirt_qemu  # noqa: E402

from harness import procs, usbfs  # noqa: E402
from harness.usb_lab import parse_info_usb, usb_hostdevs  # noqa: E402

ALIAS = "ua-vmdesk-test"
STICK = dict(vid=0x0781, pid=0x5567, port="1-2", serial="4C530001230512116453",
             manufacturer="SanDisk", product="Cruzer Blade", interfaces=[(8, 6, 0x50)])


class DeviceEvents:
    """libvirt's device-added/-removed events, recorded with their arrival time."""

    def __init__(self, conn):
        self._lock = threading.Lock()
        self.seen = []
        for kind, event in (("added", libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_ADDED),
                            ("removed", libvirt.VIR_DOMAIN_EVENT_ID_DEVICE_REMOVED)):
            conn.domainEventRegisterAny(None, event, self._record, kind)

    def _record(self, _conn, dom, alias, kind):
        with self._lock:
            self.seen.append((kind, dom.name(), alias, time.monotonic()))

    def wait(self, kind, alias, after, timeout=10):
        """Arrival time of the first `kind` event for `alias` since monotonic `after`."""
        def arrived():
            with self._lock:
                return next((t for k, _, a, t in self.seen
                             if k == kind and a == alias and t >= after), None)
        return procs.wait_until(arrived, timeout, what=f"device-{kind} event for {alias}")


def ms(seconds):
    return f"{seconds * 1000:.1f} ms"


class UsbHostdevTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        guest_dir = virt.guest_image_dir()
        cls.workdir = tempfile.mkdtemp(prefix="vmd-usb-", dir="/tmp")
        cls.tb = sysfs.Testbed(usb_hostdev=True)
        # libvirt looks devices up in /sys/bus/usb: this process must see the testbed
        cls.tb.redirect_process()
        cls.root = virt.EmbeddedRoot(os.path.join(cls.workdir, "root"), caps_tag="usb-hostdev")
        cls.serial = os.path.join(cls.workdir, "serial.log")
        try:
            virt.start_event_loop()
            cls.conn = libvirt.open(cls.root.uri)
            cls.events = DeviceEvents(cls.conn)
            began = time.monotonic()
            cls.dom = cls.conn.defineXML(virt.guest_domain_xml(
                "usbguest", guest_dir, cls.serial, umockdev_dir=cls.tb.root, fast_boot=True))
            cls.dom.create()
            virt.wait_serial_marker(cls.serial, "VMDESK-GUEST-READY")
            print(f"\nembedded open + boot to READY: {time.monotonic() - began:.1f} s")
        except BaseException:
            cls._tear_down()
            raise

    @classmethod
    def _tear_down(cls):
        if hasattr(cls, "conn"):
            for dom in cls.conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                dom.destroy()
            cls.conn.close()
        cls.root.cleanup()     # QEMU first: it aborts when its node's handler goes
        cls.tb.close()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._tear_down()
        leftovers = procs.processes_mentioning(cls.workdir)
        if leftovers:
            raise AssertionError(f"processes left behind: {leftovers}")

    def setUp(self):
        self.plugged = []

    def tearDown(self):
        # Whatever a failed test left attached or plugged goes: the next starts clean.
        for hostdev in usb_hostdevs(self.dom.XMLDesc(0)):
            self.dom.detachDeviceAlias(hostdev["alias"], libvirt.VIR_DOMAIN_AFFECT_LIVE)
        procs.wait_until(lambda: not usb_hostdevs(self.dom.XMLDesc(0)), 10,
                         what="leftover hostdevs to go")
        for dev in self.plugged:
            self.tb.remove_usb_device(dev)

    # helpers

    def info_usb(self):
        return parse_info_usb(libvirt_qemu.qemuMonitorCommand(
            self.dom, "info usb", libvirt_qemu.VIR_DOMAIN_QEMU_MONITOR_COMMAND_HMP))

    def hostdevs(self):
        return usb_hostdevs(self.dom.XMLDesc(0))

    def plug(self, **device):
        spec = dict(STICK, **device)
        dev = self.tb.add_usb_device(spec.pop("vid"), spec.pop("pid"), **spec)
        self.plugged.append(dev)
        return dev, int(self.tb.read_attr(dev, "busnum")), int(self.tb.read_attr(dev, "devnum"))

    def unplug(self, dev):
        self.plugged.remove(dev)
        self.tb.remove_usb_device(dev)

    def attach(self, vid, pid, bus, devnum):
        """Attach by vendor, product and address; returns (call, call to event) seconds."""
        began = time.monotonic()
        self.dom.attachDeviceFlags(virt.usb_hostdev_xml(vid, pid, bus, devnum, ALIAS),
                                   libvirt.VIR_DOMAIN_AFFECT_LIVE)
        called = time.monotonic()
        event = self.events.wait("added", ALIAS, began)
        return called - began, event - began

    def detach(self):
        """Detach by alias; returns (call, call to event) seconds."""
        began = time.monotonic()
        self.dom.detachDeviceAlias(ALIAS, libvirt.VIR_DOMAIN_AFFECT_LIVE)
        called = time.monotonic()
        event = self.events.wait("removed", ALIAS, began)
        return called - began, event - began

    def assert_attached(self, vid, pid, bus, devnum):
        self.assertEqual(self.hostdevs(), [{"alias": ALIAS, "vendor": vid, "product": pid,
                                            "bus": bus, "device": devnum}])
        self.assertEqual(self.root.live_xml("usbguest") and
                         usb_hostdevs(self.root.live_xml("usbguest")), self.hostdevs(),
                         "the status file disagrees with the live XML")
        qemu = self.info_usb()
        self.assertEqual([d["id"] for d in qemu], [ALIAS], qemu)
        self.assertEqual(qemu[0]["speed"], "480")

    def assert_detached(self):
        self.assertEqual(self.hostdevs(), [])
        self.assertEqual(usb_hostdevs(self.root.live_xml("usbguest")), [])
        self.assertEqual(self.info_usb(), [])

    # tests

    def test_plug_attach_detach_unplug_twice(self):
        """The bug class "breaks on the second plug": every cycle must work."""
        addresses = []
        for cycle in (1, 2):
            dev, bus, devnum = self.plug()
            addresses.append(devnum)
            node = self.tb.usbfs(dev)
            attach_call, attach_event = self.attach(0x0781, 0x5567, bus, devnum)
            self.assert_attached(0x0781, 0x5567, bus, devnum)
            self.assertEqual(node.clients, 1, "QEMU should hold the node open")
            detach_call, detach_event = self.detach()
            self.assert_detached()
            procs.wait_until(lambda: node.clients == 0, 5, what="QEMU to close the node")
            self.unplug(dev)
            print(f"cycle {cycle}: attach call {ms(attach_call)}, to device-added "
                  f"{ms(attach_event)}; detach call {ms(detach_call)}, to device-removed "
                  f"{ms(detach_event)}")
        self.assertEqual(addresses[1], addresses[0] + 1, "a replug gets the next address")

    def test_stale_address_and_double_attach_are_refused(self):
        dev, bus, devnum = self.plug()
        self.unplug(dev)
        again, _, new_devnum = self.plug()
        with self.assertRaises(libvirt.libvirtError) as stale:
            self.dom.attachDeviceFlags(virt.usb_hostdev_xml(0x0781, 0x5567, bus, devnum, ALIAS),
                                       libvirt.VIR_DOMAIN_AFFECT_LIVE)
        self.assertIn(f"bus:{bus} device:{devnum}", str(stale.exception))
        self.attach(0x0781, 0x5567, bus, new_devnum)
        with self.assertRaises(libvirt.libvirtError) as twice:
            self.dom.attachDeviceFlags(virt.usb_hostdev_xml(0x0781, 0x5567, bus, new_devnum,
                                                            "ua-vmdesk-twice"),
                                       libvirt.VIR_DOMAIN_AFFECT_LIVE)
        self.assertIn("in use", str(twice.exception))
        self.assertEqual([h["alias"] for h in self.hostdevs()], [ALIAS])
        self.detach()
        self.unplug(again)

    def test_hostile_strings_attach(self):
        dev, bus, devnum = self.plug(
            vid=0x1234, pid=0xabcd, port="1-3",
            serial=b"\"'<>&\n\xff\xfe" + b"S" * 4096,
            manufacturer=b"</hostdev><hostdev type='usb'>",
            product="Prod\u00fcct \U0001F600 <&> \"quoted\"\n" * 50)
        self.attach(0x1234, 0xabcd, bus, devnum)
        self.assert_attached(0x1234, 0xabcd, bus, devnum)
        self.detach()
        self.assert_detached()
        self.unplug(dev)

    def test_unplug_while_attached(self):
        """The router hears the unplug after the device is gone: QEMU must survive it and
        the hostdev must still detach."""
        dev, bus, devnum = self.plug()
        node = self.tb.usbfs(dev)
        self.attach(0x0781, 0x5567, bus, devnum)
        self.unplug(dev)
        self.assertTrue(node.gone)
        # QEMU notices on its next request (ENODEV); until then it keeps the device
        self.assertEqual([d["id"] for d in self.info_usb()], [ALIAS])
        self.detach()
        self.assert_detached()
        procs.wait_until(lambda: node.clients == 0, 5, what="QEMU to close the node")
        self.assertTrue(self.dom.isActive())

    def test_attached_device_leaves_qemu_idle(self):
        """libusb reaps URBs when the node polls writable; a node that always did (a plain
        file) would have QEMU asking thousands of times a second."""
        dev, bus, devnum = self.plug(port="1-5")
        node = self.tb.usbfs(dev)
        self.attach(0x0781, 0x5567, bus, devnum)
        before = node.requests.get(usbfs.REAPURBNDELAY, 0)
        time.sleep(1)
        self.assertLess(node.requests.get(usbfs.REAPURBNDELAY, 0) - before, 10, node.requests)
        self.detach()
        self.unplug(dev)

    def test_attach_detach_latencies(self):
        """Figures only: 10 cycles on one plugged device."""
        dev, bus, devnum = self.plug(port="1-4")
        figures = {"attach call": [], "to device-added": [], "detach call": [],
                   "to device-removed": []}
        for _ in range(10):
            attach = self.attach(0x0781, 0x5567, bus, devnum)
            detach = self.detach()
            for name, value in zip(figures, (*attach, *detach)):
                figures[name].append(value)
        self.unplug(dev)
        for name, values in figures.items():
            print(f"{name:18} n={len(values)} min {ms(min(values))} "
                  f"median {ms(statistics.median(values))} max {ms(max(values))}")


if __name__ == "__main__":
    unittest.main()
