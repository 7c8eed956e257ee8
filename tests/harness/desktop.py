"""A private X desktop for GUI tests: Xvfb, a session bus, a tray, notifications, SNI.

Desktop(workdir, size) -- Xvfb on a free display (found with -displayfd) and a session
        dbus-daemon of the test's own; env() points children at both and nowhere else
        (no Wayland, no real session bus, no dconf, no accessibility bus).
  start_notification_daemon() -- dbusmock's notification_daemon template: read the
        Notify calls it served, emit ActionInvoked / NotificationClosed from it.
  start_xembed_tray() -- stalonetray (Fedora) or trayer (Debian) owning
        _NET_SYSTEM_TRAY_S0; tray_icons() lists the windows embedded in it, in root
        coordinates, so a test can click one.
  start_sni_watcher() -- a minimal org.kde.StatusNotifierWatcher (a Gio service in its
        own process) so libayatana-appindicator registers an item instead of falling back
        to XEmbed; sni_items(), dbusmenu_layout(), dbusmenu_click() drive the item's menu.
  screenshot(), xdotool(), key(), click(), wait_window(), window_geometry().
Pixel helpers (module level) work on any GdkPixbuf with bytes and big-integer arithmetic,
so a whole 1280x800 screen is compared exactly in milliseconds, without numpy:
  load_ppm(), fraction_of_colour(), find_colour_region(), match_fraction(), best_offset().

Teardown stops every child (apps started with spawn(), mocks, tray, watcher, bus, Xvfb)
by process group, after closing this process's own X connections: Xlib exits the process
when the server under an open connection goes away.
"""
import collections
import ctypes
import ctypes.util
import json
import os
import select
import shutil
import subprocess
from contextlib import contextmanager

import gi

gi.require_version("Gdk", "3.0")
gi.require_version("GdkPixbuf", "2.0")
from gi.repository import Gdk, GdkPixbuf, Gio, GLib  # noqa: E402

from harness import bus as hbus  # noqa: E402
from harness import procs  # noqa: E402

PYTHON = "/usr/bin/python3"  # the one with gi and dbusmock


NOTIFY_NAME = "org.freedesktop.Notifications"
NOTIFY_PATH = "/org/freedesktop/Notifications"
MOCK_IFACE = "org.freedesktop.DBus.Mock"
WATCHER_NAME = "org.kde.StatusNotifierWatcher"
WATCHER_PATH = "/StatusNotifierWatcher"
SNI_IFACE = "org.kde.StatusNotifierItem"
DBUSMENU_IFACE = "com.canonical.dbusmenu"

# The watcher, run as its own process so a test can stop it like a real one going away.
# An item is recorded as "<unique name><object path>" and dropped when its owner leaves.
_WATCHER = r'''
import sys
from gi.repository import Gio, GLib

XML = """<node><interface name="org.kde.StatusNotifierWatcher">
  <method name="RegisterStatusNotifierItem"><arg name="service" type="s" direction="in"/></method>
  <method name="RegisterStatusNotifierHost"><arg name="service" type="s" direction="in"/></method>
  <property name="RegisteredStatusNotifierItems" type="as" access="read"/>
  <property name="IsStatusNotifierHostRegistered" type="b" access="read"/>
  <property name="ProtocolVersion" type="i" access="read"/>
  <signal name="StatusNotifierItemRegistered"><arg type="s"/></signal>
  <signal name="StatusNotifierItemUnregistered"><arg type="s"/></signal>
  <signal name="StatusNotifierHostRegistered"/>
  <signal name="StatusNotifierHostUnregistered"/>
</interface></node>"""
IFACE = "org.kde.StatusNotifierWatcher"
PATH = "/StatusNotifierWatcher"
items = {}    # "<owner><path>" -> name watch id


def emit(conn, member, args=None):
    conn.emit_signal(None, PATH, IFACE, member, args)


def changed(conn):
    conn.emit_signal(None, PATH, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                     GLib.Variant("(sa{sv}as)", (IFACE, {
                         "RegisteredStatusNotifierItems": GLib.Variant("as", list(items))}, [])))


def vanished(conn, owner):
    for item in [i for i in items if i.startswith(owner + "/")]:
        Gio.bus_unwatch_name(items.pop(item))
        emit(conn, "StatusNotifierItemUnregistered", GLib.Variant("(s)", (item,)))
        print("unregistered", item, flush=True)
    changed(conn)


def call(conn, sender, path, iface, method, params, invocation):
    if method == "RegisterStatusNotifierItem":
        service = params.unpack()[0]
        # A path means "the caller, at this path" (libappindicator); a bus name means
        # "that name, at the default path" (KDE).
        owner, obj = (sender, service) if service.startswith("/") else \
            (service, "/StatusNotifierItem")
        item = owner + obj
        if item not in items:
            items[item] = Gio.bus_watch_name_on_connection(
                conn, owner, Gio.BusNameWatcherFlags.NONE, None,
                lambda c, name: vanished(c, owner))
            emit(conn, "StatusNotifierItemRegistered", GLib.Variant("(s)", (item,)))
            changed(conn)
            print("registered", item, flush=True)
    elif method == "RegisterStatusNotifierHost":
        emit(conn, "StatusNotifierHostRegistered")
    invocation.return_value(None)


def get(conn, sender, path, iface, prop):
    return {"RegisteredStatusNotifierItems": GLib.Variant("as", list(items)),
            "IsStatusNotifierHostRegistered": GLib.Variant("b", True),
            "ProtocolVersion": GLib.Variant("i", 0)}[prop]


def acquired(conn, name):
    conn.register_object(PATH, Gio.DBusNodeInfo.new_for_xml(XML).interfaces[0], call, get, None)


def owned(conn, name):
    emit(conn, "StatusNotifierHostRegistered")
    print("ready", flush=True)


Gio.bus_own_name(Gio.BusType.SESSION, "org.kde.StatusNotifierWatcher",
                 Gio.BusNameOwnerFlags.DO_NOT_QUEUE, acquired, owned,
                 lambda c, n: sys.exit("lost org.kde.StatusNotifierWatcher"))
GLib.MainLoop().run()
'''

TrayIcon = collections.namedtuple("TrayIcon", "id x y width height viewable")
TrayIcon.__doc__ = "A window embedded in the tray; x, y in root coordinates."
SniItem = collections.namedtuple("SniItem", "bus_name path")
SniItem.__doc__ = "A registered StatusNotifierItem: its owner's unique name and object path."
Region = collections.namedtuple("Region", "x y width height cx cy count")
Region.__doc__ = "Bounding box, centroid (cx, cy) and pixel count of the matching pixels."


class Desktop:
    """Xvfb + a private session bus; use as a context manager so a failure still cleans up.

    Keep `workdir` short: the bus socket path must fit in 108 bytes."""

    def __init__(self, workdir, size=(1280, 800)):
        self.workdir = os.path.abspath(workdir)
        self.size = tuple(size)
        self.display = None          # ":N"
        self.bus_address = None
        self.runtime_dir = os.path.join(self.workdir, "runtime")
        self.socket = os.path.join(self.workdir, "session_bus_socket")
        if len(self.socket.encode()) >= 108:  # sockaddr_un.sun_path
            raise ValueError(f"workdir too long for a unix socket path: {self.workdir}")
        self.notifications = None    # NotificationDaemon once started
        self.tray = None             # procs.Child once started
        self.watcher = None          # procs.Child once started
        self._xvfb = None
        self._bus = None
        self._children = []          # everything started, stopped in reverse
        self._conn = None            # Gio.DBusConnection to the session bus
        self._gdk = None             # Gdk.Display on our X server
        self._x = None               # _Xlib on our X server

    # -- lifetime -------------------------------------------------------------------

    def start(self, timeout=10):
        os.makedirs(self.workdir, exist_ok=True)
        for sub in ("runtime", "config", "cache", "data"):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        os.chmod(self.runtime_dir, 0o700)  # GLib and GTK refuse a group/world-readable one
        try:
            self._start_xvfb(timeout)
            self._start_bus(timeout)
        except BaseException:
            self.stop()
            raise
        return self

    def _start_xvfb(self, timeout):
        w, h = self.size
        read_fd, write_fd = os.pipe()
        log = os.path.join(self.workdir, "xvfb.log")
        try:
            with open(log, "a") as logf:
                self._xvfb = procs.Child(
                    ["Xvfb", "-displayfd", str(write_fd), "-screen", "0", f"{w}x{h}x24",
                     "-nolisten", "tcp", "-noreset"],
                    name="Xvfb", env=_clean_env(), stdout=subprocess.DEVNULL, stderr=logf,
                    pass_fds=(write_fd,))
            os.close(write_fd)
            write_fd = None
            # Xvfb writes the display number once it accepts connections.
            number = b""
            while not number.endswith(b"\n"):
                ready, _, _ = select.select([read_fd], [], [], timeout)
                chunk = os.read(read_fd, 16) if ready else b""
                if not chunk:
                    raise RuntimeError(f"Xvfb did not start, see {log}")
                number += chunk
            self.display = f":{int(number)}"
        finally:
            os.close(read_fd)
            if write_fd is not None:
                os.close(write_fd)

    def _start_bus(self, timeout):
        config = os.path.join(self.workdir, "session-bus.conf")
        with open(config, "w") as f:
            # Activates nothing: a service a test did not start (dconf, at-spi, a portal)
            # stays absent instead of being launched behind its back.
            f.write(hbus.bus_config("session", self.socket))
        log = os.path.join(self.workdir, "session-bus.log")
        with open(log, "a") as logf:
            self._bus = procs.Child(
                ["dbus-daemon", f"--config-file={config}", "--nofork", "--nopidfile",
                 "--print-address"],
                name="dbus-daemon-session", env=_clean_env(), stdout=subprocess.PIPE,
                stderr=logf)
        ready, _, _ = select.select([self._bus.proc.stdout], [], [], timeout)
        line = self._bus.proc.stdout.readline().decode().strip() if ready else ""
        if not line:
            raise RuntimeError(f"session dbus-daemon did not start, see {log}")
        self.bus_address = line

    def stop(self):
        # Our own X connections first: Xlib exits the process if the server dies under one.
        if self._gdk is not None:
            self._gdk.close()
            self._gdk = None
        if self._x is not None:
            self._x.close()
            self._x = None
        if self._conn is not None:
            self._conn.close_sync(None)
            self._conn = None
        for child in reversed(self._children):
            child.stop()
        self._children.clear()
        self.notifications = self.tray = self.watcher = None
        if self._bus:
            self._bus.stop()
            self._bus.proc.stdout.close()
            self._bus = None
        if self._xvfb:
            self._xvfb.stop()
            self._xvfb = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def env(self, base=None):
        """`base` (default: os.environ) pointed at this desktop: DISPLAY, the session bus,
        XDG_RUNTIME_DIR/CONFIG/CACHE/DATA under the workdir, GDK_BACKEND=x11, no Wayland,
        no accessibility bus, GSettings in memory. Keeps DBUS_SYSTEM_BUS_ADDRESS, so
        `desktop.env(bus.env())` gives a child both private buses (not the other way
        round: bus.env() points the session bus at nothing)."""
        env = dict(os.environ if base is None else base)
        for name in ("WAYLAND_DISPLAY", "WAYLAND_SOCKET", "DBUS_STARTER_ADDRESS",
                     "DBUS_STARTER_BUS_TYPE", "XAUTHORITY", "GTK_USE_PORTAL",
                     "XDG_CURRENT_DESKTOP", "DESKTOP_SESSION", "GTK_MODULES", "GTK_THEME"):
            env.pop(name, None)
        env.update({
            "DISPLAY": self.display,
            "DBUS_SESSION_BUS_ADDRESS": self.bus_address,
            "XDG_RUNTIME_DIR": self.runtime_dir,
            "XDG_CONFIG_HOME": os.path.join(self.workdir, "config"),
            "XDG_CACHE_HOME": os.path.join(self.workdir, "cache"),
            "XDG_DATA_HOME": os.path.join(self.workdir, "data"),
            "XDG_SESSION_TYPE": "x11",
            "GDK_BACKEND": "x11",
            "NO_AT_BRIDGE": "1",
            "GSETTINGS_BACKEND": "memory",
        })
        return env

    def spawn(self, argv, name=None, env=None, **kw):
        """Start a program on this desktop (env: self.env() unless given); it is stopped
        with the desktop. Returns the procs.Child."""
        child = procs.Child(argv, name=name, env=self.env() if env is None else env, **kw)
        self._children.append(child)
        return child

    def pids(self):
        """Pids of the group leaders of every child still running (Xvfb and bus included)."""
        kids = self._children + [c for c in (self._bus, self._xvfb) if c]
        return [c.pid for c in kids if c.running()]

    def processes(self):
        """Pids of live processes whose command line names the workdir (bus, mocks,
        watcher); Xvfb and the tray do not name it, see pids()."""
        return procs.processes_mentioning(self.workdir)

    # -- session bus ----------------------------------------------------------------

    def connection(self):
        """The test's own Gio connection to the session bus (sync calls, no main loop)."""
        if self._conn is None:
            self._conn = Gio.DBusConnection.new_for_address_sync(
                self.bus_address,
                Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION, None, None)
        return self._conn

    def call(self, bus_name, path, iface, method, args=None, reply=None, timeout=10):
        """A sync method call; `args` a GLib.Variant tuple or None; returns the unpacked
        reply tuple."""
        result = self.connection().call_sync(
            bus_name, path, iface, method, args,
            GLib.VariantType.new(reply) if reply else None,
            Gio.DBusCallFlags.NONE, int(timeout * 1000), None)
        return result.unpack() if result is not None else ()

    def name_owner(self, name):
        """Unique name owning `name`, or "" when none."""
        try:
            return self.call("org.freedesktop.DBus", "/org/freedesktop/DBus",
                             "org.freedesktop.DBus", "GetNameOwner",
                             GLib.Variant("(s)", (name,)), "(s)")[0]
        except GLib.Error as e:
            if "NameHasNoOwner" in str(e):
                return ""
            raise

    def wait_for_name(self, name, timeout=10, alive=None):
        """Wait until `name` has an owner; `alive()` may raise to fail fast."""
        def owned():
            if alive is not None:
                alive()
            return self.name_owner(name)
        return procs.wait_until(owned, timeout, what=f"{name} on the session bus")

    def _start_service(self, argv, name, bus_name, timeout):
        log = os.path.join(self.workdir, f"{name}.log")
        with open(log, "a") as logf:
            child = self.spawn(argv, name=name, env=self.env(_clean_env()),
                               stdout=subprocess.DEVNULL, stderr=logf)

        def alive():
            if not child.running():
                raise RuntimeError(f"{name} exited ({child.proc.returncode}), see {log}")
        self.wait_for_name(bus_name, timeout, alive)
        return child

    # -- notifications --------------------------------------------------------------

    def start_notification_daemon(self, capabilities=None, timeout=10):
        """dbusmock's notification_daemon on the session bus; returns a NotificationDaemon.
        `capabilities`: a list replacing the template's default GetCapabilities answer."""
        params = {"capabilities": " ".join(capabilities)} if capabilities else {}
        child = self._start_service(
            [PYTHON, "-m", "dbusmock", "--session", "--template", "notification_daemon",
             "--logfile", os.path.join(self.workdir, "notifications.calls"),
             "--parameters", json.dumps(params)],
            "dbusmock-notifications", NOTIFY_NAME, timeout)
        self.notifications = NotificationDaemon(self, child)
        self.notifications.calls("GetCapabilities")  # served only once the template loaded
        return self.notifications

    # -- XEmbed tray ----------------------------------------------------------------

    def start_xembed_tray(self, timeout=10):
        """stalonetray if installed, else trayer, top right; returns once it owns
        _NET_SYSTEM_TRAY_S0. Neither needs a window manager."""
        if shutil.which("stalonetray"):
            rc = os.path.join(self.workdir, "stalonetrayrc")  # not the user's ~/.stalonetrayrc
            open(rc, "w").close()
            argv = ["stalonetray", "--config", rc, "--geometry", "1x1-0+0",
                    "--grow-gravity", "NE", "--icon-size", "32", "--window-type", "dock"]
        elif shutil.which("trayer"):
            argv = ["trayer", "--edge", "top", "--align", "right", "--widthtype", "request",
                    "--height", "32", "--SetDockType", "true", "--expand", "false"]
        else:
            raise RuntimeError("no XEmbed tray installed (stalonetray or trayer)")
        log = os.path.join(self.workdir, "tray.log")
        with open(log, "a") as logf:
            self.tray = self.spawn(argv, name=argv[0], env=self.env(_clean_env()),
                                   stdout=logf, stderr=logf)

        def owned():
            if not self.tray.running():
                raise RuntimeError(f"{argv[0]} exited ({self.tray.proc.returncode}), "
                                   f"see {log}")
            return self.tray_owner()
        procs.wait_until(owned, timeout, what="_NET_SYSTEM_TRAY_S0 to have an owner")
        return self.tray

    def tray_owner(self):
        """X window id owning _NET_SYSTEM_TRAY_S0, 0 when none."""
        return self.xlib().selection_owner("_NET_SYSTEM_TRAY_S0")

    def tray_icons(self):
        """Windows embedded by XEmbed (they carry _XEMBED_INFO and are no longer
        top-level), with root-window geometry, in stacking order."""
        x = self.xlib()
        root = x.root
        icons = []
        for win, parent in x.walk(root):
            if parent == root or not x.has_property(win, "_XEMBED_INFO"):
                continue
            geometry = x.geometry(win)
            if geometry is None:  # gone while we looked
                continue
            gx, gy, gw, gh, viewable = geometry
            icons.append(TrayIcon(win, gx, gy, gw, gh, viewable))
        return icons

    def wait_tray_icons(self, predicate=lambda icons: icons, timeout=10,
                        what="an icon in the tray"):
        """Wait until predicate(tray_icons()) holds (default: any icon); return the icons."""
        found = []

        def check():
            found[:] = self.tray_icons()
            return predicate(found)
        procs.wait_until(check, timeout, what=what)
        return list(found)

    # -- StatusNotifierItem ---------------------------------------------------------

    def start_sni_watcher(self, timeout=10):
        """A minimal org.kde.StatusNotifierWatcher (host always registered); returns the
        procs.Child. Stopping it is a watcher going away: items re-register on return."""
        script = os.path.join(self.workdir, "sni-watcher.py")
        with open(script, "w") as f:
            f.write(_WATCHER)
        self.watcher = self._start_service([PYTHON, script], "sni-watcher", WATCHER_NAME,
                                           timeout)
        return self.watcher

    def sni_items(self):
        """Registered items, [SniItem(bus_name, path)], in registration order."""
        items = self.call(WATCHER_NAME, WATCHER_PATH, "org.freedesktop.DBus.Properties",
                          "Get", GLib.Variant("(ss)", (WATCHER_NAME,
                                                       "RegisteredStatusNotifierItems")),
                          "(v)")[0]
        out = []
        for item in items:
            slash = item.find("/")
            out.append(SniItem(item[:slash], item[slash:]) if slash > 0
                       else SniItem(item, "/StatusNotifierItem"))
        return out

    def wait_sni_items(self, predicate=lambda items: items, timeout=10,
                       what="a StatusNotifierItem to register"):
        """Wait until predicate(sni_items()) holds (default: any item); return the items."""
        found = []

        def check():
            found[:] = self.sni_items()
            return predicate(found)
        procs.wait_until(check, timeout, what=what)
        return list(found)

    def sni_properties(self, item):
        """Every org.kde.StatusNotifierItem property of `item` (Id, Title, Status,
        IconName, Menu, ...), unpacked."""
        return self.call(item.bus_name, item.path, "org.freedesktop.DBus.Properties",
                         "GetAll", GLib.Variant("(s)", (SNI_IFACE,)), "(a{sv})")[0]

    def dbusmenu_path(self, item):
        return self.call(item.bus_name, item.path, "org.freedesktop.DBus.Properties", "Get",
                         GLib.Variant("(ss)", (SNI_IFACE, "Menu")), "(v)")[0]

    def dbusmenu_layout(self, item):
        """The item's whole menu: {id, label, enabled, visible, type, toggle-type,
        toggle-state, props, children}, spec defaults filled in; the root has id 0."""
        revision, layout = self.call(
            item.bus_name, self.dbusmenu_path(item), DBUSMENU_IFACE, "GetLayout",
            GLib.Variant("(iias)", (0, -1, [])), "(u(ia{sv}av))")
        return _menu_node(layout)

    def dbusmenu_click(self, item, item_id, timestamp=0):
        """Event(item_id, "clicked", 0, timestamp), as a panel sends on a click."""
        self.call(item.bus_name, self.dbusmenu_path(item), DBUSMENU_IFACE, "Event",
                  GLib.Variant("(isvu)", (item_id, "clicked", GLib.Variant("i", 0),
                                          timestamp)))

    # -- X --------------------------------------------------------------------------

    def xlib(self):
        """The test's own raw Xlib connection (selection owners, window tree, geometry)."""
        if self._x is None:
            self._x = _Xlib(self.display)
        return self._x

    def gdk_display(self):
        if self._gdk is None:
            self._gdk = Gdk.Display.open(self.display)
            if self._gdk is None:
                raise RuntimeError(f"Gdk could not open {self.display}")
        return self._gdk

    def screenshot(self, path=None):
        """The root window as a GdkPixbuf (RGB, no alpha); also written as PNG to `path`."""
        root = self.gdk_display().get_default_screen().get_root_window()
        pixbuf = Gdk.pixbuf_get_from_window(root, 0, 0, root.get_width(), root.get_height())
        if pixbuf is None:
            raise RuntimeError(f"could not read the root window of {self.display}")
        if path:
            pixbuf.savev(path, "png", [], [])
        return pixbuf

    def xdotool(self, *args, timeout=10):
        """Run xdotool on this display; returns its stdout (raises on a non-zero exit)."""
        done = subprocess.run(["xdotool", *map(str, args)], env=self.env(_clean_env()),
                              capture_output=True, timeout=timeout)
        if done.returncode != 0:
            raise subprocess.CalledProcessError(done.returncode, done.args, done.stdout,
                                                done.stderr)
        return done.stdout.decode()

    def key(self, *keys):
        """Press and release each key (xdotool names: "ctrl+alt+Right", "Return")."""
        self.xdotool("key", *keys)

    def click(self, x, y, button=1):
        """Move the pointer to root (x, y) and click `button` there."""
        self.xdotool("mousemove", int(x), int(y), "click", int(button))

    def wait_window(self, name=None, class_=None, visible=True, timeout=10):
        """Ids of the windows whose title (`name`) and/or WM_CLASS class (`class_`) match; both
        are regular expressions. Waits until at least one exists (and is viewable)."""
        if name is None and class_ is None:
            raise ValueError("wait_window needs a name or a class_")
        # xdotool's --name/--class pick which field the one pattern matches: two searches.
        searches = [(flag, pattern) for flag, pattern in (("--name", name), ("--class", class_))
                    if pattern is not None]

        def search():
            found = None
            for flag, pattern in searches:
                args = ["search", "--onlyvisible"] if visible else ["search"]
                try:
                    ids = [int(w) for w in self.xdotool(*args, flag, pattern).split()]
                except subprocess.CalledProcessError:  # exit 1: nothing matched yet
                    ids = []
                found = ids if found is None else [w for w in found if w in ids]
            return found
        return procs.wait_until(search, timeout,
                                what=f"a window name={name!r} class={class_!r}")

    def window_geometry(self, window):
        """(x, y, width, height) of `window` in root coordinates, None if it is gone."""
        geometry = self.xlib().geometry(window)
        return geometry[:4] if geometry else None


class NotificationDaemon:
    """dbusmock's notification_daemon template, seen from the test."""

    def __init__(self, desktop, child):
        self.desktop = desktop
        self.child = child

    def _mock(self, method, args=None, reply=None):
        return self.desktop.call(NOTIFY_NAME, NOTIFY_PATH, MOCK_IFACE, method, args, reply)

    def calls(self, method):
        """[(timestamp, [args])] of the calls of `method` served so far."""
        return self._mock("GetMethodCalls", GLib.Variant("(s)", (method,)), "(a(tav))")[0]

    def notifications(self):
        """Every Notify call, in order, as a dict: id, app_name, replaces_id, icon, summary,
        body, actions [(key, label)], hints {name: value}, expire_timeout. `id` is what
        the template returned: replaces_id if set, else the next of 1, 2, 3, ..."""
        out = []
        next_id = 1
        for _, args in self.calls("Notify"):
            app_name, replaces_id, icon, summary, body, actions, hints, timeout = args
            if replaces_id:
                nid = replaces_id
            else:
                nid, next_id = next_id, next_id + 1
            out.append({"id": nid, "app_name": app_name, "replaces_id": replaces_id,
                        "icon": icon, "summary": summary, "body": body,
                        "actions": list(zip(actions[0::2], actions[1::2])),
                        "hints": dict(hints), "expire_timeout": timeout})
        return out

    def wait_notifications(self, predicate=lambda ns: ns, timeout=10,
                           what="a notification"):
        """Wait until predicate(notifications()) holds (default: any); return them all."""
        found = []

        def check():
            found[:] = self.notifications()
            return predicate(found)
        procs.wait_until(check, timeout, what=what)
        return list(found)

    def _emit(self, member, signature, args):
        self._mock("EmitSignal", GLib.Variant("(sssav)", (
            NOTIFY_NAME, member, signature,
            [GLib.Variant(t, a) for t, a in zip(signature, args)])))

    def action_invoked(self, notification_id, key):
        """The user clicked action `key` (the default action is "default")."""
        self._emit("ActionInvoked", "us", (notification_id, key))

    def closed(self, notification_id, reason=2):
        """Reason: 1 expired, 2 dismissed by the user, 3 CloseNotification, 4 undefined."""
        self._emit("NotificationClosed", "uu", (notification_id, reason))

    def reset(self):
        """Forget the calls served so far."""
        self._mock("ClearCalls")


def _menu_node(node):
    item_id, props, children = node
    props = dict(props)
    return {
        "id": item_id,
        "type": props.get("type", "standard"),
        "label": props.get("label", ""),
        "enabled": props.get("enabled", True),
        "visible": props.get("visible", True),
        "toggle-type": props.get("toggle-type", ""),
        "toggle-state": props.get("toggle-state", -1),
        "props": props,
        "children": [_menu_node(child) for child in children],
    }


def _clean_env():
    # No service here may inherit a test's sanitizer or umockdev preload.
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "UMOCKDEV_DIR")}


# -- raw Xlib through ctypes: what Gdk does not expose for foreign windows ----------------

class _XWindowAttributes(ctypes.Structure):
    _fields_ = [("x", ctypes.c_int), ("y", ctypes.c_int), ("width", ctypes.c_int),
                ("height", ctypes.c_int), ("border_width", ctypes.c_int),
                ("depth", ctypes.c_int), ("visual", ctypes.c_void_p),
                ("root", ctypes.c_ulong), ("class_", ctypes.c_int),
                ("bit_gravity", ctypes.c_int), ("win_gravity", ctypes.c_int),
                ("backing_store", ctypes.c_int), ("backing_planes", ctypes.c_ulong),
                ("backing_pixel", ctypes.c_ulong), ("save_under", ctypes.c_int),
                ("colormap", ctypes.c_ulong), ("map_installed", ctypes.c_int),
                ("map_state", ctypes.c_int), ("all_event_masks", ctypes.c_long),
                ("your_event_mask", ctypes.c_long), ("do_not_propagate_mask", ctypes.c_long),
                ("override_redirect", ctypes.c_int), ("screen", ctypes.c_void_p)]


_IS_VIEWABLE = 2
_ERROR_HANDLER = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.c_void_p, ctypes.c_void_p)


class _Xlib:
    """One Xlib connection. Every request runs inside trap(): the default error handler
    would exit the process on a BadWindow from a window that went away meanwhile."""

    def __init__(self, display):
        lib = ctypes.CDLL(ctypes.util.find_library("X11") or "libX11.so.6")
        self._lib = lib
        lib.XOpenDisplay.restype = ctypes.c_void_p
        lib.XOpenDisplay.argtypes = [ctypes.c_char_p]
        lib.XCloseDisplay.argtypes = [ctypes.c_void_p]
        lib.XDefaultRootWindow.restype = ctypes.c_ulong
        lib.XDefaultRootWindow.argtypes = [ctypes.c_void_p]
        lib.XInternAtom.restype = ctypes.c_ulong
        lib.XInternAtom.argtypes = [ctypes.c_void_p, ctypes.c_char_p, ctypes.c_int]
        lib.XGetSelectionOwner.restype = ctypes.c_ulong
        lib.XGetSelectionOwner.argtypes = [ctypes.c_void_p, ctypes.c_ulong]
        lib.XQueryTree.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                   ctypes.POINTER(ctypes.c_ulong),
                                   ctypes.POINTER(ctypes.c_ulong),
                                   ctypes.POINTER(ctypes.POINTER(ctypes.c_ulong)),
                                   ctypes.POINTER(ctypes.c_uint)]
        lib.XGetWindowAttributes.argtypes = [ctypes.c_void_p, ctypes.c_ulong,
                                             ctypes.POINTER(_XWindowAttributes)]
        lib.XTranslateCoordinates.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong,
                                              ctypes.c_int, ctypes.c_int,
                                              ctypes.POINTER(ctypes.c_int),
                                              ctypes.POINTER(ctypes.c_int),
                                              ctypes.POINTER(ctypes.c_ulong)]
        lib.XGetWindowProperty.argtypes = [ctypes.c_void_p, ctypes.c_ulong, ctypes.c_ulong,
                                           ctypes.c_long, ctypes.c_long, ctypes.c_int,
                                           ctypes.c_ulong, ctypes.POINTER(ctypes.c_ulong),
                                           ctypes.POINTER(ctypes.c_int),
                                           ctypes.POINTER(ctypes.c_ulong),
                                           ctypes.POINTER(ctypes.c_ulong),
                                           ctypes.POINTER(ctypes.c_void_p)]
        lib.XFree.argtypes = [ctypes.c_void_p]
        lib.XSync.argtypes = [ctypes.c_void_p, ctypes.c_int]
        lib.XSetErrorHandler.restype = ctypes.c_void_p
        lib.XSetErrorHandler.argtypes = [ctypes.c_void_p]
        self._errors = []
        self._handler = _ERROR_HANDLER(lambda dpy, event: self._errors.append(event) or 0)
        self._dpy = lib.XOpenDisplay(display.encode())
        if not self._dpy:
            raise RuntimeError(f"cannot open X display {display}")
        self.root = lib.XDefaultRootWindow(self._dpy)
        self._atoms = {}

    def close(self):
        if self._dpy:
            self._lib.XCloseDisplay(self._dpy)
            self._dpy = None

    @contextmanager
    def trap(self):
        """Collect X errors instead of exiting; True in errors() if any request failed."""
        lib = self._lib
        previous = lib.XSetErrorHandler(ctypes.cast(self._handler, ctypes.c_void_p))
        self._errors.clear()
        try:
            yield self._errors
        finally:
            lib.XSync(self._dpy, 0)
            lib.XSetErrorHandler(previous)

    def atom(self, name):
        if name not in self._atoms:
            self._atoms[name] = self._lib.XInternAtom(self._dpy, name.encode(), 0)
        return self._atoms[name]

    def selection_owner(self, selection):
        with self.trap():
            return self._lib.XGetSelectionOwner(self._dpy, self.atom(selection))

    def children(self, window):
        """Child windows bottom to top; [] if the window is gone."""
        root, parent = ctypes.c_ulong(), ctypes.c_ulong()
        kids = ctypes.POINTER(ctypes.c_ulong)()
        count = ctypes.c_uint()
        with self.trap() as errors:
            ok = self._lib.XQueryTree(self._dpy, window, ctypes.byref(root),
                                      ctypes.byref(parent), ctypes.byref(kids),
                                      ctypes.byref(count))
        result = [kids[i] for i in range(count.value)] if ok and not errors else []
        if kids:
            self._lib.XFree(kids)
        return result

    def walk(self, window):
        """(window, parent) for every descendant of `window`, depth first."""
        for child in self.children(window):
            yield child, window
            yield from self.walk(child)

    def has_property(self, window, name):
        actual_type, fmt = ctypes.c_ulong(), ctypes.c_int()
        nitems, after = ctypes.c_ulong(), ctypes.c_ulong()
        data = ctypes.c_void_p()
        with self.trap() as errors:
            status = self._lib.XGetWindowProperty(
                self._dpy, window, self.atom(name), 0, 0, 0, 0, ctypes.byref(actual_type),
                ctypes.byref(fmt), ctypes.byref(nitems), ctypes.byref(after),
                ctypes.byref(data))
        if data:
            self._lib.XFree(data)
        return status == 0 and not errors and actual_type.value != 0

    def geometry(self, window):
        """(x, y, width, height, viewable) in root coordinates; None if gone."""
        attrs = _XWindowAttributes()
        rx, ry, child = ctypes.c_int(), ctypes.c_int(), ctypes.c_ulong()
        with self.trap() as errors:
            ok = self._lib.XGetWindowAttributes(self._dpy, window, ctypes.byref(attrs))
            ok = ok and self._lib.XTranslateCoordinates(
                self._dpy, window, self.root, 0, 0, ctypes.byref(rx), ctypes.byref(ry),
                ctypes.byref(child))
        if not ok or errors:
            return None
        return rx.value, ry.value, attrs.width, attrs.height, attrs.map_state == _IS_VIEWABLE


# -- pixels -----------------------------------------------------------------------------
# Pixels are compared as bytes and big integers (C speed): a channel test is a 256-entry
# translate table or a carry-free lane subtraction, and counting is int.bit_count(). Alpha
# is ignored everywhere: only R, G, B take part.

def load_ppm(path):
    """A binary PPM (P6, maxval 1..65535; QEMU's screendump writes these) as a GdkPixbuf."""
    with open(path, "rb") as f:
        data = f.read()
    fields, pos = [], 0
    while len(fields) < 4:
        while pos < len(data) and data[pos:pos + 1].isspace():
            pos += 1
        if data[pos:pos + 1] == b"#":
            pos = data.find(b"\n", pos)
            if pos < 0:
                raise ValueError(f"{path}: truncated PPM header")
            continue
        end = pos
        while end < len(data) and not data[end:end + 1].isspace():
            end += 1
        if end == pos:
            raise ValueError(f"{path}: truncated PPM header")
        fields.append(data[pos:end])
        pos = end
    if fields[0] != b"P6":
        raise ValueError(f"{path}: not a binary PPM (magic {fields[0][:8]!r})")
    try:
        width, height, maxval = (int(v) for v in fields[1:])
    except ValueError:
        raise ValueError(f"{path}: bad PPM header {fields[1:]!r}") from None
    if width <= 0 or height <= 0 or not 0 < maxval < 65536:
        raise ValueError(f"{path}: bad PPM size {width}x{height} maxval {maxval}")
    pos += 1  # the single whitespace byte after maxval
    sample = 1 if maxval < 256 else 2
    need = width * height * 3 * sample
    pixels = data[pos:pos + need]
    if len(pixels) < need:
        raise ValueError(f"{path}: {len(pixels)} pixel bytes, expected {need}")
    if sample == 2:
        pixels = pixels[0::2]  # the high byte of each big-endian sample
        maxval >>= 8
    if maxval != 255:
        pixels = pixels.translate(bytes(min(255, v * 255 // max(maxval, 1))
                                        for v in range(256)))
    return GdkPixbuf.Pixbuf.new_from_bytes(GLib.Bytes.new(pixels), GdkPixbuf.Colorspace.RGB,
                                           False, 8, width, height, width * 3)


def _rgb(pixbuf, rect=None):
    """(bytes of R,G,B triplets row after row, width, height) of `rect` (x, y, w, h),
    clipped to the pixbuf."""
    pw, ph = pixbuf.get_width(), pixbuf.get_height()
    x, y, w, h = rect if rect else (0, 0, pw, ph)
    x0, y0 = max(0, x), max(0, y)
    x1, y1 = min(pw, x + w), min(ph, y + h)
    if x1 <= x0 or y1 <= y0:
        return b"", 0, 0
    w, h = x1 - x0, y1 - y0
    data = pixbuf.read_pixel_bytes().get_data()
    n, stride = pixbuf.get_n_channels(), pixbuf.get_rowstride()
    if n == 3 and stride == pw * 3 and w == pw:
        rows = data[y0 * stride:y1 * stride]
    else:
        rows = b"".join(data[r * stride + x0 * n:r * stride + x1 * n] for r in range(y0, y1))
    if n == 3:
        return bytes(rows), w, h
    out = bytearray(w * h * 3)
    for c in range(3):
        out[c::3] = rows[c::n]
    return bytes(out), w, h


def _colour_mask(rgb, colour, tolerance):
    """An int whose byte i (big-endian, len(rgb)//3 bytes) is 1 where pixel i is within
    `tolerance` of `colour` on every channel."""
    mask = -1
    for c in range(3):
        table = bytes(1 if abs(v - colour[c]) <= tolerance else 0 for v in range(256))
        mask &= int.from_bytes(rgb[c::3].translate(table), "big")
    return mask


def fraction_of_colour(pixbuf, rgb, tolerance=0, rect=None):
    """Fraction (0..1) of the pixels in `rect` (x, y, w, h; default all, clipped to the
    pixbuf) whose every channel is within `tolerance` of `rgb`. Exact: every pixel counts.
    0.0 for an empty rect."""
    data, w, h = _rgb(pixbuf, rect)
    if not w:
        return 0.0
    return _colour_mask(data, rgb, tolerance).bit_count() / (w * h)


def find_colour_region(pixbuf, rgb, tolerance=0, rect=None):
    """Region(x, y, width, height, cx, cy, count) bounding every pixel within `tolerance`
    of `rgb` (not only one connected blob), with their centroid, in pixbuf coordinates;
    None when no pixel matches. Exact."""
    data, w, h = _rgb(pixbuf, rect)
    if not w:
        return None
    mask = _colour_mask(data, rgb, tolerance)
    count = mask.bit_count()
    if not count:
        return None
    mask = mask.to_bytes(w * h, "big")
    rows = [mask[r * w:(r + 1) * w].count(1) for r in range(h)]
    cols = [mask[c::w].count(1) for c in range(w)]
    ys = [r for r, n in enumerate(rows) if n]
    xs = [c for c, n in enumerate(cols) if n]
    ox, oy = (max(0, rect[0]), max(0, rect[1])) if rect else (0, 0)
    cx = sum(c * n for c, n in enumerate(cols)) / count
    cy = sum(r * n for r, n in enumerate(rows)) / count
    return Region(ox + xs[0], oy + ys[0], xs[-1] - xs[0] + 1, ys[-1] - ys[0] + 1,
                  ox + cx, oy + cy, count)


def _lanes(data):
    """`data` with each byte widened to a 16-bit big-endian lane, as one int."""
    wide = bytearray(2 * len(data))
    wide[1::2] = data
    return int.from_bytes(wide, "big")


def _close_count(a, b, tolerance):
    """How many RGB pixels of equal-length `a` and `b` agree within `tolerance` on every
    channel. Lanes of 16 bits hold 512 + t + a - b, never negative nor carrying, so bit 9
    of a lane is set exactly when a - b >= -t; both directions give |a - b| <= t."""
    n = len(a)
    if not n:
        return 0
    ones = int.from_bytes(b"\x00\x01" * n, "big")
    la, lb = _lanes(a), _lanes(b)
    bias = ones * (512 + tolerance)
    ok = ((la + bias) - lb) & ((lb + bias) - la) & (ones << 9)
    high = ok.to_bytes(2 * n, "big")[0::2]          # 0x02 where the channel agrees
    return (int.from_bytes(high[0::3], "big") & int.from_bytes(high[1::3], "big")
            & int.from_bytes(high[2::3], "big")).bit_count()


def match_fraction(big, small, x, y, tolerance=0):
    """Fraction (0..1) of `small`'s pixels equal (within `tolerance` per channel) to
    `big`'s with small's top-left corner at big's (x, y). Pixels of `small` falling
    outside `big` count as mismatches. Exact."""
    sw, sh = small.get_width(), small.get_height()
    a, w, h = _rgb(big, (x, y, sw, sh))
    if not w:
        return 0.0
    b, _, _ = _rgb(small, (max(0, -x), max(0, -y), w, h))
    tolerance = max(0, min(255, int(tolerance)))
    return _close_count(a, b, tolerance) / (sw * sh)


def best_offset(big, small, around=(0, 0), radius=8, tolerance=0):
    """(x, y, fraction): where `small` matches `big` best with its top-left corner within
    `radius` pixels (a square) of `around`; ties go to the offset nearest `around`.
    Tries every offset: (2*radius+1)**2 match_fraction calls, so keep radius small."""
    ax, ay = around
    best = None
    for dy in range(-radius, radius + 1):
        for dx in range(-radius, radius + 1):
            f = match_fraction(big, small, ax + dx, ay + dy, tolerance)
            key = (f, -(dx * dx + dy * dy))
            if best is None or key > best[0]:
                best = (key, (ax + dx, ay + dy, f))
    return best[1]
