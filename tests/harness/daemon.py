"""vmdeskd under test, and a D-Bus client that records what the daemon emits.

The daemon runs from the build tree against the harness's private bus and private
libvirt; its state directory lives in the test's workdir.
"""
import os
import signal
import threading

from gi.repository import Gio, GLib

from harness import procs

NAME = "org.vmdesk.Manager1"
PATH = "/org/vmdesk/Manager1"
IFACE = "org.vmdesk.Manager1"


def build_dir():
    return os.environ.get("VMDESK_BUILD_DIR",
                          os.path.join(os.path.dirname(__file__), "..", "..", "build"))


def binary(name):
    """Path of a built program (vmdeskd, vmdeskctl, ...)."""
    for sub in ("daemon", "vmdeskctl", "vfio-helper", "ui", "."):
        path = os.path.join(build_dir(), sub, name)
        if os.access(path, os.X_OK):
            return path
    raise FileNotFoundError(f"{name} is not built in {build_dir()}")


class Client:
    """A connection to the private bus, with vmdeskd's signals collected in order.

    Signals are received on a private GLib main loop thread, so tests can wait on them
    with procs.wait_until without spinning a loop themselves.
    """

    def __init__(self, bus_address):
        self._ctx = GLib.MainContext.new()
        self._loop = GLib.MainLoop.new(self._ctx, False)
        self.signals = []
        self._lock = threading.Lock()
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(bus_address, ready), daemon=True)
        self._thread.start()
        ready.wait(10)

    def _run(self, address, ready):
        self._ctx.push_thread_default()
        flags = (Gio.DBusConnectionFlags.AUTHENTICATION_CLIENT
                 | Gio.DBusConnectionFlags.MESSAGE_BUS_CONNECTION)
        self.conn = Gio.DBusConnection.new_for_address_sync(address, flags, None, None)
        self.conn.signal_subscribe(None, IFACE, None, PATH, None, Gio.DBusSignalFlags.NONE,
                                   self._on_signal)
        self.conn.signal_subscribe(None, "org.freedesktop.DBus.Properties", "PropertiesChanged",
                                   PATH, None, Gio.DBusSignalFlags.NONE, self._on_signal)
        ready.set()
        self._loop.run()
        self._ctx.pop_thread_default()

    def _on_signal(self, conn, sender, path, iface, name, params):
        with self._lock:
            self.signals.append((name, params.unpack()))

    def seen(self, name, predicate=lambda args: True):
        with self._lock:
            return [args for (n, args) in self.signals if n == name and predicate(args)]

    def wait_signal(self, name, predicate=lambda args: True, timeout=30):
        try:
            return procs.wait_until(lambda: self.seen(name, predicate), timeout,
                                    what=f"D-Bus signal {name}")
        except TimeoutError as e:
            with self._lock:
                got = "\n  ".join(f"{n}{args}" for n, args in self.signals) or "(none)"
            raise TimeoutError(f"{e}; signals seen:\n  {got}") from None

    def call(self, method, args=None, signature=None, timeout_ms=30000):
        """Call a Manager1 method; returns the unpacked reply or raises GLib.Error."""
        params = GLib.Variant(signature, args) if signature else None
        reply = self.conn.call_sync(NAME, PATH, IFACE, method, params, None,
                                    Gio.DBusCallFlags.NO_AUTO_START, timeout_ms, None)
        return reply.unpack() if reply else None

    def prop(self, name):
        reply = self.conn.call_sync(NAME, PATH, "org.freedesktop.DBus.Properties", "Get",
                                    GLib.Variant("(ss)", (IFACE, name)), None,
                                    Gio.DBusCallFlags.NO_AUTO_START, 10000, None)
        return reply.unpack()[0]

    def has_owner(self, name=NAME):
        reply = self.conn.call_sync("org.freedesktop.DBus", "/org/freedesktop/DBus",
                                    "org.freedesktop.DBus", "NameHasOwner",
                                    GLib.Variant("(s)", (name,)), None, 0, 5000, None)
        return reply.unpack()[0]

    def close(self):
        self._loop.quit()
        self._thread.join(5)
        self.conn.close_sync(None)


def remote_error(exc):
    """The D-Bus error name of a GLib.Error from a call, e.g. org.vmdesk.Error.UnknownVM."""
    return Gio.dbus_error_get_remote_error(exc)


class Vmdeskd:
    """vmdeskd with its environment; start() returns once it owns its name."""

    def __init__(self, workdir, bus_address, libvirt_uri, extra_env=None, wrap=None):
        """wrap: turns the daemon's argv into the one to run (EmbeddedRoot.command)."""
        self.workdir = workdir
        self.state_dir = os.path.join(workdir, "vmdeskd-state")
        self.log_path = os.path.join(workdir, "vmdeskd.log")
        self.env = dict(os.environ)
        self.env.update({
            "DBUS_SYSTEM_BUS_ADDRESS": bus_address,
            "VMDESK_LIBVIRT_URI": libvirt_uri,
            "STATE_DIRECTORY": self.state_dir,
            "G_DEBUG": "fatal-criticals",
            # LeakSanitizer cannot follow libvirt's and GLib's process-lifetime caches.
            "ASAN_OPTIONS": "detect_leaks=0:abort_on_error=1:verify_asan_link_order=0",
            "UBSAN_OPTIONS": "print_stacktrace=1:halt_on_error=1",
        })
        self.env.pop("NOTIFY_SOCKET", None)
        self.env.update(extra_env or {})
        self.bus_address = bus_address
        self.wrap = wrap or (lambda argv: argv)
        self.child = None

    def start(self, client, timeout=30):
        self._log = open(self.log_path, "ab")
        self.child = procs.Child(self.wrap([binary("vmdeskd")]), name="vmdeskd", env=self.env,
                                 stdout=self._log, stderr=self._log)
        procs.wait_until(lambda: client.has_owner() or not self.child.running(), timeout,
                         what="vmdeskd to own org.vmdesk.Manager1")
        if not self.child.running():
            raise RuntimeError(f"vmdeskd exited with {self.child.proc.returncode}:\n{self.log()}")
        return self

    def stop(self, timeout=10):
        """SIGTERM; returns the exit code (None if it had to be killed)."""
        code = self.child.stop(timeout, signal.SIGTERM)
        self._log.close()
        return code

    def kill(self):
        """SIGKILL, as a crash would end it."""
        self.child.kill()
        self._log.close()

    def log(self):
        with open(self.log_path, "rb") as f:
            return f.read().decode("utf-8", "replace")
