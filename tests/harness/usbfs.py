"""The usbfs side of a testbed USB device: what QEMU's libusb meets when it opens
/dev/bus/usb/BBB/DDD under umockdev's preload.

umockdev forwards every ioctl() and read() on such a node to the UMockdev.IoctlBase
attached to it; UsbfsDevice is that handler. It answers the few requests with which libusb
wraps and opens a device and QEMU's usb-host realizes it (connection info, speed, the
device's own descriptors and strings), takes every claim/reset/configuration request, and
refuses transfers: the guest sees a device that never answers. After unplug() every request
fails with ENODEV, as usbfs does once the device is disconnected.

The handler runs on the testbed's worker thread, not the test's: keep it free of shared
state other than the `gone` flag and its own client table.
"""
import errno
import struct
import threading

import gi

gi.require_version("UMockdev", "1.0")
from gi.repository import UMockdev  # noqa: E402

# USBDEVFS_* request numbers (linux/usbdevice_fs.h), the low byte of a 'U' ioctl.
CONTROL = 0
GETDRIVER = 8
SUBMITURB = 10
DISCARDURB = 11
REAPURB = 12
REAPURBNDELAY = 13
CONNECTINFO = 17
GET_CAPABILITIES = 26
GET_SPEED = 31
CONNINFO_EX = 32

# USB_SPEED_* (linux/usb/ch9.h) by the `speed` attribute the kernel shows.
SPEEDS = {"1.5": 1, "12": 2, "480": 3, "5000": 5, "10000": 6, "20000": 6}

# struct usbdevfs_ctrltransfer: 8 setup bytes, u32 timeout, then the data pointer.
CTRL_SIZE = 24
CTRL_DATA_OFFSET = 16
STANDARD_DEVICE_TO_HOST = 0x80   # bmRequestType of GET_DESCRIPTOR/GET_CONFIGURATION
REQ_GET_DESCRIPTOR = 6
REQ_GET_CONFIGURATION = 8
DT_DEVICE, DT_CONFIG, DT_STRING = 1, 2, 3
LANGID_EN_US = 0x0409
MAX_STRING_UNITS = 126   # bLength is one byte: 2 + 2 * 126 = 254


def string_descriptor(value):
    """A USB string descriptor (UTF-16LE) for a sysfs string (bytes, newline stripped).

    It carries what a device could: the first 126 UTF-16 units, invalid UTF-8 as U+FFFD.
    The kernel shows a real device's string as UTF-8, so for valid, short strings the
    descriptor decodes to exactly the sysfs value."""
    units = value.decode("utf-8", "replace").encode("utf-16-le")[:2 * MAX_STRING_UNITS]
    if len(units) >= 2 and 0xD800 <= int.from_bytes(units[-2:], "little") <= 0xDBFF:
        units = units[:-2]   # never end on half a surrogate pair
    return bytes([2 + len(units), DT_STRING]) + units


def language_descriptor():
    return bytes([4, DT_STRING]) + struct.pack("<H", LANGID_EN_US)


class UsbfsDevice:
    """Answers usbfs requests for one device node.

    descriptors: the device descriptor followed by its configuration, as in the device's
    `descriptors` attribute; strings: string index -> descriptor bytes (index 0, the
    language list, is added here)."""

    def __init__(self, devnode, devnum, speed, descriptors, strings):
        self.devnode = devnode
        self.devnum = devnum
        self.speed = SPEEDS.get(speed, SPEEDS["480"])
        self.descriptors = bytes(descriptors)
        self.strings = {0: language_descriptor(), **strings}
        self.gone = False
        self.requests = {}            # request number -> count, for tests and diagnosis
        self._lock = threading.Lock()
        self._read_offsets = {}       # client -> bytes of descriptors it has read
        self.handler = UMockdev.IoctlBase()
        self.handler.connect("handle-ioctl", self._on_ioctl)
        self.handler.connect("handle-read", self._on_read)
        self.handler.connect("handle-write", self._on_write)
        self.handler.connect("client-connected", self._on_connected)
        self.handler.connect("client-vanished", self._on_vanished)

    @property
    def clients(self):
        """How many processes have the node open. umockdev 0.17 signals client-vanished
        only when the client object goes, which our table prevents: ask each instead."""
        with self._lock:
            for client in [c for c in self._read_offsets if not c.get_connected()]:
                del self._read_offsets[client]
            return len(self._read_offsets)

    def unplug(self):
        """From now on every request fails with ENODEV, as on a disconnected device."""
        self.gone = True

    def _on_connected(self, _handler, client):
        with self._lock:
            self._read_offsets[client] = 0

    def _on_vanished(self, _handler, client):
        with self._lock:
            self._read_offsets.pop(client, None)

    def _on_read(self, _handler, client):
        if self.gone:
            client.complete(-1, errno.ENODEV)
            return True
        # libusb rewinds (lseek, which umockdev does not forward) and reads until a short
        # read; so each client reads the descriptors once through, then starts over.
        arg = client.get_arg()
        wanted = len(arg.retrieve())
        with self._lock:
            offset = self._read_offsets.get(client, 0)
            chunk = self.descriptors[offset:offset + wanted]
            self._read_offsets[client] = 0 if len(chunk) < wanted else offset + len(chunk)
        arg.update(0, chunk)
        client.complete(len(chunk), 0)
        return True

    def _on_write(self, _handler, client):
        client.complete(-1, errno.ENODEV if self.gone else errno.EINVAL)
        return True

    def _on_ioctl(self, _handler, client):
        request = client.get_request()
        kind, number = (request >> 8) & 0xff, request & 0xff
        if kind != ord("U"):
            result, err = -1, errno.ENOTTY
        elif self.gone:
            result, err = -1, errno.ENODEV
        else:
            result, err = self._answer(number, client)
        with self._lock:
            self.requests[number] = self.requests.get(number, 0) + 1
        client.complete(result, err)
        return True

    def _answer(self, number, client):
        """(result, errno) for usbfs request `number`."""
        if number == CONNECTINFO:      # struct usbdevfs_connectinfo {u32 devnum; u8 slow}
            slow = 1 if self.speed == SPEEDS["1.5"] else 0
            client.get_arg().resolve(0, 8).update(0, struct.pack("=IB3x", self.devnum, slow))
            return 0, 0
        if number == GET_SPEED:
            return self.speed, 0
        if number == GET_CAPABILITIES:
            client.get_arg().resolve(0, 4).update(0, struct.pack("=I", 0))
            return 0, 0
        if number == GETDRIVER:        # no host driver bound: nothing to disconnect
            return -1, errno.ENODATA
        if number == CONNINFO_EX:      # as a kernel without it; libusb falls back
            return -1, errno.ENOTTY
        if number == CONTROL:
            return self._control(client)
        if number == SUBMITURB:        # transfers stall: the guest gets no data
            return -1, errno.EPIPE
        if number in (REAPURB, REAPURBNDELAY):
            return -1, errno.EAGAIN
        if number == DISCARDURB:
            return -1, errno.EINVAL
        # CLAIM/RELEASEINTERFACE, SETINTERFACE, SETCONFIGURATION, RESET, CLEAR_HALT,
        # DISCONNECT_CLAIM, DROP_PRIVILEGES, ...: the device takes them.
        return 0, 0

    def _control(self, client):
        """Synchronous control transfers: the standard requests libusb and QEMU read."""
        ctrl = client.get_arg().resolve(0, CTRL_SIZE)
        request_type, request, value, _index, length = struct.unpack(
            "<BBHHH", bytes(ctrl.retrieve()[:8]))
        if request_type != STANDARD_DEVICE_TO_HOST or length == 0:
            return -1, errno.EPIPE
        if request == REQ_GET_CONFIGURATION:
            answer = b"\x01"
        elif request == REQ_GET_DESCRIPTOR:
            answer = self._descriptor(value >> 8, value & 0xff)
            if answer is None:
                return -1, errno.EPIPE
        else:
            return -1, errno.EPIPE
        answer = answer[:length]
        ctrl.resolve(CTRL_DATA_OFFSET, length).update(0, answer)
        return len(answer), 0

    def _descriptor(self, kind, index):
        if kind == DT_DEVICE:
            return self.descriptors[:18]
        if kind == DT_CONFIG and index == 0:
            return self.descriptors[18:]
        if kind == DT_STRING:
            return self.strings.get(index)
        return None
