"""vmdesk-guest-agent in a real TCG guest, the test playing vmdeskd's side of the channel.

One guest for the class (bzImage boot: the default, as a desktop guest is booted), one
private libvirtd. Each test opens its own host connection to the channel's unix socket, so
every test also exercises the agent noticing a new host. What the guest sees is read from
inside it through qemu-ga (virt.guest_exec): its /sys/class/power_supply, its evdev switch
state (vmdesk-evstate), its clock.
"""
import json
import os
import queue
import re
import shutil
import socket
import tempfile
import threading
import time
import unittest
import xml.etree.ElementTree as ET

import libvirt

from harness import procs
from harness import virt

PORT = "org.vmdesk.power.0"
INPUT_NAME = "vmdesk power buttons"


class HostEnd:
    """The host side of the channel: a client of QEMU's unix socket, one JSON object a line.

    A thread reads all the time, as vmdeskd does: a host that stopped reading while it
    floods the agent would deadlock with it (the agent waits for room for its replies)."""

    def __init__(self, path, timeout=20):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.connect(path)
        self.timeout = timeout
        self.seq = 0
        self.received = []
        self.lines = queue.Queue()
        self.reader = threading.Thread(target=self._read, name="host-end", daemon=True)
        self.reader.start()

    def _read(self):
        buffer = b""
        while True:
            try:
                chunk = self.sock.recv(65536)
            except OSError:
                chunk = b""
            if not chunk:
                self.lines.put(None)
                return
            buffer += chunk
            *lines, buffer = buffer.split(b"\n")
            for line in lines:
                self.lines.put(line)

    def send(self, message):
        """Send `message` with the next seq; returns that seq."""
        self.seq += 1
        self.send_raw(json.dumps({**message, "seq": self.seq}).encode() + b"\n")
        return self.seq

    def send_raw(self, data):
        self.sock.sendall(data)

    def next_message(self, timeout=None):
        try:
            line = self.lines.get(timeout=timeout or self.timeout)
        except queue.Empty:
            raise TimeoutError(f"no reply from the agent; received so far: {self.received[-5:]}")
        if line is None:
            raise ConnectionError("the channel closed")
        if len(line) + 1 > 4096:
            raise AssertionError(f"agent sent a line of {len(line) + 1} bytes")
        message = json.loads(line.decode("utf-8"))
        self.received.append(message)
        return message

    def wait_for(self, predicate, timeout=None):
        """The first message matching predicate; the ones before it are kept in received."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            message = self.next_message(max(0.1, deadline - time.monotonic()))
            if predicate(message):
                return message

    def reply_to(self, seq, timeout=None):
        """The ack or error answering `seq`."""
        return self.wait_for(lambda m: m.get("type") in ("ack", "error") and m.get("seq") == seq,
                             timeout)

    def hello(self):
        """The handshake as vmdeskd does it; returns the guest's hello answering ours (the
        agent also says hello on its own when it sees a host connect)."""
        seq = self.send({"type": "hello", "version": 1, "host": "vmdesk-test/0"})
        self.expect_ack(seq)
        answer = self.received[-2]   # the agent sends its hello, then the ack
        if answer.get("type") != "hello":
            raise AssertionError(f"no hello before the ack of {seq}: {self.received[-5:]}")
        return answer

    def expect_ack(self, seq):
        reply = self.reply_to(seq)
        if reply != {"type": "ack", "seq": seq}:
            raise AssertionError(f"expected an ack for {seq}, got {reply}")

    def close(self):
        try:
            self.sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass
        self.reader.join()
        self.sock.close()


def power(percent, state, ac_online, energy_full=48.0, rate=9.5, tte=3600, ttf=0):
    return {"type": "power", "ac_online": ac_online,
            "batteries": [{"name": "BAT0", "percent": percent, "state": state,
                           "energy_wh": round(energy_full * percent / 100, 3),
                           "energy_full_wh": energy_full, "energy_rate_w": rate,
                           "time_to_empty_s": tte, "time_to_full_s": ttf}]}


class GuestAgentTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        guest_dir = virt.guest_image_dir()
        # Short: socket paths must stay under 108 bytes.
        cls.workdir = tempfile.mkdtemp(prefix="vmd-ga-", dir="/tmp")
        cls.serial = os.path.join(cls.workdir, "serial.log")
        try:
            cls.libvirtd = virt.PrivateLibvirtd(os.path.join(cls.workdir, "libvirt"))
            cls.libvirtd.start()
            cls.conn = cls.libvirtd.open()
            cls.dom = cls.conn.defineXML(virt.guest_domain_xml(
                "agent", guest_dir, cls.serial,
                extra_channels=[(PORT, os.path.join(cls.workdir, "power.sock"))]))
            cls.dom.create()
            virt.wait_serial_marker(cls.serial, "VMDESK-GUEST-READY", timeout=120)
            virt.wait_guest_agent(cls.conn, "agent")
            started = virt.wait_serial_marker(cls.serial, "VMDESK-GUEST-AGENT-STARTED", timeout=5)
            cls.agent_pid = int(re.search(r"pid=(\d+)", started).group(1))
            cls.socket_path = cls.channel_socket()
        except BaseException:
            cls.tearDownClass()
            raise

    @classmethod
    def channel_socket(cls):
        """The host end of the power channel, as vmdeskd finds it: from the live XML."""
        devices = ET.fromstring(cls.dom.XMLDesc(0)).find("devices")
        for channel in devices.findall("channel"):
            target = channel.find("target")
            if target is not None and target.get("name") == PORT:
                return channel.find("source").get("path")
        raise AssertionError(f"no {PORT} channel in the live XML")

    @classmethod
    def tearDownClass(cls):
        if hasattr(cls, "conn"):
            cls.conn.close()
        if hasattr(cls, "libvirtd"):
            cls.libvirtd.cleanup()
            leftover = cls.libvirtd.processes()
        shutil.rmtree(cls.workdir, ignore_errors=True)
        if hasattr(cls, "libvirtd") and leftover:
            raise AssertionError(f"processes left behind: {leftover}")

    def setUp(self):
        self.host = HostEnd(self.socket_path)
        self.addCleanup(self.host.close)

    def run(self, result=None):
        failures = len(result.failures) + len(result.errors) if result else 0
        outcome = super().run(result)
        if result and len(result.failures) + len(result.errors) > failures:
            with open(self.serial, errors="replace") as f:
                print("--- guest console (last 40 lines) ---\n" + "".join(f.readlines()[-40:]))
        return outcome

    # --- looking from inside the guest -------------------------------------------------

    def guest(self, *argv):
        code, out = virt.guest_exec(self.dom, list(argv))
        self.assertEqual(code, 0, f"{argv} failed in the guest: {out}")
        return out.strip()

    def supply(self, name, attribute):
        return self.guest("/bin/cat", f"/sys/class/power_supply/{name}/{attribute}")

    def lid_state(self):
        return self.guest("/usr/bin/vmdesk-evstate", INPUT_NAME)

    def agent_alive(self):
        code, _ = virt.guest_exec(self.dom, ["/bin/kill", "-0", str(self.agent_pid)])
        return code == 0

    def agent_cpu_ticks(self):
        fields = self.guest("/bin/cat", f"/proc/{self.agent_pid}/stat").rsplit(")", 1)[1].split()
        return int(fields[11]) + int(fields[12])   # utime + stime

    # --- the tests -----------------------------------------------------------------------

    def test_hello_exchange(self):
        hello = self.host.hello()
        self.assertEqual(hello["version"], 1)
        self.assertTrue(hello["agent"].startswith("vmdesk-guest-agent/"))
        # This guest has vmdesk_battery and uinput: it can do everything.
        self.assertEqual(set(hello["caps"]), {"power", "lid", "button", "sleep", "time"})

    def test_power_becomes_the_guests_power_supply(self):
        self.host.hello()
        self.assertEqual(self.supply("vmdesk_battery", "type"), "Battery")
        self.assertEqual(self.supply("vmdesk_ac", "type"), "Mains")

        # From a known other value, so that 42 cannot be left over.
        self.host.expect_ack(self.host.send(power(7.0, "charging", True)))
        self.assertEqual(self.supply("vmdesk_battery", "capacity"), "7")

        # The agent acks once it has written the module: the guest shows it by then.
        self.host.expect_ack(self.host.send(power(42.0, "discharging", False)))
        self.assertEqual(self.supply("vmdesk_battery", "capacity"), "42")
        self.assertEqual(self.supply("vmdesk_battery", "status"), "Discharging")
        self.assertEqual(self.supply("vmdesk_battery", "present"), "1")
        self.assertEqual(self.supply("vmdesk_battery", "energy_now"), "20160000")
        self.assertEqual(self.supply("vmdesk_battery", "energy_full"), "48000000")
        self.assertEqual(self.supply("vmdesk_battery", "power_now"), "9500000")
        self.assertEqual(self.supply("vmdesk_battery", "time_to_empty_now"), "3600")
        self.assertEqual(self.supply("vmdesk_ac", "online"), "0")

        # And it follows the host: plugged in, charging.
        seq = self.host.send(power(80.0, "charging", True, tte=0, ttf=1800))
        self.host.expect_ack(seq)
        self.assertEqual(self.supply("vmdesk_battery", "capacity"), "80")
        self.assertEqual(self.supply("vmdesk_battery", "status"), "Charging")
        self.assertEqual(self.supply("vmdesk_battery", "time_to_full_now"), "1800")
        self.assertEqual(self.supply("vmdesk_ac", "online"), "1")

    def test_module_refuses_invalid_values(self):
        """The module validates what it is given, whoever writes it."""
        before = self.guest("/bin/cat", "/sys/module/vmdesk_battery/parameters/state")
        for bad in ("capacity=101", "status=exploding", "bogus=1",
                    "capacity=50 energy_now=10 energy_full=5", "capacity=-1", "ac_online=2"):
            code, _ = virt.guest_exec(self.dom, ["/bin/sh", "-c",
                                      f"echo '{bad}' > /sys/module/vmdesk_battery/parameters/state"])
            self.assertNotEqual(code, 0, f"vmdesk_battery accepted {bad!r}")
        self.assertEqual(self.guest("/bin/cat", "/sys/module/vmdesk_battery/parameters/state"),
                         before)

    def test_module_unloaded_then_reloaded(self):
        """Without a power backend the agent says so (caps, errors); with it back, it works."""
        self.guest("/bin/rmmod", "vmdesk_battery")
        try:
            code, _ = virt.guest_exec(self.dom, ["/bin/ls", "/sys/class/power_supply/vmdesk_battery"])
            self.assertNotEqual(code, 0, "the battery outlived its module")
            self.assertNotIn("power", self.host.hello()["caps"])
            seq = self.host.send(power(30.0, "discharging", False))
            reply = self.host.reply_to(seq)
            self.assertEqual(reply["code"], "failed")
            self.assertIn("vmdesk_battery", reply["message"])
        finally:
            self.guest("/bin/insmod", "/lib/modules/vmdesk_battery.ko")
        self.assertEqual(self.supply("vmdesk_battery", "present"), "0")   # a fresh module
        self.host.expect_ack(self.host.send(power(30.0, "discharging", False)))
        self.assertEqual(self.supply("vmdesk_battery", "capacity"), "30")
        self.assertEqual(self.supply("vmdesk_battery", "present"), "1")

    def test_lid_reaches_the_input_device(self):
        self.host.hello()
        seq = self.host.send({"type": "lid", "closed": True})
        self.host.expect_ack(seq)
        self.assertEqual(self.lid_state(), "SW_LID=1")
        seq = self.host.send({"type": "lid", "closed": False})
        self.host.expect_ack(seq)
        self.assertEqual(self.lid_state(), "SW_LID=0")
        # Buttons have no state to read; the agent acks once it wrote press and release.
        self.host.expect_ack(self.host.send({"type": "button", "button": "power"}))
        self.host.expect_ack(self.host.send({"type": "button", "button": "sleep"}))
        self.host.expect_ack(self.host.send({"type": "sleep", "phase": "prepare"}))
        self.host.expect_ack(self.host.send({"type": "sleep", "phase": "resume"}))

    def test_agent_survives_guest_s3(self):
        """A guest suspended to RAM with the host side connected keeps its agent and port."""
        self.host.hello()
        self.host.expect_ack(self.host.send({"type": "sleep", "phase": "prepare"}))
        self.dom.pMSuspendForDuration(libvirt.VIR_NODE_SUSPEND_TARGET_MEM, 0, 0)
        procs.wait_until(lambda: self.dom.state()[0] == libvirt.VIR_DOMAIN_PMSUSPENDED, 30,
                         what="the guest suspended")
        self.dom.pMWakeup(0)
        procs.wait_until(lambda: self.dom.state()[0] == libvirt.VIR_DOMAIN_RUNNING, 30,
                         what="the guest running again")
        virt.wait_guest_agent(self.conn, "agent", timeout=30)
        self.host.expect_ack(self.host.send({"type": "sleep", "phase": "resume"}))
        self.host.expect_ack(self.host.send(power(64.0, "discharging", False)))
        self.assertEqual(self.supply("vmdesk_battery", "capacity"), "64")
        self.assertTrue(self.agent_alive())

    def test_time_sets_the_guest_clock(self):
        self.host.hello()
        try:
            # As after a resume: the guest is an hour behind the host.
            ahead = int(time.time()) + 3600
            seq = self.host.send({"type": "time", "sec": ahead, "nsec": 0})
            self.host.expect_ack(seq)
            guest_now = int(self.guest("/bin/date", "+%s"))
            self.assertLess(abs(guest_now - ahead), 30)
        finally:
            seq = self.host.send({"type": "time", "sec": int(time.time()), "nsec": 0})
            self.host.expect_ack(seq)
        self.assertLess(abs(int(self.guest("/bin/date", "+%s")) - time.time()), 30)

    def test_errors_name_what_was_wrong(self):
        self.host.hello()
        seq = self.host.send({"type": "eject"})
        self.assertEqual(self.host.reply_to(seq)["code"], "unsupported")
        seq = self.host.send({"type": "lid", "closed": "yes"})
        reply = self.host.reply_to(seq)
        self.assertEqual(reply["code"], "invalid")
        self.assertIn("closed", reply["message"])
        seq = self.host.send({"type": "power", "ac_online": True,
                              "batteries": [{"name": "BAT0", "percent": 420, "state": "full"}]})
        self.assertEqual(self.host.reply_to(seq)["code"], "invalid")
        # A rejected power message changed nothing.
        self.assertNotEqual(self.supply("vmdesk_battery", "capacity"), "420")

    def test_garbage_and_oversized_lines_leave_the_agent_answering(self):
        self.host.hello()
        self.host.send_raw(b"not json\n\xff\xfe\x00\x01\n{\"type\":\"lid\"\n[]\n")
        self.host.send_raw(b"{\"x\":\"" + b"A" * 10000 + b"\"}\n")          # 10 KB line
        self.host.send_raw(b"B" * 100000)                                       # no newline yet
        self.host.send_raw(b"\n")
        self.host.send_raw(b"{}\n" * 2000)                                      # a flood
        seq = self.host.send({"type": "lid", "closed": True})
        self.host.expect_ack(seq)
        errors = [m for m in self.host.received if m.get("type") == "error"]
        self.assertEqual(len(errors), 4 + 2 + 2000)   # one answer per bad line, none merged
        self.assertTrue(all(m["code"] == "invalid" and "seq" not in m for m in errors))
        self.assertEqual(self.lid_state(), "SW_LID=1")
        self.assertTrue(self.agent_alive())
        self.host.expect_ack(self.host.send({"type": "lid", "closed": False}))

    def test_reconnects_after_the_host_side_closes(self):
        self.host.hello()
        # Half a line, then the host goes away: it must not be glued to the next host's.
        self.host.send_raw(b'{"type":"lid","seq":99,')
        self.host.close()
        # While nobody is connected the agent waits without spinning.
        before = self.agent_cpu_ticks()
        time.sleep(3)
        self.assertLess(self.agent_cpu_ticks() - before, 20, "agent busy while the host is away")

        for _ in range(3):
            self.host = HostEnd(self.socket_path)
            self.addCleanup(self.host.close)
            hello = self.host.hello()
            self.assertEqual(hello["type"], "hello")
            seq = self.host.send(power(55.0, "discharging", False))
            self.host.expect_ack(seq)
            self.assertEqual(self.supply("vmdesk_battery", "capacity"), "55")
            self.assertFalse([m for m in self.host.received if m.get("type") == "error"])
            self.host.close()
        self.assertTrue(self.agent_alive())


if __name__ == "__main__":
    unittest.main()
