"""Screenshot and OpenDisplay: what the switcher shows, from a real vmdeskd and real TCG
guests. "work" has SPICE and paints its VGA console blue (ANSI colour 4); "personal" has
no graphics at all and paints its console red (1)."""
import os
import socket
import struct
import threading
import time
import unittest

from gi.repository import Gio, GLib

from harness import daemon as hdaemon
from harness import procs
from harness import virt
from vmdesk_case import GUEST_DIR, VmdeskCase

NAME, PATH, IFACE = "org.vmdesk.Manager1", "/org/vmdesk/Manager1", "org.vmdesk.Manager1"
# VGA text mode as QEMU renders it: 80 x 25 cells of 9 x 16 pixels.
TEXT_MODE = (720, 400)


def blue(r, g, b):
    """ANSI 4 is VGA colour 1, 0x0000AA (QEMU's 6-bit DAC makes it 0x0000A8)."""
    return r < 32 and g < 32 and b > 128


def red(r, g, b):
    return r > 128 and g < 32 and b < 32


def error_name(exc):
    return hdaemon.remote_error(exc)


class Display(VmdeskCase):
    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        try:
            for name, graphics, paint in (("work", "spice", 4), ("personal", None, 1)):
                cls.conn.defineXML(virt.guest_domain_xml(
                    name, GUEST_DIR, os.path.join(cls.workdir, f"{name}-serial.log"),
                    uuid=cls.conn.lookupByName(name).UUIDString(), graphics=graphics,
                    paint=paint))
        except BaseException:
            cls._tear_down_class()
            raise

    def setUp(self):
        super().setUp()
        # The serial log of a previous boot would satisfy the next wait at once.
        for name in self.domains:
            try:
                os.unlink(os.path.join(self.workdir, f"{name}-serial.log"))
            except FileNotFoundError:
                pass

    # --- helpers ---

    def start(self, name, marker="VMDESK-GUEST-READY"):
        self.dom(name).create()
        virt.wait_serial_marker(os.path.join(self.workdir, f"{name}-serial.log"), marker)
        self.client.wait_signal("VMStateChanged", lambda a: a[:2] == (name, "running"))

    def screenshot(self, name, max_width, max_height):
        """(width, height, rgb bytes); raises GLib.Error."""
        reply = self.client.conn.call_sync(
            NAME, PATH, IFACE, "Screenshot", GLib.Variant("(suu)", (name, max_width, max_height)),
            GLib.VariantType("(uuay)"), Gio.DBusCallFlags.NO_AUTO_START, 60000, None)
        rgb = reply.get_child_value(2).get_data_as_bytes().get_data()
        return reply.get_child_value(0).get_uint32(), reply.get_child_value(1).get_uint32(), rgb

    def open_display(self, name):
        """A socket object on the fd OpenDisplay returned; raises GLib.Error."""
        reply, fds = self.client.conn.call_with_unix_fd_list_sync(
            NAME, PATH, IFACE, "OpenDisplay", GLib.Variant("(s)", (name,)),
            GLib.VariantType("(h)"), Gio.DBusCallFlags.NO_AUTO_START, 60000, None, None)
        self.assertEqual(fds.get_length(), 1)
        return socket.socket(fileno=fds.get(reply.unpack()[0]))

    def assert_error(self, name, call, *args):
        with self.assertRaises(GLib.Error) as caught:
            call(*args)
        self.assertEqual(error_name(caught.exception), name, caught.exception.message)
        return caught.exception.message

    @staticmethod
    def share_of(rgb, predicate):
        """The share of the pixels for which predicate(r, g, b) holds."""
        return sum(1 for i in range(0, len(rgb), 3) if predicate(*rgb[i:i + 3])) / (len(rgb) // 3)

    # --- tests ---

    def test_display_key(self):
        self.assertEqual(self.client.call("GetVM", ("work",), "(s)")[0]["display"], "spice")
        self.assertEqual(self.client.call("GetVM", ("personal",), "(s)")[0]["display"], "none")
        listed = {vm["name"]: vm["display"] for vm in self.client.call("ListVMs")[0]}
        self.assertEqual(listed, {"work": "spice", "personal": "none"})

    def test_screenshot_of_a_painted_guest(self):
        self.polkitd.set_allowed(["org.vmdesk.display"])
        self.start("work", "VMDESK-GUEST-PAINTED")
        # The guest paints once init runs; QEMU renders the text console on each dump.
        shot = procs.wait_until(
            lambda: (lambda s: s if self.share_of(s[2], blue) > 0.9 else None)(
                self.screenshot("work", 180, 180)),
            30, interval=0.5, what="a blue screen in work's screenshot")
        width, height, rgb = shot
        # 720 x 400 into 180 x 180: width-bound, aspect kept.
        self.assertEqual((width, height), (180, 100))
        self.assertEqual(len(rgb), width * height * 3)
        # The one line of text sits in the top rows; below it, one solid blue.
        below = rgb[width * 3 * 8:]
        self.assertTrue(blue(*below[:3]), below[:3])
        self.assertEqual(self.share_of(below, lambda *px: bytes(px) == below[:3]), 1.0)

        width, height, rgb = self.screenshot("work", 0, 0)
        self.assertEqual((width, height), TEXT_MODE)            # 0 x 0: full size
        self.assertGreater(self.share_of(rgb, blue), 0.95)
        self.assertLess(self.share_of(rgb, blue), 1.0)          # and its line of text
        self.assertEqual(self.screenshot("work", 0, 50)[:2], (90, 50))
        self.assertEqual(self.screenshot("work", 4000, 4000)[:2], TEXT_MODE)   # never up
        self.assertEqual(self.client.call("GetVM", ("work",), "(s)")[0]["display"], "spice")

    def test_one_screenshot_per_vm_at_a_time(self):
        self.polkitd.set_allowed(["org.vmdesk.display"])
        self.start("work", "VMDESK-GUEST-PAINTED")
        # Eight callers at once: each gets the image or Conflict, never a pile of workers.
        replies, done = [], threading.Event()

        def answered(conn, result):
            try:
                replies.append(conn.call_finish(result).unpack()[:2])
            except GLib.Error as e:
                replies.append(error_name(e))
            if len(replies) == 8:
                done.set()
        context = GLib.MainContext.new()
        context.push_thread_default()
        try:
            for _ in range(8):
                self.client.conn.call(NAME, PATH, IFACE, "Screenshot",
                                      GLib.Variant("(suu)", ("work", 64, 64)), GLib.VariantType("(uuay)"),
                                      Gio.DBusCallFlags.NO_AUTO_START, 60000, None, answered)
            deadline = time.monotonic() + 60
            while not done.is_set() and time.monotonic() < deadline:
                context.iteration(True)
        finally:
            context.pop_thread_default()
        self.assertEqual(len(replies), 8, replies)
        images = [r for r in replies if isinstance(r, tuple)]
        refused = [r for r in replies if not isinstance(r, tuple)]
        self.assertTrue(images, replies)
        # The calls arrive within a millisecond; a screendump takes QEMU far longer: the
        # ones behind the first are refused, and nothing else goes wrong.
        self.assertTrue(refused, replies)
        self.assertEqual(set(refused), {"org.vmdesk.Error.Conflict"}, replies)
        self.assertEqual({size for size in images}, {images[0]}, replies)
        self.assertEqual(images[0][0], 64)
        # Once they are answered, the VM is free again.
        self.assertEqual(self.screenshot("work", 64, 64)[:2], images[0])

    def test_open_display_speaks_spice(self):
        self.polkitd.set_allowed(["org.vmdesk.display"])
        self.start("work")
        with self.open_display("work") as sock:
            sock.settimeout(10)
            # spice-protocol's SpiceLinkHeader (magic "REDQ", major 2, minor 2, size) and a
            # SpiceLinkMess for the main channel (connection 0, type 1, id 0, no caps).
            mess = struct.pack("<IBBIII", 0, 1, 0, 0, 0, struct.calcsize("<IBBIII"))
            sock.sendall(b"REDQ" + struct.pack("<III", 2, 2, len(mess)) + mess)
            header = b""
            while len(header) < 20:
                chunk = sock.recv(20 - len(header))
                self.assertTrue(chunk, "the SPICE server hung up")
                header += chunk
        magic, major, _minor, size, link_error = struct.unpack("<4sIIII", header)
        self.assertEqual(magic, b"REDQ")
        self.assertEqual(major, 2)
        self.assertGreaterEqual(size, 4 + 162)   # SpiceLinkReply: error, RSA key, caps
        self.assertEqual(link_error, 0)          # SPICE_LINK_ERR_OK
        self.assertIn("opened the display of 'work'", self.daemon.log())
        # Each call is a new client of the server.
        self.open_display("work").close()

    def test_unauthorized(self):
        self.start("work")
        for call, args in ((self.screenshot, ("work", 64, 64)), (self.open_display, ("work",))):
            message = self.assert_error("org.vmdesk.Error.NotAuthorized", call, *args)
            self.assertIn("org.vmdesk.display", message)

    def test_unknown_stopped_and_without_graphics(self):
        self.polkitd.set_allowed(["org.vmdesk.display"])
        for call, args in ((self.screenshot, (0, 0)), (self.open_display, ())):
            self.assertIn("nosuch", self.assert_error("org.vmdesk.Error.UnknownVM", call, "nosuch", *args))
            self.assertIn("shutoff", self.assert_error("org.vmdesk.Error.NotRunning", call, "work", *args))
            self.assert_error("org.vmdesk.Error.InvalidArgs", call, "a/b", *args)
        self.start("personal", "VMDESK-GUEST-PAINTED")
        message = self.assert_error("org.vmdesk.Error.Failed", self.open_display, "personal")
        self.assertIn("'personal' has no SPICE or VNC display", message)
        # No graphics, but a VGA device: its screen can still be shot, and it is its own.
        shot = procs.wait_until(
            lambda: (lambda s: s if self.share_of(s[2], red) > 0.9 else None)(
                self.screenshot("personal", 72, 40)),
            30, interval=0.5, what="a red screen in personal's screenshot")
        self.assertEqual(shot[:2], (72, 40))
        self.assertEqual(self.share_of(shot[2], blue), 0)


if __name__ == "__main__":
    unittest.main()
