"""A private system bus for tests, with python-dbusmock's logind, upower and polkitd on it.

PrivateSystemBus -- a dbus-daemon of the test's own: permissive system-bus policy, no
                    service activation, socket in the workdir. Its env() points children at
                    it; connection() is the test's own dbus-python connection.
Logind, UPower, Polkitd -- one dbusmock template process each; stop() and start() again
                    (restart()) give the well-known name a new owner, as a real restart does.

Waits run the GLib main context until a D-Bus event (a name owner change, a signal) makes
the condition true; signal receivers on connection() fire only while a wait iterates.
"""
import json
import os
import select
import subprocess
from xml.sax.saxutils import escape

import dbus
import dbus.mainloop.glib
from dbusmock import MOCK_IFACE
from gi.repository import GLib

from harness import procs

PYTHON = "/usr/bin/python3"  # the one with gi and dbusmock

# A bus that trusts everyone: anyone may own any name and send or receive anything.
# No <servicedir>: nothing gets auto-started, a missing mock stays missing.
_CONFIG = """<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>{type}</type>
  <listen>unix:path={socket}</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*" eavesdrop="true"/>
    <allow receive_sender="*"/>
    <allow eavesdrop="true"/>
  </policy>
</busconfig>
"""


def bus_config(bus_type, socket_path):
    """dbus-daemon configuration of a private bus of `bus_type` ("system", "session") on a
    unix socket: everyone trusted, nothing activated."""
    return _CONFIG.format(type=bus_type, socket=escape(socket_path))

# The stock logind template lacks LidClosed, Docked and InhibitDelayMaxUSec, and has no way
# to announce sleep or shutdown. Extending it in a template (not with AddProperty after
# start) means a client that reacts to the name appearing already finds everything: dbusmock
# owns the name before it loads the template, but serves no call until it has loaded it.
_LOGIND_TEMPLATE = '''
import dbus
from dbusmock import MOCK_IFACE
from dbusmock.templates.logind import *
from dbusmock.templates import logind as _stock


def load(mock, parameters):
    _stock.load(mock, parameters)
    mock.AddProperties(MAIN_IFACE, dbus.Dictionary({
        "LidClosed": parameters.get("LidClosed", False),
        "Docked": parameters.get("Docked", False),
        "InhibitDelayMaxUSec": dbus.UInt64(parameters.get("InhibitDelayMaxUSec", 5000000)),
    }, signature="sv"))


# logind sends no PropertiesChanged for PreparingForSleep/-Shutdown, only these signals.
@dbus.service.method(MOCK_IFACE, in_signature="b", out_signature="")
def EmitPrepareForSleep(self, start):
    self.props[MAIN_IFACE]["PreparingForSleep"] = dbus.Boolean(start)
    self.EmitSignal(MAIN_IFACE, "PrepareForSleep", "b", [start])


@dbus.service.method(MOCK_IFACE, in_signature="b", out_signature="")
def EmitPrepareForShutdown(self, start):
    self.props[MAIN_IFACE]["PreparingForShutdown"] = dbus.Boolean(start)
    self.EmitSignal(MAIN_IFACE, "PrepareForShutdown", "b", [start])
'''


def iterate_until(predicate, timeout=10.0, what="condition"):
    """Run the default GLib main context until `predicate()` is true; return its value."""
    expired = []
    source = GLib.timeout_add(int(timeout * 1000), lambda: expired.append(True))
    context = GLib.MainContext.default()
    try:
        while True:
            value = predicate()
            if value:
                return value
            if expired:
                raise TimeoutError(f"timed out after {timeout:.0f}s waiting for {what}")
            context.iteration(True)
    finally:
        if not expired:
            GLib.source_remove(source)


class PrivateSystemBus:
    """A dbus-daemon of the test's own; use as a context manager so a failure still cleans up."""

    def __init__(self, workdir):
        self.workdir = os.path.abspath(workdir)
        os.makedirs(self.workdir, exist_ok=True)
        self.socket = os.path.join(self.workdir, "system_bus_socket")
        if len(self.socket.encode()) >= 108:  # sockaddr_un.sun_path
            raise ValueError(f"workdir too long for a unix socket path: {self.workdir}")
        self.config = os.path.join(self.workdir, "system-bus.conf")
        self.log = os.path.join(self.workdir, "dbus-daemon.log")
        self.address = None
        self.mocks = []
        self._child = None
        self._conn = None
        self._owners = {}   # well-known name -> unique owner, "" when none
        self._watches = {}

    def start(self, timeout=10):
        with open(self.config, "w") as f:
            f.write(bus_config("system", self.socket))
        with open(self.log, "a") as log:
            self._child = procs.Child(
                ["dbus-daemon", f"--config-file={self.config}", "--nofork", "--nopidfile",
                 "--print-address"],
                name="dbus-daemon", env=_clean_env(), stdout=subprocess.PIPE, stderr=log)
        # The address is printed once the socket listens.
        ready, _, _ = select.select([self._child.proc.stdout], [], [], timeout)
        line = self._child.proc.stdout.readline().decode().strip() if ready else ""
        if not line:
            self.stop()
            raise RuntimeError(f"dbus-daemon did not start, see {self.log}")
        self.address = line
        return self

    def stop(self):
        for mock in reversed(self.mocks):
            mock.stop()
        self.mocks.clear()
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        self._owners.clear()
        self._watches.clear()
        if self._child:
            self._child.stop()
            self._child.proc.stdout.close()
            self._child = None

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()

    def env(self, base=None):
        """`base` (default: os.environ) with the system bus pointed here. The session bus
        points at nothing, so no client falls back to a real one or autolaunches one."""
        env = dict(os.environ if base is None else base)
        env["DBUS_SYSTEM_BUS_ADDRESS"] = self.address
        env["DBUS_SESSION_BUS_ADDRESS"] = f"unix:path={self.workdir}/no-session-bus"
        env.pop("DBUS_STARTER_ADDRESS", None)
        env.pop("DBUS_STARTER_BUS_TYPE", None)
        return env

    def connection(self):
        """The test's dbus-python connection, dispatched by the default GLib main context."""
        if self._conn is None:
            self._conn = dbus.bus.BusConnection(
                self.address, mainloop=dbus.mainloop.glib.DBusGMainLoop())
        return self._conn

    def owner(self, name):
        """Unique name owning `name` as last seen: "" for none, None before the first answer."""
        if name not in self._watches:
            self._owners[name] = None
            self._watches[name] = self.connection().watch_name_owner(
                name, lambda owner: self._owners.__setitem__(name, str(owner)))
        return self._owners[name]

    def wait_for_name(self, name, timeout=10, not_owner=None, alive=None):
        """Wait until `name` has an owner (other than `not_owner`); return the owner.
        `alive`, if given, is checked on each wake-up so a crashed service fails fast."""
        def owned():
            if alive is not None:
                alive()
            owner = self.owner(name)
            return owner if owner and owner != not_owner else None
        return iterate_until(owned, timeout, f"{name} on the bus")

    def wait_for_name_gone(self, name, timeout=10):
        iterate_until(lambda: self.owner(name) == "", timeout, f"{name} to leave the bus")

    def processes(self):
        """Pids of every process whose command line names the workdir (bus and mocks)."""
        return procs.processes_mentioning(self.workdir)

    def _start_mock(self, cls, params):
        mock = cls(self, params)
        mock.start()
        self.mocks.append(mock)
        return mock

    def start_logind(self, params=None):
        """params: the stock template's (CanSuspend, ...) plus LidClosed, Docked and
        InhibitDelayMaxUSec."""
        return self._start_mock(Logind, params)

    def start_upower(self, params=None):
        """params: OnBattery, LidIsClosed, DaemonVersion, ... of the stock template."""
        return self._start_mock(UPower, params)

    def start_polkitd(self):
        return self._start_mock(Polkitd, None)


def _clean_env():
    # dbus-daemon must not inherit a test's sanitizer or umockdev preload.
    return {k: v for k, v in os.environ.items() if k not in ("LD_PRELOAD", "UMOCKDEV_DIR")}


class Mock:
    """One dbusmock template process. `mock` is its org.freedesktop.DBus.Mock interface
    (AddMethod, EmitSignal, GetMethodCalls, ... and the template's own), `obj` its main
    object. Both are rebound by start(): a proxy sticks to the owner it was made for."""

    template = None
    bus_name = None
    path = None
    interface = None

    def __init__(self, bus, params=None):
        self.bus = bus
        self.params = dict(params or {})
        self.owner = None
        self.obj = None
        self.mock = None
        self._child = None
        self.log = os.path.join(bus.workdir, f"mock-{self.name}.log")

    @property
    def name(self):
        return os.path.splitext(os.path.basename(self.template))[0]

    def _template_arg(self):
        return self.template

    def start(self, timeout=10):
        """Start the mock; return once it serves calls, with its (new) unique name."""
        argv = [PYTHON, "-m", "dbusmock", "--system", "--template", self._template_arg(),
                "--logfile", self.log + ".calls", "--parameters", json.dumps(self.params)]
        with open(self.log, "a") as log:
            self._child = procs.Child(argv, name=f"dbusmock-{self.name}",
                                      env=self.bus.env(_clean_env()),
                                      stdout=subprocess.DEVNULL, stderr=log)
        self.owner = self.bus.wait_for_name(self.bus_name, timeout, not_owner=self.owner,
                                            alive=self._check_alive)
        self.obj = self.bus.connection().get_object(self.owner, self.path, introspect=False)
        self.mock = dbus.Interface(self.obj, MOCK_IFACE)
        # Served only after the template has loaded (dbusmock owns the name before).
        self.mock.GetCalls()
        return self.owner

    def _check_alive(self):
        if not self._child.running():
            raise RuntimeError(f"{self.name} mock exited ({self._child.proc.returncode}), "
                               f"see {self.log}")

    def stop(self, timeout=10):
        """Stop the mock and wait until its name has left the bus."""
        if self._child:
            self._child.stop()
            self._child = None
            self.bus.wait_for_name_gone(self.bus_name, timeout)

    def restart(self, timeout=10):
        """A new process with the same parameters; returns the new owner."""
        self.stop(timeout)
        return self.start(timeout)

    def running(self):
        return self._child is not None and self._child.running()

    def get(self, prop, interface=None):
        return self.obj.Get(interface or self.interface, prop,
                            dbus_interface=dbus.PROPERTIES_IFACE)

    def get_all(self, interface=None):
        return self.obj.GetAll(interface or self.interface, dbus_interface=dbus.PROPERTIES_IFACE)

    def set(self, prop, value, interface=None):
        """Set a property; dbusmock emits PropertiesChanged for it."""
        self.obj.Set(interface or self.interface, prop, value,
                     dbus_interface=dbus.PROPERTIES_IFACE)

    def calls(self, method):
        """[(timestamp, args)] of the calls of `method` this process has served."""
        return self.mock.GetMethodCalls(method)


class Logind(Mock):
    template = "logind_vmdesk.py"
    bus_name = "org.freedesktop.login1"
    path = "/org/freedesktop/login1"
    interface = "org.freedesktop.login1.Manager"

    def _template_arg(self):
        path = os.path.join(self.bus.workdir, self.template)
        with open(path, "w") as f:
            f.write(_LOGIND_TEMPLATE)
        return path

    def prepare_for_sleep(self, start=True):
        self.mock.EmitPrepareForSleep(start)

    def prepare_for_shutdown(self, start=True):
        self.mock.EmitPrepareForShutdown(start)

    def set_lid_closed(self, closed):
        self.set("LidClosed", dbus.Boolean(closed))

    def inhibitors(self):
        """[(what, who, why, mode, uid, pid)] held now. The template records uid 1000 and
        pid 123456 for every caller; an inhibitor goes when every copy of its fd is closed."""
        return [tuple(str(x) if isinstance(x, dbus.String) else int(x) for x in inh)
                for inh in self.obj.ListInhibitors(dbus_interface=self.interface)]

    def wait_inhibitors(self, predicate, timeout=10, what="inhibitors"):
        """Wait until `predicate(self.inhibitors())` holds. Polls: neither logind nor the
        template signals a taken or released inhibitor."""
        return procs.wait_until(lambda: predicate(self.inhibitors()), timeout, what=what)


class UPower(Mock):
    template = "upower"
    bus_name = "org.freedesktop.UPower"
    path = "/org/freedesktop/UPower"
    interface = "org.freedesktop.UPower"
    DEVICE_IFACE = "org.freedesktop.UPower.Device"
    DISPLAY_DEVICE = "/org/freedesktop/UPower/devices/DisplayDevice"

    def set_on_battery(self, on_battery):
        self.set("OnBattery", dbus.Boolean(on_battery))

    def add_discharging_battery(self, name="mock_BAT", model="Mock Battery", percentage=50.0,
                                seconds_to_empty=3600):
        return str(self.mock.AddDischargingBattery(name, model, float(percentage),
                                                   dbus.Int64(seconds_to_empty)))

    def add_ac(self, name="mock_AC", model="Mock AC"):
        return str(self.mock.AddAC(name, model))

    def setup_display_device(self, kind=2, state=2, percentage=50.0, energy=50.0,
                             energy_full=100.0, energy_rate=10.0, time_to_empty=3600,
                             time_to_full=0, is_present=True, icon_name="", warning_level=1):
        """kind 2 = battery, state 2 = discharging, warning_level 1 = none (UPower enums)."""
        self.mock.SetupDisplayDevice(
            dbus.UInt32(kind), dbus.UInt32(state), float(percentage), float(energy),
            float(energy_full), float(energy_rate), dbus.Int64(time_to_empty),
            dbus.Int64(time_to_full), dbus.Boolean(is_present), icon_name,
            dbus.UInt32(warning_level))

    def set_device_properties(self, device_path, props):
        """props: name -> dbus-typed value (dbus.Double, dbus.UInt32, ...): the device's
        PropertiesChanged carries exactly these types."""
        self.mock.SetDeviceProperties(dbus.ObjectPath(device_path),
                                      dbus.Dictionary(props, signature="sv"))

    def device_properties(self, device_path):
        obj = self.bus.connection().get_object(self.owner, device_path, introspect=False)
        return obj.GetAll(self.DEVICE_IFACE, dbus_interface=dbus.PROPERTIES_IFACE)


class Polkitd(Mock):
    """Denies every action until told otherwise."""
    template = "polkitd"
    bus_name = "org.freedesktop.PolicyKit1"
    path = "/org/freedesktop/PolicyKit1/Authority"
    interface = "org.freedesktop.PolicyKit1.Authority"

    def set_allowed(self, actions):
        """Allow exactly `actions`, deny the rest."""
        self.mock.AllowUnknown(False)
        self.mock.SetAllowed(dbus.Array(actions, signature="s"))

    def allow_all(self):
        self.mock.AllowUnknown(True)

    def deny_all(self):
        self.set_allowed([])
