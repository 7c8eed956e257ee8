"""P1: how fast a plugged USB device reaches its VM, vmdeskd against the classic udev-RUN
script that forks `virsh attach-device` per event. One run, same lab, same guest:

  end to end:  from the moment the listener (vmdeskd, or the script's udev stand-in) receives
               the "add" uevent until the hostdev is in the domain's live XML (libvirt's
               status file, seen through inotify: polling it would take a CPU from the
               daemon). Both sides stamp the uevent with CLOCK_MONOTONIC, as the bench does;
  overhead:    inside vmdeskd, from its udev event to its libvirt attach call, with the
               stamps the daemon takes on the way and logs (G_MESSAGES_DEBUG=vmdesk-usb) once
               the attach is done: "attach of ua-vmdesk-usb-1-2 to work queued at T us, its
               uevent at T us" and "attach of ua-vmdesk-usb-1-2 to work issued at T us";
  from send:   the same, but from the moment umockdev sent the uevent (this process notes it
               with the uevent_stamp shim, build/bench/libusb-uevent-stamp.so, when the build
               has it): this adds the socket and the daemon's wake-up to its main loop.

The script's virsh opens the same embedded root as vmdeskd does (one process at a time),
so each virsh starts libvirt's QEMU driver: that is what a udev RUN script costs here.
The guest is a TCG QEMU on the same machine; note the load (uptime) with the figures.

Run: /usr/bin/python3 bench/usb_attach.py [--build-dir build] [--script-runs 30] [--daemon-runs 1000]
Prints figures; asserts nothing about speed.
"""
import argparse
import os
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from harness import sysfs  # noqa: E402


def parse_args():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    parser.add_argument("--script-runs", type=int, default=30)
    parser.add_argument("--daemon-runs", type=int, default=1000)
    return parser.parse_args()


ARGS = parse_args()
STAMP_LIB = os.path.abspath(os.path.join(ARGS.build_dir, "bench", "libusb-uevent-stamp.so"))
# Preloaded into this process only (with umockdev's preload, by the re-exec below); the
# stamps file is named before the re-exec so that both sides of it agree.
if os.path.exists(STAMP_LIB) and "VMDESK_UEVENT_STAMPS" not in os.environ:
    fd, path = tempfile.mkstemp(prefix="vb-stamps-", dir="/tmp")
    os.close(fd)
    os.environ["VMDESK_UEVENT_STAMPS"] = path
    os.environ["LD_PRELOAD"] = " ".join(filter(None, [STAMP_LIB, os.environ.get("LD_PRELOAD")]))

sysfs.ensure_preloaded()

# Children (the daemon, virsh, QEMU) must not inherit the shim.
os.environ["LD_PRELOAD"] = " ".join(p for p in os.environ.get("LD_PRELOAD", "").split() if p != STAMP_LIB)
if not os.environ["LD_PRELOAD"]:
    del os.environ["LD_PRELOAD"]
STAMPS = os.environ.pop("VMDESK_UEVENT_STAMPS", None)
with open("/proc/self/maps") as _maps:
    if STAMPS and STAMP_LIB not in _maps.read():
        os.unlink(STAMPS)
        STAMPS = None

import ctypes  # noqa: E402
import re  # noqa: E402
import select  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import struct  # noqa: E402
import subprocess  # noqa: E402
import time  # noqa: E402

from harness import daemon as hdaemon  # noqa: E402
from harness import procs  # noqa: E402
from harness.usb_lab import UsbLab  # noqa: E402

VID, PID = 0x1050, 0x0407

# The script users write today: a udev rule RUNs it for every usb_device event, and it forks
# virsh. Here a small listener plays udev and forks the same virsh per event.
UDEV_SCRIPT = r'''
import os, subprocess, sys, gi
gi.require_version("GUdev", "1.0")
from gi.repository import GLib, GUdev
uri, domain, workdir = sys.argv[1:4]
def on_uevent(client, action, dev):
    if dev.get_devtype() != "usb_device" or dev.get_property("ID_VENDOR_ID") != "%04x":
        return
    if action == "add":
        print("uevent add at %%d us" %% (GLib.get_monotonic_time()), flush=True)
    xml = os.path.join(workdir, "dev.xml")
    with open(xml, "w") as f:
        f.write("<hostdev mode='subsystem' type='usb'><source><address bus='%%d' device='%%d'/>"
                "</source></hostdev>" %% (int(dev.get_property("BUSNUM")), int(dev.get_property("DEVNUM"))))
    verb = {"add": "attach-device", "remove": "detach-device"}.get(action)
    if verb:
        subprocess.run(["virsh", "-q", "-c", uri, verb, domain, xml, "--live"],
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
client = GUdev.Client.new(["usb"])
client.connect("uevent", on_uevent)
print("ready", flush=True)
GLib.MainLoop().run()
''' % VID


def percentile(values, q):
    values = sorted(values)
    return values[min(len(values) - 1, int(round(q * (len(values) - 1))))]


def describe(name, values_ms):
    return (f"{name}: n={len(values_ms)} median {statistics.median(values_ms):.3f} ms, "
            f"p90 {percentile(values_ms, 0.90):.3f}, p99 {percentile(values_ms, 0.99):.3f}, "
            f"min {min(values_ms):.3f}, max {max(values_ms):.3f}")


class StatusWatch:
    """Changes of a running domain's status file (libvirt rewrites ROOT/run/qemu/NAME.xml by
    renaming a new file over it), through inotify: the bench waits for the live XML without
    polling it, so that it does not take the CPU from the daemon it measures (a 1 ms poll
    that parses the XML each time kept one of the two CPUs busy)."""

    IN_CLOSE_WRITE, IN_MOVED_TO = 0x8, 0x80

    def __init__(self, lab, name):
        self.lab, self.name = lab, name
        self.libc = ctypes.CDLL(None, use_errno=True)
        self.fd = self.libc.inotify_init1(os.O_CLOEXEC)
        directory = os.path.join(lab.root.root, "run", "qemu").encode()
        if self.fd < 0 or self.libc.inotify_add_watch(self.fd, directory, self.IN_CLOSE_WRITE | self.IN_MOVED_TO) < 0:
            raise OSError(ctypes.get_errno(), "inotify on the status directory")
        self.mine = f"{name}.xml".encode()

    def close(self):
        os.close(self.fd)

    def _changed(self, timeout):
        """Waits for a change of the status file; returns the monotonic time (us) at which it
        was seen, or None at the timeout."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self.fd], [], [], left)[0]:
                return None
            data = os.read(self.fd, 65536)
            seen = time.monotonic_ns() // 1000
            at = 0
            while at < len(data):
                _, _, _, length = struct.unpack_from("iIII", data, at)
                name = data[at + 16:at + 16 + length].rstrip(b"\0")
                at += 16 + length
                if name == self.mine:
                    return seen

    def wait(self, predicate, timeout, what):
        """Waits until predicate(hostdevs) holds; returns when it was seen (us)."""
        seen = time.monotonic_ns() // 1000
        deadline = time.monotonic() + timeout
        while not predicate(self.lab.hostdevs(self.name)):
            seen = self._changed(deadline - time.monotonic())
            if seen is None:
                raise TimeoutError(f"timed out waiting for {what}")
        return seen


def plug_cycle(lab, watch, timeout=10):
    """Plug, wait until the live XML has it, unplug, wait until it is gone. Returns the
    monotonic time (us) at which the live XML had it."""
    # A YubiKey as it reports itself: with its strings. (A device without a product or
    # manufacturer string makes the daemon look up absent attributes; in the lab such a
    # lookup waits for umockdev writing the interface into the same directory, which kernfs
    # does not make it do: docs/usb-router.md, "Latency".)
    dev = lab.tb.add_usb_device(VID, PID, port="1-2", serial="BENCH1", manufacturer="Yubico",
                                product="YubiKey OTP+FIDO+CCID", interfaces=[(3, 1, 1)])
    devnum = int(lab.tb.read_attr(dev, "devnum"))
    seen = watch.wait(lambda hostdevs: any(h["device"] == devnum for h in hostdevs), timeout,
                      "the device to reach the live XML")
    lab.tb.remove_usb_device(dev)
    watch.wait(lambda hostdevs: not hostdevs, timeout, "the hostdev to go")
    return seen


def end_to_end(uevents_us, live_us):
    """ms from each cycle's uevent to its live XML, paired in order."""
    if len(uevents_us) != len(live_us):
        raise RuntimeError(f"{len(uevents_us)} uevents for {len(live_us)} plugs")
    return [(live - uevent) / 1000 for uevent, live in zip(uevents_us, live_us)]


def run_script(lab, runs):
    env = dict(lab.tb.env())
    listener = procs.Child(lab.root.command([sys.executable, "-c", UDEV_SCRIPT, lab.root.uri, "work",
                                             lab.workdir]), name="udev-script", env=env,
                           stdout=subprocess.PIPE)
    watch = StatusWatch(lab, "work")
    try:
        listener.proc.stdout.readline()
        live = [plug_cycle(lab, watch) for _ in range(runs)]
    finally:
        watch.close()
        listener.stop()
    uevents = [int(m.group(1)) for m in re.finditer(rb"uevent add at (\d+) us", listener.proc.stdout.read())]
    return end_to_end(uevents, live)


def sent_stamps(since):
    """Microseconds at which umockdev began sending each "add" of port 1-2 (the first of its
    sends, one per listening process), in order, from the stamps file past offset `since`."""
    first = {}
    with open(STAMPS) as f:
        f.seek(since)
        for line in f:
            seqnum, action, devpath, us = line.split()
            if action == "add" and devpath.endswith("/1-2"):
                first.setdefault(seqnum, int(us))
    return sorted(first.values())


def run_daemon(lab, runs, config):
    """Returns per plug, in ms: end to end, and the daemon's stages (see the docstring)."""
    client = hdaemon.Client(lab.bus.address)
    daemon = lab.daemon(extra_env={"VMDESK_CONFIG_DIR": config, "G_MESSAGES_DEBUG": "vmdesk-usb"})
    try:
        daemon.start(client)
    finally:
        # Only needed to see the daemon ready: its thread would wake for every USB signal.
        client.close()
    since = os.path.getsize(STAMPS) if STAMPS else 0
    watch = StatusWatch(lab, "work")
    try:
        live = [plug_cycle(lab, watch) for _ in range(runs)]
    finally:
        watch.close()
        daemon.stop()
    log = daemon.log()
    routed = [(int(u), int(q)) for q, u in re.findall(
        r"attach of ua-vmdesk-usb-1-2 to \S+ queued at (\d+) us, its uevent at (\d+) us", log)]
    issued = [int(t) for t in re.findall(r"attach of ua-vmdesk-usb-1-2 to \S+ issued at (\d+) us", log)]
    if not (len(routed) == len(issued) == runs):
        raise RuntimeError(f"{runs} plugs, {len(routed)} attaches queued, {len(issued)} issued")
    stages = {
        "received -> issued": [(i - u) / 1000 for (u, q), i in zip(routed, issued)],
        "received -> queued": [(q - u) / 1000 for u, q in routed],
        "queued -> issued": [(i - q) / 1000 for (u, q), i in zip(routed, issued)],
    }
    if STAMPS:
        sent = sent_stamps(since)
        if len(sent) != runs:
            raise RuntimeError(f"{runs} plugs, {len(sent)} uevents sent")
        stages["sent -> received"] = [(u - s) / 1000 for s, (u, q) in zip(sent, routed)]
        stages["sent -> issued"] = [(i - s) / 1000 for s, i in zip(sent, issued)]
    return end_to_end([u for u, q in routed], live), stages


def load():
    with open("/proc/loadavg") as f:
        return " ".join(f.read().split()[:3])


def main():
    os.environ["VMDESK_BUILD_DIR"] = os.path.abspath(ARGS.build_dir)
    guest_dir = os.environ.get("VMDESK_GUEST_DIR", os.path.join(os.environ["VMDESK_BUILD_DIR"], "guest"))

    workdir = tempfile.mkdtemp(prefix="vb-", dir="/tmp")
    try:
        print(f"load average before: {load()}", flush=True)
        with UsbLab(workdir, guest_dir, domains=("work",)) as lab:
            lab.bus.start_polkitd().allow_all()
            config = os.path.join(workdir, "etc")
            os.makedirs(config)
            with open(os.path.join(config, "usb.rules"), "w") as f:
                f.write(f"attach work id {VID:04x}:{PID:04x}\n")
            lab.start("work")
            script = run_script(lab, ARGS.script_runs) if ARGS.script_runs else None
            daemon, stages = run_daemon(lab, ARGS.daemon_runs, config)
        print(f"load average after: {load()}")
        if script:
            print(describe("udev RUN + virsh attach-device, uevent -> live XML", script))
        print(describe("vmdeskd,                       uevent -> live XML", daemon))
        if script:
            print(f"ratio (medians): vmdeskd is {statistics.median(script) / statistics.median(daemon):.1f}x faster")
        print(describe("P1, vmdeskd overhead: uevent received -> attach call issued",
                       stages["received -> issued"]))
        print(describe("  of which received -> attach queued (sysfs, policy; main loop)",
                       stages["received -> queued"]))
        print(describe("  and queued -> issued (hand-over to the VM's worker thread)", stages["queued -> issued"]))
        if "sent -> issued" in stages:
            print(describe("umockdev sent the uevent -> attach call issued", stages["sent -> issued"]))
            print(describe("  of which sent -> received (socket, daemon wake-up, GUdev)", stages["sent -> received"]))
        else:
            print(f"(no send stamps: {STAMP_LIB} was not built or not loaded)")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
        if STAMPS:
            os.unlink(STAMPS)


if __name__ == "__main__":
    main()
