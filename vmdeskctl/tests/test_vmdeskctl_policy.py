"""`vmdeskctl policy check` and `vmdeskctl policy explain`: the real binary, offline (no bus,
no daemon), against rule files in a temporary VMDESK_CONFIG_DIR and fake sysfs trees."""
import json
import os
import shutil
import subprocess
import tempfile
import unittest

VMDESKCTL = os.environ["VMDESKCTL"]
SOURCE = os.environ["VMDESK_SOURCE_DIR"]
LAPTOP = os.path.join(SOURCE, "policy", "tests", "data", "laptop.rules")


class PolicyCli(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.mkdtemp(prefix="vmdeskctl-policy-")
        # No bus at all: these commands must not need one.
        self.env = dict(os.environ, VMDESK_CONFIG_DIR=self.dir, LC_ALL="C",
                        DBUS_SYSTEM_BUS_ADDRESS="unix:path=/nonexistent/vmdesk-no-bus")

    def tearDown(self):
        shutil.rmtree(self.dir)

    def ctl(self, *args, expect=0):
        r = subprocess.run([VMDESKCTL, *args], env=self.env, capture_output=True, timeout=30)
        self.assertEqual(r.returncode, expect, (args, r.stdout, r.stderr))
        return r.stdout.decode("utf-8"), r.stderr.decode("utf-8")

    def write(self, name, content):
        path = os.path.join(self.dir, name)
        os.makedirs(os.path.dirname(path), exist_ok=True)
        with open(path, "wb") as f:
            f.write(content if isinstance(content, bytes) else content.encode())
        return path

    def device_json(self, **fields):
        return self.write("device.json", json.dumps(fields))

    def explain(self, *args, **device):
        out, _ = self.ctl("policy", "explain", "--device-json", self.device_json(**device),
                          "--rules", LAPTOP, "--json", *args)
        return json.loads(out)


class Check(PolicyCli):
    def test_configured_set_in_order(self):
        main = self.write("usb.rules", "attach work id 1050:0407 sticky\n")
        b = self.write("usb.rules.d/20-b.rules", "deny\n")
        a = self.write("usb.rules.d/10-a.rules", "host id 046d:*\nask\n")
        self.write("usb.rules.d/notes.txt", "not rules\n")
        out, err = self.ctl("policy", "check")
        self.assertEqual(out, f"valid: 4 rules in 3 files, then the built-in defaults\n"
                              f"  {main}\n  {a}\n  {b}\n")
        self.assertEqual(err, "")
        doc = json.loads(self.ctl("policy", "check", "--json")[0])
        self.assertEqual(doc, {"valid": True, "files": [main, a, b], "rules": 4, "errors": []})

    def test_nothing_configured_is_valid(self):
        out, _ = self.ctl("policy", "check")
        self.assertTrue(out.startswith("valid: no rule files"), out)
        self.assertIn(self.dir, out)

    def test_every_error_with_its_position(self):
        bad = self.write("usb.rules.d/10-bad.rules",
                         "host\nallow id 1050:0407\nhost name \"x\" name \"y\"\n# fine\nattach\n")
        out, err = self.ctl("policy", "check", expect=1)
        self.assertEqual(out, "")
        self.assertEqual(err.splitlines(), [
            f"{bad}:2:1: 'allow' is a USBGuard target; vmdesk's targets are attach, ask, host and deny",
            f"{bad}:3:15: 'name' appears twice in one rule (first at column 6)",
            f"{bad}:5:7: expected a VM name or @focused after 'attach'",
            "vmdeskctl: the policy has errors, so it would not load",
        ])
        doc = json.loads(self.ctl("policy", "check", "--json", expect=1)[0])
        self.assertFalse(doc["valid"])
        self.assertIsNone(doc["rules"])
        self.assertEqual(doc["files"], [bad])
        self.assertEqual(len(doc["errors"]), 3)
        self.assertTrue(doc["errors"][1].startswith(f"{bad}:3:15: "))

    def test_named_files(self):
        good = self.write("x.rules", "host\n")
        out, _ = self.ctl("policy", "check", good, LAPTOP)
        self.assertTrue(out.startswith("valid: 12 rules in 2 files"), out)
        _, err = self.ctl("policy", "check", os.path.join(self.dir, "missing.rules"), expect=1)
        self.assertIn("missing.rules: cannot open: No such file or directory", err)

    def test_hostile_file_name_and_content(self):
        path = self.write("evil\x1b[2J\xe9.rules", b"host name \"\xff\n\x1b[31m\n")
        out, err = self.ctl("policy", "check", path, expect=1)
        lines = err.splitlines()
        self.assertEqual(len(lines), 3, err)
        for line in lines[:2]:
            self.assertNotIn("\x1b", line)
            self.assertTrue(line.startswith(self.dir + "/evil\\x1b[2J"), line)

    def test_usage(self):
        self.ctl("policy", expect=2)
        self.ctl("policy", "frobnicate", expect=2)
        self.ctl("policy", "check", "--device", "x", expect=2)


class Explain(PolicyCli):
    def test_yubikey_goes_to_work(self):
        doc = self.explain(vendor="1050", product="0407", serial="0001234567",
                           interfaces=["03:01:01", "0b:00:00", "03:00:00"])
        self.assertEqual(doc["target"], "attach")
        self.assertEqual(doc["vm"], "work")
        self.assertIsNone(doc["candidates"])
        self.assertEqual(doc["rule"], {"file": LAPTOP, "line": 15})
        self.assertEqual(doc["reason"], f"rule {LAPTOP}:15 matched: id 1050:0407; sticky")
        self.assertTrue(doc["sticky"])
        self.assertFalse(doc["follow"])
        self.assertEqual(doc["label"], "YubiKey 5 NFC")
        self.assertEqual(doc["rule_text"], 'attach work id 1050:0407 label "YubiKey 5 NFC" sticky')
        self.assertFalse(doc["identity_ambiguous"])
        self.assertEqual(doc["device"]["interfaces"], ["03:01:01", "0b:00:00", "03:00:00"])

    def test_webcam_follows_the_vm_on_screen(self):
        webcam = dict(vendor="046d", product="085c",
                      interfaces=["0e:01:00", "0e:02:00", "01:01:00", "01:02:00"])
        doc = self.explain("--on-screen", "personal", **webcam)
        self.assertEqual((doc["target"], doc["vm"], doc["follow"]), ("attach", "personal", True))
        doc = self.explain(**webcam)
        self.assertEqual((doc["target"], doc["vm"], doc["follow"]), ("host", None, True))
        self.assertIn("the host is on screen", doc["reason"])

    def test_stick_asks_the_running_vms(self):
        doc = self.explain("--running", "work,lab", "--on-screen", "personal",
                           vendor="0781", product="5567", interfaces=["08:06:50"])
        self.assertEqual(doc["target"], "ask")
        self.assertEqual(doc["candidates"], ["lab", "personal", "work"])

    def test_badusb_is_denied(self):
        doc = self.explain(vendor="0781", product="5567", interfaces=["08:06:50", "03:01:01"])
        self.assertEqual((doc["target"], doc["rule"]["line"]), ("deny", 8))

    def test_builtin_defaults(self):
        serial = dict(vendor="0403", product="6001", interfaces=["ff:ff:ff"])
        doc = self.explain("--on-screen", "work", **serial)
        self.assertEqual((doc["target"], doc["vm"], doc["rule"]), ("attach", "work", None))
        self.assertTrue(doc["reason"].startswith("built-in default 2 matched: "), doc["reason"])
        doc = self.explain("--on-screen", "work", "--no-auto-assign", "work", **serial)
        self.assertEqual((doc["target"], doc["rule"]), ("host", None))
        self.assertTrue(doc["reason"].startswith("built-in default 3 matched: "), doc["reason"])

    def test_configured_rules_and_text_output(self):
        self.write("usb.rules", "attach work id 1050:0407 label \"key\" sticky\n")
        path = self.device_json(vendor="1050", product="0407", name="YubiKey")
        out, _ = self.ctl("policy", "explain", "--device-json", path)
        main = os.path.join(self.dir, "usb.rules")
        self.assertEqual(out.splitlines(), [
            'device:     1050:0407, name "YubiKey", no serial',
            "interfaces: none",
            "target:     attach",
            "vm:         work",
            f"rule:       {main}:1",
            '            attach work id 1050:0407 label "key" sticky',
            "label:      key",
            f"reason:     rule {main}:1 matched: id 1050:0407; sticky",
            "note:       the device has no serial number, so its identity is ambiguous: not remembered",
        ])

    def test_rules_take_several_files(self):
        first = self.write("a.rules", "deny id 1234:*\n")
        second = self.write("b.rules", "attach lab id 1234:5678\n")
        path = self.device_json(vendor="1234", product="5678")
        doc = json.loads(self.ctl("policy", "explain", "--device-json", path, "--rules", second,
                                  first, "--json")[0])
        self.assertEqual((doc["target"], doc["vm"], doc["rule"]["file"]), ("attach", "lab", second))

    def test_sysfs_device(self):
        sysfs = os.path.join(self.dir, "sys")
        dev = os.path.join(sysfs, "devices", "usb1", "1-2")
        attrs = {"idVendor": "1050\n", "idProduct": "0407\n", "serial": "0001234567\n",
                 "product": 'Yubi"Key\n', "manufacturer": "Yubico\n",
                 "port/connect_type": "hotplug\n",
                 "1-2:1.0/bInterfaceClass": "03\n", "1-2:1.0/bInterfaceSubClass": "01\n",
                 "1-2:1.0/bInterfaceProtocol": "01\n", "1-2:1.1/bInterfaceClass": "0b\n",
                 "1-2:1.1/bInterfaceSubClass": "00\n", "1-2:1.1/bInterfaceProtocol": "00\n"}
        for name, value in attrs.items():
            self.write(os.path.join(dev, name), value)
        self.write(os.path.join(dev, "descriptors"), bytes([0x12, 0x01, 0x00, 0x02]))
        out, _ = self.ctl("policy", "explain", "--device", dev, "--rules", LAPTOP, "--json")
        doc = json.loads(out)
        self.assertEqual((doc["target"], doc["vm"]), ("attach", "work"))
        device = doc["device"]
        self.assertEqual(device["name"], 'Yubi"Key')
        self.assertEqual(device["port"], "1-2")
        self.assertEqual(device["connect_type"], "hotplug")
        self.assertEqual(device["interfaces"], ["03:01:01", "0b:00:00"])
        self.assertRegex(device["hash"], r"^[A-Za-z0-9+/]{43}=$")
        self.assertIsNone(device["parent_hash"])   # usb1 here has no ids
        self.ctl("policy", "explain", "--device", os.path.join(sysfs, "nothing"), expect=1)

    def test_hostile_device_strings(self):
        sysfs = os.path.join(self.dir, "sys", "1-3")
        name = b'q"<&>\nline2\xff\xfe\x1b[2J' + b"x" * 4000
        self.write(os.path.join(sysfs, "idVendor"), "0781\n")
        self.write(os.path.join(sysfs, "idProduct"), "5567\n")
        self.write(os.path.join(sysfs, "product"), name + b"\n")
        for attr, value in (("bInterfaceClass", "ff"), ("bInterfaceSubClass", "ff"),
                            ("bInterfaceProtocol", "ff")):
            self.write(os.path.join(sysfs, "1-3:1.0", attr), value + "\n")
        out, _ = self.ctl("policy", "explain", "--device", sysfs, "--rules", LAPTOP, "--json")
        doc = json.loads(out)   # valid UTF-8 JSON
        self.assertEqual(doc["device"]["name"], name.decode("utf-8", "replace"))
        out, _ = self.ctl("policy", "explain", "--device", sysfs, "--rules", LAPTOP)
        self.assertNotIn("\x1b", out)
        self.assertIn('name "q"<&>\\nline2\\xff\\xfe\\x1b[2J', out)
        self.assertEqual(len(out.splitlines()), 6, out)

    def test_errors(self):
        bad = self.write("bad.rules", "host if\n")
        path = self.device_json(vendor="1050", product="0407")
        _, err = self.ctl("policy", "explain", "--device-json", path, "--rules", bad, expect=1)
        self.assertEqual(err, f"{bad}:1:8: expected a condition after 'if'\n")
        junk = self.write("junk.json", '{"vendor": "1050", "product": 1}')
        _, err = self.ctl("policy", "explain", "--device-json", junk, expect=1)
        self.assertIn('"product" must be a string of 4 hex digits', err)
        self.ctl("policy", "explain", expect=2)
        self.ctl("policy", "explain", "--device", "a", "--device-json", "b", expect=2)
        self.ctl("policy", "explain", "--device-json", path, "--running", "a/b", expect=2)


if __name__ == "__main__":
    unittest.main()
