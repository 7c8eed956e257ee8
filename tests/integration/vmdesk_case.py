"""The shared set-up of vmdesk's integration tests: one private bus with mocked polkitd,
logind and UPower, one private libvirtd with the tiny guest defined as "work" and
"personal", and helpers to run vmdeskd and vmdeskctl against them."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

from harness import bus as hbus
from harness import daemon as hdaemon
from harness import procs
from harness import virt

GUEST_DIR = os.environ.get("VMDESK_GUEST_DIR", "")


class VmdeskCase(unittest.TestCase):
    """Class-wide: bus, mocks, libvirtd, domains. Per test: a fresh vmdeskd and client."""

    domains = ("work", "personal")

    @classmethod
    def setUpClass(cls):
        if not os.path.exists(os.path.join(GUEST_DIR, "inputs.sha256")):
            raise RuntimeError(f"no guest image in VMDESK_GUEST_DIR={GUEST_DIR!r}: "
                               "build it with `cmake --build build --target guest-image`")
        cls.workdir = tempfile.mkdtemp(prefix="vmdesk-it-", dir="/tmp")
        try:
            cls.bus = hbus.PrivateSystemBus(os.path.join(cls.workdir, "bus")).start()
            cls.polkitd = cls.bus.start_polkitd()
            cls.logind = cls.bus.start_logind()
            cls.upower = cls.bus.start_upower()
            cls.libvirtd = virt.PrivateLibvirtd(os.path.join(cls.workdir, "libvirt"),
                                                dbus_address=cls.bus.address)
            cls.libvirtd.start()
            cls.conn = cls.libvirtd.open()
            for name in cls.domains:
                cls.conn.defineXML(virt.guest_domain_xml(
                    name, GUEST_DIR, os.path.join(cls.workdir, f"{name}-serial.log"),
                    fast_boot=True))
        except BaseException:
            cls._tear_down_class()
            raise

    @classmethod
    def _tear_down_class(cls):
        """Stops everything; the workdir is removed, the objects stay for the leftover check."""
        for attr, stop in (("conn", lambda c: c.close()), ("libvirtd", lambda l: l.cleanup()),
                           ("bus", lambda b: b.stop())):
            if hasattr(cls, attr):
                try:
                    stop(getattr(cls, attr))
                except Exception as e:  # keep tearing down the rest
                    print(f"teardown of {attr}: {e}")
        shutil.rmtree(cls.workdir, ignore_errors=True)

    @classmethod
    def tearDownClass(cls):
        cls._tear_down_class()
        # Everything started for this class is gone: bus, mocks, libvirtd, QEMUs, vmdeskd.
        leftovers = set(procs.processes_mentioning(cls.workdir))
        if hasattr(cls, "libvirtd"):
            leftovers |= set(cls.libvirtd.processes())  # QEMUs in its mount namespace
        if leftovers:
            raise AssertionError(f"processes left behind by {cls.__name__}: {leftovers}")

    def setUp(self):
        self.polkitd.deny_all()
        for dom in self.conn.listAllDomains():
            if dom.isActive():
                dom.destroy()
        self.client = hdaemon.Client(self.bus.address)
        self.daemon = hdaemon.Vmdeskd(self.workdir, self.bus.address, self.libvirtd.uri)
        shutil.rmtree(self.daemon.state_dir, ignore_errors=True)
        self.daemon.start(self.client)

    def tearDown(self):
        if self.daemon.child and self.daemon.child.running():
            self.daemon.stop()
        self.client.close()
        if not getattr(self._outcome, "success", True):
            print(f"--- vmdeskd log ---\n{self.daemon.log()}")

    # --- helpers ---

    def ctl(self, *args, expect=0):
        """Run vmdeskctl against the private bus; returns (stdout, stderr)."""
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=self.bus.address)
        r = subprocess.run([hdaemon.binary("vmdeskctl"), *args], env=env, capture_output=True,
                           text=True, timeout=60)
        self.assertEqual(r.returncode, expect,
                         f"vmdeskctl {' '.join(args)}: exit {r.returncode}\n{r.stdout}{r.stderr}")
        return r.stdout, r.stderr

    def ctl_json(self, *args, expect=0):
        out, _ = self.ctl(*args, "--json", expect=expect)
        return json.loads(out)

    def listed(self):
        return {vm["name"]: vm for vm in self.ctl_json("list")}

    def wait_listed_state(self, name, state, timeout=30):
        procs.wait_until(lambda: self.listed().get(name, {}).get("state") == state, timeout,
                         what=f"{name} to be listed as {state}")

    def qemu_pid(self, name):
        """The pid of the QEMU running domain `name`: libvirtd's pidfile, in its private /run."""
        with open(os.path.join(self.libvirtd.workdir, "run", "libvirt", "qemu", f"{name}.pid")) as f:
            return int(f.read())

    def dom(self, name):
        return self.conn.lookupByName(name)
