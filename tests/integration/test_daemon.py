"""vmdeskd against a real private libvirtd and real TCG guests."""
import os
import shutil
import signal
import tempfile
import unittest

import libvirt
from gi.repository import GLib

from harness import bus as hbus
from harness import daemon as hdaemon
from harness import procs
from harness import virt
from vmdesk_case import GUEST_DIR, VmdeskCase


class ListingAndEvents(VmdeskCase):
    def test_guest_listed_with_its_state(self):
        self.dom("work").create()
        self.wait_listed_state("work", "running")
        vms = self.listed()
        self.assertEqual(set(vms), {"work", "personal"})
        self.assertEqual(vms["personal"]["state"], "shutoff")
        self.assertEqual(vms["work"]["uuid"], self.dom("work").UUIDString())
        self.assertFalse(vms["work"]["on_screen"])
        self.assertIsNone(vms["work"]["settings_warning"])

    def test_start_and_destroy_emit_signals(self):
        self.dom("work").create()
        self.client.wait_signal("VMStateChanged",
                                lambda a: a == ("work", "running", "booted"))
        self.dom("work").destroy()
        self.client.wait_signal("VMStateChanged",
                                lambda a: a == ("work", "shutoff", "destroyed"))
        states = [r[0]["state"] for r in self.client.seen("VMChanged", lambda a: a[0]["name"] == "work")]
        # While QEMU goes down libvirt may briefly report "shutdown"; nothing else may show.
        after = states[len(states) - 1 - states[::-1].index("running") + 1:]
        self.assertEqual(after[-1], "shutoff", states)
        self.assertLessEqual(set(after[:-1]), {"shutdown"}, states)

    def test_define_and_undefine_a_domain(self):
        xml = self.dom("personal").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        xml = xml.replace("<name>personal</name>", "<name>scratch</name>")
        xml = xml.replace(self.dom("personal").UUIDString(), "6d2a2f6e-57f4-4bb5-9d53-0a0fb3e6a1c4")
        new = self.conn.defineXML(xml)
        self.client.wait_signal("VMChanged", lambda a: a[0]["name"] == "scratch")
        self.assertIn("scratch", self.listed())
        new.undefine()
        self.client.wait_signal("VMRemoved", lambda a: a == ("scratch",))
        self.assertNotIn("scratch", self.listed())

    def test_malformed_metadata_warns_and_vm_stays_usable(self):
        ns = "https://vmdesk.org/xmlns/vm-settings/1"
        dom = self.dom("work")
        dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                        "<settings><role>work</role><on-host-sleep>hibernate</on-host-sleep></settings>",
                        "vmdesk", ns, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        try:
            self.client.wait_signal("VMChanged", lambda a: a[0]["name"] == "work"
                                    and "settings-warning" in a[0])
            vm = self.listed()["work"]
            self.assertEqual(vm["role"], "work")
            self.assertIn('"hibernate" is not one of', vm["settings_warning"])
            self.polkitd.set_allowed(["org.vmdesk.switch"])
            dom.create()
            self.wait_listed_state("work", "running")
            self.ctl("switch", "work")
            self.assertEqual(self.client.prop("OnScreen"), "work")
        finally:
            dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, None, None, ns,
                            libvirt.VIR_DOMAIN_AFFECT_CONFIG)


class Switching(VmdeskCase):
    def test_unauthorized_switch_is_refused(self):
        self.dom("work").create()
        self.wait_listed_state("work", "running")
        _, err = self.ctl("switch", "work", expect=4)
        self.assertIn("org.vmdesk.switch", err)
        self.assertEqual(self.client.prop("OnScreen"), "")
        self.assertFalse(self.client.seen("FocusChanged"))

    def test_switch_to_unknown_vm(self):
        self.polkitd.set_allowed(["org.vmdesk.switch"])
        _, err = self.ctl("switch", "nosuchvm", expect=5)
        self.assertIn("no VM named 'nosuchvm'", err)

    def test_switch_to_a_stopped_vm(self):
        self.polkitd.set_allowed(["org.vmdesk.switch"])
        _, err = self.ctl("switch", "personal", expect=6)
        self.assertIn("shutoff", err)

    def test_switch_follows_lifecycle_and_survives_restart(self):
        self.polkitd.set_allowed(["org.vmdesk.switch"])
        self.dom("work").create()
        self.wait_listed_state("work", "running")
        self.ctl("switch", "work")
        self.client.wait_signal("FocusChanged", lambda a: a == ("work", ""))
        self.assertTrue(self.listed()["work"]["on_screen"])

        # The on-screen VM is remembered across a daemon restart...
        self.assertEqual(self.daemon.stop(), 0)
        self.daemon.start(self.client)
        self.assertEqual(self.client.prop("OnScreen"), "work")

        # ...and leaves the screen when it stops.
        self.dom("work").destroy()
        self.client.wait_signal("FocusChanged", lambda a: a == ("", "work"))
        self.assertEqual(self.client.prop("OnScreen"), "")


class Setup(VmdeskCase):
    domains = ("personal",)

    def test_setup_needs_authorization_then_applies_idempotently(self):
        _, err = self.ctl("setup", "personal", "--yes", expect=4)
        self.polkitd.set_allowed(["org.vmdesk.setup"])
        out, _ = self.ctl("setup", "personal", "--dry-run")
        self.assertIn("+    <vmdesk:settings", out)
        self.assertNotIn("vm-settings", self.dom("personal").XMLDesc(0))

        # An apply whose preview is stale changes nothing.
        with self.assertRaises(GLib.Error) as raised:
            self.client.call("SetupVM", ("personal", False, "<domain>stale</domain>"), "(sbs)")
        self.assertEqual(hdaemon.remote_error(raised.exception), "org.vmdesk.Error.Conflict")
        self.assertNotIn("vm-settings", self.dom("personal").XMLDesc(0))

        self.ctl("setup", "personal", "--yes")
        xml = self.dom("personal").XMLDesc(libvirt.VIR_DOMAIN_XML_INACTIVE)
        self.assertIn("https://vmdesk.org/xmlns/vm-settings/1", xml)
        self.assertIn("suspend-to-mem enabled='yes'", xml)
        # Defaults were written, so the record is unchanged and carries no warning.
        self.assertIsNone(self.listed()["personal"]["settings_warning"])

        result = self.ctl_json("setup", "personal", "--yes")
        self.assertFalse(result["changed"])


class Resilience(VmdeskCase):
    def test_libvirtd_killed_and_restarted(self):
        self.dom("work").create()
        self.dom("personal").create()
        self.wait_listed_state("personal", "running")
        qemu_pid = self.qemu_pid("personal")

        self.libvirtd.kill()
        self.client.wait_signal("PropertiesChanged", lambda a: a[1].get("Connected") is False)
        self.assertFalse(self.client.prop("Connected"))
        self.assertEqual(set(self.listed()), {"work", "personal"})

        # While libvirt is away the world changes: one guest dies.
        os.kill(qemu_pid, signal.SIGKILL)
        procs.wait_until(lambda: not os.path.exists(f"/proc/{qemu_pid}"), 10, what="QEMU to die")

        self.libvirtd.start()
        self.conn = type(self).conn = self.libvirtd.open()
        self.client.wait_signal("PropertiesChanged", lambda a: a[1].get("Connected") is True,
                                timeout=60)
        self.wait_listed_state("personal", "shutoff")
        self.assertEqual(self.listed()["work"]["state"], "running")
        self.assertTrue(self.daemon.child.running())

    def test_sigterm_exits_cleanly(self):
        self.assertEqual(self.daemon.stop(), 0)
        procs.wait_until(lambda: not self.client.has_owner(), 5, what="the name to be released")
        self.assertIn("stopping", self.daemon.log())


class EmbeddedDriver(unittest.TestCase):
    """The same daemon, unchanged, on libvirt's embedded driver (what the USB tests use)."""

    def test_lists_domains_of_an_embedded_root(self):
        workdir = tempfile.mkdtemp(prefix="vmdesk-emb-", dir="/tmp")
        try:
            with hbus.PrivateSystemBus(os.path.join(workdir, "bus")) as bus, \
                 virt.EmbeddedRoot(os.path.join(workdir, "root")) as root:
                bus.start()
                root.define(virt.guest_domain_xml("work", GUEST_DIR, os.path.join(workdir, "s.log")))
                client = hdaemon.Client(bus.address)
                daemon = hdaemon.Vmdeskd(workdir, bus.address, root.uri, wrap=root.command)
                try:
                    daemon.start(client)
                    vms = client.call("ListVMs")[0]
                    self.assertEqual([(v["name"], v["state"]) for v in vms], [("work", "shutoff")])
                    self.assertTrue(client.prop("Connected"))
                    self.assertEqual(client.prop("LibvirtUri"), root.uri)
                finally:
                    self.assertEqual(daemon.stop(), 0, daemon.log())
                    client.close()
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    unittest.main()
