#!/usr/bin/python3
"""power-bridge's UPower and logind monitors and its sleep inhibitor, against
python-dbusmock's UPower and logind on a private system bus.

The C side is power-monitor-probe (built next to this file's CMake target): it prints one
JSON line per event. Run by ctest (`power-monitors`) or by hand:
    VMDESK_BUILD_DIR=build PYTHONPATH=tests /usr/bin/python3 power-bridge/tests/test_power_monitors.py -v
"""
import json
import os
import queue
import shutil
import subprocess
import sys
import tempfile
import threading
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "..", "tests"))

import dbus  # noqa: E402

from harness import procs  # noqa: E402
from harness.bus import PrivateSystemBus, UPower  # noqa: E402

BUILD_DIR = os.environ.get("VMDESK_BUILD_DIR", os.path.join(HERE, "..", "..", "build"))
PROBE = os.path.join(BUILD_DIR, "power-bridge", "tests", "power-monitor-probe")
# One delay lock for both: logind holds sleep and power-off alike while it is held.
VMDESK_INHIBITOR = ("sleep:shutdown", "vmdesk",
                    "Suspending, saving or shutting down virtual machines", "delay")


class Probe:
    """power-monitor-probe as a child: its events, its stdin for commands."""

    def __init__(self, bus, workdir, *args):
        self.log_path = os.path.join(workdir, "probe.log")
        self.log = open(self.log_path, "w")
        self.child = procs.Child([PROBE, *args], name="power-monitor-probe", env=bus.env(),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                 stderr=self.log)
        self.events = queue.Queue()
        self.history = []      # every event read so far, in order
        self.cursor = {}       # kind -> index in history after the last one consumed
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()
        self.next("started")

    def _read(self):
        for line in self.child.proc.stdout:
            self.events.put(json.loads(line))
        self.events.put(None)

    def next(self, kind, timeout=10, **match):
        """The next event of `kind` after the last one consumed (events of other kinds are
        left for their own next()). It must carry the `match` values: an intervening event
        of this kind that does not is a failure, not something to skip."""
        i = self.cursor.get(kind, 0)
        while True:
            while i < len(self.history) and self.history[i]["event"] != kind:
                i += 1
            if i < len(self.history):
                break
            try:
                ev = self.events.get(timeout=timeout)
            except queue.Empty:
                raise AssertionError(f"no {kind} event within {timeout}s; seen: {self.history}")
            if ev is None:
                raise AssertionError(f"probe exited waiting for {kind}; see {self.log_path}")
            self.history.append(ev)
        ev = self.history[i]
        self.cursor[kind] = i + 1
        for key, value in match.items():
            if ev.get(key) != value:
                raise AssertionError(f"{kind} event has {key}={ev.get(key)!r}, expected "
                                     f"{value!r}: {ev}")
        return ev

    def count(self, kind):
        return len([e for e in self.history if e["event"] == kind])

    def send(self, command):
        self.child.proc.stdin.write(command.encode() + b"\n")
        self.child.proc.stdin.flush()

    def stop(self):
        if self.child.running():
            self.send("quit")
            self.child.proc.wait(10)
        code = self.child.stop()
        self.child.proc.stdout.close()
        self.child.proc.stdin.close()
        self.log.close()
        return code


def battery(event, name):
    for b in event["batteries"]:
        if b["name"] == name:
            return b
    raise AssertionError(f"no battery {name} in {event}")


class PowerMonitorsCase(unittest.TestCase):
    """Per class: a private bus. Per test: fresh logind and UPower mocks and a probe."""

    logind_params = {"InhibitDelayMaxUSec": 3000000}
    upower_params = {"OnBattery": False}
    probe_args = ()

    @classmethod
    def setUpClass(cls):
        if not os.access(PROBE, os.X_OK):
            raise RuntimeError(f"{PROBE} is not built")
        cls.workdir = tempfile.mkdtemp(prefix="vmd-pb-", dir="/tmp")
        cls.bus = PrivateSystemBus(os.path.join(cls.workdir, "bus")).start()

    @classmethod
    def tearDownClass(cls):
        cls.bus.stop()
        shutil.rmtree(cls.workdir, ignore_errors=True)
        leftovers = procs.processes_mentioning(cls.workdir)
        if leftovers:
            raise AssertionError(f"processes left behind by {cls.__name__}: {leftovers}")

    def setUp(self):
        self.logind = self.bus.start_logind(self.logind_params)
        self.upower = self.bus.start_upower(self.upower_params)
        self.probe = Probe(self.bus, self.workdir, *self.probe_args)
        self.probe.next("logind", available=True)
        self.probe.next("upower", available=True)
        self.probe.next("power")    # the first reading is always announced

    def tearDown(self):
        code = self.probe.stop()
        for mock in (self.logind, self.upower):
            mock.stop()
            self.bus.mocks.remove(mock)
        if code != 0:
            with open(self.probe.log_path) as f:
                print(f.read())
        self.assertEqual(code, 0, "the probe must exit cleanly (no criticals, no crash)")

    def barrier(self):
        """Every event caused before this call has been printed when it returns: a lid
        change travels the bus after them and the probe handles signals in order."""
        closed = not self.logind.get("LidClosed")
        self.logind.set_lid_closed(closed)
        self.probe.next("lid", closed=closed)

    def vmdesk_inhibitors(self):
        return [i for i in self.logind.inhibitors() if i[:4] == VMDESK_INHIBITOR]


class TestUPower(PowerMonitorsCase):

    def add_battery(self, percentage):
        path = self.upower.add_discharging_battery("BAT0", "Mock Battery", percentage, 3600)
        ev = self.probe.next("power")
        self.assertEqual(battery(ev, "BAT0")["percent"], percentage)
        return path

    def set_percentage(self, path, value):
        self.upower.set_device_properties(path, {"Percentage": dbus.Double(value)})

    def test_42_percent_arrives_once(self):
        path = self.add_battery(50.0)
        self.set_percentage(path, 42.0)
        ev = self.probe.next("power")
        self.assertEqual(battery(ev, "BAT0")["percent"], 42.0)
        self.assertEqual(battery(ev, "BAT0")["state"], "discharging")
        # Less than 1 %: nothing. The next event is 43 %, so 42.3 % never produced one.
        self.set_percentage(path, 42.3)
        self.set_percentage(path, 42.9)
        self.set_percentage(path, 43.0)
        ev = self.probe.next("power")
        self.assertEqual(battery(ev, "BAT0")["percent"], 43.0)
        # A state change is news however small the percentage step.
        self.upower.set_device_properties(path, {"State": dbus.UInt32(1)})
        ev = self.probe.next("power")
        self.assertEqual(battery(ev, "BAT0")["state"], "charging")
        self.assertEqual(battery(ev, "BAT0")["percent"], 43.0)
        self.barrier()
        # The first reading, 50, 42, 43, charging: nothing else.
        self.assertEqual(self.probe.count("power"), 5)

    def test_on_battery_and_warning_level(self):
        self.upower.setup_display_device(percentage=30.0, warning_level=1)
        self.probe.next("power", display={"name": "display", "percent": 30.0,
                                          "state": "discharging", "time_to_empty_s": 3600,
                                          "energy_wh": 50.0})
        self.upower.set_on_battery(True)
        self.probe.next("power", ac_online=False)
        self.upower.set_device_properties(UPower.DISPLAY_DEVICE, {"WarningLevel": dbus.UInt32(3)})
        self.probe.next("power", warning_level=3)
        self.upower.set_device_properties(UPower.DISPLAY_DEVICE, {"WarningLevel": dbus.UInt32(5)})
        self.probe.next("power", warning_level=5)
        self.probe.next("critical")
        self.upower.set_on_battery(False)
        ev = self.probe.next("power", ac_online=True)
        # No battery device: guests get the display device as their one battery.
        self.assertEqual(ev["batteries"], [dict(ev["display"], name="BAT0")])

    def test_devices_come_and_go(self):
        path = self.add_battery(80.0)
        second = self.upower.add_discharging_battery("BAT1", "Second", 60.0, 1800)
        ev = self.probe.next("power")
        self.assertEqual([b["name"] for b in ev["batteries"]], ["BAT0", "BAT1"])
        self.upower.add_ac()            # not a battery: no news
        self.upower.mock.RemoveDevice(dbus.ObjectPath(second))
        ev = self.probe.next("power")
        self.assertEqual([b["name"] for b in ev["batteries"]], ["BAT0"])
        self.set_percentage(path, 70.0)
        self.probe.next("power")
        self.barrier()
        # The first reading, BAT0, BAT1, BAT1 gone, 70 %: the AC added nothing.
        self.assertEqual(self.probe.count("power"), 5)

    def test_upower_restarts(self):
        path = self.add_battery(55.0)
        self.set_percentage(path, 54.0)
        self.probe.next("power")
        self.upower.restart()
        self.probe.next("upower", available=False)
        # The new UPower has no battery yet: read from scratch, announced once.
        self.probe.next("upower", available=True)
        ev = self.probe.next("power")
        self.assertEqual(ev["batteries"], [])
        path = self.upower.add_discharging_battery("BAT0", "Mock Battery", 42.0, 3600)
        ev = self.probe.next("power")
        self.assertEqual(battery(ev, "BAT0")["percent"], 42.0)
        self.set_percentage(path, 41.0)
        ev = self.probe.next("power")
        self.assertEqual(battery(ev, "BAT0")["percent"], 41.0)


class TestCriticalPercent(PowerMonitorsCase):
    upower_params = {"OnBattery": True}
    probe_args = ("--critical-percent", "10")

    def test_threshold(self):
        self.upower.setup_display_device(percentage=50.0)
        self.probe.next("power", display={"name": "display", "percent": 50.0,
                                          "state": "discharging", "time_to_empty_s": 3600,
                                          "energy_wh": 50.0})
        self.upower.set_device_properties(UPower.DISPLAY_DEVICE, {"Percentage": dbus.Double(10.0)})
        self.probe.next("critical")
        self.upower.set_device_properties(UPower.DISPLAY_DEVICE, {"Percentage": dbus.Double(30.0)})
        self.probe.next("power")
        # Once per crossing: it went back above, so the next fall counts again.
        self.upower.set_device_properties(UPower.DISPLAY_DEVICE, {"Percentage": dbus.Double(9.0)})
        self.probe.next("critical")
        self.barrier()
        self.assertEqual(self.probe.count("critical"), 2)


class TestLogind(PowerMonitorsCase):
    probe_args = ("--handles", "2")

    def test_properties_and_lid(self):
        ev = [e for e in self.probe.history if e["event"] == "logind"][0]
        self.assertEqual(ev["inhibit_delay_max"], 3000000)
        self.assertFalse(ev["lid_closed"])
        self.logind.set_lid_closed(True)
        self.probe.next("lid", closed=True, docked=False)
        self.logind.set("Docked", dbus.Boolean(True))
        self.logind.set_lid_closed(False)
        self.probe.next("lid", closed=False, docked=True)
        self.logind.prepare_for_shutdown(True)
        self.probe.next("prepare-for-shutdown", start=True, preparing_for_shutdown=True)

    def release_two_handles(self, announce, event):
        """`announce`(True) from logind: the probe takes two handles inside `event`; the
        lock stays while one is left and goes with the last."""
        self.probe.next("inhibitor", held=True)
        self.assertEqual(len(self.vmdesk_inhibitors()), 1)
        announce(True)
        self.probe.next(event, handles=2, held=True)
        self.probe.send("release")
        self.probe.next("released", left=1)
        # One handle left: logind still waits for vmdesk.
        self.assertEqual(len(self.vmdesk_inhibitors()), 1)
        self.probe.send("release")
        self.probe.next("released", left=0)
        self.probe.next("inhibitor", held=False)
        self.logind.wait_inhibitors(lambda l: not any(i[:4] == VMDESK_INHIBITOR for i in l),
                                    what="vmdesk's inhibitor to go")

    def wait_inhibitor_back(self):
        self.probe.next("inhibitor", held=True)
        self.logind.wait_inhibitors(lambda l: any(i[:4] == VMDESK_INHIBITOR for i in l),
                                    what="vmdesk's inhibitor to be back")

    def test_inhibitor_released_after_handles(self):
        self.release_two_handles(self.logind.prepare_for_sleep, "sleeping")
        self.logind.prepare_for_sleep(False)
        self.probe.next("resuming")
        self.wait_inhibitor_back()

    def test_shutdown_inhibitor_released_after_handles_and_not_taken_again(self):
        self.release_two_handles(self.logind.prepare_for_shutdown, "shutting-down")
        # The power-off goes ahead: a new lock would hold it up again, so none is taken.
        self.barrier()
        self.assertEqual(self.probe.count("inhibitor"), 2)
        self.assertEqual(self.vmdesk_inhibitors(), [])
        # logind could not start it after all (PrepareForShutdown(false)): back to normal.
        self.logind.prepare_for_shutdown(False)
        self.probe.next("shutdown-cancelled", preparing_for_shutdown=False)
        self.wait_inhibitor_back()

    def test_logind_restarts(self):
        self.probe.next("inhibitor", held=True)
        self.logind.restart()
        self.probe.next("logind", available=False)
        self.probe.next("inhibitor", held=False)
        self.probe.next("logind", available=True)
        self.probe.next("inhibitor", held=True)
        self.assertEqual(len(self.vmdesk_inhibitors()), 1)
        # And the new logind's signals are heard.
        self.logind.prepare_for_sleep(True)
        self.probe.next("sleeping", handles=2, held=True)


class TestInhibitorWithoutHandles(PowerMonitorsCase):

    def test_released_at_once(self):
        self.probe.next("inhibitor", held=True)
        self.logind.prepare_for_sleep(True)
        self.probe.next("sleeping", handles=0)
        self.probe.next("inhibitor", held=False)
        self.logind.wait_inhibitors(lambda l: not any(i[:4] == VMDESK_INHIBITOR for i in l),
                                    what="vmdesk's inhibitor to go")
        self.logind.prepare_for_sleep(False)
        self.probe.next("inhibitor", held=True)


if __name__ == "__main__":
    unittest.main()
