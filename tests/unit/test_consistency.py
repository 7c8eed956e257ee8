"""Facts that live in two places must agree: the introspection XML in the docs and in the
daemon, and the polkit actions the daemon checks and the ones packaging installs."""
import os
import re
import unittest
import xml.etree.ElementTree as ET

SRC = os.environ.get("VMDESK_SOURCE_DIR", os.path.join(os.path.dirname(__file__), "..", ".."))


def read(*parts):
    with open(os.path.join(SRC, *parts), encoding="utf-8") as f:
        return f.read()


class Consistency(unittest.TestCase):
    def test_docs_carry_the_embedded_introspection(self):
        doc = read("docs", "dbus-api.md")
        blocks = re.findall(r"```xml\n(.*?)```", doc, re.S)
        self.assertEqual(len(blocks), 1, "docs/dbus-api.md must hold one xml block")
        self.assertEqual(blocks[0], read("daemon", "data", "org.vmdesk.Manager1.xml"))

    def method_tables(self):
        """Every daemon file with a VmdMethod table, joined."""
        daemon = os.path.join(SRC, "daemon")
        texts = [read("daemon", f) for f in sorted(os.listdir(daemon)) if f.endswith(".c")]
        return "\n".join(t for t in texts if "VmdMethod methods[]" in t)

    def test_polkit_actions_exist(self):
        policy = ET.fromstring(read("packaging", "polkit", "org.vmdesk.policy"))
        shipped = {a.get("id") for a in policy.iter("action")}
        used = set(re.findall(r'"(org\.vmdesk\.[a-z-]+)"', self.method_tables()))
        self.assertTrue(used, "the method tables name no polkit action")
        self.assertEqual(used - shipped, set())
        self.assertEqual(shipped - used, set(), "a shipped action no method uses")

    def test_every_method_is_in_the_dispatch_table(self):
        node = ET.fromstring(read("daemon", "data", "org.vmdesk.Manager1.xml"))
        methods = {m.get("name") for m in node.iter("method")}
        table = re.findall(r'\{ "([A-Za-z]+)",', self.method_tables())
        self.assertEqual(len(table), len(set(table)), "a method is in two tables")
        self.assertEqual(methods, set(table))


if __name__ == "__main__":
    unittest.main()
