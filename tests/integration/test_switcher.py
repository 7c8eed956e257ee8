#!/usr/bin/python3
"""The switcher (vmdesk-switcher) on Xvfb against vmdeskd and real TCG guests.

Two guests paint their VGA console a known colour at boot (work blue, personal red), so
what the switcher shows can be checked against what QEMU itself renders. Screenshots of
every state are saved under the build tree (ui-screens/) for a person to look at.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(__file__), ".."))
from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()

import unittest  # noqa: E402

import dbus  # noqa: E402

from harness import desktop as hdesktop  # noqa: E402
from harness import procs  # noqa: E402
from harness.switcher_lab import VGA, SwitcherLab, save  # noqa: E402

GUEST_DIR = os.environ.get("VMDESK_GUEST_DIR")
BLUE, RED = VGA[4], VGA[1]  # work, personal: harness.switcher_lab.PAINT
POLICY = """\
# A YubiKey is asked about; everything else stays on the host.
ask work personal id 1050:0407
"""
# A pass-through GPU's monitor input would be switched here (ddcutil); the test records
# which command ran, in order.
SWITCHER_CONF = """\
[vm work]
on-screen-command=/bin/sh -c "echo work >> {workdir}/on-screen"
[host]
on-screen-command=/bin/sh -c "echo host >> {workdir}/on-screen"
"""


class SwitcherCase(unittest.TestCase):
    """One SwitcherLab per class, with the class's `tray`: the guests boot once."""
    tray = None

    @classmethod
    def setUpClass(cls):
        cls.s = SwitcherLab(GUEST_DIR, tray=cls.tray, policy=POLICY, switcher_conf=SWITCHER_CONF)
        try:
            cls.s.start()
        except BaseException:
            cls.s.close()
            raise

    @classmethod
    def tearDownClass(cls):
        cls.s.close()

    def tearDown(self):
        # A failure on screen is often explained by either process's side of the story.
        if not getattr(self._outcome, "success", True):
            print(f"--- vmdeskd log (tail) ---\n{self.s.daemon.log()[-6000:]}")
            print(f"--- vmdesk-switcher log (tail) ---\n{self.s.log()[-6000:]}")


@unittest.skipUnless(GUEST_DIR, "VMDESK_GUEST_DIR is not set")
class SwitcherOnXembed(SwitcherCase):
    """Overlay, display and the XEmbed tray fallback (no StatusNotifier host)."""
    tray = "xembed"

    def setUp(self):
        self.s.switch("")
        self.s.desktop.key("Escape")

    def assertShowsGuest(self, name, shot):
        """The fullscreen display shows the guest's console pixel for pixel."""
        guest = self.s.guest_screen(name)
        width, height = self.s.desktop.size
        around = ((width - guest.get_width()) // 2, (height - guest.get_height()) // 2)
        best = hdesktop.best_offset(shot, guest, around=around, radius=8)
        x, y = best[0], best[1]
        match = hdesktop.match_fraction(shot, guest, x, y)
        # The text cursor blinks: allow it, nothing more.
        self.assertGreater(match, 0.99, f"{name}'s console vs the display at {x},{y}")

    def test_1_cards_have_real_thumbnails(self):
        self.s.open_switcher()
        shot = save(self.s.desktop, "switcher-open")
        # Thumbnails are 320x200 at most: each guest's colour covers most of its card.
        for name, colour in (("work", BLUE), ("personal", RED)):
            region = hdesktop.find_colour_region(shot, colour)
            self.assertIsNotNone(region, f"no {name} thumbnail on screen")
            self.assertGreater(region.count, 20000, f"{name}: {region}")
        self.s.desktop.key("Escape")

    def test_2_keyboard_puts_personal_on_screen(self):
        # From the host the overlay opens on the first VM by name: personal.
        self.s.open_switcher()
        self.s.desktop.key("Return")
        self.s.wait_on_screen("personal")
        self.s.desktop.wait_window(name="^vmdesk display$")
        shot = procs.wait_until(lambda: self._shows("personal"), 30, what="personal's display")
        save(self.s.desktop, "display-personal-keyboard")
        self.assertShowsGuest("personal", shot)

    def test_3_click_puts_personal_on_screen(self):
        self.s.switch("work")
        self.s.open_switcher()
        shot = save(self.s.desktop, "switcher-from-work")
        region = hdesktop.find_colour_region(shot, RED)
        self.s.desktop.click(int(region.cx), int(region.cy))
        self.s.wait_on_screen("personal")
        shot = procs.wait_until(lambda: self._shows("personal"), 30, what="personal's display")
        save(self.s.desktop, "display-personal-click")
        self.assertShowsGuest("personal", shot)

    def test_4_hotkey_inside_display_opens_switcher(self):
        self.s.switch("personal")
        procs.wait_until(lambda: self._shows("personal"), 30, what="personal's display")
        before = self.s.log().count("first-frame")
        self.s.desktop.key("super+Tab")
        procs.wait_until(lambda: self.s.log().count("first-frame") > before, 30,
                         what="the switcher over the display")
        save(self.s.desktop, "switcher-over-display")
        # Next after personal is work.
        self.s.desktop.key("Return")
        self.s.wait_on_screen("work")
        procs.wait_until(lambda: self._shows("work"), 30, what="work's display")

    def test_5_xembed_tray_menu_switches(self):
        icons = self.s.desktop.wait_tray_icons()
        self.assertEqual(len(icons), 1, icons)
        icon = icons[0]
        self.s.desktop.click(icon.x + icon.width // 2, icon.y + icon.height // 2)
        self.s.desktop.wait_window(class_="vmdesk-switcher", visible=True)
        save(self.s.desktop, "tray-menu-xembed")
        # Header and separator are not selectable: Down lands on the first VM, personal.
        self.s.desktop.key("Down", "Right", "Return")
        self.s.wait_on_screen("personal")

    def test_6_on_screen_commands(self):
        marks = os.path.join(self.s.workdir, "on-screen")

        def last():
            try:
                with open(marks) as f:
                    return f.read().split()[-1:]
            except FileNotFoundError:
                return []
        self.s.switch("work")
        procs.wait_until(lambda: last() == ["work"], 10, what="work's on-screen-command")
        self.s.switch("personal")  # no command of its own: nothing runs
        self.s.switch("")
        procs.wait_until(lambda: last() == ["host"], 10, what="the host's on-screen-command")
        with open(marks) as f:
            lines = f.read().split()
        self.assertEqual(lines[-2:], ["work", "host"], lines)

    def _shows(self, name):
        """A screenshot in which `name`'s colour fills the middle of the screen, or None."""
        shot = self.s.desktop.screenshot()
        width, height = self.s.desktop.size
        colour = RED if name == "personal" else BLUE
        rect = (width // 2 - 100, height // 2 - 50, 200, 100)
        return shot if hdesktop.fraction_of_colour(shot, colour, rect=rect) > 0.5 else None


@unittest.skipUnless(GUEST_DIR, "VMDESK_GUEST_DIR is not set")
class SwitcherOnStatusNotifier(SwitcherCase):
    """The tray through a StatusNotifier host, "ask" prompts, and a daemon restart."""
    tray = "sni"

    def menu(self):
        item = self.s.desktop.wait_sni_items()[0]
        return item, self.s.desktop.dbusmenu_layout(item)

    def labels(self):
        def walk(node):
            yield node
            for child in node["children"]:
                yield from walk(child)
        return [n for n in walk(self.menu()[1]) if n.get("label")]

    def wait_status(self, status):
        """The item's StatusNotifier status: Active, or NeedsAttention while a USB device
        waits for an answer."""
        procs.wait_until(lambda: self.s.desktop.sni_properties(self.menu()[0])["Status"] == status,
                         10, what=f"tray status {status}")

    def wait_menu(self, predicate, what):
        return procs.wait_until(lambda: (lambda ls: ls if predicate([n["label"] for n in ls]) else None)
                                (self.labels()), 20, what=what)

    def test_1_menu_lists_vms_battery_and_switches(self):
        self.s.switch("")
        items = self.wait_menu(lambda ls: "work — running" in ls and "personal — running" in ls,
                               "both VMs in the menu")
        labels = [n["label"] for n in items]
        self.assertIn("On screen: host desktop", labels)
        self.assertIn("Open switcher", labels)
        self.assertIn("Battery 42 % (discharging)", labels)
        # Live: UPower's change reaches the menu through vmdeskd's PowerChanged.
        self.s.upower.set_device_properties(self.s.upower.DISPLAY_DEVICE, {
            "Energy": dbus.Double(18.0), "Percentage": dbus.Double(36.0)})
        items = self.wait_menu(lambda ls: "Battery 36 % (discharging)" in ls,
                               "the battery line follows")
        switch = next(n for n in items if n["label"] == "Switch to work")
        self.s.desktop.dbusmenu_click(self.menu()[0], switch["id"])
        self.s.wait_on_screen("work")
        self.wait_menu(lambda ls: "work — running, on screen" in ls and "On screen: work" in ls,
                       "the menu follows the switch")

    def test_2_ask_prompt_with_remember(self):
        key = self.s.lab.tb.add_usb_device(0x1050, 0x0407, port="1-3", serial="ASK1",
                                           manufacturer="Yubico", product="YubiKey <b>&amp;",
                                           interfaces=[(3, 1, 1)])
        try:
            notes = self.s.notifications.wait_notifications(what="the ask prompt")
            prompt = notes[-1]
            self.assertIn("YubiKey", prompt["summary"] + prompt["body"])
            self.wait_status("NeedsAttention")
            labels = dict(prompt["actions"])
            self.assertTrue(any("work" in label for label in labels.values()), labels)
            self.assertTrue(any("personal" in label for label in labels.values()), labels)
            self.assertTrue(any("host" in label.lower() for label in labels.values()), labels)
            remember = next(k for k, label in labels.items() if "remember" in label.lower())
            self.s.notifications.action_invoked(prompt["id"], remember)
            again = self.s.notifications.wait_notifications(
                lambda ns: len(ns) > len(notes), what="the prompt again, to remember")[-1]
            self.assertEqual(again["replaces_id"], prompt["id"])
            work = next(k for k, label in again["actions"] if "work" in label)
            self.s.notifications.action_invoked(again["id"], work)
            self.s.lab.wait_attached("work", "ua-vmdesk-usb-1-3", timeout=40)
            record = {d["id"]: d for d in self.s.client.call("ListUSBDevices")[0]}["1-3"]
            self.assertTrue(record["remembered"], record)
            self.assertEqual((record["state"], record["vm"]), ("attached", "work"))
            self.wait_status("Active")
            # The tray lists it where it is, with its (hostile) name as plain text.
            items = self.wait_menu(lambda ls: "Yubico YubiKey <b>&amp; — work" in ls,
                                   "the device in the menu")
            device = next(n for n in items if n["label"] == "Yubico YubiKey <b>&amp; — work")
            moves = {n["label"]: n["enabled"] for n in device["children"]}
            self.assertEqual(moves, {"Keep on host": True, "Move to personal": True,
                                     "Move to work": False})
        finally:
            self.s.lab.tb.remove_usb_device(key)

    def test_3_daemon_restart(self):
        self.s.daemon.stop()
        self.wait_menu(lambda ls: "vmdesk: the daemon is not running" in ls, "the menu says so")
        self.assertEqual(self.s.desktop.sni_properties(self.menu()[0])["IconName"], "dialog-warning")
        self.assertTrue(self.s.switcher.running())
        reads = self.s.log().count("vmdeskd read:")
        self.s.start_daemon()
        procs.wait_until(lambda: self.s.log().count("vmdeskd read:") > reads, 20,
                         what="the switcher to read the new vmdeskd")
        # The menu is rebuilt (its ids renumbered) whenever what it shows changes: click
        # only once all of it is back, the battery too (the new vmdeskd reads UPower after
        # it starts).
        items = self.wait_menu(lambda ls: "personal — running" in ls
                               and "Battery 36 % (discharging)" in ls, "the VMs and battery again")
        self.assertTrue(self.s.switcher.running())
        switch = next(n for n in items if n["label"] == "Switch to personal")
        self.s.desktop.dbusmenu_click(self.menu()[0], switch["id"])
        self.s.wait_on_screen("personal")


if __name__ == "__main__":
    unittest.main(verbosity=2)
