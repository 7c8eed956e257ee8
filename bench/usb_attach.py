"""P1: how fast a plugged USB device reaches its VM, vmdeskd against the classic udev-RUN
script that forks `virsh attach-device` per event. One run, same lab, same guest:

  end to end:  from the moment the listener (vmdeskd, or the script's udev stand-in) receives
               the "add" uevent until the hostdev is in the domain's live XML (libvirt's
               status file, polled at 1 ms). Both sides stamp the uevent with CLOCK_MONOTONIC,
               the clock the bench polls with;
  overhead:    inside vmdeskd, from its udev event to its libvirt attach call
               (its debug log: "uevent add ... at T" and "attach issued ... at T").

The script's virsh opens the same embedded root as vmdeskd does (one process at a time),
so each virsh starts libvirt's QEMU driver: that is what a udev RUN script costs here.

Run: /usr/bin/python3 bench/usb_attach.py [--build-dir build] [--script-runs 30] [--daemon-runs 1000]
Prints figures; asserts nothing about speed.
"""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()

import argparse  # noqa: E402
import re  # noqa: E402
import shutil  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
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
    return (f"{name}: n={len(values_ms)} median {statistics.median(values_ms):.2f} ms, "
            f"p99 {percentile(values_ms, 0.99):.2f} ms, min {min(values_ms):.2f}, max {max(values_ms):.2f}")


def attached_at(lab, devnum):
    return any(h["device"] == devnum for h in lab.hostdevs("work"))


def plug_cycle(lab, timeout=10):
    """Plug, wait until the live XML has it, unplug, wait until it is gone. Returns the
    monotonic time (us) at which the live XML had it."""
    t0 = time.monotonic()
    dev = lab.tb.add_usb_device(VID, PID, port="1-2", serial="BENCH1", interfaces=[(3, 1, 1)])
    devnum = int(lab.tb.read_attr(dev, "devnum"))
    while not attached_at(lab, devnum):
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("the device never reached the live XML")
        time.sleep(0.001)
    seen = time.monotonic_ns() // 1000
    lab.tb.remove_usb_device(dev)
    procs.wait_until(lambda: not lab.hostdevs("work"), timeout, interval=0.002,
                     what="the hostdev to go")
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
                           stdout=__import__("subprocess").PIPE)
    try:
        listener.proc.stdout.readline()
        live = [plug_cycle(lab) for _ in range(runs)]
    finally:
        listener.stop()
    uevents = [int(m.group(1)) for m in re.finditer(rb"uevent add at (\d+) us", listener.proc.stdout.read())]
    return end_to_end(uevents, live)


def run_daemon(lab, runs, config):
    client = hdaemon.Client(lab.bus.address)
    daemon = lab.daemon(extra_env={"VMDESK_CONFIG_DIR": config, "G_MESSAGES_DEBUG": "all"})
    daemon.start(client)
    try:
        live = [plug_cycle(lab) for _ in range(runs)]
    finally:
        daemon.stop()
        client.close()
    overhead, decided, uevents, pending, queued = [], [], [], None, None
    for line in daemon.log().splitlines():
        m = re.search(r"uevent add \S+/1-2 at (\d+) us", line)
        if m:
            pending = int(m.group(1))
            uevents.append(pending)
            continue
        m = re.search(r"attach queued to \S+ at (\d+) us", line)
        if m and pending is not None:
            queued = int(m.group(1))
            decided.append((queued - pending) / 1000)
            continue
        m = re.search(r"attach issued to \S+ at (\d+) us", line)
        if m and pending is not None:
            overhead.append((int(m.group(1)) - pending) / 1000)
            pending = None
    return end_to_end(uevents, live), overhead, decided


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--build-dir", default=os.path.join(os.path.dirname(__file__), "..", "build"))
    parser.add_argument("--script-runs", type=int, default=30)
    parser.add_argument("--daemon-runs", type=int, default=1000)
    args = parser.parse_args()
    os.environ["VMDESK_BUILD_DIR"] = os.path.abspath(args.build_dir)
    guest_dir = os.environ.get("VMDESK_GUEST_DIR", os.path.join(os.environ["VMDESK_BUILD_DIR"], "guest"))

    workdir = tempfile.mkdtemp(prefix="vb-", dir="/tmp")
    try:
        with UsbLab(workdir, guest_dir, domains=("work",)) as lab:
            lab.bus.start_polkitd().allow_all()
            config = os.path.join(workdir, "etc")
            os.makedirs(config)
            with open(os.path.join(config, "usb.rules"), "w") as f:
                f.write(f"attach work id {VID:04x}:{PID:04x}\n")
            lab.start("work")
            script = run_script(lab, args.script_runs)
            daemon, overhead, decided = run_daemon(lab, args.daemon_runs, config)
        print(describe("udev RUN + virsh attach-device, uevent -> live XML", script))
        print(describe("vmdeskd,                       uevent -> live XML", daemon))
        print(f"ratio (medians): vmdeskd is {statistics.median(script) / statistics.median(daemon):.1f}x faster")
        print(describe("vmdeskd overhead, its uevent -> attach call issued", overhead))
        print(describe("  of which uevent -> decided and queued (sysfs read, policy; main loop)", decided))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
