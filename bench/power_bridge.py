#!/usr/bin/python3
"""The power bridge's figures, on the harness, in one run (docs/power-bridge.md):

  host sleep:  logind's PrepareForSleep(true) until vmdesk's delay inhibitor is released,
               with N running guests set to on-host-sleep=suspend (guest S3 through qemu-ga,
               in parallel, released once every guest is pmsuspended), against what a
               script would do: a sequential `virsh dompmsuspend NAME mem` loop, timed until
               every guest is pmsuspended (virsh returns once qemu-ga took the request,
               before the guest is in S3);
  battery:     UPower's DisplayDevice changes until the guest has it in its power_supply:
               the guest agent writes vmdesk_battery, then logs "power: ... N%" on the
               serial console, which the bench watches on the host (1 ms polls of the file).
               The console is a 115200-baud UART: a line costs ~5 ms of the figure.

The guests are the test image booted from the bzImage (S3 needs it), on TCG: absolute
numbers are TCG numbers; the comparison is what counts.

usage: bench/power_bridge.py [--build-dir build] [--guests 4] [--rounds 5] [--samples 30]
Prints figures; asserts nothing about speed.
"""
import argparse
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import dbus  # noqa: E402
import libvirt  # noqa: E402

from harness import bus as hbus          # noqa: E402
from harness import daemon as hdaemon    # noqa: E402
from harness import procs                # noqa: E402
from harness import virt                 # noqa: E402

SETTINGS_NS = "https://vmdesk.org/xmlns/vm-settings/1"
SETTINGS = "<settings><on-host-sleep>suspend</on-host-sleep><power-channel>yes</power-channel></settings>"
DELAY_US = 30_000_000   # logind's InhibitDelayMaxUSec: long enough never to cut S3 short


def ms(seconds):
    return f"{seconds * 1000:.0f} ms"


def summary(values):
    values = sorted(values)
    return (f"median {ms(statistics.median(values))}, min {ms(values[0])}, "
            f"max {ms(values[-1])} (n={len(values)})")


class Bench:
    def __init__(self, workdir, guest_dir, n_guests):
        self.workdir = workdir
        self.guest_dir = guest_dir
        self.names = [f"g{i}" for i in range(n_guests)]

    def start(self):
        self.bus = hbus.PrivateSystemBus(os.path.join(self.workdir, "bus")).start()
        self.bus.start_polkitd()
        self.logind = self.bus.start_logind({"InhibitDelayMaxUSec": DELAY_US})
        self.upower = self.bus.start_upower({"OnBattery": True})
        self.set_battery(50)
        self.libvirtd = virt.PrivateLibvirtd(os.path.join(self.workdir, "libvirt"), self.bus.address)
        self.libvirtd.start()
        self.conn = self.libvirtd.open()
        for name in self.names:
            dom = self.conn.defineXML(virt.guest_domain_xml(
                name, self.guest_dir, self.serial(name), extra_channels=["org.vmdesk.power.0"]))
            dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, SETTINGS, "vmdesk", SETTINGS_NS,
                            libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            dom.create()
        for name in self.names:
            virt.wait_serial_marker(self.serial(name), "VMDESK-GUEST-READY", timeout=300)
            virt.wait_guest_agent(self.conn, name, timeout=120)
        self.client = hdaemon.Client(self.bus.address)
        self.daemon = hdaemon.Vmdeskd(self.workdir, self.bus.address, self.libvirtd.uri)
        self.daemon.start(self.client)
        procs.wait_until(lambda: all(g["link"] == "ready" for g in self.power()["guests"]), 60,
                         what="every power link ready")

    def stop(self):
        for attr, stop in (("daemon", lambda d: d.child and d.child.running() and d.stop()),
                           ("client", lambda c: c.close()), ("conn", lambda c: c.close()),
                           ("libvirtd", lambda l: l.cleanup()), ("bus", lambda b: b.stop())):
            if attr in self.__dict__:
                try:
                    stop(self.__dict__.pop(attr))
                except Exception as e:
                    print(f"teardown of {attr}: {e}", file=sys.stderr)

    def serial(self, name):
        return os.path.join(self.workdir, f"{name}.serial")

    def power(self):
        return self.client.call("GetPower")[0]

    def set_battery(self, percent):
        self.upower.set_device_properties(self.upower.DISPLAY_DEVICE, {
            "Type": dbus.UInt32(2), "IsPresent": dbus.Boolean(True),
            "Energy": dbus.Double(percent * 0.5), "EnergyFull": dbus.Double(50.0),
            "Percentage": dbus.Double(percent), "State": dbus.UInt32(2)})

    def states(self):
        return [self.conn.lookupByName(n).state()[0] for n in self.names]

    def all_in(self, state):
        return all(s == state for s in self.states())

    def vmdesk_inhibitor(self):
        return [i for i in self.logind.inhibitors() if i[1] == "vmdesk"]

    def awake(self):
        """Every guest runs and its qemu-ga answers: ready for the next round's S3."""
        procs.wait_until(lambda: self.all_in(libvirt.VIR_DOMAIN_RUNNING), 60, what="guests running")
        for name in self.names:
            virt.wait_guest_agent(self.conn, name, timeout=60)

    # --- host sleep ---------------------------------------------------------------------

    def vmdesk_round(self):
        self.awake()
        procs.wait_until(self.vmdesk_inhibitor, 10, interval=0.01, what="vmdesk's inhibitor")
        seen = len(self.client.seen("SleepReport", lambda a: a[0] == "host-sleep"))
        began = time.monotonic()
        self.logind.prepare_for_sleep(True)
        procs.wait_until(lambda: not self.vmdesk_inhibitor(), DELAY_US / 1e6, interval=0.002,
                         what="vmdesk's inhibitor to go")
        took = time.monotonic() - began
        report = procs.wait_until(
            lambda: self.client.seen("SleepReport", lambda a: a[0] == "host-sleep")[seen:], 10,
            what="the host-sleep report")[0]
        taken = sorted({(r["taken"], r["result"]) for r in report[1]})
        suspended = self.all_in(libvirt.VIR_DOMAIN_PMSUSPENDED)
        self.logind.prepare_for_sleep(False)
        return took, report[2] / 1000, taken, suspended

    def virsh_round(self):
        self.awake()
        began = time.monotonic()
        for name in self.names:
            subprocess.run(["virsh", "-q", "-c", self.libvirtd.uri, "dompmsuspend", name, "mem"],
                           check=True, stdout=subprocess.DEVNULL)
        loop = time.monotonic() - began
        procs.wait_until(lambda: self.all_in(libvirt.VIR_DOMAIN_PMSUSPENDED), 60, interval=0.002,
                         what="every guest pmsuspended")
        took = time.monotonic() - began
        for name in self.names:
            subprocess.run(["virsh", "-q", "-c", self.libvirtd.uri, "dompmwakeup", name],
                           check=True, stdout=subprocess.DEVNULL)
        return took, loop

    # --- battery to guest -----------------------------------------------------------------

    def battery_sample(self, percent):
        """Seconds from the UPower change to every guest's agent having applied it."""
        sizes = {n: os.path.getsize(self.serial(n)) for n in self.names}
        pattern = re.compile(rf"power: ac \w+, battery present {percent}% ")

        def applied(name):
            with open(self.serial(name), "rb") as f:
                f.seek(sizes[name])
                return pattern.search(f.read().decode("utf-8", "replace")) is not None
        began = time.monotonic()
        self.set_battery(percent)
        done = {}
        while len(done) < len(self.names):
            for name in self.names:
                if name not in done and applied(name):
                    done[name] = time.monotonic() - began
            if time.monotonic() - began > 20:
                raise TimeoutError(f"{percent}% did not reach {set(self.names) - set(done)}")
            time.sleep(0.001)
        return done


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("VMDESK_BUILD_DIR"))
    ap.add_argument("--guests", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=5)
    ap.add_argument("--samples", type=int, default=30)
    args = ap.parse_args()
    if args.build_dir:
        os.environ["VMDESK_BUILD_DIR"] = os.path.abspath(args.build_dir)
    guest_dir = virt.guest_image_dir() if os.environ.get("VMDESK_GUEST_DIR") else \
        os.path.join(hdaemon.build_dir(), "guest")
    workdir = tempfile.mkdtemp(prefix="vmd-bp-", dir="/tmp")
    bench = Bench(workdir, guest_dir, args.guests)
    try:
        began = time.monotonic()
        bench.start()
        print(f"{args.guests} TCG guests (bzImage, 256 MiB, 1 vCPU) and vmdeskd ready in "
              f"{time.monotonic() - began:.0f} s; logind InhibitDelayMaxUSec {DELAY_US / 1e6:.0f} s")

        vmdesk, inside, outcomes = [], [], set()
        for _ in range(args.rounds):
            took, daemon_took, taken, suspended = bench.vmdesk_round()
            if not suspended:
                print(f"  warning: not every guest was pmsuspended at release: {taken}")
            vmdesk.append(took)
            inside.append(daemon_took)
            outcomes.update(taken)
        virsh, loops = [], []
        for _ in range(args.rounds):
            took, loop = bench.virsh_round()
            virsh.append(took)
            loops.append(loop)
        bench.awake()

        battery, per_guest = [], []
        for i in range(args.samples):
            done = bench.battery_sample(40 + (i % 2) * 20 + i % 7)
            battery.append(max(done.values()))
            per_guest.extend(done.values())

        print(f"\nHost sleep, {args.guests} running guests, on-host-sleep=suspend:")
        print(f"  vmdesk: PrepareForSleep(true) -> inhibitor released: {summary(vmdesk)}")
        print(f"          (vmdeskd's own SleepReport took_ms: {summary(inside)}; outcomes {sorted(outcomes)})")
        print(f"  sequential `virsh dompmsuspend` loop -> all pmsuspended: {summary(virsh)}")
        print(f"          (the loop of virsh commands alone: {summary(loops)})")
        print(f"\nHost battery change -> guest power_supply updated ({args.samples} changes, "
              f"{args.guests} guests):")
        print(f"  last guest: {summary(battery)}")
        print(f"  any guest:  {summary(per_guest)}")
        return 0
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
