"""vmdesk-vfio against umockdev machines (vfio_machines.py), with the test-side kernel
emulator (kernel-emulator.c) moving `driver` links as the kernel would.

Run: /usr/bin/python3 vfio-helper/tests/test_vfio.py -v   (PYTHONPATH=tests, VMDESK_BUILD_DIR)
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
import unittest

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "../../tests"))

from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()

import dbus  # noqa: E402
import vfio_machines as machines  # noqa: E402
from harness.bus import PrivateSystemBus  # noqa: E402

OK, FAILED, USAGE, CHECK_WARN, CHECK_FAIL, REFUSED, NOT_FOUND, INCONSISTENT, BUSY = range(9)
LOGIND = "org.freedesktop.login1"
MANAGER = "org.freedesktop.login1.Manager"


def findings(report, bdf=None):
    """{id: finding} of one device (or the host when bdf is None)."""
    return {f["id"]: f for f in report["findings"] if f["bdf"] == bdf}


class VfioCase(unittest.TestCase):
    machine = None     # a builder from vfio_machines

    def setUp(self):
        self.m = type(self).machine()
        self.addCleanup(self.m.close)
        self.state_dir = self.m.path("state")
        self.kemu_log = self.m.path("kemu.log")

    def vfio(self, *args, expect=None, env=None, bus=None, state=True, json_out=False):
        """Run vmdesk-vfio (with --state-dir where it applies); check the exit code."""
        argv = list(args)
        if state and argv[0] in ("bind", "release", "recover", "confirm", "watchdog"):
            argv += ["--state-dir", self.state_dir]
        env = dict(env or {})
        env.setdefault("VMDESK_KEMU_LOG", self.kemu_log)
        if json_out:
            proc, data = self.m.run_json(*argv, env=env, bus_address=bus)
        else:
            proc, data = self.m.run(*argv, env=env, bus_address=bus), None
        self.assertNotIn("AddressSanitizer", proc.stderr)
        self.assertNotIn("runtime error", proc.stderr)
        if expect is not None:
            self.assertEqual(proc.returncode, expect,
                             f"vmdesk-vfio {' '.join(argv)}\nstdout: {proc.stdout}\n"
                             f"stderr: {proc.stderr}")
        return (proc, data) if json_out else proc

    def journal(self, bdf):
        return os.path.join(self.state_dir, "vfio", f"{bdf}.journal")

    def writes(self):
        """The sysfs writes the emulator saw, as (n, path, value, result), then forgets them."""
        if not os.path.exists(self.kemu_log):
            return []
        with open(self.kemu_log) as f:
            rows = [tuple(line.rstrip("\n").split("\t")) for line in f]
        os.unlink(self.kemu_log)
        return rows


# --- check ---------------------------------------------------------------------------------

class CheckDesktop(VfioCase):
    machine = staticmethod(machines.desktop_nvidia)

    def test_json(self):
        _, r = self.vfio("check", expect=CHECK_WARN, json_out=True)
        self.assertEqual(r["schema"], 1)
        self.assertEqual(r["worst"], "warn")
        self.assertTrue(r["iommu"]["enabled"])
        self.assertEqual(r["iommu"]["groups"], 5)
        self.assertEqual(r["iommu"]["cmdline"], "intel_iommu=on iommu=pt")
        self.assertEqual(r["host"]["cpu_virtualization"], "vmx")
        self.assertEqual(r["host"]["vfio_pci"], "loaded")
        self.assertEqual(r["host"]["root_device"], "nvme0n1p2")
        self.assertEqual(r["host"]["root_path"], ["0000:00:1b.0", "0000:02:00.0"])
        # Without a BDF: every display device, here the one GPU.
        self.assertEqual([d["bdf"] for d in r["devices"]], ["0000:01:00.0"])
        gpu = r["devices"][0]
        for key, value in {"vendor": "10de", "device": "2684", "class": "030000",
                           "driver": "nvidia", "iommu_group": 1, "group_viable": True,
                           "boot_vga": True, "reset_methods": ["flr", "bus"],
                           "functions": ["0000:01:00.0", "0000:01:00.1"],
                           "only_display": True, "holds_root": False,
                           "console": ["efi-framebuffer.0 (efi-framebuffer)"],
                           "power_state": "D0", "problems": []}.items():
            self.assertEqual(gpu[key], value, key)
        self.assertEqual([(m["bdf"], m["kind"], m["driver"]) for m in gpu["group_members"]],
                         [("0000:00:01.0", "bridge", "pcieport"),
                          ("0000:01:00.0", "self", "nvidia"),
                          ("0000:01:00.1", "same-device", "snd_hda_intel")])
        self.assertEqual(gpu["drm_connectors"],
                         [{"name": "DP-1", "status": "connected", "internal": False},
                          {"name": "HDMI-A-1", "status": "disconnected", "internal": False}])
        for f in r["findings"]:
            self.assertEqual(set(f), {"id", "severity", "bdf", "message", "fix"})
            self.assertIn(f["severity"], ("ok", "warn", "fail"))
            if f["severity"] != "ok":
                self.assertTrue(f["fix"], f)
        dev = findings(r, "0000:01:00.0")
        self.assertEqual({i: f["severity"] for i, f in dev.items()},
                         {"device": "ok", "iommu-group": "ok", "functions": "ok",
                          "boot-vga": "warn", "host-console": "warn",
                          "display-connectors": "warn", "only-display": "warn", "reset": "ok",
                          "power-state": "ok"})
        self.assertIn("0000:01:00.1", dev["functions"]["message"])
        self.assertIn("--single-gpu", dev["only-display"]["fix"])
        self.assertEqual({i: f["severity"] for i, f in findings(r).items()},
                         {"cpu-virtualization": "ok", "kvm": "ok", "iommu": "ok",
                          "vfio-pci": "ok"})

    def test_text(self):
        proc = self.vfio("check", expect=CHECK_WARN)
        lines = proc.stdout.splitlines()
        self.assertEqual(lines[0], "Host")
        self.assertIn("0000:01:00.0", lines)
        self.assertRegex(proc.stdout, r"ok +iommu-group +IOMMU group 1 is viable: 0000:00:01.0 "
                                      r"\(bridge\), 0000:01:00.0 \(self\), 0000:01:00.1 "
                                      r"\(same-device\)")
        self.assertRegex(proc.stdout, r"warn +only-display +the host's only display device")
        self.assertRegex(proc.stdout, r"fix: use the single-GPU hand-over")
        self.assertEqual(lines[-1], "Result: warn")

    def test_root_disk_and_keyboard(self):
        _, r = self.vfio("check", "0000:02:00.0", "0000:00:14.0", expect=CHECK_FAIL,
                         json_out=True)
        nvme, xhci = r["devices"]
        self.assertTrue(nvme["holds_root"])
        self.assertEqual(findings(r, "0000:02:00.0")["root-device"]["severity"], "fail")
        self.assertIn("nvme0n1p2", findings(r, "0000:02:00.0")["root-device"]["message"])
        self.assertEqual(xhci["keyboards"], ["Logitech USB Keyboard (on 0000:00:14.0)"])
        self.assertEqual(findings(r, "0000:00:14.0")["keyboard"]["severity"], "fail")

    def test_absent_and_malformed(self):
        _, r = self.vfio("check", "0000:09:00.0", expect=CHECK_FAIL, json_out=True)
        self.assertFalse(r["devices"][0]["present"])
        self.assertEqual(findings(r, "0000:09:00.0")["device"]["severity"], "fail")
        for bad in ("0000:01:00", "1:00.0", "0000:01:00.0;reboot", "0000:01:20.0", "",
                    "../../../etc/passwd", "0000:01:00.0\n", "\xe9\xe9"):
            proc = self.vfio("check", bad, expect=USAGE)
            self.assertIn("is not a PCI address", proc.stderr)
            self.assertEqual(len(proc.stderr.splitlines()), 1, proc.stderr)
            proc, err = self.vfio("plan", "--", bad, expect=USAGE, json_out=True)
            self.assertEqual(err["error"]["code"], "invalid-bdf")
            self.assertEqual(err["error"]["exit"], USAGE)
        self.vfio("plan", "0000:09:00.0", expect=NOT_FOUND)
        self.vfio("bind", "0000:09:00.0", expect=NOT_FOUND)
        self.vfio("release", "0000:09:00.0", expect=NOT_FOUND)

    def test_hostdev(self):
        proc = self.vfio("hostdev", "0000:01:00.0", expect=OK)
        self.assertEqual(proc.stdout.splitlines()[:6], [
            '<hostdev mode="subsystem" type="pci" managed="no">',
            '  <source>',
            '    <address domain="0x0000" bus="0x01" slot="0x00" function="0x0"/>',
            '  </source>',
            '  <alias name="ua-vmdesk-pci-0000-01-00-0"/>',
            '</hostdev>'])
        self.assertIn('<alias name="ua-vmdesk-pci-0000-01-00-1"/>', proc.stdout)


class CheckHybridLaptop(VfioCase):
    machine = staticmethod(machines.hybrid_laptop)

    def test_json(self):
        _, r = self.vfio("check", expect=CHECK_WARN, json_out=True)
        igpu, dgpu = r["devices"]
        self.assertEqual(igpu["bdf"], "0000:00:02.0")
        self.assertTrue(igpu["boot_vga"])
        self.assertEqual(igpu["console"], ["fb0 (i915drmfb)"])
        self.assertIn({"name": "eDP-1", "status": "connected", "internal": True},
                      igpu["drm_connectors"])
        self.assertFalse(igpu["only_display"])
        warn = {i for i, f in findings(r, "0000:00:02.0").items() if f["severity"] == "warn"}
        self.assertEqual(warn, {"boot-vga", "host-console", "display-connectors"})
        self.assertIn("eDP-1 (built-in panel)",
                      findings(r, "0000:00:02.0")["display-connectors"]["message"])
        self.assertFalse(dgpu["boot_vga"])
        self.assertTrue(dgpu["group_viable"])
        self.assertFalse(dgpu["only_display"])
        self.assertEqual(dgpu["power_state"], "D3hot")
        self.assertEqual(dgpu["console"], [])

    def test_the_dgpu_is_the_one_to_pass(self):
        _, r = self.vfio("check", "0000:01:00.0", expect=OK, json_out=True)
        self.assertEqual(r["worst"], "ok")
        proc = self.vfio("check", "0000:01:00.0", expect=OK)
        self.assertTrue(proc.stdout.endswith("Result: ok\n"))

    def test_usb_controller_with_only_a_mouse(self):
        _, r = self.vfio("check", "0000:00:14.0", expect=OK, json_out=True)
        self.assertEqual(r["devices"][0]["keyboards"], [])
        self.assertNotIn("keyboard", findings(r, "0000:00:14.0"))


class CheckSharedGroup(VfioCase):
    machine = staticmethod(machines.shared_group)

    def test_not_viable(self):
        _, r = self.vfio("check", "0000:05:00.0", expect=CHECK_FAIL, json_out=True)
        gpu = r["devices"][0]
        self.assertFalse(gpu["group_viable"])
        self.assertEqual(gpu["iommu_group"], 14)
        self.assertEqual({m["bdf"]: m["kind"] for m in gpu["group_members"]},
                         {"0000:00:1c.0": "bridge", "0000:02:00.0": "bridge",
                          "0000:03:00.0": "foreign", "0000:04:00.0": "foreign",
                          "0000:05:00.0": "self", "0000:05:00.1": "same-device"})
        f = findings(r, "0000:05:00.0")["iommu-group"]
        self.assertEqual(f["severity"], "fail")
        self.assertIn("0000:03:00.0 (ASMedia SATA controller [1b21:1062], driver ahci)",
                      f["message"])
        self.assertIn("0000:04:00.0 (Realtek Ethernet controller [10ec:8168], driver r8169)",
                      f["message"])
        self.assertIn("slot", f["fix"])

    def test_plan_and_bind_refuse(self):
        proc, plan = self.vfio("plan", "0000:05:00.0", expect=REFUSED, json_out=True)
        self.assertFalse(plan["allowed"])
        self.assertEqual([(x["id"], x["forceable"]) for x in plan["refusals"]],
                         [("iommu-group", False)])
        before = self.m.state()
        proc = self.vfio("bind", "0000:05:00.0", "--force", expect=REFUSED)
        self.assertIn("IOMMU group 14 is not viable", proc.stderr)
        self.assertEqual(self.m.state(), before)
        self.assertEqual(self.writes(), [])

    def test_parked_members_make_it_viable(self):
        """Unbinding the SATA controller and the NIC from their drivers is the documented
        fix: driverless members do not count."""
        for bdf in ("0000:03:00.0", "0000:04:00.0"):
            self.m.tb.set_driver(self.m.devices[bdf], None)
        _, r = self.vfio("check", "0000:05:00.0", expect=OK, json_out=True)
        self.assertTrue(r["devices"][0]["group_viable"])


class CheckIommuOff(VfioCase):
    machine = staticmethod(machines.iommu_off)

    def test_report(self):
        _, r = self.vfio("check", expect=CHECK_FAIL, json_out=True)
        self.assertFalse(r["iommu"]["enabled"])
        self.assertEqual(r["iommu"]["groups"], 0)
        iommu = findings(r)["iommu"]
        self.assertEqual(iommu["severity"], "fail")
        self.assertIn("intel_iommu=on", iommu["fix"])
        self.assertIn("VT-d", iommu["fix"])
        for gpu in r["devices"]:
            self.assertIsNone(gpu["iommu_group"])
            self.assertFalse(gpu["group_viable"])
            self.assertEqual(findings(r, gpu["bdf"])["iommu-group"]["severity"], "fail")
        proc = self.vfio("bind", "0000:01:00.0", expect=REFUSED)
        self.assertIn("not in an IOMMU group", proc.stderr)


class CheckAmdNoFlr(VfioCase):
    machine = staticmethod(machines.amd_no_flr)

    def test_report(self):
        _, r = self.vfio("check", "0000:0b:00.0", expect=CHECK_WARN, json_out=True)
        self.assertEqual(r["host"]["cpu_virtualization"], "svm")
        self.assertEqual(r["iommu"]["cmdline"], "amd_iommu=on iommu=pt")
        gpu = r["devices"][0]
        self.assertEqual(gpu["reset_methods"], ["bus"])
        self.assertEqual(gpu["functions"], ["0000:0b:00.0", "0000:0b:00.1"])
        reset = findings(r, "0000:0b:00.0")["reset"]
        self.assertEqual(reset["severity"], "warn")
        self.assertIn("only bus", reset["message"])
        self.assertIn("vendor-reset", reset["fix"])
        text = self.vfio("check", "0000:0b:00.0", expect=CHECK_WARN).stdout
        self.assertRegex(text, r"warn +reset +no function-level reset")

    def test_bind_round_trip(self):
        before = self.m.state()
        self.vfio("bind", "0000:0b:00.0", expect=OK)
        self.assertEqual(self.m.driver("0000:0b:00.0"), "vfio-pci")
        self.assertEqual(self.m.driver("0000:0b:00.1"), "vfio-pci")
        self.assertEqual(self.m.driver("0000:09:00.0"), "amdgpu")
        self.vfio("release", "0000:0b:00.0", expect=OK)
        self.assertEqual(self.m.state(), before)


class CheckHostWithout(unittest.TestCase):
    """Hosts missing the basics: no virtualization, no KVM, no vfio-pci."""

    def machine(self, **kw):
        m = machines.Machine(**kw)
        self.addCleanup(m.close)
        m.pci("0000:00:02.0", 0x8086, 0xa7a0, 0x030000, driver="i915", group=0,
              boot_vga=True)
        return m

    def test_no_virtualization_no_kvm(self):
        m = self.machine(cpuinfo=machines.NO_VIRT_CPUINFO, kvm=False)
        proc, r = m.run_json("check")
        self.assertEqual(proc.returncode, CHECK_FAIL)
        host = findings(r)
        self.assertEqual(host["cpu-virtualization"]["severity"], "fail")
        self.assertIn("VT-x", host["cpu-virtualization"]["fix"])
        self.assertEqual(host["kvm"]["severity"], "fail")
        self.assertIn("modprobe kvm_intel", host["kvm"]["fix"])
        self.assertFalse(r["host"]["kvm"])

    def test_vfio_pci_module(self):
        m = self.machine(vfio_pci=False)
        proc, r = m.run_json("check")
        self.assertEqual(findings(r)["vfio-pci"]["severity"], "fail")
        m.write("lib-modules/modules.dep",
                "kernel/drivers/vfio/pci/vfio-pci.ko.zst: kernel/drivers/vfio/vfio.ko.zst\n")
        proc, r = m.run_json("check")
        self.assertEqual(r["host"]["vfio_pci"], "available")
        self.assertEqual(findings(r)["vfio-pci"]["severity"], "warn")
        self.assertIn("modprobe vfio-pci", findings(r)["vfio-pci"]["fix"])
        port = m.bridge("0000:00:01.0", group=1)
        m.pci("0000:01:00.0", 0x10de, 0x28e0, 0x030000, driver="nvidia", group=1, parent=port)
        proc, plan = m.run_json("plan", "0000:01:00.0")
        self.assertEqual(proc.returncode, REFUSED)
        self.assertIn("vfio-pci", [x["id"] for x in plan["refusals"]])

    def test_iommu_turned_off_on_the_command_line(self):
        m = self.machine(cpuinfo=machines.AMD_CPUINFO, cmdline="ro amd_iommu=off", iommu=False)
        proc, r = m.run_json("check")
        iommu = findings(r)["iommu"]
        self.assertIn("amd_iommu=off", iommu["message"])
        self.assertIn("remove", iommu["fix"])


# --- hostile sysfs -------------------------------------------------------------------------

class HostileSysfs(VfioCase):
    machine = staticmethod(machines.hybrid_laptop)
    GPU = "0000:01:00.0"

    def attr(self, name):
        return self.m.tb.path(self.m.devices[self.GPU], name)

    def replace(self, name, data):
        path = self.attr(name)
        if os.path.lexists(path):
            os.unlink(path)
        with open(path, "wb") as f:
            f.write(data)

    def survive(self, expect_problem=None, expect_finding=None):
        """check, plan and bind must answer with a report or a clear error, never crash."""
        proc, r = self.vfio("check", self.GPU, json_out=True)
        self.assertIn(proc.returncode, (CHECK_WARN, CHECK_FAIL), proc.stderr)
        dev = r["devices"][0]
        if expect_problem:
            self.assertTrue(any(expect_problem in p for p in dev["problems"]), dev["problems"])
        if expect_finding:
            self.assertTrue(any(expect_finding in f["message"] for f in r["findings"]),
                            r["findings"])
        text = self.vfio("check", self.GPU).stdout
        self.assertTrue(text.isprintable() or "\n" in text)
        for args in (("plan", self.GPU), ("bind", self.GPU)):
            proc = self.vfio(*args)
            self.assertGreaterEqual(proc.returncode, 0, proc.stderr)   # no signal
            self.assertNotIn("CRITICAL", proc.stderr)
        if os.path.exists(self.journal(self.GPU)):
            self.vfio("release", self.GPU, expect=OK)
        return r

    def test_garbage_class(self):
        self.replace("class", b"0xZZ\xff\xfe\n")
        r = self.survive("class:")
        self.assertIsNone(r["devices"][0]["class"])

    def test_binary_vendor(self):
        self.replace("vendor", b"\x00\x01\x02")
        self.survive("vendor:")

    def test_missing_files(self):
        for name in ("device", "class", "reset_method", "power_state", "boot_vga"):
            os.unlink(self.attr(name))
        r = self.survive("device:")
        self.assertEqual(r["devices"][0]["reset_methods"], [])
        self.assertEqual(findings(r, self.GPU)["reset"]["severity"], "fail")

    def test_huge_file(self):
        self.replace("class", b"0x030000\n" + b"x" * (1 << 20))
        self.survive("larger than 4096 bytes")

    def test_fifo_instead_of_attribute(self):
        os.unlink(self.attr("vendor"))
        os.mkfifo(self.attr("vendor"))
        self.survive("not a regular file")

    def test_dangling_driver_link(self):
        os.unlink(self.attr("driver"))
        os.symlink("../../../../bus/pci/drivers/ghost", self.attr("driver"))
        r = self.survive("does not exist", "cannot be moved safely")
        self.assertEqual(r["devices"][0]["driver"], "ghost")
        proc = self.vfio("bind", self.GPU, expect=REFUSED)
        self.assertIn("driver link cannot be trusted", proc.stderr)

    def test_driver_link_with_hostile_name(self):
        os.unlink(self.attr("driver"))
        os.symlink("../../../../bus/pci/drivers/a\nb\x1b[0m", self.attr("driver"))
        r = self.survive("no driver name")
        self.assertNotIn("\n", r["devices"][0]["driver"])
        self.vfio("bind", self.GPU, expect=REFUSED)

    def test_iommu_group_link_to_nowhere(self):
        os.unlink(self.attr("iommu_group"))
        os.symlink("../../../../kernel/iommu_groups/99", self.attr("iommu_group"))
        r = self.survive(None, "IOMMU group 99 cannot be listed")
        self.assertEqual(r["devices"][0]["iommu_group"], 99)
        self.assertFalse(r["devices"][0]["group_viable"])

    def test_iommu_group_with_junk_entry(self):
        os.symlink("/etc/passwd", self.m.path("sys/kernel/iommu_groups/1/devices/evil"))
        self.survive(None, "is not a PCI address")

    def test_garbage_in_text_attributes(self):
        self.replace("reset_method", b"flr $(reboot)\n")
        self.replace("power_state", b"D0\x1b]0;owned\x07\n")
        status = self.m.tb.path(self.m.devices[self.GPU], "drm/card0/card0-HDMI-A-2/status")
        with open(status, "wb") as f:
            f.write(b"connected\xc3\x28\n")
        r = self.survive("reset_method: unexpected value")
        problems = " ".join(r["devices"][0]["problems"])
        self.assertIn("power_state", problems)
        self.assertIn("drm/card0/card0-HDMI-A-2/status", problems)
        self.assertNotIn("\x1b", json.dumps(r, ensure_ascii=False))


# --- bind, release, rollback, recovery -------------------------------------------------------

class Bind(VfioCase):
    machine = staticmethod(machines.hybrid_laptop)
    GPU = "0000:01:00.0"

    def clean_bind_writes(self):
        """The sysfs writes of an uneventful bind (then released again)."""
        self.writes()
        self.vfio("bind", self.GPU, expect=OK)
        bind = self.writes()
        self.vfio("release", self.GPU, expect=OK)
        release = self.writes()
        return bind, release

    def test_round_trip(self):
        before = self.m.state()
        proc, out = self.vfio("bind", self.GPU, expect=OK, json_out=True)
        self.assertEqual(out["functions"], ["0000:01:00.0", "0000:01:00.1"])
        after = self.m.state()
        self.assertEqual(after["0000:01:00.0"], ("vfio-pci", "vfio-pci"))
        self.assertEqual(after["0000:01:00.1"], ("vfio-pci", "vfio-pci"))
        for name, value in before.items():
            if name not in ("0000:01:00.0", "0000:01:00.1"):
                self.assertEqual(after[name], value, name)
        self.assertTrue(os.path.exists(self.journal(self.GPU)))
        # One write per step, each checked: override, unbind, probe per function.
        self.assertEqual([(w[1].split("/")[-1], w[2], w[3]) for w in self.writes()], [
            ("driver_override", "vfio-pci", "ok"), ("unbind", "0000:01:00.0", "ok"),
            ("drivers_probe", "0000:01:00.0", "ok"),
            ("driver_override", "vfio-pci", "ok"), ("unbind", "0000:01:00.1", "ok"),
            ("drivers_probe", "0000:01:00.1", "ok")])
        self.vfio("release", self.GPU, expect=OK)
        self.assertEqual(self.m.state(), before)
        self.assertFalse(os.path.exists(self.journal(self.GPU)))
        # Undone in reverse: the audio function first.
        self.assertEqual([(w[1].split("/")[-1], w[2]) for w in self.writes()], [
            ("unbind", "0000:01:00.1"), ("driver_override", ""), ("bind", "0000:01:00.1"),
            ("unbind", "0000:01:00.0"), ("driver_override", ""), ("bind", "0000:01:00.0")])

    def test_plan_lists_what_happens(self):
        proc, plan = self.vfio("plan", self.GPU, expect=OK, json_out=True)
        self.assertTrue(plan["allowed"])
        self.assertEqual([(f["bdf"], f["driver"], f["action"]) for f in plan["functions"]],
                         [("0000:01:00.0", "nvidia", "move"),
                          ("0000:01:00.1", "snd_hda_intel", "move")])
        self.assertEqual(len(plan["steps"]), 6)
        self.assertTrue(any("snd_hda_intel leaves" in x for x in plan["host_loses"]))
        self.assertEqual(self.writes(), [])   # a plan changes nothing
        text = self.vfio("plan", self.GPU, expect=OK).stdout
        self.assertIn("2. 0000:01:00.0: unbind from nvidia", text)
        self.assertIn("Allowed: bind would proceed.", text)

    def test_busy_and_release_without_journal(self):
        before = self.m.state()
        self.vfio("bind", self.GPU, expect=OK)
        proc = self.vfio("bind", self.GPU, expect=BUSY)
        self.assertIn("held by vmdesk's transaction", proc.stderr)
        self.vfio("bind", "0000:01:00.1", expect=BUSY)
        # The state directory is lost: release needs --force, which re-probes.
        shutil.rmtree(self.state_dir)
        self.vfio("release", self.GPU, expect=NOT_FOUND)
        self.vfio("release", self.GPU, "--force", expect=OK)
        self.assertEqual(self.m.state(), before)
        self.vfio("release", self.GPU, "--force", expect=NOT_FOUND)

    def test_failure_at_each_step_rolls_back(self):
        before = self.m.state()
        bind_writes, _ = self.clean_bind_writes()
        self.assertEqual(self.m.state(), before)
        for n in range(1, len(bind_writes) + 1):
            for mode in ("errno", "noop", "busy"):
                with self.subTest(step=n, mode=mode, write=bind_writes[n - 1][1]):
                    proc = self.vfio("bind", self.GPU, expect=FAILED,
                                     env={"VMDESK_KEMU_FAIL": f"{n}:{mode}"})
                    self.assertIn("everything was rolled back", proc.stderr)
                    self.assertEqual(self.m.state(), before)
                    self.assertFalse(os.path.exists(self.journal(self.GPU)))
                    log = self.writes()
                    self.assertEqual(log[n - 1][3], f"injected-{'error' if mode != 'noop' else 'noop'}")
                    self.assertTrue(all(w[3] == "ok" for w in log[n:]), log)

    def test_failed_rollback_leaves_journal_for_recover(self):
        before = self.m.state()
        # Step 5 (unbinding the audio function) fails, then the rollback's first write too.
        proc = self.vfio("bind", self.GPU, expect=INCONSISTENT,
                         env={"VMDESK_KEMU_FAIL": "5,6"})
        self.assertIn("run vmdesk-vfio recover", proc.stderr)
        self.assertTrue(os.path.exists(self.journal(self.GPU)))
        self.assertNotEqual(self.m.state(), before)
        proc, out = self.vfio("recover", expect=OK, json_out=True)
        self.assertEqual([(j["bdf"], j["action"]) for j in out["journals"]],
                         [(self.GPU, "rolled-back")])
        self.assertEqual(self.m.state(), before)
        self.assertFalse(os.path.exists(self.journal(self.GPU)))

    def test_kill_at_each_step_then_recover(self):
        """SIGKILL just before and just after every sysfs write of a bind and of a release;
        recover must always bring the machine back to a consistent state: the original
        drivers after an interrupted bind or release."""
        before = self.m.state()
        bind_writes, release_writes = self.clean_bind_writes()
        for phase, count in (("bind", len(bind_writes)), ("release", len(release_writes))):
            for n in range(1, count + 1):
                for when in ("BEFORE", "AFTER"):
                    with self.subTest(phase=phase, step=n, when=when):
                        kill = {f"VMDESK_KEMU_KILL_{when}": str(n)}
                        if phase == "release":
                            self.vfio("bind", self.GPU, expect=OK)
                        proc = self.vfio(phase, self.GPU, env=kill)
                        self.assertEqual(proc.returncode, -9, proc.stderr)
                        self.assertTrue(os.path.exists(self.journal(self.GPU)))
                        proc, out = self.vfio("recover", expect=OK, json_out=True)
                        self.assertEqual(
                            [j["action"] for j in out["journals"]],
                            ["rolled-back" if phase == "bind" else "released"])
                        self.assertEqual(self.m.state(), before)
                        self.assertFalse(os.path.exists(self.journal(self.GPU)))
                        self.writes()

    def test_kill_during_recover(self):
        """A recover killed after each of its writes still progresses: the next one takes
        only the steps left, until one completes."""
        before = self.m.state()
        self.vfio("bind", self.GPU, env={"VMDESK_KEMU_KILL_AFTER": "5"})
        kills = 0
        while True:
            proc = self.vfio("recover", env={"VMDESK_KEMU_KILL_AFTER": "1"})
            if proc.returncode == OK:
                break
            self.assertEqual(proc.returncode, -9, proc.stderr)
            kills += 1
            self.assertLess(kills, 6, "recover makes no progress")
        self.assertEqual(kills, 5)   # five steps were left to undo, each done exactly once
        self.assertEqual(self.m.state(), before)

    def test_recover_leaves_a_complete_bind(self):
        self.vfio("bind", self.GPU, expect=OK)
        proc, out = self.vfio("recover", expect=OK, json_out=True)
        self.assertEqual([(j["bdf"], j["action"]) for j in out["journals"]], [(self.GPU, "held")])
        self.assertEqual(self.m.driver(self.GPU), "vfio-pci")
        self.assertEqual(self.writes()[-1][3], "ok")  # only the bind's writes
        self.vfio("release", self.GPU, expect=OK)
        proc = self.vfio("recover", expect=OK)
        self.assertEqual(proc.stdout, "nothing to recover\n")

    def test_journal_from_an_earlier_boot(self):
        self.vfio("bind", self.GPU, env={"VMDESK_KEMU_KILL_AFTER": "2"})
        self.m.write("proc/sys/kernel/random/boot_id", "another-boot\n")
        self.writes()
        proc, out = self.vfio("recover", expect=OK, json_out=True)
        self.assertEqual([j["action"] for j in out["journals"]], ["stale"])
        self.assertEqual(self.writes(), [])   # not touched: the kernel started afresh
        self.assertFalse(os.path.exists(self.journal(self.GPU)))

    def test_damaged_journals(self):
        before = self.m.state()
        self.vfio("bind", self.GPU, env={"VMDESK_KEMU_KILL_AFTER": "4"})
        path = self.journal(self.GPU)
        with open(path) as f:
            lines = f.readlines()
        lines[4] = lines[4].replace("unbind", "unb1nd")   # a step record in the middle
        with open(path, "w") as f:
            f.writelines(lines)
        proc, out = self.vfio("recover", expect=OK, json_out=True)
        self.assertEqual(out["journals"][0]["action"], "rolled-back")
        self.assertIn("damaged at line 5", out["journals"][0]["detail"])
        self.assertEqual(self.m.state(), before)

        # A journal whose beginning is garbage cannot drive anything: set aside, exit 7.
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(b"\x00garbage\nmore\n")
        proc, out = self.vfio("recover", expect=INCONSISTENT, json_out=True)
        self.assertEqual(out["journals"][0]["action"], "failed")
        self.assertTrue(os.path.exists(path + ".corrupt"))
        self.vfio("recover", expect=OK)

    def test_keyboard_controller_needs_force(self):
        m = machines.desktop_nvidia()
        self.addCleanup(m.close)
        self.m = m
        self.state_dir = m.path("state")
        before = m.state()
        proc, plan = self.vfio("plan", "0000:00:14.0", expect=REFUSED, json_out=True)
        self.assertEqual([(x["id"], x["forceable"]) for x in plan["refusals"]],
                         [("keyboard", True)])
        self.vfio("bind", "0000:00:14.0", expect=REFUSED)
        self.vfio("bind", "0000:00:14.0", "--force", expect=OK)
        self.assertEqual(m.driver("0000:00:14.0"), "vfio-pci")
        self.vfio("release", "0000:00:14.0", expect=OK)
        self.assertEqual(m.state(), before)
        # The root disk's controller is never forceable.
        proc = self.vfio("bind", "0000:02:00.0", "--force", expect=REFUSED)
        self.assertIn("root filesystem (nvme0n1p2)", proc.stderr)


# --- the single-GPU hand-over (logind on a private bus) -------------------------------------

class SingleGpu(VfioCase):
    machine = staticmethod(machines.desktop_nvidia)
    GPU = "0000:01:00.0"

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="vfio-", dir="/tmp")
        cls.bus = PrivateSystemBus(cls.workdir)
        cls.bus.start()
        cls.logind = cls.bus.start_logind()

    @classmethod
    def tearDownClass(cls):
        cls.bus.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    def setUp(self):
        super().setUp()
        self.logind.mock.Reset()
        self.logind.mock.ClearCalls()
        # logind ends a session and announces it; the stock template does neither.
        self.logind.mock.AddMethod(
            MANAGER, "TerminateSession", "s", "",
            'path = "/org/freedesktop/login1/session/" + args[0]\n'
            'self.RemoveObject(path)\n'
            f'self.EmitSignal("{MANAGER}", "SessionRemoved", "so", [args[0], path])')

    def session(self, sid, kind):
        path = self.logind.mock.AddSession(sid, "seat0", dbus.UInt32(1000), "alice", True)
        obj = self.bus.connection().get_object(LOGIND, path)
        obj.Set("org.freedesktop.login1.Session", "Type", kind,
                dbus_interface=dbus.PROPERTIES_IFACE)

    def terminated(self):
        return [str(args[0]) for _, args in self.logind.calls("TerminateSession")]

    def test_refused_while_a_graphical_session_runs(self):
        self.session("c1", "wayland")
        before = self.m.state()
        proc, plan = self.vfio("plan", self.GPU, expect=REFUSED, json_out=True,
                               bus=self.bus.address)
        refusals = {x["id"]: x for x in plan["refusals"]}
        self.assertFalse(refusals["only-display"]["forceable"])
        self.assertIn("c1 (wayland, alice)", refusals["only-display"]["message"])
        proc = self.vfio("bind", self.GPU, "--force", expect=REFUSED, bus=self.bus.address)
        self.assertIn("graphical sessions run on it", proc.stderr)
        self.assertEqual(self.m.state(), before)
        self.assertEqual(self.terminated(), [])

    def test_without_logind_it_cannot_tell(self):
        proc, plan = self.vfio("plan", self.GPU, expect=REFUSED, json_out=True)
        refusals = {x["id"]: x for x in plan["refusals"]}
        self.assertTrue(refusals["only-display"]["forceable"])
        self.assertIn("cannot be told", refusals["only-display"]["message"])

    def test_hand_over_and_give_back(self):
        self.session("c1", "wayland")
        self.session("c2", "tty")
        before = self.m.state()
        proc, plan = self.vfio("plan", self.GPU, "--single-gpu", expect=OK, json_out=True,
                               bus=self.bus.address)
        self.assertTrue(plan["single_gpu"])
        self.assertEqual([s["id"] for s in plan["sessions"]], ["c1"])
        self.vfio("bind", self.GPU, "--single-gpu", expect=OK, bus=self.bus.address)
        self.assertEqual(self.terminated(), ["c1"])      # the tty session is left alone
        self.assertFalse(self.m.vtcon_bound("vtcon1"))
        self.assertIsNone(self.m.driver("efi-framebuffer.0", "platform"))
        self.assertEqual(self.m.driver(self.GPU), "vfio-pci")
        self.assertEqual(self.m.driver("0000:01:00.1"), "vfio-pci")
        order = [w[1] for w in self.writes()]
        self.assertTrue(order[0].endswith("vtcon1/bind"), order)
        self.assertEqual(order[1], "/sys/bus/platform/drivers/efi-framebuffer/unbind")
        self.vfio("release", self.GPU, expect=OK)
        self.assertEqual(self.m.state(), before)
        order = [w[1] for w in self.writes()]
        # The GPU gets its driver back before the console does.
        self.assertEqual(order[-2], "/sys/bus/platform/drivers/efi-framebuffer/bind")
        self.assertTrue(order[-1].endswith("vtcon1/bind"), order)

    def test_watchdog_gives_the_display_back(self):
        before = self.m.state()
        self.vfio("bind", self.GPU, "--single-gpu", "--watchdog", "1", expect=OK,
                  bus=self.bus.address)
        self.assertFalse(self.m.vtcon_bound("vtcon1"))
        proc, out = self.vfio("watchdog", self.GPU, expect=OK, json_out=True)
        self.assertTrue(out["fired"])
        self.assertEqual(self.m.state(), before)

    def test_confirm_disarms_the_watchdog(self):
        self.vfio("bind", self.GPU, "--single-gpu", "--watchdog", "600", expect=OK,
                  bus=self.bus.address)
        watchdog = subprocess.Popen(
            [machines.VMDESK_VFIO, "watchdog", self.GPU, "--state-dir", self.state_dir,
             "--json"], env=self.m.env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True)
        self.addCleanup(watchdog.kill)
        self.assertIn("watchdog armed", watchdog.stderr.readline())
        self.vfio("confirm", self.GPU, expect=OK)
        out, _ = watchdog.communicate(timeout=30)
        self.assertEqual(watchdog.returncode, OK)
        self.assertFalse(json.loads(out)["fired"])
        self.assertEqual(self.m.driver(self.GPU), "vfio-pci")
        proc, rec = self.vfio("recover", expect=OK, json_out=True)
        self.assertEqual(rec["journals"][0]["action"], "held")
        self.vfio("release", self.GPU, expect=OK)

    def test_recover_after_an_expired_watchdog(self):
        before = self.m.state()
        self.vfio("bind", self.GPU, "--single-gpu", "--watchdog", "1", expect=OK,
                  bus=self.bus.address)
        time.sleep(1.1)   # the deadline itself is what is tested, not a speed
        proc, out = self.vfio("recover", expect=OK, json_out=True)
        self.assertEqual(out["journals"][0]["action"], "released")
        self.assertIn("watchdog expired", out["journals"][0]["detail"])
        self.assertEqual(self.m.state(), before)

    def test_kill_at_each_hand_over_step_then_recover(self):
        before = self.m.state()
        self.vfio("bind", self.GPU, "--single-gpu", expect=OK, bus=self.bus.address)
        steps = len(self.writes())
        self.vfio("release", self.GPU, expect=OK)
        self.assertEqual(self.m.state(), before)
        for n in range(1, steps + 1):
            for when in ("BEFORE", "AFTER"):
                with self.subTest(step=n, when=when):
                    proc = self.vfio("bind", self.GPU, "--single-gpu", bus=self.bus.address,
                                     env={f"VMDESK_KEMU_KILL_{when}": str(n)})
                    self.assertEqual(proc.returncode, -9, proc.stderr)
                    self.vfio("recover", expect=OK)
                    self.assertEqual(self.m.state(), before)


if __name__ == "__main__":
    unittest.main()
