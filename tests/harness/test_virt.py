"""The virt harness against a real TCG guest: run from tests/ as
/usr/bin/python3 -m unittest harness.test_virt

VMDESK_GUEST_DIR names the guest image directory (built there when missing or stale);
VMDESK_GUEST_AGENT, if set, is put into the image, else the agent of VMDESK_BUILD_DIR
(the one the guest-image fixture puts there: building without it would replace the image
the other tests of the run expect).
"""
import os
import shutil
import subprocess
import tempfile
import time
import unittest

import libvirt

from harness import procs, virt

HERE = os.path.dirname(os.path.abspath(__file__))
GUEST_DIR = os.environ.get("VMDESK_GUEST_DIR",
                           os.path.join(tempfile.gettempdir(), "vmdesk-guest"))
UUID = "5f0c3a2e-7d3b-4c55-9a51-0a1b2c3d4e5f"


def build_guest_image():
    argv = [os.path.join(HERE, "guest", "build-guest-image"), "--out", GUEST_DIR]
    agent = os.environ.get("VMDESK_GUEST_AGENT") or os.path.join(
        os.environ.get("VMDESK_BUILD_DIR", ""), "power-bridge/guest/image/vmdesk-guest-agent")
    if os.path.exists(agent):
        argv += ["--agent", agent]
    child = procs.Child(argv)
    if child.proc.wait(timeout=600) != 0:
        raise RuntimeError("build-guest-image failed")
    child.stop()


def virsh(uri, *args):
    child = procs.Child(["virsh", "-c", uri, *args], stdout=subprocess.PIPE,
                        stderr=subprocess.STDOUT)
    out, _ = child.proc.communicate(timeout=60)
    child.stop()
    if child.proc.returncode != 0:
        raise AssertionError(f"virsh {' '.join(args)} failed: {out.decode()}")
    return out.decode()


def mounts_mentioning(path):
    with open("/proc/self/mountinfo") as f:
        return [line for line in f if path in line]


def state(dom):
    return dom.state()[0]


class VirtTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        build_guest_image()

    def setUp(self):
        # Short: libvirt's socket paths below it must stay under 108 bytes.
        self.workdir = tempfile.mkdtemp(prefix="vmdesk-virt-")
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)
        self.serial = os.path.join(self.workdir, "serial.log")

    def test_private_libvirtd_guest_lifecycle(self):
        daemon = virt.PrivateLibvirtd(os.path.join(self.workdir, "libvirt"))
        with daemon:
            conn = daemon.open()
            dom = conn.defineXML(virt.guest_domain_xml("guest", GUEST_DIR, self.serial,
                                                       uuid=UUID))
            began = time.monotonic()
            dom.create()
            virt.wait_serial_marker(self.serial, "VMDESK-GUEST-READY")
            virt.wait_guest_agent(conn, "guest")
            print(f"\nboot to ready: {time.monotonic() - began:.1f} s")

            dom.pMSuspendForDuration(libvirt.VIR_NODE_SUSPEND_TARGET_MEM, 0, 0)
            procs.wait_until(lambda: state(dom) == libvirt.VIR_DOMAIN_PMSUSPENDED, 30,
                             what="pmsuspended")
            dom.pMWakeup(0)
            procs.wait_until(lambda: state(dom) == libvirt.VIR_DOMAIN_RUNNING, 30,
                             what="running after wakeup")
            virt.wait_guest_agent(conn, "guest", timeout=30)   # really resumed

            shot = os.path.join(self.workdir, "screen")
            virsh(daemon.uri, "screenshot", "guest", shot)
            with open(shot, "rb") as f:
                self.assertTrue(f.read(4).startswith((b"\x89PNG", b"P6")), "not PNG/PPM")

            conn.close()
            with open(os.path.join(daemon.workdir, "run/libvirt/qemu/guest.pid")) as f:
                qemu = int(f.read())
            daemon.kill()
            self.assertIn(qemu, daemon.processes(), "QEMU died with libvirtd")
            print(f"libvirtd restart: {daemon.restart():.2f} s")
            conn = daemon.open()
            dom = conn.lookupByName("guest")
            self.assertEqual(state(dom), libvirt.VIR_DOMAIN_RUNNING)
            virt.wait_guest_agent(conn, "guest", timeout=30)   # monitor and agent re-attached
            self.assertIn("guest", virsh(daemon.uri, "list", "--name"))
            dom.destroy()
            conn.close()
        self.assertEqual(daemon.processes(), [])
        self.assertEqual(mounts_mentioning(self.workdir), [])

    def test_embedded_root(self):
        with virt.EmbeddedRoot(os.path.join(self.workdir, "root")) as root:
            root.define(virt.guest_domain_xml("embedded", GUEST_DIR, self.serial,
                                              uuid=UUID, fast_boot=True))
            self.assertEqual(root.virsh("list --all --name").split(), ["embedded"])
            # Boot and ping in one driver instance, as the daemon under test would.
            began = time.monotonic()
            out = root.virsh("start embedded",
                             "event embedded --event agent-lifecycle --timeout 60",
                             """qemu-agent-command embedded '{"execute":"guest-ping"}'""")
            self.assertIn('"return"', out)
            print(f"\nembedded boot to agent: {time.monotonic() - began:.1f} s")
            self.assertTrue(root.processes(), "QEMU should outlive virsh")
        self.assertEqual(root.processes(), [])

if __name__ == "__main__":
    unittest.main()
