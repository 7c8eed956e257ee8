"""P1: how fast a plugged USB device reaches its VM, vmdeskd against the classic udev-RUN
script that forks `virsh attach-device` per event. One run, same lab, same guest:

  end to end:  the test plugs the device (umockdev writes it and sends "add") until the
               hostdev is in the domain's live XML (libvirt's status file, polled at 1 ms);
  overhead:    inside vmdeskd, from its udev event to its libvirt attach call
               (its debug log: "uevent add ... at T" and "attach issued ... at T").

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
    """Plug, time until the live XML has it, unplug, wait until it is gone. Returns ms."""
    t0 = time.monotonic()
    dev = lab.tb.add_usb_device(VID, PID, port="1-2", serial="BENCH1", interfaces=[(3, 1, 1)])
    devnum = int(lab.tb.read_attr(dev, "devnum"))
    while not attached_at(lab, devnum):
        if time.monotonic() - t0 > timeout:
            raise TimeoutError("the device never reached the live XML")
        time.sleep(0.001)
    elapsed = (time.monotonic() - t0) * 1000
    lab.tb.remove_usb_device(dev)
    procs.wait_until(lambda: not lab.hostdevs("work"), timeout, interval=0.002,
                     what="the hostdev to go")
    return elapsed


def run_script(lab, runs):
    env = dict(lab.tb.env())
    listener = procs.Child(lab.root.command([sys.executable, "-c", UDEV_SCRIPT, lab.root.uri, "work",
                                             lab.workdir]), name="udev-script", env=env,
                           stdout=__import__("subprocess").PIPE)
    try:
        listener.proc.stdout.readline()
        return [plug_cycle(lab) for _ in range(runs)]
    finally:
        listener.stop()


def run_daemon(lab, runs, config):
    client = hdaemon.Client(lab.bus.address)
    daemon = lab.daemon(extra_env={"VMDESK_CONFIG_DIR": config, "G_MESSAGES_DEBUG": "all"})
    daemon.start(client)
    try:
        times = [plug_cycle(lab) for _ in range(runs)]
    finally:
        daemon.stop()
        client.close()
    overhead, pending = [], None
    for line in daemon.log().splitlines():
        m = re.search(r"uevent add \S+ at (\d+) us", line)
        if m:
            pending = int(m.group(1))
            continue
        m = re.search(r"attach issued to \S+ at (\d+) us", line)
        if m and pending is not None:
            overhead.append((int(m.group(1)) - pending) / 1000)
            pending = None
    return times, overhead


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
            daemon, overhead = run_daemon(lab, args.daemon_runs, config)
        print(describe("udev RUN + virsh attach-device, uevent -> live XML", script))
        print(describe("vmdeskd,                       uevent -> live XML", daemon))
        print(f"ratio (medians): vmdeskd is {statistics.median(script) / statistics.median(daemon):.1f}x faster")
        print(describe("vmdeskd overhead, its uevent -> attach call issued", overhead))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
