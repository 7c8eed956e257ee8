"""Proves the private bus, the dbusmock services and the umockdev testbed, for real.

Run: /usr/bin/python3 tests/harness/test_bus_sysfs.py  (or -m unittest with tests/ on the
path). The process re-executes itself under umockdev's preload before any test runs.
"""
import os
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()

import dbus  # noqa: E402

from harness import procs  # noqa: E402
from harness.bus import PYTHON, PrivateSystemBus, iterate_until  # noqa: E402

LOGIN1 = "org.freedesktop.login1.Manager"

# A separate subscriber, as the daemon will be: it finds the bus through the environment.
SUBSCRIBER = r"""
import dbus, dbus.mainloop.glib, sys
from gi.repository import GLib
dbus.mainloop.glib.DBusGMainLoop(set_as_default=True)
bus = dbus.SystemBus()
for member in ("PrepareForSleep", "PrepareForShutdown"):
    bus.add_signal_receiver(lambda start, m=member: print(m, bool(start), flush=True),
                            signal_name=member, dbus_interface="org.freedesktop.login1.Manager",
                            bus_name="org.freedesktop.login1")
print("ready", bus.get_unique_name(), flush=True)
GLib.MainLoop().run()
"""

# A GUdev client under the preload: prints the devices it finds, then every uevent.
# Attributes are read with plain open() too, so the redirected file access is proven.
LISTENER = r"""
import json, os, sys, gi
gi.require_version("GUdev", "1.0")
from gi.repository import GLib, GUdev

def show(kind, dev, action=None):
    path = dev.get_sysfs_path()
    attrs = {}
    for name in ("idVendor", "serial", "product", "authorized", "capacity"):
        try:
            with open(os.path.join(path, name), "rb") as f:
                attrs[name] = f.read().decode("utf-8", "surrogateescape")
        except OSError:
            pass
    props = {k: dev.get_property(k) for k in dev.get_property_keys()}
    print(json.dumps({"kind": kind, "action": action, "syspath": path,
                      "devtype": dev.get_devtype(), "props": props, "attrs": attrs}), flush=True)

client = GUdev.Client.new(sys.argv[1:])
for subsystem in sys.argv[1:]:
    for dev in client.query_by_subsystem(subsystem):
        show("have", dev)
client.connect("uevent", lambda c, action, dev: show("event", dev, action))
print(json.dumps({"kind": "ready"}), flush=True)
GLib.MainLoop().run()
"""


def spawn(test, argv, env):
    """A child whose stdout the test reads; stopped and closed when the test ends."""
    child = procs.Child(argv, env=env, stdout=subprocess.PIPE)
    test.addCleanup(child.proc.stdout.close)
    test.addCleanup(child.stop)
    return child


def _workdir(test, prefix):
    # Short and outside the repo: the bus socket path must fit in 108 bytes.
    path = tempfile.mkdtemp(prefix=prefix, dir="/tmp")
    test.addCleanup(shutil.rmtree, path, True)
    return path


class BusTest(unittest.TestCase):
    def setUp(self):
        self.bus = PrivateSystemBus(_workdir(self, "vmd-bus-")).start()
        self.addCleanup(self.bus.stop)

    def test_client_finds_bus_through_env(self):
        child = spawn(self, [PYTHON, "-c", "import dbus; b = dbus.SystemBus(); "
                           "print(b.get_unique_name(), b.get_is_connected())"], self.bus.env())
        name, connected = procs.Lines(child).next().split()
        self.assertTrue(name.startswith(":"))
        self.assertEqual(connected, "True")
        self.assertEqual(self.bus.env()["DBUS_SYSTEM_BUS_ADDRESS"], self.bus.address)

    def test_polkitd_denies_then_allows(self):
        polkit = self.bus.start_polkitd()
        authority = dbus.Interface(polkit.obj, polkit.interface)
        subject = ("system-bus-name",
                   {"name": dbus.String(self.bus.connection().get_unique_name(), variant_level=1)})

        def check(action):
            allowed, challenge, _ = authority.CheckAuthorization(
                dbus.Struct(subject, signature="sa{sv}"), action,
                dbus.Dictionary({}, signature="ss"), dbus.UInt32(1), "")
            return bool(allowed), bool(challenge)

        self.assertEqual(check("org.vmdesk.usb.attach"), (False, False))
        polkit.set_allowed(["org.vmdesk.usb.attach"])
        self.assertEqual(check("org.vmdesk.usb.attach"), (True, False))
        self.assertEqual(check("org.vmdesk.vm.delete"), (False, False))
        polkit.allow_all()
        self.assertEqual(check("org.vmdesk.vm.delete"), (True, False))
        polkit.deny_all()
        self.assertEqual(check("org.vmdesk.usb.attach"), (False, False))
        self.assertEqual(len(polkit.calls("CheckAuthorization")), 5)

    def test_prepare_for_sleep_reaches_separate_subscriber(self):
        logind = self.bus.start_logind()
        lines = procs.Lines(spawn(self, [PYTHON, "-c", SUBSCRIBER], self.bus.env()))
        self.assertTrue(lines.next().startswith("ready"))  # its match rules are in place
        logind.prepare_for_sleep(True)
        self.assertEqual(lines.next(), "PrepareForSleep True")
        self.assertTrue(logind.get("PreparingForSleep"))
        logind.prepare_for_sleep(False)
        self.assertEqual(lines.next(), "PrepareForSleep False")
        logind.prepare_for_shutdown(True)
        self.assertEqual(lines.next(), "PrepareForShutdown True")
        self.assertTrue(logind.get("PreparingForShutdown"))

    def test_lid_closed_emits_properties_changed(self):
        logind = self.bus.start_logind({"LidClosed": False})
        changes = []
        self.bus.connection().add_signal_receiver(
            lambda iface, changed, _: changes.append(dict(changed)),
            "PropertiesChanged", dbus.PROPERTIES_IFACE, logind.owner, logind.path)
        logind.set_lid_closed(True)
        iterate_until(lambda: changes, what="PropertiesChanged for LidClosed")
        self.assertEqual(changes, [{"LidClosed": True}])
        self.assertTrue(logind.get("LidClosed"))
        self.assertFalse(logind.get("Docked"))
        self.assertEqual(logind.get("InhibitDelayMaxUSec"), 5000000)

    def test_inhibitor_fd_taken_and_release_observed(self):
        logind = self.bus.start_logind()
        fd = logind.obj.Inhibit("sleep:shutdown", "vmdesk-test", "saving guests", "delay",
                                dbus_interface=LOGIN1).take()
        held = logind.wait_inhibitors(lambda inh: inh, what="the inhibitor to be listed")
        self.assertEqual(held[0][:4], ("sleep:shutdown", "vmdesk-test", "saving guests", "delay"))
        os.close(fd)
        logind.wait_inhibitors(lambda inh: not inh, what="the inhibitor to be released")

    def test_upower_battery_change_shows_in_properties(self):
        upower = self.bus.start_upower({"OnBattery": False})
        battery = upower.add_discharging_battery("BAT0", "Mock", 80.0, 7200)
        changes = []
        self.bus.connection().add_signal_receiver(
            lambda iface, changed, _, path=None: changes.append((path, dict(changed))),
            "PropertiesChanged", dbus.PROPERTIES_IFACE, upower.owner, path_keyword="path")
        upower.set_device_properties(battery, {"Percentage": dbus.Double(4.0),
                                               "State": dbus.UInt32(2)})
        upower.set_on_battery(True)
        upower.setup_display_device(percentage=4.0)
        iterate_until(lambda: any(p == upower.path for p, _ in changes),
                      what="PropertiesChanged for OnBattery")
        self.assertIn((battery, {"Percentage": 4.0}), changes)
        self.assertEqual(upower.device_properties(battery)["Percentage"], 4.0)
        self.assertTrue(upower.get("OnBattery"))
        self.assertEqual(upower.device_properties(upower.DISPLAY_DEVICE)["Percentage"], 4.0)
        self.assertEqual(list(upower.obj.EnumerateDevices(dbus_interface=upower.interface)),
                         [battery])

    def test_restart_changes_name_owner(self):
        upower = self.bus.start_upower()
        seen = []
        self.bus.connection().add_signal_receiver(
            lambda name, old, new: seen.append((str(old), str(new))), "NameOwnerChanged",
            "org.freedesktop.DBus", "org.freedesktop.DBus", arg0=upower.bus_name)
        first = upower.owner
        second = upower.restart()
        self.assertNotEqual(first, second)
        iterate_until(lambda: len(seen) == 2, what="two NameOwnerChanged signals")
        self.assertEqual(seen, [(first, ""), ("", second)])
        self.assertFalse(upower.get("OnBattery"))  # the proxies follow the new owner

    def test_stop_leaves_no_process(self):
        self.bus.start_logind()
        self.bus.start_upower()
        self.bus.start_polkitd()
        self.assertGreaterEqual(len(self.bus.processes()), 4)
        self.bus.stop()
        procs.wait_until(lambda: not self.bus.processes(), 5, what="bus and mocks to exit")


class SysfsTest(unittest.TestCase):
    def setUp(self):
        self.tb = sysfs.Testbed()
        self.addCleanup(self.tb.close)

    def listen(self, *subsystems):
        lines = procs.Lines(spawn(self, [PYTHON, "-c", LISTENER, *subsystems], self.tb.env()))
        have = []
        while (msg := lines.json())["kind"] != "ready":
            have.append(msg)
        return lines, have

    def test_usb_device_seen_and_announced_to_preloaded_process(self):
        hostile = b"<a href='x'>&amp;\xff\xfe" + b"X" * 300
        self.tb.add_usb_device(0x046d, 0xc52b, port="1-1", serial=b"SER&<1>",
                               manufacturer="Logitech", product=hostile,
                               interfaces=[(3, 1, 1), (3, 1, 2)])
        lines, have = self.listen("usb")
        by_path = {m["syspath"]: m for m in have}
        dev = by_path["/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1"]
        self.assertEqual(dev["devtype"], "usb_device")
        self.assertEqual(dev["props"]["PRODUCT"], "46d/c52b/100")
        self.assertEqual(dev["props"]["DEVNAME"], "/dev/bus/usb/001/002")
        self.assertEqual(dev["props"]["ID_SERIAL_SHORT"], "SER__1_")
        self.assertEqual(dev["attrs"]["product"].encode("utf-8", "surrogateescape"),
                         hostile + b"\n")
        iface = by_path["/sys/devices/pci0000:00/0000:00:14.0/usb1/1-1/1-1:1.1"]
        self.assertEqual((iface["devtype"], iface["props"]["INTERFACE"]),
                         ("usb_interface", "3/1/2"))
        self.assertIn("/sys/devices/pci0000:00/0000:00:14.0/usb1", by_path)  # root hub

        # Hot-plug: the device, then its interfaces.
        stick = self.tb.add_usb_device(0x0781, 0x5581, port="1-2", serial="4C53",
                                       interfaces=[(8, 6, 0x50), (0xff, 0, 0)])
        events = [lines.json() for _ in range(3)]
        self.assertEqual([(e["action"], e["devtype"]) for e in events],
                         [("add", "usb_device"), ("add", "usb_interface"),
                          ("add", "usb_interface")])
        self.assertEqual(events[0]["attrs"]["idVendor"], "0781\n")
        self.assertEqual(events[2]["props"]["INTERFACE"], "255/0/0")

        self.tb.remove_usb_device(stick)
        events = [lines.json() for _ in range(3)]
        self.assertEqual([(e["action"], os.path.basename(e["syspath"])) for e in events],
                         [("remove", "1-2:1.1"), ("remove", "1-2:1.0"), ("remove", "1-2")])
        self.assertFalse(os.path.exists(self.tb.path(stick)))

    def test_usb_descriptors_match_attributes(self):
        dev = self.tb.add_usb_device(0x1050, 0x0407, port="1-3", serial="1",
                                     interfaces=[(3, 1, 1), (11, 0, 0)])
        raw = self.tb.read_attr(dev, "descriptors")
        self.assertEqual((raw[0], raw[1]), (18, 1))
        self.assertEqual(int.from_bytes(raw[8:10], "little"), 0x1050)
        self.assertEqual(int.from_bytes(raw[10:12], "little"), 0x0407)
        self.assertEqual(raw[16], 3)  # iSerialNumber set, as serial is
        config = raw[18:]
        self.assertEqual((config[1], int.from_bytes(config[2:4], "little")), (2, len(config)))
        self.assertEqual(config[4], int(self.tb.read_attr(dev, "bNumInterfaces")))
        ifaces = [config[i:i + 9] for i in range(9, len(config), 16)]
        self.assertEqual([(d[1], d[5], d[6], d[7]) for d in ifaces], [(4, 3, 1, 1), (4, 11, 0, 0)])

    def test_write_by_preloaded_process_reads_back(self):
        dev = self.tb.add_usb_device(0x1234, 0x5678, port="1-4")
        self.assertEqual(self.tb.read_attr(dev, "authorized"), b"1\n")
        script = "open('/sys/bus/usb/devices/1-4/authorized', 'w').write('0')"
        child = procs.Child([PYTHON, "-c", script], env=self.tb.env())
        self.addCleanup(child.stop)
        self.assertEqual(child.proc.wait(10), 0)
        self.assertEqual(self.tb.read_attr(dev, "authorized"), b"0")

    def test_pci_iommu_group_and_driver_links_resolve(self):
        port = self.tb.add_pci_bridge("0000:00:01.0", iommu_group=1)
        gpu = self.tb.add_pci_device("0000:01:00.0", 0x10de, 0x1c82, 0x030000,
                                     driver="nouveau", iommu_group=12, boot_vga=0, parent=port)
        self.tb.add_pci_device("0000:01:00.1", 0x10de, 0x0fb9, 0x040300,
                               driver="snd_hda_intel", iommu_group=12, parent=port)
        script = (
            "import os, json; d = '/sys/bus/pci/devices/0000:01:00.0'; print(json.dumps(["
            "os.path.realpath(d), os.path.realpath(d + '/iommu_group'),"
            "sorted(os.listdir('/sys/kernel/iommu_groups/12/devices')),"
            "os.path.basename(os.readlink(d + '/driver')),"
            "open(d + '/reset_method').read(), open(d + '/class').read()]))")
        self.assertEqual(procs.Lines(spawn(self, [PYTHON, "-c", script], self.tb.env())).json(), [
            "/sys/devices/pci0000:00/0000:00:01.0/0000:01:00.0",
            "/sys/kernel/iommu_groups/12", ["0000:01:00.0", "0000:01:00.1"], "nouveau",
            "flr bus\n", "0x030000\n"])
        self.tb.set_driver(gpu, "vfio-pci")
        self.assertEqual(os.path.basename(os.readlink(self.tb.path(gpu, "driver"))), "vfio-pci")
        self.assertFalse(os.path.exists(self.tb.root + "/sys/bus/pci/drivers/nouveau/" + gpu.name))
        self.assertIn(b"DRIVER=vfio-pci\n", self.tb.read_attr(gpu, "uevent"))

    def test_power_supply_change_announced(self):
        self.tb.add_power_supply("AC", "Mains", online=0)
        bat = self.tb.add_power_supply("BAT0", capacity=60, status="Discharging")
        lines, have = self.listen("power_supply")
        self.assertEqual(sorted(m["props"]["POWER_SUPPLY_NAME"] for m in have), ["AC", "BAT0"])
        self.tb.set_attr(bat, "capacity", "5\n")
        self.tb.uevent(bat, "change")
        event = lines.json()
        self.assertEqual((event["action"], event["attrs"]["capacity"]), ("change", "5\n"))
        self.assertEqual(event["props"]["POWER_SUPPLY_CAPACITY"], "5")
        self.assertEqual(event["props"]["POWER_SUPPLY_STATUS"], "Discharging")

    def test_test_process_keeps_real_sys(self):
        # Outside the testbed's own calls, /sys here is the machine's.
        bat = self.tb.add_power_supply("VMDTEST9")
        self.assertTrue(os.path.exists(self.tb.path(bat, "capacity")))
        self.assertFalse(os.path.exists("/sys/class/power_supply/VMDTEST9"))
        self.assertTrue(os.path.isdir("/sys/kernel/mm"))
        self.assertNotIn("UMOCKDEV_DIR", os.environ)


if __name__ == "__main__":
    unittest.main()
