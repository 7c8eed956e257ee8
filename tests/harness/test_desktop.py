"""Proves the private X desktop (tests/harness/desktop.py) against real programs.

Run: /usr/bin/python3 tests/harness/test_desktop.py  (or -m unittest with tests/ on the
path). Each test gets its own Xvfb and session bus; the apps are small gi programs.
"""
import os
import random
import shutil
import subprocess
import sys
import tempfile
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from harness import procs  # noqa: E402
from harness.desktop import (PYTHON, Desktop, best_offset, find_colour_region,  # noqa: E402
                             fraction_of_colour, load_ppm, match_fraction)

from gi.repository import GdkPixbuf, GLib  # noqa: E402  (versions chosen by harness.desktop)

# A window of one colour at a known place; reports clicks (window coordinates) and keys.
COLOUR_APP = r"""
import sys, gi
gi.require_version("Gdk", "3.0")
gi.require_version("Gtk", "3.0")
from gi.repository import Gdk, Gtk
x, y, w, h = (int(v) for v in sys.argv[1:5])
css = Gtk.CssProvider()  # a plain colour without cairo's python bindings
css.load_from_data(b"window { background: #ff00ff; }")
Gtk.StyleContext.add_provider_for_screen(Gdk.Screen.get_default(), css,
                                         Gtk.STYLE_PROVIDER_PRIORITY_USER)
win = Gtk.Window(title="harness-colour")
win.set_wmclass("harness-colour", "HarnessColour")
win.set_decorated(False)
win.set_default_size(w, h)
win.move(x, y)
win.add_events(Gdk.EventMask.BUTTON_PRESS_MASK | Gdk.EventMask.KEY_PRESS_MASK)
def report(*words):
    print(*words, flush=True)
    return True  # handled: unhandled presses on a toplevel come back a second time
win.connect("button-press-event", lambda w, e: report("button", e.button, int(e.x), int(e.y)))
win.connect("key-press-event", lambda w, e: report("key", Gdk.keyval_name(e.keyval)))
win.connect("map-event", lambda *a: print("mapped", flush=True))
win.show_all()
Gtk.main()
"""

# A legacy XEmbed tray icon.
STATUS_ICON_APP = r"""
import warnings, gi
gi.require_version("Gtk", "3.0")
from gi.repository import Gtk
warnings.simplefilter("ignore", DeprecationWarning)
icon = Gtk.StatusIcon.new_from_icon_name("dialog-information")
icon.set_title("harness-status-icon")
icon.connect("activate", lambda *a: print("activate", flush=True))
print("ready", flush=True)
Gtk.main()
"""

# A real libayatana-appindicator3 item with two menu items, the second insensitive.
INDICATOR_APP = r"""
import gi
gi.require_version("Gtk", "3.0")
gi.require_version("AyatanaAppIndicator3", "0.1")
from gi.repository import AyatanaAppIndicator3 as AI, Gtk
indicator = AI.Indicator.new("vmdesk-harness", "dialog-information",
                             AI.IndicatorCategory.APPLICATION_STATUS)
indicator.set_status(AI.IndicatorStatus.ACTIVE)
menu = Gtk.Menu()
for label, sensitive in (("Switch to work", True), ("Disabled <&> item", False)):
    item = Gtk.MenuItem.new_with_label(label)
    item.set_sensitive(sensitive)
    item.connect("activate", lambda w, label=label: print("clicked", label, flush=True))
    menu.append(item)
menu.show_all()
indicator.set_menu(menu)
print("ready", flush=True)
Gtk.main()
"""

# A notification client: sends one Notify, prints the id, then every signal it receives.
NOTIFY_CLIENT = r"""
import sys
from gi.repository import Gio, GLib
bus = Gio.bus_get_sync(Gio.BusType.SESSION, None)
def on_signal(conn, sender, path, iface, member, params):
    print(member, *params.unpack(), flush=True)
for member in ("ActionInvoked", "NotificationClosed"):
    bus.signal_subscribe("org.freedesktop.Notifications", "org.freedesktop.Notifications",
                         member, "/org/freedesktop/Notifications", None,
                         Gio.DBusSignalFlags.NONE, on_signal)
def notify(replaces, summary):
    hints = {"urgency": GLib.Variant("y", 2), "x-vmdesk-vm": GLib.Variant("s", "work")}
    reply = bus.call_sync(
        "org.freedesktop.Notifications", "/org/freedesktop/Notifications",
        "org.freedesktop.Notifications", "Notify",
        GLib.Variant("(susssasa{sv}i)", ("vmdesk", replaces, "computer", summary,
                                         "VM <b>work</b> & more",
                                         ["switch", "Switch to work", "default", ""],
                                         hints, 5000)),
        GLib.VariantType.new("(u)"), Gio.DBusCallFlags.NONE, 5000, None)
    return reply.unpack()[0]
first = notify(0, "Work VM wants attention")
print("id", first, flush=True)
print("id", notify(first, "Work VM still wants attention"), flush=True)
GLib.MainLoop().run()
"""


def gone(pid):
    """True once `pid` no longer exists (or is a zombie nobody reaps)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


class DesktopCase(unittest.TestCase):
    size = (1024, 640)

    def setUp(self):
        self.tmp = tempfile.mkdtemp(prefix="vmd-desk-")
        self.desktop = Desktop(self.tmp, self.size).start()
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.addCleanup(self.desktop.stop)

    def app(self, source, *args, name="app"):
        """Run a small python program on the desktop; returns (child, Lines)."""
        path = os.path.join(self.tmp, f"{name}.py")
        with open(path, "w") as f:
            f.write(source)
        log = open(os.path.join(self.tmp, f"{name}.log"), "w")
        self.addCleanup(log.close)
        child = self.desktop.spawn([PYTHON, path, *map(str, args)], name=name,
                                   stdout=subprocess.PIPE, stderr=log)
        self.addCleanup(child.proc.stdout.close)
        return child, procs.Lines(child)


class TestLifetime(unittest.TestCase):
    def test_start_stop_leaves_nothing(self):
        tmp = tempfile.mkdtemp(prefix="vmd-desk-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        with Desktop(os.path.join(tmp, "a"), (800, 600)) as a, \
                Desktop(os.path.join(tmp, "b")) as b:
            self.assertNotEqual(a.display, b.display)
            socket = f"/tmp/.X11-unix/X{a.display[1:]}"
            self.assertTrue(os.path.exists(socket))
            a.start_notification_daemon()
            a.start_sni_watcher()
            a.start_xembed_tray()
            # Opens this process's own X connections, which stop() must close first.
            shot = a.screenshot()
            self.assertEqual((shot.get_width(), shot.get_height()), (800, 600))
            pids = a.pids()
            self.assertEqual(len(pids), 5)  # Xvfb, bus, notifications, watcher, tray
            self.assertTrue(a.processes())
            a.stop()
            for pid in pids:
                self.assertTrue(gone(pid), f"pid {pid} outlived the desktop")
            self.assertEqual(a.processes(), [])
            self.assertFalse(os.path.exists(socket))
            # The other desktop is untouched.
            self.assertEqual(b.screenshot().get_width(), 1280)
            b_pids = b.pids()
        for pid in b_pids:
            self.assertTrue(gone(pid), f"pid {pid} outlived the desktop")

    def test_env(self):
        tmp = tempfile.mkdtemp(prefix="vmd-desk-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        with Desktop(tmp) as d:
            base = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"),
                    "WAYLAND_DISPLAY": "wayland-0", "DISPLAY": ":99",
                    "DBUS_SESSION_BUS_ADDRESS": "unix:path=/run/user/1000/bus",
                    "DBUS_SYSTEM_BUS_ADDRESS": "unix:path=/tmp/private-system"}
            env = d.env(base)
            self.assertNotIn("WAYLAND_DISPLAY", env)
            self.assertEqual(env["DISPLAY"], d.display)
            self.assertEqual(env["DBUS_SESSION_BUS_ADDRESS"], d.bus_address)
            self.assertEqual(env["DBUS_SYSTEM_BUS_ADDRESS"], "unix:path=/tmp/private-system")
            self.assertEqual(env["GDK_BACKEND"], "x11")
            self.assertEqual(env["NO_AT_BRIDGE"], "1")
            self.assertEqual(env["GSETTINGS_BACKEND"], "memory")
            runtime = env["XDG_RUNTIME_DIR"]
            self.assertTrue(runtime.startswith(d.workdir + "/"))
            self.assertEqual(os.stat(runtime).st_mode & 0o777, 0o700)
            self.assertNotIn("WAYLAND_DISPLAY", d.env())
            # A GTK child really lands here: its display and its session bus are ours.
            probe = ("import gi; gi.require_version('Gdk', '3.0');"
                     "from gi.repository import Gdk, Gio, GLib;"
                     "bus = Gio.bus_get_sync(Gio.BusType.SESSION, None);"
                     "bus_id = bus.call_sync('org.freedesktop.DBus', '/org/freedesktop/DBus',"
                     " 'org.freedesktop.DBus', 'GetId', None, None, 0, -1, None).unpack()[0];"
                     "print(Gdk.Display.get_default().get_name(), bus_id,"
                     " GLib.get_user_runtime_dir())")
            out = subprocess.run([PYTHON, "-c", probe], env=env, capture_output=True,
                                 text=True, check=True, timeout=30).stdout.split()
            self.assertEqual(out[0], d.display)
            ours = d.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                          "org.freedesktop.DBus", "GetId", None, "(s)")[0]
            self.assertEqual(out[1], ours)
            self.assertEqual(out[2], runtime)


class TestX(DesktopCase):
    def test_screenshot_size_and_png(self):
        path = os.path.join(self.tmp, "shot.png")
        shot = self.desktop.screenshot(path)
        self.assertEqual((shot.get_width(), shot.get_height()), self.size)
        again = GdkPixbuf.Pixbuf.new_from_file(path)
        self.assertEqual((again.get_width(), again.get_height()), self.size)
        # Xvfb's root is black before anything draws.
        self.assertEqual(fraction_of_colour(shot, (0, 0, 0)), 1.0)

    def test_window_pixels_click_and_key(self):
        x, y, w, h = 300, 200, 160, 90
        app, lines = self.app(COLOUR_APP, x, y, w, h, name="colour")
        lines.expect("mapped", 30)
        by_name = self.desktop.wait_window(name="^harness-colour$")
        by_class = self.desktop.wait_window(class_="HarnessColour")
        self.assertEqual(by_name, by_class)
        self.assertEqual(self.desktop.wait_window(name="harness-colour",
                                                  class_="HarnessColour"), by_name)
        self.assertEqual(self.desktop.window_geometry(by_name[0]), (x, y, w, h))
        with self.assertRaises(TimeoutError):
            self.desktop.wait_window(name="no-such-window", timeout=0.5)
        region = procs.wait_until(
            lambda: find_colour_region(self.desktop.screenshot(), (255, 0, 255)),
            10, what="the magenta window on screen")
        self.assertEqual(region[:4], (x, y, w, h))
        self.assertEqual(region.count, w * h)
        self.assertAlmostEqual(region.cx, x + (w - 1) / 2)
        self.assertAlmostEqual(region.cy, y + (h - 1) / 2)
        self.desktop.click(x + 10, y + 20, button=3)
        lines.expect("button 3 10 20")
        self.desktop.key("a", "Return")
        lines.expect("key a")
        lines.expect("key Return")
        app.stop()
        self.assertIsNone(self.desktop.window_geometry(by_name[0]))


class TestTray(DesktopCase):
    def test_status_icon_embeds_and_clicks(self):
        self.desktop.start_xembed_tray()
        self.assertNotEqual(self.desktop.tray_owner(), 0)
        self.assertEqual(self.desktop.tray_icons(), [])
        app, lines = self.app(STATUS_ICON_APP, name="status-icon")
        lines.expect("ready", 30)
        icons = self.desktop.wait_tray_icons(lambda i: [x for x in i if x.viewable])
        self.assertEqual(len(icons), 1)
        icon = icons[0]
        self.assertGreater(icon.width, 0)
        self.assertGreater(icon.height, 0)
        self.assertTrue(0 <= icon.x and icon.x + icon.width <= self.size[0])
        self.assertTrue(0 <= icon.y and icon.y + icon.height <= self.size[1])
        self.desktop.click(icon.x + icon.width // 2, icon.y + icon.height // 2)
        lines.expect("activate")
        # The icon drew something there: not the black of the bare root window.
        shot = self.desktop.screenshot()
        self.assertLess(fraction_of_colour(shot, (0, 0, 0), 8, icon[1:5]), 1.0)
        app.stop()
        self.desktop.wait_tray_icons(lambda i: not i, what="the icon to leave the tray")


class TestNotifications(DesktopCase):
    def test_round_trip(self):
        daemon = self.desktop.start_notification_daemon()
        self.assertEqual(daemon.notifications(), [])
        client, lines = self.app(NOTIFY_CLIENT, name="notify-client")
        first = int(lines.next(30).split()[1])
        self.assertEqual(lines.next(), f"id {first}")  # replaces_id keeps the id
        sent = daemon.wait_notifications(lambda n: len(n) == 2)
        self.assertEqual(sent[0], {
            "id": first, "app_name": "vmdesk", "replaces_id": 0, "icon": "computer",
            "summary": "Work VM wants attention", "body": "VM <b>work</b> & more",
            "actions": [("switch", "Switch to work"), ("default", "")],
            "hints": {"urgency": 2, "x-vmdesk-vm": "work"}, "expire_timeout": 5000})
        self.assertEqual((sent[1]["id"], sent[1]["replaces_id"], sent[1]["summary"]),
                         (first, first, "Work VM still wants attention"))
        daemon.action_invoked(first, "switch")
        lines.expect(f"ActionInvoked {first} switch")
        daemon.closed(first, 2)
        lines.expect(f"NotificationClosed {first} 2")
        daemon.reset()
        self.assertEqual(daemon.notifications(), [])


class TestStatusNotifier(DesktopCase):
    def test_appindicator_menu(self):
        self.desktop.start_xembed_tray()
        self.desktop.start_sni_watcher()
        self.assertEqual(self.desktop.sni_items(), [])
        app, lines = self.app(INDICATOR_APP, name="indicator")
        lines.expect("ready", 30)
        items = self.desktop.wait_sni_items()
        self.assertEqual(len(items), 1)
        item = items[0]
        self.assertEqual(self.desktop.sni_properties(item)["Id"], "vmdesk-harness")
        layout = self.desktop.dbusmenu_layout(item)
        self.assertEqual(layout["id"], 0)
        children = layout["children"]
        self.assertEqual([(c["label"], c["enabled"], c["visible"]) for c in children],
                         [("Switch to work", True, True), ("Disabled <&> item", False, True)])
        self.desktop.dbusmenu_click(item, children[0]["id"])
        lines.expect("clicked Switch to work")
        # Each id reaches its own item. (libdbusmenu forwards a click on an insensitive
        # item too: only the panel's greying-out keeps a person from sending one.)
        self.desktop.dbusmenu_click(item, children[1]["id"])
        lines.expect("clicked Disabled <&> item")
        # With a watcher there, the item did not fall back to an XEmbed icon.
        self.assertEqual(self.desktop.tray_icons(), [])
        app.stop()
        self.desktop.wait_sni_items(lambda i: not i, what="the item to unregister")


def solid(width, height, rgb, alpha=False):
    pixbuf = GdkPixbuf.Pixbuf.new(GdkPixbuf.Colorspace.RGB, alpha, 8, width, height)
    pixbuf.fill((rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8) | 0xff)
    return pixbuf


def paint(pixbuf, rect, rgb):
    x, y, w, h = rect
    pixbuf.new_subpixbuf(x, y, w, h).fill((rgb[0] << 24) | (rgb[1] << 16) | (rgb[2] << 8)
                                          | 0xff)


def noise(width, height, seed):
    data = random.Random(seed).randbytes(width * height * 3)
    return GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(data), GdkPixbuf.Colorspace.RGB,
                                           False, 8, width, height, width * 3)


class TestPixels(unittest.TestCase):
    RED = (250, 5, 0)

    def scene(self, alpha):
        # 101 wide: with alpha or 3 channels the rowstride gets padding.
        pixbuf = solid(101, 50, (0, 0, 0), alpha)
        paint(pixbuf, (20, 5, 10, 10), self.RED)
        return pixbuf

    def test_fraction_of_colour(self):
        for alpha in (False, True):
            pixbuf = self.scene(alpha)
            self.assertEqual(fraction_of_colour(pixbuf, self.RED), 100 / (101 * 50))
            self.assertEqual(fraction_of_colour(pixbuf, self.RED, rect=(20, 5, 10, 10)), 1.0)
            self.assertEqual(fraction_of_colour(pixbuf, self.RED, rect=(20, 5, 20, 10)), 0.5)
            self.assertEqual(fraction_of_colour(pixbuf, (255, 0, 0), 5, (20, 5, 10, 10)), 1.0)
            # Negative: one short on tolerance, or a rect elsewhere.
            self.assertEqual(fraction_of_colour(pixbuf, (255, 0, 0), 4), 0.0)
            self.assertEqual(fraction_of_colour(pixbuf, self.RED, rect=(40, 5, 10, 10)), 0.0)
            self.assertEqual(fraction_of_colour(pixbuf, self.RED, rect=(200, 5, 10, 10)), 0.0)

    def test_find_colour_region(self):
        for alpha in (False, True):
            pixbuf = self.scene(alpha)
            region = find_colour_region(pixbuf, self.RED)
            self.assertEqual(tuple(region), (20, 5, 10, 10, 24.5, 9.5, 100))
            paint(pixbuf, (90, 40, 2, 1), self.RED)
            region = find_colour_region(pixbuf, self.RED)
            self.assertEqual(region[:4], (20, 5, 72, 36))
            self.assertEqual(region.count, 102)
            self.assertEqual(find_colour_region(pixbuf, self.RED, rect=(50, 20, 51, 30))[:4],
                             (90, 40, 2, 1))
            # Negative: a colour that is not there.
            self.assertIsNone(find_colour_region(pixbuf, (0, 255, 0), 10))

    def test_match_fraction_and_best_offset(self):
        big = noise(120, 80, 1)
        small = big.new_subpixbuf(37, 21, 16, 12).copy()
        self.assertEqual(match_fraction(big, small, 37, 21), 1.0)
        self.assertLess(match_fraction(big, small, 38, 21), 0.1)
        # Half of it hangs off the right edge: at most half can match.
        edge = big.new_subpixbuf(112, 0, 8, 12).copy()
        self.assertEqual(match_fraction(big, edge, 112, 0), 1.0)
        self.assertEqual(match_fraction(big, edge, 116, 0) <= 0.5, True)
        self.assertEqual(match_fraction(big, small, 500, 500), 0.0)
        # Tolerance: every channel off by 3.
        shifted = bytes(min(255, v + 3) if v < 128 else v - 3
                        for v in small.read_pixel_bytes().get_data())
        near = GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(shifted),
                                               GdkPixbuf.Colorspace.RGB, False, 8, 16, 12,
                                               small.get_rowstride())
        self.assertEqual(match_fraction(big, near, 37, 21, tolerance=3), 1.0)
        self.assertEqual(match_fraction(big, near, 37, 21, tolerance=2), 0.0)
        # The same answers on a big image with alpha and padded rows.
        big_alpha = big.add_alpha(False, 0, 0, 0)
        self.assertEqual(match_fraction(big_alpha, small, 37, 21), 1.0)
        self.assertEqual(best_offset(big, small, around=(33, 25), radius=5),
                         (37, 21, 1.0))
        # Negative: the true place lies outside the radius.
        x, y, f = best_offset(big, small, around=(30, 25), radius=3)
        self.assertLess(f, 0.5)

    def test_load_ppm(self):
        tmp = tempfile.mkdtemp(prefix="vmd-ppm-")
        self.addCleanup(shutil.rmtree, tmp, ignore_errors=True)
        pixels = bytes(range(0, 18 * 3))[:3 * 3 * 2]  # 3x2
        path = os.path.join(tmp, "a.ppm")
        with open(path, "wb") as f:
            f.write(b"P6\n# a comment\n3 2\n255\n" + pixels)
        pixbuf = load_ppm(path)
        self.assertEqual((pixbuf.get_width(), pixbuf.get_height()), (3, 2))
        self.assertEqual(pixbuf.get_pixels()[:9], pixels[:9])
        deep = os.path.join(tmp, "deep.ppm")
        with open(deep, "wb") as f:
            f.write(b"P6 1 1 65535\n" + bytes([0xff, 0xff, 0x80, 0x00, 0x00, 0x10]))
        self.assertEqual(load_ppm(deep).get_pixels()[:3], bytes([0xff, 0x80, 0x00]))
        bad = os.path.join(tmp, "bad.ppm")
        for content in (b"P3\n1 1\n255\n0 0 0\n", b"P6\n3 2\n255\n" + pixels[:5],
                        b"P6\n3", b"P6\n-3 2\n255\n"):
            with open(bad, "wb") as f:
                f.write(content)
            with self.assertRaises(ValueError, msg=content):
                load_ppm(bad)


if __name__ == "__main__":
    unittest.main()
