"""The real vmdeskctl binary on a private bus (DBUS_SYSTEM_BUS_ADDRESS): first with nobody
owning org.vmdesk.Manager1, then against fake_manager.py, which replies the way GDBus
delivers vmdeskd's replies and errors."""
import json
import os
import subprocess
import sys
import unittest

VMDESKCTL = os.environ["VMDESKCTL"]
HERE = os.path.dirname(os.path.abspath(__file__))
ABSENT = ("vmdeskctl: vmdeskd is not running "
          "(no owner for org.vmdesk.Manager1 on the system bus)\n")


class PrivateBus:
    def __init__(self):
        self.proc = subprocess.Popen(["dbus-daemon", "--session", "--print-address", "--nofork"],
                                     stdout=subprocess.PIPE, text=True)
        self.address = self.proc.stdout.readline().strip()
        if not self.address:
            raise RuntimeError("dbus-daemon printed no address")

    def close(self):
        self.proc.terminate()
        self.proc.wait()
        self.proc.stdout.close()


class CliTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        cls.bus = PrivateBus()
        cls.env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=cls.bus.address, LC_ALL="C")

    @classmethod
    def tearDownClass(cls):
        cls.bus.close()

    def run_ctl(self, *args, env=None, stdin=subprocess.DEVNULL):
        return subprocess.run([VMDESKCTL, *args], env=env or self.env, stdin=stdin,
                              capture_output=True, text=True, timeout=30)


class NoDaemon(CliTest):
    def test_list_says_daemon_is_not_running(self):
        r = self.run_ctl("list")
        self.assertEqual(r.returncode, 3, r.stderr)
        self.assertEqual(r.stderr, ABSENT)
        self.assertEqual(r.stdout, "")

    def test_power_says_daemon_is_not_running(self):
        for args in (["power"], ["power", "button", "work", "power"]):
            r = self.run_ctl(*args)
            self.assertEqual((r.returncode, r.stdout, r.stderr), (3, "", ABSENT), args)

    def test_list_json_error_object(self):
        r = self.run_ctl("list", "--json")
        self.assertEqual(r.returncode, 3)
        self.assertEqual(r.stderr, ABSENT)
        err = json.loads(r.stdout)["error"]
        self.assertEqual(err["name"], "org.freedesktop.DBus.Error.NameHasNoOwner")
        self.assertEqual(err["exit_code"], 3)

    def test_version_prints_cli_version_anyway(self):
        r = self.run_ctl("version")
        self.assertEqual(r.returncode, 3)
        self.assertRegex(r.stdout, r"^vmdeskctl \d+\.\d+\.\d+\nvmdeskd   \(not running\)\n$")
        r = self.run_ctl("version", "--json")
        self.assertEqual(r.returncode, 3)
        doc = json.loads(r.stdout)
        self.assertIsNone(doc["daemon"])
        self.assertRegex(doc["cli"], r"^\d+\.\d+\.\d+$")

    def test_no_bus_at_all(self):
        env = dict(self.env, DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/vmdesk-test-bus")
        r = self.run_ctl("status", env=env)
        self.assertEqual(r.returncode, 3)
        self.assertTrue(r.stderr.startswith("vmdeskctl: cannot connect to the system bus: "), r.stderr)
        self.assertEqual(r.stderr.count("\n"), 1)

    def test_usage_errors_need_no_bus(self):
        for args in (["frobnicate"], [], ["switch"], ["status", "a/b"], ["list", "--yes"],
                     ["power", "button", "work", "eject"], ["power", "extra"]):
            r = self.run_ctl(*args)
            self.assertEqual(r.returncode, 2, args)
            self.assertTrue(r.stderr.startswith("vmdeskctl: "), r.stderr)
            self.assertEqual(r.stderr.count("\n"), 1, r.stderr)

    def test_help(self):
        r = self.run_ctl("help")
        self.assertEqual(r.returncode, 0)
        self.assertIn("Usage: vmdeskctl", r.stdout)


class WithFakeManager(CliTest):
    """fake_manager.py owns the name for the class (test_vmdeskctl_passthrough.py too)."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.fake = subprocess.Popen([sys.executable, os.path.join(HERE, "fake_manager.py")],
                                    env=cls.env, stdout=subprocess.PIPE, text=True)
        if cls.fake.stdout.readline().strip() != "ready":
            raise RuntimeError("fake manager did not start")

    @classmethod
    def tearDownClass(cls):
        cls.fake.terminate()
        cls.fake.wait()
        cls.fake.stdout.close()
        super().tearDownClass()


class FakeDaemon(WithFakeManager):
    def test_list_json_round_trips_hostile_name(self):
        r = self.run_ctl("list", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        vms = json.loads(r.stdout)
        self.assertEqual([v["name"] for v in vms],
                         ["work", 'evil"name\nline2 \u00fc \u65e5\u672c \x1b[2J'])
        self.assertEqual(vms[0]["on_screen"], True)
        self.assertIsNone(vms[0]["settings_warning"])
        self.assertEqual(vms[1]["settings_warning"], "bad")

    def test_list_table(self):
        r = self.run_ctl("list")
        self.assertEqual(r.returncode, 0, r.stderr)
        lines = r.stdout.splitlines()
        self.assertEqual(len(lines), 4, r.stdout)  # header, 2 VMs, 1 warning
        self.assertTrue(lines[1].startswith("* work"))
        self.assertNotIn("\x1b", r.stdout)

    def test_status(self):
        r = self.run_ctl("status", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"version": "9.9.9", "libvirt_uri": "test:///default",
                                                "connected": True, "on_screen": "work",
                                                "vm_count": 2})
        r = self.run_ctl("status", "work")
        self.assertIn("state:       running (booted)\n", r.stdout)

    def test_version(self):
        r = self.run_ctl("version", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout)["daemon"], "9.9.9")

    def test_errors_map_to_exit_codes(self):
        cases = [
            (["status", "nope"], 5, "vmdeskctl: no VM named 'nope'\n"),
            (["switch", "nope"], 0, ""),
            (["switch", "locked"], 4, "vmdeskctl: not authorized for org.vmdesk.switch\n"),
            (["switch", "off"], 6, "vmdeskctl: VM 'off' is shutoff\n"),
            (["setup", "gone"], 7, "vmdeskctl: not connected to libvirt\n"),
        ]
        for args, code, stderr in cases:
            r = self.run_ctl(*args)
            self.assertEqual((r.returncode, r.stderr), (code, stderr), args)

    def test_switch_host(self):
        r = self.run_ctl("switch", "--host", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"on_screen": None})

    def test_setup(self):
        r = self.run_ctl("setup", "work", "--dry-run")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertTrue(r.stdout.startswith("--- work (current)\n+++ work (after setup)\n"), r.stdout)
        self.assertIn("\n+  <pm/>\n", r.stdout)
        r = self.run_ctl("setup", "done")
        self.assertEqual((r.returncode, r.stdout), (0, "no changes: done is already set up\n"))
        # stdin is not a terminal: applied without asking
        r = self.run_ctl("setup", "work", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"vm": "work", "changed": True, "applied": True,
                                                "old_xml": "<domain>\n  <name>work</name>\n</domain>\n",
                                                "new_xml": "<domain>\n  <name>work</name>\n  <pm/>\n</domain>\n"})

    def test_power(self):
        r = self.run_ctl("power")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertNotIn("\x1b", r.stdout)
        self.assertNotIn("\u202e", r.stdout)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[:8], [
            "battery:    42% discharging, 1 h 05 min to empty",
            "            BAT0: 42% discharging, 1 h 05 min to empty",
            "AC:         on battery",
            "warning:    low",
            "lid:        closed",
            "inhibitor:  held",
            "quiesced:   evil\"name\\nline2 \u00fc \u65e5\u672c \\x1b[2J",
            "under way:  nothing",
        ])
        self.assertEqual(lines[8], "guests:")
        self.assertEqual(lines[9].split(), ["NAME", "LINK", "CAPS", "LID", "PROBLEM"])
        self.assertEqual(lines[10].split(), ["work", "ready", "power,lid,button", "closed", "-"])
        self.assertIn(" waiting ", lines[11])
        self.assertTrue(lines[11].endswith("malformed line: \\u202edesrever\\x1b]0;x\\x07"),
                        lines[11])
        self.assertEqual(len(lines), 12)

    def test_power_json_is_the_summary_key_for_key(self):
        r = self.run_ctl("power", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        self.assertEqual(doc["percentage"], 42.0)
        self.assertEqual(doc["time-to-empty"], 3900)
        self.assertEqual(doc["quiesced"], ['evil"name\nline2 \u00fc \u65e5\u672c \x1b[2J'])
        self.assertEqual(doc["guests"][1]["problem"], "malformed line: \u202edesrever\x1b]0;x\x07")
        self.assertEqual(doc["guests"][0]["caps"], ["power", "lid", "button"])
        self.assertEqual(doc["batteries"][0]["name"], "BAT0")

    def test_power_button(self):
        r = self.run_ctl("power", "button", "work", "sleep")
        self.assertEqual((r.returncode, r.stdout), (0, "work: sleep button pressed\n"), r.stderr)
        r = self.run_ctl("power", "button", "work", "power", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assertEqual(json.loads(r.stdout), {"vm": "work", "button": "power", "pressed": True})
        cases = [
            ("locked", 4, "vmdeskctl: not authorized for org.vmdesk.power\n"),
            ("nope", 5, "vmdeskctl: no VM named 'nope'\n"),
            ("off", 6, "vmdeskctl: off has no ready power channel: libvirt is not connected\n"),
            ("dumb", 1, "vmdeskctl: dumb's guest agent cannot press buttons\n"),
        ]
        for vm, code, stderr in cases:
            r = self.run_ctl("power", "button", vm, "power")
            self.assertEqual((r.returncode, r.stdout, r.stderr), (code, "", stderr), vm)
        r = self.run_ctl("power", "button", "off", "power", "--json")
        self.assertEqual(r.returncode, 6)
        self.assertEqual(json.loads(r.stdout)["error"]["name"], "org.vmdesk.Error.NotRunning")
        # Not a button: refused before any call (the fake would have answered InvalidArgs, exit 1).
        r = self.run_ctl("power", "button", "work", "eject")
        self.assertEqual((r.returncode, r.stdout), (2, ""))

    def test_setup_asks_on_a_terminal(self):
        for answer, code, applied in (("n\n", 1, False), ("yes\n", 0, True)):
            master, slave = os.openpty()
            try:
                os.write(master, answer.encode())  # typed ahead; the pty buffers it
                r = self.run_ctl("setup", "work", stdin=slave)
            finally:
                os.close(slave)
                os.close(master)
            self.assertEqual(r.returncode, code, r.stderr)
            self.assertIn("Apply these changes to the persistent definition of work? [y/N] ",
                          r.stderr)
            self.assertEqual("applied: work is set up for vmdesk\n" in r.stdout, applied, r.stdout)
            if not applied:
                self.assertTrue(r.stderr.endswith(
                    "vmdeskctl: not applied: the definition of work is unchanged\n"), r.stderr)


if __name__ == "__main__":
    unittest.main()
