"""`vmdeskctl passthrough` and `vmdeskctl start`: the real binary on a private bus against
fake_manager.py, which answers CheckPassthrough, PlanPassthrough, ListPassthrough and StartVM
with vfio-helper's documents (a hostile sysfs string included) and vmdeskd's errors. The real
daemon is tests/integration/test_vfio_daemon.py."""
import json
import unittest

from test_vmdeskctl_cli import WithFakeManager

GPU, AUDIO, BAD = "0000:01:00.0", "0000:01:00.1", "0000:05:00.0"
HOSTILE = "NVIDIA \u202e\x1b[2J\nVGA"


class Passthrough(WithFakeManager):
    def assert_clean(self, text):
        for bad in ("\x1b", "\u202e", "\r"):
            self.assertNotIn(bad, text)

    def test_check_json_is_the_daemons_document(self):
        r = self.run_ctl("passthrough", "check", "--json", "01:00.1", "gpu", GPU)
        self.assertEqual(r.returncode, 9, r.stderr)       # the worst finding is a warning
        doc = json.loads(r.stdout)
        # The VM's devices and the addresses given, each once, canonical.
        self.assertEqual(doc["asked"], [AUDIO, GPU])
        self.assertEqual(doc["worst"], "warn")
        self.assertEqual(doc["findings"][1]["message"], HOSTILE)   # exact in JSON

    def test_check_text_and_exit_codes(self):
        r = self.run_ctl("passthrough", "check", "gpu")
        self.assertEqual(r.returncode, 9, r.stderr)
        self.assert_clean(r.stdout)
        lines = r.stdout.splitlines()
        self.assertEqual(lines[:3], [f"VM 'gpu' passes {GPU}, {AUDIO}", "", "Host"])
        self.assertIn("  warn  reset               no FLR", lines)
        self.assertIn(" " * 28 + "fix: vendor-reset", lines)
        self.assertIn("  ok    device              NVIDIA \\u202e\\x1b[2J\\nVGA", lines)
        self.assertEqual(lines[-1], "Result: warn")
        r = self.run_ctl("passthrough", "check", BAD)
        self.assertEqual(r.returncode, 10, r.stderr)
        self.assertIn("fix: put the card in another slot", r.stdout)
        # No argument: every display device (the daemon decides which).
        r = self.run_ctl("passthrough", "check", "--json")
        self.assertEqual(json.loads(r.stdout)["asked"], [])

    def test_check_of_a_vm_without_devices_or_unknown(self):
        r = self.run_ctl("passthrough", "check", "plain")
        self.assertEqual((r.returncode, r.stdout), (1, ""))
        self.assertIn("VM 'plain' passes no PCI device through", r.stderr)
        r = self.run_ctl("passthrough", "check", "nope", "--json")
        self.assertEqual(r.returncode, 5)
        self.assertEqual(json.loads(r.stdout)["error"]["name"], "org.vmdesk.Error.UnknownVM")

    def test_plan_of_a_vm(self):
        r = self.run_ctl("passthrough", "plan", "gpu", "--json")
        self.assertEqual(r.returncode, 0, r.stderr)
        doc = json.loads(r.stdout)
        # 01:00.1 moves with 01:00.0: planned once, as StartVM binds it once.
        self.assertEqual((doc["vm"], doc["single_gpu"], doc["allowed"]), ("gpu", False, True))
        self.assertEqual([p["bdf"] for p in doc["plans"]], [GPU])
        r = self.run_ctl("passthrough", "plan", "gpu")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r.stdout)
        self.assertTrue(r.stdout.startswith("VM 'gpu' passes 2 devices; the single-GPU hand-over "
                                            "is not allowed\n\nPlan for 0000:01:00.0\n"), r.stdout)
        self.assertIn(f"\n{AUDIO} moves with the device planned above.\n", r.stdout)
        self.assertTrue(r.stdout.endswith("\nResult: StartVM would bind every device\n"))

    def test_plan_refused_absent_and_single_gpu(self):
        r = self.run_ctl("passthrough", "plan", "bad")
        self.assertEqual(r.returncode, 10, r.stderr)
        self.assertIn("the single-GPU hand-over is allowed", r.stdout)
        self.assertIn("Plan for 0000:05:00.0 (single-GPU hand-over)", r.stdout)
        self.assertIn("  iommu-group   IOMMU group 14 is not viable\n", r.stdout)
        r = self.run_ctl("passthrough", "plan", "5:0.0", "--single-gpu", "--json")
        self.assertEqual(r.returncode, 2, "5:0.0 is not a PCI address, nor a VM name with --single-gpu")
        r = self.run_ctl("passthrough", "plan", "05:00.0", "--single-gpu", "--json")
        self.assertEqual(r.returncode, 10, r.stderr)
        self.assertEqual((json.loads(r.stdout)["bdf"], json.loads(r.stdout)["single_gpu"]),
                         (BAD, True))
        r = self.run_ctl("passthrough", "plan", "0000:07:00.0")
        self.assertEqual((r.returncode, r.stderr), (8, "vmdeskctl: no PCI device 0000:07:00.0\n"))

    def test_list(self):
        r = self.run_ctl("passthrough", "list")
        self.assertEqual(r.returncode, 0, r.stderr)
        self.assert_clean(r.stdout)
        self.assertEqual(r.stdout.splitlines(), [
            "DEVICE        VM   STATE           FUNCTIONS",
            f"{GPU}  gpu  bound           {GPU},{AUDIO}",
            f"{BAD}  -    release-failed  -",
            f"error: {BAD}: release of {BAD} incomplete: \\x1b[2J EBUSY",
        ])
        r = self.run_ctl("passthrough", "list", "--json")
        held = json.loads(r.stdout)
        self.assertEqual([(h["bdf"], h["vm"], h["state"]) for h in held],
                         [(GPU, "gpu", "bound"), (BAD, "", "release-failed")])
        self.assertEqual(held[1]["error"], f"release of {BAD} incomplete: \x1b[2J EBUSY")

    def test_start(self):
        r = self.run_ctl("start", "work")
        self.assertEqual((r.returncode, r.stdout, r.stderr), (0, "work: running\n", ""))
        r = self.run_ctl("start", "work", "--json")
        self.assertEqual(json.loads(r.stdout), {"vm": "work", "running": True})
        r = self.run_ctl("start", "gpu")
        self.assertEqual(r.returncode, 1)
        self.assertTrue(r.stderr.endswith("; 0000:01:00.0 was given back to the host\n"), r.stderr)
        for vm, code in (("bad", 10), ("nope", 5)):
            r = self.run_ctl("start", vm, "--json")
            self.assertEqual(r.returncode, code, vm)
            self.assertEqual(json.loads(r.stdout)["error"]["exit_code"], code)


if __name__ == "__main__":
    unittest.main()
