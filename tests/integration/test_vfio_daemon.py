"""VFIO pass-through in vmdeskd, end to end on a machine that has no IOMMU and no device to
pass: a umockdev machine (vfio-helper/tests/vfio_machines.py) stands in for /sys, the
test-side kernel emulator moves its `driver` links when vmdeskd writes sysfs, and libvirt's
embedded driver (opened by vmdeskd, under the same preload) starts real QEMU.

What can be proved here, and is: StartVM of a VM naming a GPU checks it, binds both of its
functions to vfio-pci, and puts managed='no' hostdevs into the definition; libvirt accepts
them as detached (an unmanaged device on its host driver is refused before QEMU) and QEMU
then fails, because this machine has no /dev/vfio; vmdeskd gives everything back before
StartVM answers, and says so in its error (or that and why it could not, with a retry at
the next start). A non-viable group is refused before anything is touched. Recovery at daemon start finishes
an interrupted bind. A VM without devices starts as before. What cannot: a start that
succeeds with a device passed, so the release on libvirt's stopped event is proved with a
fake vfio-helper in daemon/tests/test-vfio.c instead.
"""
from harness import sysfs

sysfs.ensure_preloaded()   # first: umockdev must see this process (the machines need it)

import json  # noqa: E402
import os  # noqa: E402
import shutil  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
import unittest  # noqa: E402
import xml.etree.ElementTree as ET  # noqa: E402

from gi.repository import GLib  # noqa: E402

from harness import bus as hbus  # noqa: E402
from harness import daemon as hdaemon  # noqa: E402
from harness import procs, virt  # noqa: E402

sys.path.insert(0, os.path.join(os.environ.get("VMDESK_SOURCE_DIR",
                                               os.path.join(os.path.dirname(__file__), "../..")),
                                "vfio-helper", "tests"))
import vfio_machines as machines  # noqa: E402

GUEST_DIR = os.environ.get("VMDESK_GUEST_DIR", "")
SETTINGS_NS = "https://vmdesk.org/xmlns/vm-settings/1"
GPU, AUDIO = "0000:01:00.0", "0000:01:00.1"


def domain_xml(name, workdir, passthrough=(), single_gpu=False):
    """The test guest, with vmdesk settings naming `passthrough` PCI functions."""
    dom = ET.fromstring(virt.guest_domain_xml(name, GUEST_DIR,
                                              os.path.join(workdir, f"{name}-serial.log"),
                                              fast_boot=True))
    # For a VFIO device libvirt raises QEMU's RLIMIT_MEMLOCK to guest RAM + 1 GiB, unless a
    # memory hard limit says otherwise; this machine's processes may not raise their hard
    # limit (no CAP_SYS_RESOURCE), so the limit stays at what they have.
    with open("/proc/self/limits") as f:
        memlock = next(line.split()[4] for line in f if line.startswith("Max locked memory"))
    if memlock != "unlimited":
        memtune = ET.SubElement(dom, "memtune")
        ET.SubElement(memtune, "hard_limit", unit="b").text = memlock
    settings = ET.SubElement(ET.SubElement(dom, "metadata"), f"{{{SETTINGS_NS}}}settings")
    ET.SubElement(settings, "role").text = name
    if passthrough or single_gpu:
        pt = ET.SubElement(settings, "passthrough")
        if single_gpu:
            pt.set("single-gpu", "yes")
        for bdf in passthrough:
            ET.SubElement(pt, "pci", bdf=bdf)
    return ET.tostring(dom, encoding="unicode")


def pci_hostdevs(xml):
    """(source BDF, managed, alias) of each PCI hostdev in a domain XML."""
    found = []
    for h in ET.fromstring(xml).iterfind("devices/hostdev[@type='pci']"):
        a = h.find("source/address")
        bdf = "%04x:%02x:%02x.%x" % tuple(int(a.get(k), 0)
                                          for k in ("domain", "bus", "slot", "function"))
        alias = h.find("alias")
        found.append((bdf, h.get("managed"), None if alias is None else alias.get("name")))
    return sorted(found)


@unittest.skipUnless(GUEST_DIR, "VMDESK_GUEST_DIR is not set")
class VfioDaemon(unittest.TestCase):
    """Per class: a bus with polkitd (allowing) and logind, and an embedded libvirt root (its
    QEMU capabilities are probed once). Per test: a machine, domains, a fresh vmdeskd."""

    @classmethod
    def setUpClass(cls):
        cls.workdir = tempfile.mkdtemp(prefix="vv-", dir="/tmp")
        try:
            cls.bus = hbus.PrivateSystemBus(os.path.join(cls.workdir, "bus")).start()
            cls.bus.start_polkitd().allow_all()
            cls.bus.start_logind()
            cls.root = virt.EmbeddedRoot(os.path.join(cls.workdir, "root"), caps_tag="vfio-machine")
        except BaseException:
            cls._tear_down_class()
            raise

    @classmethod
    def _tear_down_class(cls):
        if hasattr(cls, "root"):
            cls.root.cleanup()
        if hasattr(cls, "bus"):
            cls.bus.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._tear_down_class()
        leftovers = procs.processes_mentioning(cls.workdir)
        if leftovers:
            raise AssertionError(f"processes left behind: {leftovers}")

    def setUp(self):
        self.daemon = None
        self.client = hdaemon.Client(self.bus.address)
        self.addCleanup(self.client.close)
        self.defined = []

    def tearDown(self):
        code = 0
        if self.daemon and self.daemon.child and self.daemon.child.running():
            code = self.daemon.stop()
        self.root.cleanup()
        for name in self.defined:
            self.virsh(f"undefine {name}")
        if self.daemon and (code != 0 or not getattr(self._outcome, "success", True)):
            print(f"--- vmdeskd log ---\n{self.daemon.log()}")
        # A clean exit: no sanitizer abort, no critical on the way out.
        self.assertEqual(code, 0, "vmdeskd did not exit cleanly")

    # --- helpers ---

    def machine(self, builder):
        m = self.m = builder(host_sys=True)
        self.addCleanup(m.close)
        # libvirt checks for VFIO support (IOMMU groups and /dev/vfio/vfio) before it runs
        # QEMU; under the preload it sees the testbed's. QEMU itself runs outside it and
        # finds no VFIO at all, so every start with a device fails there.
        m.write("dev/vfio/vfio", "")
        self.kemu_log = m.path("kemu.log")
        return m

    def virsh(self, command):
        """virsh on the root, seeing the machine as vmdeskd does: libvirt keeps its QEMU
        capabilities cache only while the host it sees (/proc/cpuinfo, /dev) stays the same;
        a different view means a new QEMU probe (seconds) at every daemon start."""
        return self.root.virsh(command, env=self.m.env())

    def define(self, name, xml=None, **settings):
        with tempfile.NamedTemporaryFile("w", suffix=".xml", dir=self.workdir) as f:
            f.write(xml or domain_xml(name, self.workdir, **settings))
            f.flush()
            self.virsh(f"define {f.name}")
        if name not in self.defined:
            self.defined.append(name)

    def start_daemon(self, m, kemu=None):
        """kemu: more of the kernel emulator's controls, e.g. VMDESK_KEMU_FAIL."""
        env = m.env(dict({"VMDESK_KEMU_LOG": self.kemu_log}, **(kemu or {})),
                    bus_address=self.bus.address)
        keep = ("LD_PRELOAD", "UMOCKDEV_DIR", "VMDESK_MODULES_DIR", "VMDESK_KEMU_LOG",
                *(kemu or {}))
        self.daemon = hdaemon.Vmdeskd(self.workdir, self.bus.address, self.root.uri,
                                      extra_env={k: env[k] for k in keep},
                                      wrap=self.root.command)
        self.daemon.start(self.client)
        return self.daemon

    @property
    def state_dir(self):
        return os.path.join(self.workdir, "vmdeskd-state")

    def journals(self):
        d = os.path.join(self.state_dir, "vfio")
        return sorted(f for f in os.listdir(d) if f.endswith(".journal")) if os.path.isdir(d) else []

    def writes(self):
        """The sysfs writes vmdeskd made, as (path, value, result)."""
        if not os.path.exists(self.kemu_log):
            return []
        with open(self.kemu_log) as f:
            return [tuple(line.rstrip("\n").split("\t")[1:]) for line in f]

    def definition(self, name):
        """The persistent definition, read from the root's config file (vmdeskd holds it)."""
        with open(os.path.join(self.root.root, "etc", "qemu", f"{name}.xml")) as f:
            return f.read()

    def start_vm(self, name):
        """StartVM; returns None or the D-Bus error (name, message)."""
        try:
            self.client.call("StartVM", (name,), "(s)", timeout_ms=120000)
            return None
        except GLib.Error as e:
            return hdaemon.remote_error(e), e.message

    def ctl(self, *args):
        """The real vmdeskctl on the test's bus (outside the testbed: it only talks D-Bus)."""
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        env.pop("LD_PRELOAD", None)
        return subprocess.run([hdaemon.binary("vmdeskctl"), *args], env=env,
                              capture_output=True, text=True, timeout=180)

    def changes(self, state=None):
        return self.client.seen("PassthroughChanged", lambda a: state is None or a[3] == state)

    def wait_change(self, state, bdf, timeout=30):
        return self.client.wait_signal("PassthroughChanged",
                                       lambda a: a[3] == state and a[1] == bdf, timeout)[0]

    def clean_start(self, m):
        self.reset_state_dir()
        self.original = m.state()
        self.start_daemon(m)

    def reset_state_dir(self):
        shutil.rmtree(self.state_dir, ignore_errors=True)
        if os.path.exists(self.kemu_log):
            os.unlink(self.kemu_log)

    # --- tests ---

    def test_start_binds_both_functions_then_a_failed_start_gives_them_back(self):
        m = self.machine(machines.hybrid_laptop)
        self.define("gpu", passthrough=[GPU])
        before = pci_hostdevs(self.definition("gpu"))
        self.clean_start(m)

        error = self.start_vm("gpu")

        # QEMU got as far as the device: libvirt took both functions as detached (bound to
        # vfio-pci); an unmanaged function on its host driver is refused before QEMU runs.
        self.assertIsNotNone(error, "a VFIO device cannot really start here")
        name, message = error
        self.assertEqual(name, "org.vmdesk.Error.Libvirt", message)
        self.assertIn("'gpu'", message)
        self.assertIn(GPU, message)
        self.assertNotIn("must be manually detached", message)
        self.assertIn("qemu", message)
        bound = self.changes("bound")
        self.assertEqual([(vm, bdf, fns) for vm, bdf, fns, _, _ in bound],
                         [("gpu", GPU, [GPU, AUDIO])])
        # The binds happened in the journaled order, each function onto vfio-pci ...
        moves = [(p.split("/")[-1] if "drivers_probe" not in p else "probe", v, r)
                 for p, v, r in self.writes()]
        self.assertEqual(moves[:6], [
            ("driver_override", "vfio-pci", "ok"), ("unbind", GPU, "ok"), ("probe", GPU, "ok"),
            ("driver_override", "vfio-pci", "ok"), ("unbind", AUDIO, "ok"),
            ("probe", AUDIO, "ok")])
        # ... and the definition passes both, unmanaged, with vmdesk's aliases.
        self.assertEqual(before, [])
        self.assertEqual(pci_hostdevs(self.definition("gpu")), [
            (GPU, "no", "ua-vmdesk-pci-0000-01-00-0"), (AUDIO, "no", "ua-vmdesk-pci-0000-01-00-1")])

        # The failed start gave both back before StartVM answered, and the answer says so:
        # host drivers, overrides and journal are as before, read now, without a wait.
        self.assertEqual(m.state(), self.original)
        self.assertEqual(m.driver(GPU), "nvidia")
        self.assertEqual(m.driver(AUDIO), "snd_hda_intel")
        self.assertEqual(self.journals(), [])
        self.assertTrue(message.endswith(f"; {GPU} was given back to the host"), message)
        self.assertEqual(self.client.call("ListPassthrough")[0], [])
        vm, bdf, functions, _, why = self.wait_change("released", GPU)
        self.assertEqual((vm, functions, why), ("gpu", [GPU, AUDIO], "the start failed"))
        # Kept in the definition: a plain `virsh start` now fails safely (unmanaged device
        # on its host driver) instead of starting without the GPU.
        self.assertEqual(len(pci_hostdevs(self.definition("gpu"))), 2)

    def test_a_second_start_reuses_the_hostdevs_and_a_user_hostdev_is_never_touched(self):
        m = self.machine(machines.hybrid_laptop)
        self.define("gpu", passthrough=[GPU])
        self.clean_start(m)
        self.assertIsNotNone(self.start_vm("gpu"))
        self.wait_change("released", GPU)
        self.daemon.stop()
        # A user attaches the iGPU's function by hand (no vmdesk alias), and the settings
        # now name the audio function only: it brings its GPU sibling along.
        xml = ET.fromstring(self.definition("gpu"))
        user = ET.SubElement(xml.find("devices"), "hostdev", mode="subsystem", type="pci",
                             managed="yes")
        ET.SubElement(ET.SubElement(user, "source"), "address", domain="0x0000", bus="0x00",
                      slot="0x02", function="0x0")
        ET.SubElement(user, "alias", name="ua-mine")
        pt = xml.find(f"metadata/{{{SETTINGS_NS}}}settings/passthrough")
        pt.find("pci").set("bdf", "01:00.1")
        self.define("gpu", ET.tostring(xml, encoding="unicode"))
        self.reset_state_dir()
        self.start_daemon(m)

        error = self.start_vm("gpu")

        self.assertIsNotNone(error)
        self.wait_change("released", AUDIO)
        self.assertEqual(pci_hostdevs(self.definition("gpu")), [
            ("0000:00:02.0", "yes", "ua-mine"), (GPU, "no", "ua-vmdesk-pci-0000-01-00-0"),
            (AUDIO, "no", "ua-vmdesk-pci-0000-01-00-1")])
        self.assertEqual(m.state(), self.original)

    def test_a_failed_give_back_is_said_kept_and_retried_at_the_next_start(self):
        m = self.machine(machines.hybrid_laptop)
        self.define("gpu", passthrough=[GPU])
        self.reset_state_dir()
        self.original = m.state()
        # Writes 1-6 bind GPU and audio; 7 is the give-back's first, unbinding the audio
        # function from vfio-pci (the undo goes in reverse order): the kernel refuses it.
        self.start_daemon(m, kemu={"VMDESK_KEMU_FAIL": "7"})

        name, message = self.start_vm("gpu")

        # Said in the error, with the device's state; nothing waited for.
        self.assertEqual(name, "org.vmdesk.Error.Libvirt", message)
        self.assertIn(f"; giving {GPU} back failed: release of {GPU} incomplete: {AUDIO}", message)
        self.assertIn("what it could not undo stays on vfio-pci; vmdeskd retries the give-back "
                      "at the next StartVM of a VM that names it", message)
        self.assertEqual(self.writes()[6][2], "injected-error")
        self.assertEqual((m.driver(GPU), m.driver(AUDIO)), ("nvidia", "vfio-pci"))
        self.assertEqual(self.journals(), [f"{GPU}.journal"])
        held = self.client.call("ListPassthrough")[0]
        self.assertEqual([(h["bdf"], h["vm"], h["state"]) for h in held],
                         [(GPU, "gpu", "release-failed")])
        self.assertIn(f"release of {GPU} incomplete", held[0]["error"])
        r = self.ctl("passthrough", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertIn(f"{GPU}  gpu  release-failed", r.stdout)
        self.assertIn(f"error: {GPU}: release of {GPU} incomplete", r.stdout)

        # The user runs it again: the give-back is retried first (the kernel lets go now),
        # then the start goes as before and fails, and everything is back when it returns.
        r = self.ctl("start", "gpu")

        self.assertEqual(r.returncode, 1, r.stderr)
        self.assertTrue(r.stderr.endswith(f"; {GPU} was given back to the host\n"), r.stderr)
        self.assertEqual(m.state(), self.original)
        self.assertEqual(self.journals(), [])
        self.assertEqual(self.client.call("ListPassthrough")[0], [])
        retried = self.wait_change("released", GPU)
        self.assertEqual(retried[4], "retried before starting VM 'gpu'")

    def test_a_non_viable_group_is_refused_before_anything_is_touched(self):
        m = self.machine(machines.shared_group)
        self.define("gpu", passthrough=["0000:05:00.0"])
        self.clean_start(m)

        name, message = self.start_vm("gpu")

        self.assertEqual(name, "org.vmdesk.Error.Denied", message)
        self.assertIn("VM 'gpu': pass-through refused, nothing was changed", message)
        self.assertIn("0000:05:00.0: [iommu-group]", message)
        self.assertIn("0000:03:00.0", message)   # the SATA controller it shares with
        self.assertIn("fix:", message)
        self.assertEqual(self.writes(), [])
        self.assertEqual(m.state(), self.original)
        self.assertEqual(self.journals(), [])
        self.assertEqual(pci_hostdevs(self.definition("gpu")), [])
        self.assertEqual(self.changes(), [])

    def test_recovery_at_daemon_start_finishes_an_interrupted_bind(self):
        m = self.machine(machines.hybrid_laptop)
        self.reset_state_dir()
        self.original = m.state()
        # vmdesk-vfio killed right after its third sysfs write (the GPU's probe): the GPU
        # sits on vfio-pci, the journal has no "bound".
        proc = m.run("bind", GPU, "--state-dir", self.state_dir,
                     env={"VMDESK_KEMU_KILL_AFTER": "3"})
        self.assertEqual(proc.returncode, -9, proc.stderr)
        self.assertEqual(m.driver(GPU), "vfio-pci")
        self.assertEqual(self.journals(), [f"{GPU}.journal"])

        self.start_daemon(m)
        procs.wait_until(lambda: "pass-through recovery" in self.daemon.log(), 30,
                         what="recovery in the daemon's log")

        self.assertIn(f"pass-through recovery: {GPU} rolled-back", self.daemon.log())
        self.assertEqual(m.state(), self.original)
        self.assertEqual(self.journals(), [])

    def test_a_device_held_by_no_running_vm_is_given_back_at_daemon_start(self):
        m = self.machine(machines.hybrid_laptop)
        self.reset_state_dir()
        self.original = m.state()
        # A complete bind whose VM is gone (the daemon died with the VM stopped).
        proc = m.run("bind", GPU, "--state-dir", self.state_dir)
        self.assertEqual(proc.returncode, 0, proc.stderr)
        self.assertEqual((m.driver(GPU), m.driver(AUDIO)), ("vfio-pci", "vfio-pci"))

        self.start_daemon(m)
        procs.wait_until(lambda: self.journals() == [], 30, what="the held device released")

        log = self.daemon.log()
        self.assertIn(f"pass-through recovery: {GPU} held", log)
        self.assertIn(f"{GPU} given back to the host: bound before the daemon started", log)
        self.assertEqual(m.state(), self.original)

    def test_a_vm_without_devices_starts_as_before(self):
        m = self.machine(machines.hybrid_laptop)
        self.define("plain")
        before = self.definition("plain")
        self.clean_start(m)

        self.assertIsNone(self.start_vm("plain"))

        self.assertIsNotNone(self.root.live_xml("plain"))
        self.assertEqual(self.definition("plain"), before)
        self.assertEqual(self.writes(), [])
        self.assertEqual(self.changes(), [])
        self.assertEqual(m.state(), self.original)

    def test_single_gpu_hand_over_is_given_back_with_the_console(self):
        m = self.machine(machines.desktop_nvidia)
        self.define("gpu", passthrough=[GPU], single_gpu=True)
        self.clean_start(m)
        self.assertFalse(m.state()["efi-framebuffer.0"] is None)

        name, message = self.start_vm("gpu")

        self.assertEqual(name, "org.vmdesk.Error.Libvirt", message)
        # Console and framebuffer went before the GPU's driver, and came back after it.
        self.wait_change("released", GPU)
        targets = [p.split("/sys/")[1] for p, _, _ in self.writes()]
        self.assertEqual(targets[:2], ["devices/virtual/vtconsole/vtcon1/bind",
                                       "bus/platform/drivers/efi-framebuffer/unbind"])
        self.assertEqual(targets[-2:], ["bus/platform/drivers/efi-framebuffer/bind",
                                        "devices/virtual/vtconsole/vtcon1/bind"])
        self.assertIn("bus/pci/drivers/nvidia/bind", targets[2:-2])
        self.assertEqual(m.state(), self.original)
        self.assertEqual(self.journals(), [])

    def test_refused_without_the_single_gpu_opt_in(self):
        m = self.machine(machines.desktop_nvidia)
        self.define("gpu", passthrough=[GPU])
        self.clean_start(m)

        name, message = self.start_vm("gpu")

        self.assertEqual(name, "org.vmdesk.Error.Denied", message)
        self.assertIn("[host-console]", message)
        self.assertEqual(self.writes(), [])
        self.assertEqual(m.state(), self.original)

    def test_check_and_plan_over_dbus_are_vfio_helpers_documents(self):
        m = self.machine(machines.hybrid_laptop)
        self.clean_start(m)

        report = json.loads(self.client.call("CheckPassthrough", ([GPU],), "(as)")[0])
        cli = json.loads(m.run("check", "--json", GPU).stdout)
        self.assertEqual(report, cli)
        self.assertTrue(report["devices"][0]["group_viable"])
        every = json.loads(self.client.call("CheckPassthrough", ([],), "(as)")[0])
        self.assertEqual([d["bdf"] for d in every["devices"]], ["0000:00:02.0", GPU])

        # vmdeskctl passes the daemon's report on unchanged (the same JSON document).
        r = self.ctl("passthrough", "check", "--json", "01:00.0")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), cli)

        plan = json.loads(self.client.call("PlanPassthrough", (GPU, False), "(sb)")[0])
        self.assertEqual(plan, json.loads(m.run("plan", "--json", GPU).stdout))
        self.assertTrue(plan["allowed"])
        self.assertEqual([f["bdf"] for f in plan["functions"]], [GPU, AUDIO])

        for method, args, sig in (("CheckPassthrough", (["0000:01:00.0\n"],), "(as)"),
                                  ("CheckPassthrough", (["0000:01:00.0"] * 33,), "(as)"),
                                  ("PlanPassthrough", ("01:00", False), "(sb)"),
                                  ("PlanPassthrough", ("<x/>", True), "(sb)")):
            with self.assertRaises(GLib.Error) as e:
                self.client.call(method, args, sig)
            self.assertEqual(hdaemon.remote_error(e.exception), "org.vmdesk.Error.InvalidArgs")
        with self.assertRaises(GLib.Error) as e:
            self.client.call("PlanPassthrough", ("0000:07:00.0", False), "(sb)")
        self.assertEqual(hdaemon.remote_error(e.exception), "org.vmdesk.Error.UnknownDevice")
        # Nothing of this changed the machine.
        self.assertEqual(self.writes(), [])
        self.assertEqual(m.state(), self.original)


if __name__ == "__main__":
    unittest.main()
