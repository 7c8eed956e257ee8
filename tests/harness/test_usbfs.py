"""The usbfs keeper: a testbed USB device's /dev/bus/usb node, seen from another process
under umockdev's preload (as QEMU sees it), answers as usbfs would.

Run from tests/: /usr/bin/python3 harness/test_usbfs.py -v
"""
import json
import os
import subprocess
import sys
import unittest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()

from harness import procs  # noqa: E402

# A usbfs client in its own process: runs the requests given as JSON on argv, prints one
# JSON result per request. Control transfers use a ctypes buffer, as libusb passes one.
CLIENT = r"""
import ctypes, errno, fcntl, json, os, stat, struct, sys

def ioctl(fd, request, arg=0):
    try:
        return fcntl.ioctl(fd, request, arg), None
    except OSError as e:
        return None, errno.errorcode[e.errno]

def run(fd, op):
    kind = op[0]
    if kind == "read":
        try:
            return os.read(fd, op[1]).hex()
        except OSError as e:
            return errno.errorcode[e.errno]
    if kind == "control":               # bmRequestType, bRequest, wValue, wIndex, wLength
        buf = (ctypes.c_ubyte * max(op[5], 1))()
        ctrl = bytearray(struct.pack("<BBHHHI4xQ", *op[1:6], 1000, ctypes.addressof(buf)))
        n, err = ioctl(fd, 0xC0185500, ctrl)           # USBDEVFS_CONTROL
        return [n, err, bytes(buf)[:n or 0].hex()]
    if kind == "connectinfo":
        info = bytearray(8)
        n, err = ioctl(fd, 0x40085511, info)           # USBDEVFS_CONNECTINFO
        return [n, err, list(struct.unpack("=IB3x", info))]
    if len(op) > 2:                                    # ["ioctl", request, arg size]
        return list(ioctl(fd, op[1], bytearray(op[2])))
    return list(ioctl(fd, op[1]))                      # ["ioctl", request]

node = sys.argv[1]
try:
    st = os.stat(node)
except OSError as e:
    print(json.dumps({"stat": errno.errorcode[e.errno]}), flush=True)
    sys.exit(0)
fd = os.open(node, os.O_RDWR)
print(json.dumps({"stat": [stat.S_ISCHR(st.st_mode), os.major(st.st_rdev),
                           os.minor(st.st_rdev)]}), flush=True)
for line in sys.stdin:      # one batch of requests a line; the test unplugs in between
    print(json.dumps([run(fd, op) for op in json.loads(line)]), flush=True)
"""

GET_SPEED = ["ioctl", 0x551F]
SUBMITURB = ["ioctl", 0x8038550A]
REAPURBNDELAY = ["ioctl", 0x4008550D]
CLAIMINTERFACE = ["ioctl", 0x8004550F]
GETDRIVER = ["ioctl", 0x41045508, 260]
NOT_USBFS = ["ioctl", 0x5401]         # TCGETS


def get_descriptor(kind, index=0, length=255, lang=0):
    return ["control", 0x80, 6, kind << 8 | index, lang, length]


def utf16(descriptor_hex):
    raw = bytes.fromhex(descriptor_hex)
    assert raw[0] == len(raw) and raw[1] == 3, raw
    return raw[2:].decode("utf-16-le")


class Client:
    """CLIENT on one node, under the testbed's preload."""

    def __init__(self, test, tb, devnode):
        self.child = procs.Child([sys.executable, "-c", CLIENT, devnode], env=tb.env(),
                                 stdin=subprocess.PIPE, stdout=subprocess.PIPE)
        test.addCleanup(self.close)
        self.stat = self._line()["stat"]

    def _line(self):
        line = self.child.proc.stdout.readline()
        if not line:
            raise AssertionError(f"client exited with {self.child.proc.wait(10)}")
        return json.loads(line)

    def ask(self, *ops):
        self.child.proc.stdin.write(json.dumps(ops).encode() + b"\n")
        self.child.proc.stdin.flush()
        return self._line()

    def close(self):
        for stream in (self.child.proc.stdin, self.child.proc.stdout):
            stream.close()
        self.child.stop()


def devnode(tb, dev):
    return "/dev/bus/usb/%03d/%03d" % (int(tb.read_attr(dev, "busnum")),
                                       int(tb.read_attr(dev, "devnum")))


class UsbfsNodeTest(unittest.TestCase):
    def setUp(self):
        self.tb = sysfs.Testbed(usb_hostdev=True)
        self.addCleanup(self.tb.close)

    def test_node_answers_with_the_devices_own_descriptors(self):
        dev = self.tb.add_usb_device(0x0781, 0x5567, port="1-2", serial="4C530001230512116453",
                                     manufacturer="SanDisk", product="Cruzer Blade",
                                     interfaces=[(8, 6, 0x50)])
        descriptors = self.tb.read_attr(dev, "descriptors")
        node = devnode(self.tb, dev)
        client = Client(self, self.tb, node)
        devnum = int(self.tb.read_attr(dev, "devnum"))
        self.assertEqual(client.stat, [True, 189, devnum - 1])

        (first_read, second_read, device, config, short_config, langs, manufacturer,
         product, serial, no_string, bos, configuration, connectinfo, speed) = client.ask(
            ["read", 256], ["read", 256], get_descriptor(1, length=18),
            get_descriptor(2, length=len(descriptors) - 18), get_descriptor(2, length=9),
            get_descriptor(3, 0), get_descriptor(3, 1, lang=0x409),
            get_descriptor(3, 2, lang=0x409), get_descriptor(3, 3, lang=0x409),
            get_descriptor(3, 4), get_descriptor(15, length=5),
            ["control", 0x80, 8, 0, 0, 1], ["connectinfo"], GET_SPEED)

        # libusb reads the node for the descriptors: the same bytes as the attribute
        self.assertEqual(bytes.fromhex(first_read), descriptors)
        self.assertEqual(bytes.fromhex(second_read), descriptors)   # rewound after EOF
        self.assertEqual(device, [18, None, descriptors[:18].hex()])
        self.assertEqual(config, [len(descriptors) - 18, None, descriptors[18:].hex()])
        self.assertEqual(short_config, [9, None, descriptors[18:27].hex()])
        self.assertEqual(langs, [4, None, "04030904"])
        self.assertEqual([utf16(s[2]) for s in (manufacturer, product, serial)],
                         ["SanDisk", "Cruzer Blade", "4C530001230512116453"])
        # ... and the indices in the device descriptor point at them
        self.assertEqual(list(descriptors[14:17]), [1, 2, 3])
        self.assertEqual(no_string[:2], [None, "EPIPE"])
        self.assertEqual(bos[:2], [None, "EPIPE"])
        self.assertEqual(configuration, [1, None, "01"])
        self.assertEqual(connectinfo, [0, None, [devnum, 0]])
        self.assertEqual(speed, [3, None])                           # USB_SPEED_HIGH

        # no host driver to take over from, transfers stall, nothing is ever reapable,
        # claims are taken
        self.assertEqual(
            client.ask(GETDRIVER, SUBMITURB, REAPURBNDELAY, CLAIMINTERFACE, NOT_USBFS),
            [[None, "ENODATA"], [None, "EPIPE"], [None, "EAGAIN"], [0, None],
             [None, "ENOTTY"]])
        self.assertEqual(self.tb.usbfs(dev).clients, 1)

    def test_strings_missing_and_speeds(self):
        dev = self.tb.add_usb_device(0x046d, 0xc52b, port="1-3", speed="12")
        descriptors = self.tb.read_attr(dev, "descriptors")
        self.assertEqual(list(descriptors[14:17]), [0, 0, 0])
        client = Client(self, self.tb, devnode(self.tb, dev))
        no_string, speed = client.ask(get_descriptor(3, 1), GET_SPEED)
        self.assertEqual(no_string[:2], [None, "EPIPE"])
        self.assertEqual(speed, [2, None])                           # USB_SPEED_FULL

    def test_hostile_strings(self):
        hostile = {"serial": b"\"'<>&\n\x01\xff\xfe" + b"S" * 4096,
                   "manufacturer": "m" + "\U0001F600" * 200,   # 401 UTF-16 units
                   "product": b"<product name=\"x\">&amp;</product>\n\xc3("}
        dev = self.tb.add_usb_device(0x1234, 0x5678, port="1-4", **hostile)
        for name, value in hostile.items():
            raw = value if isinstance(value, bytes) else value.encode()
            self.assertEqual(self.tb.read_attr(dev, name), raw + b"\n")
        client = Client(self, self.tb, devnode(self.tb, dev))
        manufacturer, product, serial = client.ask(
            *(get_descriptor(3, i, lang=0x409) for i in (1, 2, 3)))
        for answer in (manufacturer, product, serial):
            self.assertLessEqual(answer[0], 254)
        # what fits in a descriptor, invalid UTF-8 as U+FFFD, no half surrogate pair
        self.assertEqual(utf16(manufacturer[2]), "m" + "\U0001F600" * 62)
        self.assertEqual(utf16(product[2]), "<product name=\"x\">&amp;</product>\n\ufffd(")
        self.assertEqual(utf16(serial[2]),
                         hostile["serial"].decode("utf-8", "replace")[:126])

    def test_unplug_fails_open_nodes_and_removes_the_node(self):
        dev = self.tb.add_usb_device(0x0781, 0x5567, port="1-2", product="Stick")
        node = devnode(self.tb, dev)
        client = Client(self, self.tb, node)
        self.assertEqual(client.ask(GET_SPEED), [[3, None]])
        self.tb.remove_usb_device(dev)
        # as usbfs after a disconnect: the open node fails, the path is gone
        self.assertEqual(client.ask(GET_SPEED, ["read", 64], get_descriptor(1)),
                         [[None, "ENODEV"], "ENODEV", [None, "ENODEV", ""]])
        self.assertEqual(Client(self, self.tb, node).stat, "ENOENT")

        # the next device gets the next address, with a node of its own
        again = self.tb.add_usb_device(0x0781, 0x5567, port="1-2", product="Stick")
        self.assertNotEqual(devnode(self.tb, again), node)
        self.assertEqual(Client(self, self.tb, devnode(self.tb, again)).ask(GET_SPEED),
                         [[3, None]])

    def test_host_sys_shows_through_but_iommu_groups_stay_the_testbeds(self):
        self.tb.add_pci_device("0000:01:00.0", 0x10de, 0x1c8d, 0x030000, iommu_group=7)
        probe = ("import os; print(open('/sys/devices/system/cpu/online').read().strip());"
                 "print(sorted(os.listdir('/sys/kernel/iommu_groups')));"
                 "print(os.path.isdir('/sys/fs/cgroup'), os.path.isdir('/sys/module'))")
        out = subprocess.run([sys.executable, "-c", probe], env=self.tb.env(),
                             capture_output=True, text=True, check=True).stdout.split("\n")
        with open("/sys/devices/system/cpu/online") as f:
            self.assertEqual(out[0], f.read().strip())
        self.assertEqual(out[1:3], ["['7']", "True True"])


class DefaultTestbedTest(unittest.TestCase):
    def test_plain_testbed_has_no_nodes_and_hides_the_host(self):
        with sysfs.Testbed() as tb:
            tb.add_usb_device(0x0781, 0x5567, port="1-2")
            self.assertFalse(os.path.exists(os.path.join(tb.root, "dev")))
            self.assertFalse(os.path.exists(os.path.join(tb.root, "sys", "fs")))
            with self.assertRaises(RuntimeError):
                tb.redirect_process()


if __name__ == "__main__":
    unittest.main()
