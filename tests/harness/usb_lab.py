"""A laptop with USB ports for the router's integration tests: USB devices plugged into a
umockdev testbed reach real QEMU guests through libvirt's embedded driver, with vmdeskd in
the middle.

    sysfs.ensure_preloaded()                       # first thing in the test module
    with UsbLab(workdir, GUEST_DIR) as lab:        # bus, testbed, root, "work"+"personal"
        lab.start("work")                          # while no daemon holds the root
        daemon = lab.daemon().start(client)        # vmdeskd under the preload
        key = lab.tb.add_usb_device(0x1050, 0x0407, port="1-2", serial="C0FFEE")
        lab.wait_usb("work", lambda hostdevs, qemu: ...)  # live XML and QEMU, both
        lab.power_off("work")                      # QEMU quits; the daemon sees it stop
        lab.agent_exec("work", ["/bin/cat", "/tmp/x"])   # with UsbLab(test_agents=True)

One process at a time may open an embedded root (libvirt locks ROOT/run/qemu/driver.pid):
while vmdeskd runs the test never opens it. It watches the guests through files instead:
the status XML libvirt saves for a running domain (live_xml, hostdevs) and a QMP socket of
the test's own in each domain (info_usb, power_off).
"""
import os
import re
import xml.etree.ElementTree as ET

from harness import bus as hbus
from harness import daemon as hdaemon
from harness import procs, sysfs, virt

_INFO_USB = re.compile(r"^\s*Device (?P<bus>\d+)\.(?P<addr>\d+), Port (?P<port>[^,]*), "
                       r"Speed (?P<speed>\S+) Mb/s, Product (?P<product>.*?)"
                       r"(?:, ID: (?P<id>\S+))?$")


def _running(pid):
    """Whether `pid` exists and is no zombie."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0] != "Z"
    except FileNotFoundError:
        return False


def usb_hostdevs(domain_xml):
    """The USB <hostdev>s of a domain XML, as dicts: alias, vendor, product (ints), bus,
    device (ints, or None when the hostdev has no address)."""
    found = []
    for hostdev in ET.fromstring(domain_xml).iterfind("devices/hostdev[@type='usb']"):
        source = hostdev.find("source")
        address = source.find("address")
        alias = hostdev.find("alias")

        def number(element, attr):
            return None if element is None else int(element.get(attr), 0)
        found.append({"alias": None if alias is None else alias.get("name"),
                      "vendor": number(source.find("vendor"), "id"),
                      "product": number(source.find("product"), "id"),
                      "bus": number(address, "bus"), "device": number(address, "device")})
    return found


def fork_guard():
    """The build's libvmdesk-umockdev-fork-guard.so (harness/umockdev-fork-guard.c): a
    child forked under umockdev's preload while another thread is in one of its path
    wrappers inherits its mutex locked and hangs; the guard holds it across fork()."""
    path = os.path.join(hdaemon.build_dir(), "tests", "libvmdesk-umockdev-fork-guard.so")
    if not os.path.exists(path):
        raise RuntimeError(f"{path} is not built (target vmdesk-umockdev-fork-guard)")
    return path


def parse_info_usb(text):
    """QEMU's HMP `info usb` as dicts: port, speed, product, id (None without one)."""
    return [match.groupdict() for match in map(_INFO_USB.match, text.splitlines()) if match]


class UsbLab:
    """Bus (optional), usb_hostdev testbed, embedded root with the guests defined to run
    under the testbed's preload, and vmdeskd to run on all of them. The test process must
    run under umockdev's preload (sysfs.ensure_preloaded())."""

    def __init__(self, workdir, guest_dir, domains=("work", "personal"), bus=True,
                 fast_boot=True, graphics=None, paint=None, swap=(), test_agents=False):
        """graphics: every domain's display server ("spice", "vnc"); paint: domain name ->
        ANSI colour of its console, e.g. {"work": 4, "personal": 1} (virt.guest_domain_xml:
        a painted domain boots the bzImage, fast_boot or not). swap: the domains that get a
        swap disk (swap_disk(name)) and so can hibernate; test_agents: every domain gets a
        qemu-ga of the test's own (agent_exec), which works while vmdeskd holds the root."""
        # Short: socket paths below it (libvirt's, the QMP sockets) must stay < 108 bytes.
        self.workdir = os.path.abspath(workdir)
        self.guest_dir = guest_dir
        self.domains = tuple(domains)
        self.fast_boot = fast_boot
        self.graphics = graphics
        self.paint = dict(paint or {})
        self.swap = tuple(swap)
        self.test_agents = test_agents
        self.bus = hbus.PrivateSystemBus(os.path.join(self.workdir, "bus")) if bus else None
        self.tb = None
        self.root = None
        self._daemon = None

    def __enter__(self):
        try:
            if self.bus:
                self.bus.start()
            self.tb = sysfs.Testbed(usb_hostdev=True)
            self.root = virt.EmbeddedRoot(os.path.join(self.workdir, "root"), caps_tag="usb-lab")
            for name in self.domains:
                self.define(virt.guest_domain_xml(
                    name, self.guest_dir, self.serial_log(name), umockdev_dir=self.tb.root,
                    fast_boot=self.fast_boot, qmp_socket=self.qmp_socket(name),
                    graphics=self.graphics, paint=self.paint.get(name),
                    swap_disk=(virt.swap_disk_file(self.swap_disk(name))
                               if name in self.swap else None),
                    test_agent=self.test_agent(name) if self.test_agents else None))
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self):
        """Daemon, QEMUs (before the testbed: QEMU aborts when its usbfs node's handler
        goes), testbed, bus."""
        if self._daemon and self._daemon.child and self._daemon.child.running():
            self._daemon.stop()
        if self.root:
            self.root.cleanup()
        if self.tb:
            self.tb.close()
        if self.bus:
            self.bus.stop()

    # paths

    def serial_log(self, name):
        return os.path.join(self.workdir, f"{name}-serial.log")

    def qmp_socket(self, name):
        return os.path.join(self.workdir, f"{name}.qmp")

    def test_agent(self, name):
        return os.path.join(self.workdir, f"{name}.qga")

    def swap_disk(self, name):
        return os.path.join(self.workdir, f"{name}-swap.raw")

    # the daemon

    def preload_env(self):
        """What a process needs to see the testbed: LD_PRELOAD and UMOCKDEV_DIR (not
        ASAN_OPTIONS: Vmdeskd sets its own, with verify_asan_link_order=0). LD_PRELOAD has
        the build's umockdev fork guard too: vmdeskd's libvirt forks from many threads."""
        env = self.tb.env({})
        return {"LD_PRELOAD": f"{env['LD_PRELOAD']} {fork_guard()}",
                "UMOCKDEV_DIR": env["UMOCKDEV_DIR"]}

    def daemon(self, extra_env=None, bus_address=None):
        """vmdeskd on the embedded root, under the testbed's preload (not started), on the
        lab's bus or `bus_address` (a bus of the test's own, with UsbLab(bus=False))."""
        bus_address = bus_address or (self.bus and self.bus.address)
        if not bus_address:
            raise RuntimeError("UsbLab(bus=False) has no bus: give daemon() a bus_address")
        self._daemon = hdaemon.Vmdeskd(self.workdir, bus_address, self.root.uri,
                                       extra_env={**self.preload_env(), **(extra_env or {})},
                                       wrap=self.root.command)
        return self._daemon

    def _root_free(self):
        if self._daemon and self._daemon.child and self._daemon.child.running():
            raise RuntimeError("vmdeskd holds the embedded root: stop it first "
                               "(one process at a time may open a root)")

    # libvirt, while no daemon holds the root

    def virsh(self, *commands, timeout=120):
        """virsh on the root under the testbed's preload (so it finds USB devices), e.g. a
        user's own `attach-device`. Only while vmdeskd is not running."""
        self._root_free()
        return self.root.virsh(*commands, timeout=timeout, env=self.tb.env())

    def define(self, xml):
        """Define a domain, under the testbed's preload as every process on the root."""
        self._root_free()
        self.root.define(xml, env=self.tb.env())

    def start(self, *names):
        """Start guests (not waiting for their boot). Only while vmdeskd is not running."""
        self.virsh(*(f"start {name}" for name in names))

    # watching the guests, daemon or not

    def live_xml(self, name):
        """The running domain's live XML from libvirt's status file, or None."""
        return self.root.live_xml(name)

    def hostdevs(self, name):
        """USB hostdevs in the live XML (usb_hostdevs); [] when not running."""
        xml = self.live_xml(name)
        return usb_hostdevs(xml) if xml else []

    def info_usb(self, name):
        """The USB devices QEMU itself has, from `info usb` (parse_info_usb)."""
        return parse_info_usb(virt.qmp_hmp(self.qmp_socket(name), "info usb"))

    def wait_usb(self, name, predicate, timeout=10, what=None):
        """Wait until predicate(hostdevs, info_usb) holds for guest `name`; returns them.
        libvirt saves the status file before an attach call returns, but a detach
        completes when QEMU reports the device gone: so wait, don't look once."""
        def state():
            seen = (self.hostdevs(name), self.info_usb(name))
            return seen if predicate(*seen) else None
        try:
            return procs.wait_until(state, timeout, what=what or f"USB state of {name}")
        except TimeoutError as e:
            raise TimeoutError(f"{e}; live XML: {self.hostdevs(name)}; "
                               f"QEMU: {self._qemu_state(name)}") from None

    def _qemu_state(self, name):
        """QEMU's `info usb`, or why not, with the end of QEMU's own log: what a failure
        report needs when QEMU itself went away."""
        try:
            return self.info_usb(name)
        except Exception as e:  # noqa: BLE001 (any failure to ask is the news here)
            log = os.path.join(self.root.root, "log", "qemu", f"{name}.log")
            try:
                with open(log, errors="replace") as f:
                    tail = "".join(f.readlines()[-15:])
            except OSError as err:
                tail = f"(no log: {err})"
            return f"not answering ({e}); {log} ends:\n{tail}"

    def wait_attached(self, name, alias, timeout=30):
        """Wait until `alias` is in both the live XML and QEMU; returns its hostdev."""
        hostdevs, _ = self.wait_usb(
            name, lambda hds, qemu: any(h["alias"] == alias for h in hds)
            and any(d["id"] == alias for d in qemu), timeout, f"{alias} attached to {name}")
        return next(h for h in hostdevs if h["alias"] == alias)

    def wait_detached(self, name, alias, timeout=30):
        """Wait until `alias` is in neither the live XML nor QEMU."""
        self.wait_usb(name, lambda hds, qemu: all(h["alias"] != alias for h in hds)
                      and all(d["id"] != alias for d in qemu), timeout,
                      f"{alias} detached from {name}")

    def agent_exec(self, name, argv, timeout=10):
        """Run argv in guest `name` through the test's own qemu-ga (UsbLab(test_agents=True)):
        (exit code, stdout). Works whoever holds the root."""
        return virt.agent_socket_exec(self.test_agent(name), argv, timeout)

    def wait_agent(self, name, timeout=60):
        """Wait until guest `name` runs its init's qemu-ga for the test (booted or resumed)."""
        virt.wait_agent_socket(self.test_agent(name), timeout)

    def power_off(self, name):
        """QEMU quits, as when the guest powers off; whoever holds the root sees the domain
        stop (shutdown) and removes its status file. Returns once QEMU has exited."""
        with open(os.path.join(self.root.root, "run", "qemu", f"{name}.pid")) as f:
            pid = int(f.read())
        try:
            virt.qmp_hmp(self.qmp_socket(name), "quit")
        except ConnectionError:
            pass   # QEMU may hang up before it answers
        procs.wait_until(lambda: not _running(pid), 10, what=f"QEMU of {name} to exit")
