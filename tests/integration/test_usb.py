"""The USB router end to end: umockdev hotplug into a running vmdeskd, which attaches through
real libvirt (the embedded driver, under the testbed's preload) into real QEMU. Every attach
is checked in the domain's live XML and in QEMU's own `info usb`.

The guests need not boot: QEMU takes a USB hostdev whatever the guest does.
"""
from harness import sysfs

sysfs.ensure_preloaded()   # before anything else: umockdev must see this process

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import signal  # noqa: E402
import subprocess  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
import unittest  # noqa: E402

from harness import daemon as hdaemon  # noqa: E402
from harness import procs  # noqa: E402
from harness.usb_lab import UsbLab  # noqa: E402

GUEST_DIR = os.environ.get("VMDESK_GUEST_DIR", "")

POLICY = """\
# The laptop's policy, as a user of vmdesk writes it.
attach work id 1050:0407 label "YubiKey" sticky
attach @focused id 046d:085c follow
deny with-interface all-of { 08:*:* 03:01:01 }
ask with-interface 08:*:*
attach personal id 18d1:4ee1
"""

YUBIKEY = dict(vid=0x1050, pid=0x0407, serial="0001234567", manufacturer="Yubico",
               product="YubiKey OTP+CCID", interfaces=[(3, 1, 1), (0x0b, 0, 0)])
WEBCAM = dict(vid=0x046d, pid=0x085c, serial="CAM0001", manufacturer="Logitech",
              product="C922 Pro Stream Webcam",
              interfaces=[(0x0e, 1, 0), (0x0e, 2, 0), (1, 1, 0), (1, 2, 0)])
STICK = dict(vid=0x0781, pid=0x5567, serial="4C530001230512116453", manufacturer="SanDisk",
             product="Cruzer Blade", interfaces=[(8, 6, 0x50)])
BADUSB = dict(vid=0x0781, pid=0x5571, serial="BAD1", manufacturer="Evil",
              product="Totally a stick", interfaces=[(8, 6, 0x50), (3, 1, 1)])
PHONE = dict(vid=0x18d1, pid=0x4ee1, serial="HT7A1B2C3D", manufacturer="Google",
             product="Pixel", interfaces=[(6, 1, 1), (0xff, 0xff, 0)])


def alias(port):
    return "ua-vmdesk-usb-" + port.replace(".", "_")


@unittest.skipUnless(GUEST_DIR, "VMDESK_GUEST_DIR is not set")
class UsbRouting(unittest.TestCase):
    """One lab (bus, testbed, embedded root, guests work + personal) and one daemon for
    the class; each test plugs its own devices into its own ports and unplugs them."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="vu-", dir="/tmp")
        cls.lab = UsbLab(cls.workdir, GUEST_DIR).__enter__()
        cls.client = None
        try:
            cls.lab.bus.start_polkitd().allow_all()
            cls.config = os.path.join(cls.workdir, "etc")
            os.makedirs(os.path.join(cls.config, "usb.rules.d"))
            with open(os.path.join(cls.config, "usb.rules"), "w") as f:
                f.write(POLICY)
            cls.lab.start("work", "personal")
            cls.client = hdaemon.Client(cls.lab.bus.address)
            cls.start_daemon()
        except BaseException:
            # unittest skips tearDownClass when setUpClass fails: nothing may outlive it.
            cls.tearDownClass()
            raise

    @classmethod
    def start_daemon(cls):
        cls.daemon = cls.lab.daemon(extra_env={"VMDESK_CONFIG_DIR": cls.config})
        cls.daemon.start(cls.client)
        cls.client.call("Switch", ("work",), "(s)")

    @classmethod
    def tearDownClass(cls):
        try:
            if getattr(cls, "daemon", None) and cls.daemon.child and cls.daemon.child.running():
                cls.daemon.stop()
            if cls.client:
                cls.client.close()
        finally:
            cls.lab.close()
            shutil.rmtree(cls.workdir, ignore_errors=True)

    # helpers

    def plug(self, port, **device):
        return self.lab.tb.add_usb_device(device.pop("vid"), device.pop("pid"), port=port, **device)

    def unplug(self, dev):
        self.lab.tb.remove_usb_device(dev)

    def devices(self):
        return {d["id"]: d for d in self.client.call("ListUSBDevices")[0]}

    def wait_device(self, port, predicate=lambda d: True, timeout=15):
        def found():
            d = self.devices().get(port)
            return d if d is not None and predicate(d) else None
        try:
            return procs.wait_until(found, timeout, what=f"USB device {port}")
        except TimeoutError:
            raise AssertionError(f"{port}: {self.devices().get(port)}\n{self.daemon.log()[-3000:]}")

    def ctl(self, *args):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.lab.bus.address)
        return subprocess.run([hdaemon.binary("vmdeskctl"), *args], env=env, capture_output=True,
                              text=True, timeout=60)

    def assert_nowhere(self, port):
        for vm in ("work", "personal"):
            self.lab.wait_detached(vm, alias(port))

    # tests

    def test_plug_attaches_to_named_vm_and_unplug_detaches(self):
        key = self.plug("1-2", **YUBIKEY)
        hostdev = self.lab.wait_attached("work", alias("1-2"))
        self.assertEqual((hostdev["vendor"], hostdev["product"]), (0x1050, 0x0407))
        self.assertEqual(hostdev["device"], int(self.lab.tb.read_attr(key, "devnum")))
        record = self.wait_device("1-2", lambda d: d["state"] == "attached")
        self.assertEqual(record["vm"], "work")
        self.assertTrue(record["rule"].endswith("usb.rules:2"), record["rule"])
        self.assertFalse(any(h["alias"] == alias("1-2") for h in self.lab.hostdevs("personal")))

        self.unplug(key)
        self.lab.wait_detached("work", alias("1-2"))
        procs.wait_until(lambda: "1-2" not in self.devices(), 10, what="1-2 gone from the list")

    def test_replug_reattaches_sticky_device(self):
        key = self.plug("1-3", **YUBIKEY)
        self.lab.wait_attached("work", alias("1-3"))
        self.assertTrue(self.wait_device("1-3", lambda d: d["remembered"])["remembered"])
        self.unplug(key)
        self.lab.wait_detached("work", alias("1-3"))
        # Back in a different port: the same identity goes to the same VM.
        key = self.plug("1-4", **YUBIKEY)
        self.lab.wait_attached("work", alias("1-4"))
        self.unplug(key)
        self.lab.wait_detached("work", alias("1-4"))

    def test_switch_moves_follow_device(self):
        cam = self.plug("1-5", **WEBCAM)
        self.lab.wait_attached("work", alias("1-5"))
        self.client.call("Switch", ("personal",), "(s)")
        self.lab.wait_attached("personal", alias("1-5"))
        self.lab.wait_detached("work", alias("1-5"))
        self.client.call("Switch", ("work",), "(s)")
        self.lab.wait_attached("work", alias("1-5"))
        self.lab.wait_detached("personal", alias("1-5"))
        self.unplug(cam)
        self.assert_nowhere("1-5")

    def test_deny_deauthorizes(self):
        bad = self.plug("1-6", **BADUSB)
        record = self.wait_device("1-6", lambda d: d["state"] == "denied")
        self.assertEqual(record["target"], "deny")
        self.assertEqual(self.lab.tb.read_attr(bad, "authorized").strip(), b"0")
        with self.assertRaises(Exception) as ctx:
            self.client.call("AttachUSBDevice", ("1-6", "work", False), "(ssb)")
        self.assertEqual(hdaemon.remote_error(ctx.exception), "org.vmdesk.Error.Denied")
        self.assert_nowhere("1-6")
        self.unplug(bad)

    def test_ask_answered_over_dbus(self):
        stick = self.plug("1-7", **STICK)
        ask = self.client.wait_signal("USBAsk", lambda a: a[0]["id"] == "1-7")[-1]
        self.assertEqual(ask[1], ["personal", "work"])
        self.assertEqual(self.wait_device("1-7")["state"], "asking")
        self.client.call("AnswerUSBAsk", ("1-7", "personal", True), "(ssb)")
        self.lab.wait_attached("personal", alias("1-7"))
        record = self.wait_device("1-7", lambda d: d["state"] == "attached")
        self.assertTrue(record["remembered"])
        self.unplug(stick)
        self.lab.wait_detached("personal", alias("1-7"))
        # Remembered: the next plug is not asked about.
        asks = len(self.client.seen("USBAsk"))
        stick = self.plug("1-7", **STICK)
        self.lab.wait_attached("personal", alias("1-7"))
        self.assertEqual(len(self.client.seen("USBAsk")), asks)
        self.client.call("ForgetUSBDevice", ("1-7",), "(s)")
        self.unplug(stick)
        self.lab.wait_detached("personal", alias("1-7"))

    def test_manual_attach_and_detach_with_vmdeskctl(self):
        phone = self.plug("1-8", **PHONE)
        self.lab.wait_attached("personal", alias("1-8"))
        r = self.ctl("usb", "attach", "1-8", "work")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.lab.wait_attached("work", alias("1-8"))
        self.lab.wait_detached("personal", alias("1-8"))
        listed = {d["id"]: d for d in json.loads(self.ctl("usb", "list", "--json").stdout)}
        self.assertEqual((listed["1-8"]["state"], listed["1-8"]["vm"]), ("attached", "work"))
        self.assertIn("1-8", self.ctl("usb", "list").stdout)
        r = self.ctl("usb", "detach", "1-8")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_nowhere("1-8")
        self.assertEqual(self.wait_device("1-8", lambda d: d["state"] == "host")["vm"], "")
        self.assertEqual(self.ctl("usb", "attach", "1-99", "work").returncode, 8)
        self.assertEqual(self.ctl("usb", "attach", "1-8", "nosuchvm").returncode, 5)
        self.unplug(phone)

    def test_policy_show_and_reload(self):
        shown = self.ctl("policy", "show")
        self.assertEqual(shown.returncode, 0, shown.stderr)
        self.assertIn("attach work id 1050:0407", shown.stdout)
        self.assertIn("host with-interface one-of { 03:01:01 03:01:02 }", shown.stdout)
        dropin = os.path.join(self.config, "usb.rules.d", "50-extra.rules")
        try:
            # A bad drop-in: the reload fails with FILE:LINE:COL and the old policy stays.
            with open(dropin, "w") as f:
                f.write("# ok\nattach work id 12345:1\n")
            r = self.ctl("policy", "reload")
            self.assertEqual(r.returncode, 1)
            self.assertIn("50-extra.rules:2:", r.stderr)
            self.assertEqual(self.client.call("GetPolicy")[1], [os.path.join(self.config, "usb.rules")])
            self.assertIn("50-extra.rules:2:", self.ctl("policy", "show").stderr)
            key = self.plug("1-11", **YUBIKEY)
            self.lab.wait_attached("work", alias("1-11"))
            self.unplug(key)
            self.lab.wait_detached("work", alias("1-11"))
            # Fixed, and reloaded by SIGHUP as systemd's ExecReload does.
            with open(dropin, "w") as f:
                f.write("deny id 1050:0407\n")
            os.kill(self.daemon.child.proc.pid, signal.SIGHUP)
            self.client.wait_signal("PolicyReloaded", lambda a: a == (6, ""))
            key = self.plug("1-11", **YUBIKEY)
            # The main file's rule comes first: the key still goes to work.
            self.lab.wait_attached("work", alias("1-11"))
            self.unplug(key)
            self.lab.wait_detached("work", alias("1-11"))
        finally:
            os.unlink(dropin)
            r = self.ctl("policy", "reload", "--json")
            self.assertEqual(r.returncode, 0, r.stderr)
            self.assertEqual(json.loads(r.stdout)["rules"], 5)

    def test_hostile_strings(self):
        nasty = "\"'<>&\n\x01" + "A" * 4000
        dev = self.plug("1-9", vid=0x18d1, pid=0x4ee1, serial=nasty.encode() + b"\xff\xfe",
                        manufacturer=b"\xc3\x28<&>", product=nasty,
                        interfaces=[(0xff, 0xff, 0)])
        self.lab.wait_attached("personal", alias("1-9"))
        record = self.wait_device("1-9", lambda d: d["state"] == "attached")
        self.assertIn("\ufffd", record["manufacturer"])
        self.assertTrue(record["name"].startswith("\"'<>&"))
        self.unplug(dev)
        self.lab.wait_detached("personal", alias("1-9"))

    def test_unplugged_before_read(self):
        # The device is gone by the time the daemon reads its "add": nothing is routed,
        # nothing is reported, and the port works for the next plug.
        os.kill(self.daemon.child.proc.pid, signal.SIGSTOP)
        try:
            key = self.plug("1-12", **YUBIKEY)
            self.unplug(key)
            marker = self.plug("1-13", **PHONE)
        finally:
            os.kill(self.daemon.child.proc.pid, signal.SIGCONT)
        # uevents are read in order: once the marker is read, so were 1-12's.
        self.wait_device("1-13")
        self.assertNotIn("1-12", self.devices())
        self.assertEqual(self.client.seen("USBDeviceChanged", lambda a: a[0]["id"] == "1-12"), [])
        self.assertEqual(self.client.seen("USBDeviceRemoved", lambda a: a[0] == "1-12"), [])
        self.assertNotIn("1-12", "".join(l for l in self.daemon.log().splitlines(True) if "WARNING" in l))
        key = self.plug("1-12", **YUBIKEY)
        self.lab.wait_attached("work", alias("1-12"))
        self.unplug(key)
        self.unplug(marker)
        self.assert_nowhere("1-12")
        self.assert_nowhere("1-13")

    def test_storm_ends_consistent(self):
        # 100 plug + 100 unplug of the same port, far faster than libvirt attaches, then
        # one final plug: exactly one hostdev, at the final address, in QEMU too.
        # umockdev aborts when a listener's datagram queue (net.unix.max_dgram_qlen, 10)
        # is full, and one plug+unplug is 6 uevents: so each cycle waits until the daemon
        # has read the unplug, never for an attach.
        # Each plug is unplugged once the daemon has read it (its record names the plug's
        # devnum): an unplug before that is test_unplugged_before_read's case.
        removed = lambda: len(self.client.seen("USBDeviceRemoved", lambda a: a[0] == "1-10"))
        before = removed()
        changed = lambda: len(self.client.seen("USBDeviceChanged", lambda a: a[0]["id"] == "1-10"))
        for i in range(100):
            seen = changed()
            key = self.plug("1-10", **YUBIKEY)
            devnum = int(self.lab.tb.read_attr(key, "devnum"))
            # Devnums wrap: only a record newer than the plug counts.
            procs.wait_until(lambda: any(a[0]["devnum"] == devnum for a in self.client.seen(
                "USBDeviceChanged", lambda a: a[0]["id"] == "1-10")[seen:]), 30, what=f"plug {i} read")
            self.unplug(key)
            try:
                procs.wait_until(lambda: removed() >= before + i + 1, 30, what=f"unplug {i} read")
            except TimeoutError as e:
                raise AssertionError(f"{e}: {self.devices().get('1-10')}\n"
                                     f"{self.daemon.log()[-6000:]}") from None
        key = self.plug("1-10", **YUBIKEY)
        devnum = int(self.lab.tb.read_attr(key, "devnum"))
        self.lab.wait_usb("work", lambda hds, qemu: [h["device"] for h in hds if h["alias"] == alias("1-10")]
                          == [devnum] and sum(d["id"] == alias("1-10") for d in qemu) == 1,
                          timeout=60)
        self.wait_device("1-10", lambda d: d["state"] == "attached")
        self.unplug(key)
        self.lab.wait_detached("work", alias("1-10"))
        self.assertEqual([h for h in self.lab.hostdevs("work") if h["alias"].startswith("ua-vmdesk")
                          and h["alias"] == alias("1-10")], [])


@unittest.skipUnless(GUEST_DIR, "VMDESK_GUEST_DIR is not set")
class UsbLifecycle(unittest.TestCase):
    """Restarts: of a VM, of the daemon; and a user's own hostdev."""

    def setUp(self):
        self.workdir = tempfile.mkdtemp(prefix="vl-", dir="/tmp")
        self.lab = UsbLab(self.workdir, GUEST_DIR).__enter__()
        self.lab.bus.start_polkitd().allow_all()
        self.config = os.path.join(self.workdir, "etc")
        os.makedirs(self.config)
        with open(os.path.join(self.config, "usb.rules"), "w") as f:
            f.write(POLICY)
        self.client = hdaemon.Client(self.lab.bus.address)
        self.daemon = None

    def tearDown(self):
        try:
            if self.daemon and self.daemon.child.running():
                self.daemon.stop()
            self.client.close()
        finally:
            self.lab.close()
            shutil.rmtree(self.workdir, ignore_errors=True)

    def start_daemon(self):
        self.daemon = self.lab.daemon(extra_env={"VMDESK_CONFIG_DIR": self.config})
        self.daemon.start(self.client)

    def wait_usb(self, wait, vm, alias_, **kw):
        """lab.wait_attached or wait_detached, with the daemon's log when it times out."""
        try:
            wait(vm, alias_, **kw)
        except TimeoutError as e:
            raise AssertionError(f"{e}\n{self.daemon.log()[-6000:]}") from None

    def test_vm_restart_reattaches(self):
        self.lab.start("work")
        self.start_daemon()
        self.plug_key = self.lab.tb.add_usb_device(0x1050, 0x0407, port="1-2", serial="K1",
                                                   interfaces=[(3, 1, 1)])
        self.wait_usb(self.lab.wait_attached, "work", "ua-vmdesk-usb-1-2", timeout=40)
        self.lab.power_off("work")
        self.client.wait_signal("VMStateChanged", lambda a: a[0] == "work" and a[1] == "shutoff")
        record = {d["id"]: d for d in self.client.call("ListUSBDevices")[0]}["1-2"]
        self.assertEqual((record["state"], record["vm"]), ("pending", "work"))
        self.client.call("StartVM", ("work",), "(s)")
        self.wait_usb(self.lab.wait_attached, "work", "ua-vmdesk-usb-1-2", timeout=30)

    def test_daemon_restart_reconciles_and_users_hostdev_is_untouched(self):
        self.lab.start("work", "personal")
        # A hostdev the user attached with virsh (a device the policy leaves on the host).
        mine = self.lab.tb.add_usb_device(0x0bda, 0x8153, port="1-3", serial="R1",
                                          interfaces=[(0xff, 0xff, 0)])
        devnum = int(self.lab.tb.read_attr(mine, "devnum"))
        users = os.path.join(self.workdir, "users.xml")
        with open(users, "w") as f:
            f.write("<hostdev mode='subsystem' type='usb'><source>"
                    f"<address bus='1' device='{devnum}'/></source>"
                    "<alias name='ua-mine'/></hostdev>")
        self.lab.virsh(f"attach-device work {users} --live")
        self.start_daemon()
        key = self.lab.tb.add_usb_device(0x1050, 0x0407, port="1-2", serial="K1",
                                         interfaces=[(3, 1, 1)])
        self.lab.tb.add_usb_device(0x0781, 0x5567, port="1-4", serial="S1",
                                   interfaces=[(8, 6, 0x50)])
        # A daemon that just opened the embedded root re-attaches to the running QEMUs in
        # the background; its first attach waits for that (seconds under ASan).
        self.wait_usb(self.lab.wait_attached, "work", "ua-vmdesk-usb-1-2", timeout=40)
        self.client.wait_signal("USBAsk", lambda a: a[0]["id"] == "1-4")
        self.client.call("AnswerUSBAsk", ("1-4", "personal", False), "(ssb)")
        self.wait_usb(self.lab.wait_attached, "personal", "ua-vmdesk-usb-1-4")

        # The daemon dies; meanwhile the key is unplugged. At start the new daemon removes
        # the key's hostdev, keeps the stick where it is (the policy would ask again), and
        # never touches the user's hostdev.
        self.daemon.kill()
        self.lab.tb.remove_usb_device(key)
        personal_before = self.lab.hostdevs("personal")
        asks_before = len(self.client.seen("USBAsk"))
        self.start_daemon()
        self.wait_usb(self.lab.wait_detached, "work", "ua-vmdesk-usb-1-2", timeout=40)
        # A wrong detach or re-attach of the stick would show within this second.
        time.sleep(1)
        self.assertEqual(self.lab.hostdevs("personal"), personal_before)
        record = {d["id"]: d for d in self.client.call("ListUSBDevices")[0]}["1-4"]
        self.assertEqual((record["state"], record["vm"]), ("attached", "personal"))
        self.assertIn("ua-mine", [h["alias"] for h in self.lab.hostdevs("work")])
        self.assertEqual(len(self.client.seen("USBAsk")), asks_before,
                         "the new daemon asked again about an attached device")


if __name__ == "__main__":
    unittest.main()
