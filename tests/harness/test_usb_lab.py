"""UsbLab, the set-up of the USB router's integration tests: vmdeskd under umockdev's
preload on an embedded root whose guests have a USB hostdev, and the test watching the
guests' live XML and QEMU while the daemon holds the root.

Run from tests/ (vmdeskd from VMDESK_BUILD_DIR):
    VMDESK_GUEST_DIR=... VMDESK_BUILD_DIR=... /usr/bin/python3 harness/test_usb_lab.py -v
"""
import os
import shutil
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()

from harness import daemon as hdaemon  # noqa: E402
from harness import procs, virt  # noqa: E402
from harness.usb_lab import UsbLab  # noqa: E402

USER_ALIAS = "ua-user-stick"


class UsbLabTest(unittest.TestCase):
    def setUp(self):
        self.guest_dir = virt.guest_image_dir()
        self.workdir = tempfile.mkdtemp(prefix="vmd-lab-", dir="/tmp")
        self.addCleanup(shutil.rmtree, self.workdir, True)

    def test_daemon_holds_the_root_while_the_test_watches_guests(self):
        with UsbLab(self.workdir, self.guest_dir) as lab:
            dev = lab.tb.add_usb_device(0x0781, 0x5567, port="1-2", serial="4C53",
                                        product="Cruzer Blade", interfaces=[(8, 6, 0x50)])
            devnum = int(lab.tb.read_attr(dev, "devnum"))
            hostdev = os.path.join(self.workdir, "user-hostdev.xml")
            with open(hostdev, "w") as f:
                f.write(virt.usb_hostdev_xml(0x0781, 0x5567, 1, devnum, USER_ALIAS))
            # A user's own hostdev, attached with virsh before the daemon runs: start and
            # attach in one driver instance (a new one re-attaches to QEMU asynchronously).
            lab.virsh("start work", f"attach-device work {hostdev} --live")

            client = hdaemon.Client(lab.bus.address)
            daemon = lab.daemon()
            try:
                daemon.start(client)
                self.watch_while_the_daemon_runs(lab, client, dev, devnum)
                code = daemon.stop()
                self.assertEqual(code, 0, daemon.log())
            finally:
                if daemon.child and daemon.child.running():
                    daemon.stop()
                client.close()
            # The root is free again: the stick, let go by the stopped guest, can move.
            lab.virsh("start personal", f"attach-device personal {hostdev} --live")
            lab.wait_attached("personal", USER_ALIAS)
            lab.virsh(f"detach-device personal {hostdev} --live")
            lab.wait_detached("personal", USER_ALIAS)
            procs.wait_until(lambda: lab.tb.usbfs(dev).clients == 0, 5,
                             what="QEMU to close the node")
        self.assertEqual(procs.processes_mentioning(self.workdir), [])

    def watch_while_the_daemon_runs(self, lab, client, dev, devnum):
        vms = {vm["name"]: vm["state"] for vm in client.call("ListVMs")[0]}
        self.assertEqual(vms, {"work": "running", "personal": "shutoff"})

        # Nobody else may open the root now...
        with self.assertRaises(RuntimeError) as locked:
            lab.root.virsh("list")
        self.assertIn("driver.pid", str(locked.exception))
        with self.assertRaises(RuntimeError):
            lab.virsh("list")
        # ... but the live XML and QEMU are in plain sight.
        self.assertEqual(lab.wait_attached("work", USER_ALIAS),
                         {"alias": USER_ALIAS, "vendor": 0x0781, "product": 0x5567,
                          "bus": 1, "device": devnum})
        self.assertEqual([d["id"] for d in lab.info_usb("work")], [USER_ALIAS])
        self.assertEqual(lab.hostdevs("personal"), [])
        self.assertEqual(lab.tb.usbfs(dev).clients, 1)

        # A guest that powers off is seen by the daemon, which cleans up after it.
        lab.power_off("work")
        stopped = client.wait_signal("VMStateChanged", lambda a: a[:2] == ("work", "shutoff"))
        print(f"\npower_off seen as {stopped[0]}")
        procs.wait_until(lambda: lab.live_xml("work") is None, 10,
                         what="the status file of work to go")
        self.assertEqual(lab.hostdevs("work"), [])


if __name__ == "__main__":
    unittest.main()
