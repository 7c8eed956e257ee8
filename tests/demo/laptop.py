#!/usr/bin/python3
"""The vmdesk demo: a simulated laptop with two real guests, played step by step.

Everything is private and torn down at the end: a system bus with mocked logind, UPower and
polkitd; a umockdev laptop (battery, AC, USB devices, a GPU in its IOMMU group); a private
libvirtd with two tiny TCG guests, "work" and "personal"; and vmdeskd from the build tree.
The user's side is played with vmdeskctl and with libvirt (as `virsh` would), and each step
shows what the daemon announced and what the guests themselves see.

usage: tests/demo/laptop.py [--build-dir DIR]    (./dev demo does the set-up)
"""
import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time

import libvirt

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()  # umockdev needs it before anything else starts

from harness import bus as hbus          # noqa: E402
from harness import daemon as hdaemon    # noqa: E402
from harness import procs                # noqa: E402
from harness import virt                 # noqa: E402
from harness.usb_lab import UsbLab       # noqa: E402

BOLD, DIM, RESET = ("\033[1m", "\033[2m", "\033[0m") if sys.stdout.isatty() else ("", "", "")
GUESTS = ("work", "personal")
VM_SETTINGS_NS = "https://vmdesk.org/xmlns/vm-settings/1"


def step(title):
    print(f"\n{BOLD}== {title}{RESET}", flush=True)


def note(text):
    print(f"{DIM}   {text}{RESET}", flush=True)


class Demo:
    def __init__(self, workdir, guest_dir):
        self.workdir = workdir
        self.guest_dir = guest_dir
        self.shown_signals = 0
        self.demo_dir = os.path.dirname(os.path.abspath(__file__))

    def ctl(self, *args, show=True, bus=None):
        env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=(bus or self.bus).address)
        argv = [hdaemon.binary("vmdeskctl"), *args]
        r = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=60)
        if show:
            print(f"$ vmdeskctl {' '.join(args)}")
            for line in (r.stdout + r.stderr).rstrip().splitlines():
                print(f"  {line}")
        if r.returncode != 0:
            raise RuntimeError(f"vmdeskctl {' '.join(args)} failed ({r.returncode})")
        return r.stdout

    def signals(self):
        """Print the daemon's D-Bus signals received since the last call."""
        new = self.client.signals[self.shown_signals:]
        self.shown_signals += len(new)
        for name, args in new:
            if name in ("VMStateChanged", "FocusChanged", "VMRemoved"):
                print(f"  signal {name}{tuple(args)}")

    def guest_view(self, name):
        """What the guest itself reports, through its own qemu-ga."""
        dom = self.conn.lookupByName(name)
        _, uptime = virt.guest_exec(dom, ["/bin/cat", "/proc/uptime"])
        _, ports = virt.guest_exec(dom, ["/bin/ls", "/dev/virtio-ports"])
        print(f"  {name}: uptime {float(uptime.split()[0]):.1f} s, "
              f"virtio ports: {' '.join(ports.split())}")

    def build_laptop(self):
        self.testbed = sysfs.Testbed()
        tb = self.testbed
        tb.add_power_supply("AC", type="Mains", online=1)
        tb.add_power_supply("BAT0", type="Battery", status="Discharging", capacity=87,
                            energy_now=43500000, energy_full=50000000)
        tb.add_usb_device(0x046D, 0xC31C, port="1-1", product="USB Keyboard",
                          interfaces=((0x03, 0x01, 0x01),))
        tb.add_usb_device(0x1050, 0x0407, port="1-2", serial="12345678", product="YubiKey OTP+FIDO+CCID",
                          interfaces=((0x03, 0x01, 0x01), (0x0B, 0x00, 0x00)))
        tb.add_usb_device(0x04F2, 0xB6D9, port="1-4", product="Integrated Camera",
                          interfaces=((0x0E, 0x01, 0x00), (0x0E, 0x02, 0x00)))
        tb.add_pci_device("0000:01:00.0", 0x10DE, 0x25A2, 0x030000, driver="nouveau", iommu_group=12)
        tb.add_pci_device("0000:01:00.1", 0x10DE, 0x2291, 0x040300, driver="snd_hda_intel",
                          iommu_group=12)

    def run(self):
        step("The simulated laptop")
        self.build_laptop()
        note(f"umockdev /sys at {self.testbed.root}: AC, BAT0 87%, keyboard, YubiKey, webcam, "
             "NVIDIA GPU + HDMI audio in IOMMU group 12")
        self.bus = hbus.PrivateSystemBus(os.path.join(self.workdir, "bus")).start()
        self.polkitd = self.bus.start_polkitd()
        self.polkitd.set_allowed(["org.vmdesk.switch", "org.vmdesk.setup"])
        self.logind = self.bus.start_logind({"InhibitDelayMaxUSec": 10_000_000})
        self.upower = self.bus.start_upower({"OnBattery": False})
        self.set_battery(87, charging=True)
        note(f"private system bus {self.bus.address}: mocked logind, UPower (87%, on AC), polkitd")

        self.libvirtd = virt.PrivateLibvirtd(os.path.join(self.workdir, "libvirt"), self.bus.address)
        took = self.libvirtd.start()
        self.conn = self.libvirtd.open()
        for name in GUESTS:
            self.conn.defineXML(virt.guest_domain_xml(
                name, self.guest_dir, os.path.join(self.workdir, f"{name}.serial")))
        note(f"private libvirtd ready in {took:.1f} s ({self.libvirtd.uri}); "
             "domains 'work' and 'personal' defined")

        step("vmdeskd starts")
        self.client = hdaemon.Client(self.bus.address)
        self.daemon = hdaemon.Vmdeskd(self.workdir, self.bus.address, self.libvirtd.uri,
                                      extra_env=self.testbed.env())
        began = time.monotonic()
        self.daemon.start(self.client)
        note(f"owns org.vmdesk.Manager1 after {(time.monotonic() - began) * 1000:.0f} ms")
        self.ctl("status")

        step("Adopt the two VMs (vmdeskctl setup shows the change, then applies it)")
        self.ctl("setup", "work", "--dry-run")
        for name in GUESTS:
            self.ctl("setup", name, "--yes", show=False)
        note("both set up: vmdesk metadata, guest S3, qemu-ga and power-bridge channels")
        for name in GUESTS:
            # What `virsh metadata NAME NS --key vmdesk --set ... --config` does.
            self.conn.lookupByName(name).setMetadata(
                libvirt.VIR_DOMAIN_METADATA_ELEMENT,
                f"<settings><role>{name}</role><power-channel>yes</power-channel></settings>",
                "vmdesk", VM_SETTINGS_NS, libvirt.VIR_DOMAIN_AFFECT_CONFIG)
            self.client.wait_signal("VMChanged", lambda a, n=name: a[0]["name"] == n
                                    and a[0]["role"] == n)
        note("roles and power-channel=yes set with libvirt's metadata API; vmdeskd picked them "
             "up from the event")

        step("Boot both guests, as a user would with virsh")
        for name in GUESTS:
            self.conn.lookupByName(name).create()
        for name in GUESTS:
            virt.wait_serial_marker(os.path.join(self.workdir, f"{name}.serial"), "VMDESK-GUEST-READY")
            virt.wait_guest_agent(self.conn, name)
        self.client.wait_signal("VMStateChanged", lambda a: a[0] == "personal" and a[1] == "running")
        self.signals()
        self.ctl("list")
        for name in GUESTS:
            self.guest_view(name)

        step("Switch: work on screen, then personal")
        self.ctl("switch", "work")
        self.client.wait_signal("FocusChanged", lambda a: a[0] == "work")
        self.signals()
        self.ctl("switch", "personal")
        self.client.wait_signal("FocusChanged", lambda a: a[0] == "personal")
        self.signals()
        self.ctl("list")
        self.power_act()

        step("The VM on screen shuts off: the host's desktop comes back")
        self.conn.lookupByName("personal").destroy()
        self.client.wait_signal("FocusChanged", lambda a: a == ("", "personal"))
        self.signals()
        self.ctl("status")

        step("vmdeskd stops on SIGTERM")
        code = self.daemon.stop()
        note(f"exit code {code}")
        if code != 0:
            raise RuntimeError(f"vmdeskd exited with {code}")
        self.usb_act()

    # --- the power bridge -------------------------------------------------------------

    def set_battery(self, percent, charging):
        """UPower's DisplayDevice; energy first, as UPower sends them in one signal."""
        import dbus
        self.upower.set_device_properties(self.upower.DISPLAY_DEVICE, {
            "Type": dbus.UInt32(2), "IsPresent": dbus.Boolean(True),
            "Energy": dbus.Double(percent * 0.5), "EnergyFull": dbus.Double(50.0),
            "Percentage": dbus.Double(percent), "State": dbus.UInt32(1 if charging else 2)})

    def in_guest(self, name, *argv):
        _, out = virt.guest_exec(self.conn.lookupByName(name), list(argv))
        return out.strip()

    def supplies(self, name):
        """The guest's own power_supply class, as its UPower reads it."""
        out = self.in_guest(name, "/bin/sh", "-c",
                            "cd /sys/class/power_supply && for s in *; do "
                            "echo $s $(cat $s/type) $(cat $s/capacity $s/status $s/online 2>/dev/null); done")
        return "; ".join(line for line in out.splitlines())

    def wait_guests(self, what, predicate):
        for name in GUESTS:
            procs.wait_until(lambda n=name: predicate(n), 30, interval=0.1, what=f"{name}: {what}")

    def show_guests(self, show):
        for name in GUESTS:
            print(f"  {name} sees: {show(name)}")

    def capacity(self, name):
        return self.in_guest(name, "/bin/cat", "/sys/class/power_supply/vmdesk_battery/capacity")

    def lid(self, name):
        return self.in_guest(name, "/usr/bin/vmdesk-evstate", "vmdesk power buttons")

    def uptime(self, name):
        return float(self.in_guest(name, "/bin/cat", "/proc/uptime").split()[0])

    def sleep_report(self, kind):
        """Print the daemon's SleepReport of `kind` (each happens once in the demo)."""
        _, vms, took_ms = self.client.wait_signal("SleepReport", lambda a: a[0] == kind)[0]
        print(f"  signal SleepReport('{kind}', {took_ms} ms):")
        for r in vms:
            taken = r["taken"] if r["taken"] == r["requested"] else f"{r['requested']} -> {r['taken']}"
            why = "" if r["message"] == r["result"] else f": {r['message']}"
            print(f"    {r['vm']}: {taken} ({r['result']}){why}")

    def power_act(self):
        step("Power: each guest gets the laptop's battery and AC (vmdesk-guest-agent + vmdesk_battery)")
        procs.wait_until(lambda: all(g["link"] == "ready" for g in self.client.call("GetPower")[0]["guests"]),
                         60, what="both power links ready")
        power = self.client.call("GetPower")[0]
        print(f"  GetPower: {power['percentage']:.0f}% {power['state']}, on battery: {power['on-battery']}, "
              f"guests: {', '.join(g['name'] + ' ' + g['link'] for g in power['guests'])}")
        self.wait_guests("87%", lambda n: self.capacity(n) == "87")
        self.show_guests(self.supplies)

        step("AC unplugged")
        self.upower.set_on_battery(True)
        self.set_battery(87, charging=False)
        self.wait_guests("on battery", lambda n: "Discharging" in self.supplies(n))
        self.show_guests(self.supplies)

        step("The battery falls: 87% -> 64% -> 31%")
        for percent in (64, 31):
            began = time.monotonic()
            self.set_battery(percent, charging=False)
            self.wait_guests(f"{percent}%", lambda n, p=percent: self.capacity(n) == str(p))
            note(f"{percent}%: in both guests' /sys after {(time.monotonic() - began) * 1000:.0f} ms "
                 "(as read through qemu-ga)")
        self.show_guests(lambda n: f"/sys/class/power_supply/vmdesk_battery/capacity = {self.capacity(n)}")

        step("The lid closes: only the VM on screen (personal) sees it, its logind decides")
        self.logind.set_lid_closed(True)
        procs.wait_until(lambda: self.lid("personal") == "SW_LID=1", 30, what="personal's lid closed")
        self.show_guests(lambda n: f"input device 'vmdesk power buttons': {self.lid(n)}")
        self.logind.set_lid_closed(False)
        procs.wait_until(lambda: self.lid("personal") == "SW_LID=0", 30, what="personal's lid open")
        note("lid opened again: SW_LID=0")

        step("The host sleeps: vmdeskd holds logind's delay inhibitor until the guests are in S3")
        before = {n: self.uptime(n) for n in GUESTS}
        self.show_guests(lambda n: f"uptime {before[n]:.1f} s")
        began = time.monotonic()
        self.logind.prepare_for_sleep(True)
        self.logind.wait_inhibitors(lambda held: not [i for i in held if i[1] == "vmdesk"], 15,
                                    what="vmdesk's inhibitor released")
        print(f"  logind: PrepareForSleep(true) -> vmdesk's inhibitor released after "
              f"{(time.monotonic() - began) * 1000:.0f} ms (logind waits at most 10 s)")
        self.sleep_report("host-sleep")
        self.signals()
        for name in GUESTS:
            print(f"  {name}: libvirt state {virt_state(self.conn.lookupByName(name))}")

        step("... and wakes: vmdeskd wakes exactly the VMs it put to sleep and sets their clocks")
        self.logind.prepare_for_sleep(False)
        self.sleep_report("wake")
        for name in GUESTS:
            virt.wait_guest_agent(self.conn, name)
            self.client.wait_signal("VMStateChanged", lambda a, n=name: a == (n, "running", "wakeup"))
        self.signals()
        self.show_guests(lambda n: f"{virt_state(self.conn.lookupByName(n))}, uptime "
                                   f"{self.uptime(n):.1f} s (was {before[n]:.1f} s before S3: the same boot)")
        self.logind.wait_inhibitors(lambda held: [i for i in held if i[1] == "vmdesk"], 10,
                                    what="vmdesk's inhibitor taken again")
        note("vmdesk's delay inhibitor is held again for the next sleep")

    def usb_act(self):
        step("USB routing: the laptop's USB ports, by policy")
        note("This machine has no USB bus: libvirt sees umockdev's USB devices only from a process "
             "under umockdev's preload, so this act runs vmdeskd on libvirt's embedded driver "
             "(docs/testing.md); the guests are real QEMU all the same.")
        # One umockdev testbed per process: the first laptop's gives way to the USB lab's.
        self.__dict__.pop("testbed").close()
        lab = self.usb_lab = UsbLab(os.path.join(self.workdir, "usb"), self.guest_dir).__enter__()
        lab.bus.start_polkitd().allow_all()
        config = os.path.join(lab.workdir, "etc")
        os.makedirs(config)
        with open(os.path.join(self.demo_dir, "usb.rules")) as f:
            rules = f.read()
        with open(os.path.join(config, "usb.rules"), "w") as f:
            f.write(rules)
        print("  /etc/vmdesk/usb.rules:")
        for line in rules.rstrip().splitlines():
            print(f"    {line}")
        lab.start("work", "personal")
        client = self.usb_client = hdaemon.Client(lab.bus.address)
        self.usb_daemon = lab.daemon(extra_env={"VMDESK_CONFIG_DIR": config})
        self.usb_daemon.start(client)
        self.ctl("switch", "work", bus=lab.bus)

        step("Plug a YubiKey: it goes to work, always")
        lab.tb.add_usb_device(0x1050, 0x0407, port="1-2", serial="0001234567",
                              manufacturer="Yubico", product="YubiKey OTP+FIDO+CCID",
                              interfaces=((0x03, 0x01, 0x01), (0x03, 0x00, 0x00), (0x0B, 0x00, 0x00)))
        self.show_hostdev(lab, "work", "ua-vmdesk-usb-1-2")

        step("Plug a webcam: to the VM on screen (work), and it follows a switch")
        lab.tb.add_usb_device(0x046D, 0x085C, port="1-3", serial="9A8B7C6D", manufacturer="Logitech",
                              product="C922 Pro Stream Webcam",
                              interfaces=((0x0E, 0x01, 0x00), (0x0E, 0x02, 0x00), (0x01, 0x01, 0x00),
                                          (0x01, 0x02, 0x00)))
        self.show_hostdev(lab, "work", "ua-vmdesk-usb-1-3")
        self.ctl("switch", "personal", bus=lab.bus)
        self.show_hostdev(lab, "personal", "ua-vmdesk-usb-1-3")
        lab.wait_detached("work", "ua-vmdesk-usb-1-3")
        note("gone from work's live XML and from its QEMU")

        step("Plug a 'USB stick' that is also a keyboard (BadUSB): denied")
        bad = lab.tb.add_usb_device(0x0781, 0x5571, port="1-4", serial="BAD00001", manufacturer="Generic",
                                    product="Flash Disk", interfaces=((0x08, 0x06, 0x50), (0x03, 0x01, 0x01)))
        procs.wait_until(lambda: lab.tb.read_attr(bad, "authorized").strip() == b"0", 10,
                         what="the BadUSB stick de-authorized")
        note(f"host sysfs {bad.syspath}/authorized = 0; in no VM")
        self.ctl("usb", "list", bus=lab.bus)
        for name in GUESTS:
            hostdevs = [h["alias"] for h in lab.hostdevs(name)]
            print(f"  {name}: live XML USB hostdevs {hostdevs}, QEMU: "
                  f"{[d['id'] for d in lab.info_usb(name)]}")
        code = self.usb_daemon.stop()
        if code != 0:
            raise RuntimeError(f"vmdeskd (USB act) exited with {code}")

    def show_hostdev(self, lab, vm, alias):
        hostdev = lab.wait_attached(vm, alias)
        qemu = next(d for d in lab.info_usb(vm) if d["id"] == alias)
        print(f"  {vm} live XML: <hostdev type='usb'> alias {alias}, "
              f"{hostdev['vendor']:04x}:{hostdev['product']:04x} at bus {hostdev['bus']} device {hostdev['device']}")
        print(f"  {vm} QEMU `info usb`: Device {qemu['port']}, {qemu['product']}, ID {qemu['id']}")

    def close(self):
        for attr, stop in (("usb_daemon", lambda d: d.child and d.child.running() and d.stop()),
                           ("usb_client", lambda c: c.close()), ("usb_lab", lambda l: l.close()),
                           ("daemon", lambda d: d.child and d.child.running() and d.stop()),
                           ("client", lambda c: c.close()), ("conn", lambda c: c.close()),
                           ("libvirtd", lambda l: l.cleanup()), ("bus", lambda b: b.stop()),
                           ("testbed", lambda t: t.close())):
            if attr in self.__dict__:
                try:
                    stop(self.__dict__.pop(attr))
                except Exception as e:  # tear down the rest regardless
                    print(f"teardown of {attr}: {e}", file=sys.stderr)


def virt_state(dom):
    names = {libvirt.VIR_DOMAIN_RUNNING: "running", libvirt.VIR_DOMAIN_PAUSED: "paused",
             libvirt.VIR_DOMAIN_PMSUSPENDED: "pmsuspended (guest S3)",
             libvirt.VIR_DOMAIN_SHUTOFF: "shut off"}
    return names.get(dom.state()[0], str(dom.state()[0]))


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--build-dir", default=os.environ.get("VMDESK_BUILD_DIR"))
    args = ap.parse_args()
    if args.build_dir:
        os.environ["VMDESK_BUILD_DIR"] = args.build_dir
    guest_dir = os.environ.get("VMDESK_GUEST_DIR") or os.path.join(hdaemon.build_dir(), "guest")
    workdir = tempfile.mkdtemp(prefix="vmdesk-demo-", dir="/tmp")
    demo = Demo(workdir, guest_dir)
    try:
        demo.run()
        demo.close()
        leftovers = procs.processes_mentioning(workdir)
        if leftovers:
            raise RuntimeError(f"processes left running: {leftovers}")
        print(f"\n{BOLD}Demo finished: nothing is left running.{RESET}")
        return 0
    except Exception as e:
        print(f"\ndemo failed: {e}", file=sys.stderr)
        if "daemon" in demo.__dict__:
            print(f"--- vmdeskd log ---\n{demo.daemon.log()}", file=sys.stderr)
        return 1
    finally:
        demo.close()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
