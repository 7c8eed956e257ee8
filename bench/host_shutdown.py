#!/usr/bin/python3
"""A host power-off with vmdesk, on the harness (docs/power-bridge.md, the timeline):

  vmdesk:  logind's PrepareForShutdown(true) with N running guests, half of them set to
           on-host-shutdown=shutdown (qemu-ga runs the guest's /sbin/shutdown, which here
           powers off at once), half to save (managed save): the time until vmdesk's delay
           inhibitor is released, until every guest is shut off (shut down or saved), and
           vmdeskd's own SleepReport took_ms; then a fresh vmdeskd's start until the saved
           guests run again (its "wake" report);
  script:  what libvirt-guests does by default (PARALLEL_SHUTDOWN=0): `virsh shutdown` and
           wait, or `virsh managedsave`, one guest after the other.

The guests are the test image booted from the bzImage on TCG: absolute numbers are TCG
numbers, and a real guest OS takes longer to shut down; the comparison is what counts.

usage: bench/host_shutdown.py [--build-dir build] [--guests 2] [--rounds 3]
Prints figures; asserts nothing about speed.
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import dbus  # noqa: E402
import libvirt  # noqa: E402

from harness import bus as hbus          # noqa: E402
from harness import daemon as hdaemon    # noqa: E402
from harness import procs                # noqa: E402
from harness import virt                 # noqa: E402
from power_bridge import ms, summary     # noqa: E402  (this folder: the same figures)

SETTINGS_NS = "https://vmdesk.org/xmlns/vm-settings/1"
DELAY_US = 5_000_000   # logind's default InhibitDelayMaxUSec
SHUTDOWN_COMMAND = "#!/bin/sh\n(sync; poweroff -f) </dev/null >/dev/null 2>&1 &\n"


def settings(action):
    return (f"<settings><on-host-shutdown>{action}</on-host-shutdown>"
            "<power-channel>no</power-channel></settings>")


class Bench:
    def __init__(self, workdir, guest_dir, n_guests):
        self.workdir = workdir
        self.guest_dir = guest_dir
        self.names = [f"g{i}" for i in range(n_guests)]
        # Even guests shut down, odd ones are saved.
        self.action = {n: "shutdown" if i % 2 == 0 else "save" for i, n in enumerate(self.names)}

    def start(self):
        self.bus = hbus.PrivateSystemBus(os.path.join(self.workdir, "bus")).start()
        self.bus.start_polkitd()
        self.logind = self.bus.start_logind({"InhibitDelayMaxUSec": DELAY_US})
        self.bus.start_upower()
        self.libvirtd = virt.PrivateLibvirtd(os.path.join(self.workdir, "libvirt"), self.bus.address)
        self.libvirtd.start()
        self.conn = self.libvirtd.open()
        for name in self.names:
            dom = self.conn.defineXML(virt.guest_domain_xml(name, self.guest_dir, self.serial(name)))
            dom.setMetadata(libvirt.VIR_DOMAIN_METADATA_ELEMENT, settings(self.action[name]),
                            "vmdesk", SETTINGS_NS, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
        self.client = hdaemon.Client(self.bus.address)
        self.daemon = None
        self.slowest_answers = []

    def stop(self):
        if self.daemon and self.daemon.child and self.daemon.child.running():
            self.daemon.stop()
        for attr, stop in (("client", lambda c: c.close()), ("conn", lambda c: c.close()),
                           ("libvirtd", lambda l: l.cleanup()), ("bus", lambda b: b.stop())):
            if attr in self.__dict__:
                try:
                    stop(self.__dict__.pop(attr))
                except Exception as e:
                    print(f"teardown of {attr}: {e}", file=sys.stderr)

    def serial(self, name):
        return os.path.join(self.workdir, f"{name}.serial")

    def dom(self, name):
        return self.conn.lookupByName(name)

    def boot_all(self):
        """Every guest running, with qemu-ga up and a /sbin/shutdown it can run; a saved
        guest is started from its image (still booted, so its marker is there)."""
        for name in self.names:
            dom = self.dom(name)
            if dom.isActive():
                continue
            restored = dom.hasManagedSaveImage()
            dom.create()   # QEMU starts the console log afresh
            if not restored:
                virt.wait_serial_marker(self.serial(name), "VMDESK-GUEST-READY", timeout=300)
        for name in self.names:
            virt.wait_guest_agent(self.conn, name, timeout=120)
            virt.guest_exec(self.dom(name), ["/bin/sh", "-c",
                            f"mkdir -p /sbin && printf '%s' '{SHUTDOWN_COMMAND}' >/sbin/shutdown"
                            " && chmod +x /sbin/shutdown"])

    def start_daemon(self):
        self.daemon = hdaemon.Vmdeskd(self.workdir, self.bus.address, self.libvirtd.uri)
        self.daemon.start(self.client)

    def vmdesk_inhibitor(self):
        return [i for i in self.logind.inhibitors() if i[1] == "vmdesk"]

    def vmdesk_round(self):
        self.boot_all()
        self.logind.set("PreparingForShutdown", dbus.Boolean(False))
        self.start_daemon()
        procs.wait_until(self.vmdesk_inhibitor, 10, interval=0.01, what="vmdesk's inhibitor")
        seen = len(self.client.seen("SleepReport", lambda a: a[0] == "host-shutdown"))
        began = time.monotonic()
        self.logind.prepare_for_shutdown(True)
        off_at = {}

        def watch(name):
            # One thread per VM: libvirt answers no query about a VM it is saving, so a
            # shared poll would time every VM by the slowest.
            while time.monotonic() - began < 90:
                if self.dom(name).state()[0] == libvirt.VIR_DOMAIN_SHUTOFF:
                    off_at[name] = time.monotonic() - began
                    return
                time.sleep(0.002)
        answers = []

        def ask_daemon():
            # Is vmdeskd's main loop free while libvirt saves a VM? The slowest answer says.
            while len(off_at) < len(self.names) and time.monotonic() - began < 90:
                t = time.monotonic()
                self.client.call("ListVMs")
                answers.append(time.monotonic() - t)
                time.sleep(0.01)
        watchers = [threading.Thread(target=watch, args=(n,)) for n in self.names]
        watchers.append(threading.Thread(target=ask_daemon))
        for w in watchers:
            w.start()
        released = procs.wait_until(lambda: not self.vmdesk_inhibitor() and time.monotonic() - began,
                                    90, interval=0.002, what="vmdesk's inhibitor to go")
        for w in watchers:
            w.join()
        if len(off_at) < len(self.names):
            raise TimeoutError(f"still running: {set(self.names) - set(off_at)}")
        off = max(off_at.values())
        print(f"  round: inhibitor released {ms(released)}, off: "
              + ", ".join(f"{n} {ms(t)}" for n, t in sorted(off_at.items()))
              + f"; ListVMs meanwhile: {len(answers)} calls, slowest {ms(max(answers, default=0))}",
              flush=True)
        self.slowest_answers.append(max(answers, default=0))
        report = procs.wait_until(
            lambda: self.client.seen("SleepReport", lambda a: a[0] == "host-shutdown")[seen:], 90,
            what="the host-shutdown report")[0]
        outcomes = sorted({(r["taken"], r["result"]) for r in report[1]})
        assert self.daemon.stop(timeout=90) == 0, self.daemon.log()

        # The next boot: a fresh vmdeskd restores what it saved.
        self.logind.set("PreparingForShutdown", dbus.Boolean(False))
        seen = len(self.client.seen("SleepReport", lambda a: a[0] == "wake"))
        began = time.monotonic()
        self.start_daemon()
        procs.wait_until(lambda: self.client.seen("SleepReport", lambda a: a[0] == "wake")[seen:],
                         90, interval=0.005, what="the wake report")
        restored = time.monotonic() - began
        saved = [n for n in self.names if self.action[n] == "save"]
        assert all(self.dom(n).state()[0] == libvirt.VIR_DOMAIN_RUNNING for n in saved)
        self.daemon.stop()
        return released, off, report[2] / 1000, restored, outcomes

    def virsh_round(self):
        """libvirt-guests' default: one guest after the other."""
        self.boot_all()
        began = time.monotonic()
        for name in self.names:
            verb = "shutdown" if self.action[name] == "shutdown" else "managedsave"
            # As libvirt-guests, errors aside: `virsh shutdown` may fail when the guest is
            # off before libvirt's call is over.
            subprocess.run(["virsh", "-q", "-c", self.libvirtd.uri, verb, name],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            procs.wait_until(lambda n=name: self.dom(n).state()[0] == libvirt.VIR_DOMAIN_SHUTOFF,
                             90, interval=0.002, what=f"{name} off")
        return time.monotonic() - began


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("VMDESK_BUILD_DIR"))
    ap.add_argument("--guests", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args()
    if args.build_dir:
        os.environ["VMDESK_BUILD_DIR"] = os.path.abspath(args.build_dir)
    guest_dir = virt.guest_image_dir() if os.environ.get("VMDESK_GUEST_DIR") else \
        os.path.join(hdaemon.build_dir(), "guest")
    workdir = tempfile.mkdtemp(prefix="vmd-hs-", dir="/tmp")
    bench = Bench(workdir, guest_dir, args.guests)
    try:
        bench.start()
        released, off, inside, restored, outcomes = [], [], [], [], set()
        for _ in range(args.rounds):
            r, o, i, s, taken = bench.vmdesk_round()
            released.append(r)
            off.append(o)
            inside.append(i)
            restored.append(s)
            outcomes.update(taken)
        virsh = [bench.virsh_round() for _ in range(args.rounds)]

        print(f"\nHost power-off, {args.guests} running TCG guests (bzImage, 256 MiB): "
              f"{', '.join(f'{n} {a}' for n, a in bench.action.items())}; "
              f"logind InhibitDelayMaxUSec {DELAY_US / 1e6:.0f} s")
        print(f"  vmdesk: PrepareForShutdown(true) -> inhibitor released: {summary(released)}")
        print(f"          PrepareForShutdown(true) -> every guest shut off:  {summary(off)}")
        print(f"          (vmdeskd's own SleepReport took_ms: {summary(inside)}; "
              f"outcomes {sorted(outcomes)})")
        print(f"          next vmdeskd start -> saved guests running (wake report): {summary(restored)}")
        print(f"          slowest ListVMs answer while the guests shut down / are saved: "
              f"{summary(bench.slowest_answers)}")
        print(f"  one after the other (virsh shutdown / managedsave, as libvirt-guests): "
              f"{summary(virsh)}")
        return 0
    finally:
        bench.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
