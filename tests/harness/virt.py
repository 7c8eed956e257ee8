"""A private libvirt for tests, and the tiny TCG guest that runs under it.

PrivateLibvirtd -- a root libvirtd in its own mount namespace: its /etc/libvirt, /run and
                   /var are directories of the workdir, so it never sees or touches the
                   machine's libvirt, and its state survives a restart (QEMU keeps running
                   when libvirtd is killed; the next libvirtd re-attaches to it).
EmbeddedRoot    -- a root for the embedded driver, qemu:///embed?root=DIR, and the command
                   prefix under which a process (virsh, the daemon under test) may open it.
guest_domain_xml -- the domain of the image built by guest/build-guest-image.
usb_hostdev_xml -- a <hostdev type='usb'> as a router would attach it.
qmp_hmp         -- ask QEMU itself through a test-owned QMP socket (qmp_socket=...).
agent_socket_exec -- run a command in the guest through a qemu-ga of the test's own
                   (test_agent=...), whoever holds libvirt.
swap_disk_file  -- the raw file a guest hibernates to (swap_disk=...).
ensure_libvirt_user, start_event_loop -- what the test process needs to open an embedded
                   root itself (python3-libvirt, libvirt.open(root.uri)).

Paths handed to libvirtd (guest image, serial log, channel sockets) must not lie under
/run or /var: inside its namespace those are the workdir's copies.

A privileged QEMU driver (libvirtd or embedded, as root) resolves its built-in user
libvirt-qemu before it reads qemu.conf, and fails if there is none; libvirt-daemon-system
creates it, but this machine has only libvirt-daemon. So both run in a mount namespace whose
/etc/passwd and /etc/group have it (the machine's files stay untouched).
"""
import base64
import grp
import json
import os
import pwd
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt
import libvirt_qemu

from harness import procs

# Failures surface as libvirtError; libvirt's default handler would also print every one,
# including the expected ones while polling a starting daemon.
libvirt.registerErrorHandler(lambda _ctx, _err: None, None)

# Each knob keeps QEMU from touching the machine or needing a service we do not run.
QEMU_CONF = {
    # Inactive here (no AppArmor/SELinux), but on a host with AppArmor libvirt would write
    # profiles into the real /etc/apparmor.d.
    "security_driver": '"none"',
    # The test's files need no ownership changes, and umockdev's testbed is 0700 root.
    "user": '"root"',
    "group": '"root"',
    # Otherwise libvirt records owners in trusted.libvirt.security.* xattrs on the test's
    # files (kernel, initramfs, logs).
    "dynamic_ownership": "0",
    # Otherwise, with no machined, libvirt creates /sys/fs/cgroup/*/machine/qemu-N-name.
    "cgroup_controllers": "[ ]",
    # QEMU's stdout/stderr to a plain file: we run no virtlogd (domains fail to start).
    "stdio_handler": '"file"',
    # No private /dev per QEMU: under umockdev's preload libvirt's /dev setup fails.
    "namespaces": "[ ]",
}


QEMU_USER = "libvirt-qemu"


def _conf(settings):
    return "".join(f"{key} = {value}\n" for key, value in settings.items())


def _quote(path):
    if '"' in path or "\\" in path:
        raise ValueError(f"unsupported character in path {path!r}")
    return f'"{path}"'


def _mount_ns(pid):
    try:
        return os.readlink(f"/proc/{pid}/ns/mnt")
    except OSError:
        return None


def _kill_all(pids):
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def _write_identities(directory):
    """passwd and group files in `directory`: the machine's, plus libvirt-qemu."""
    os.makedirs(directory, exist_ok=True)
    for db, entry in (("passwd", "libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin"),
                      ("group", "libvirt-qemu:x:64055:")):
        with open(f"/etc/{db}") as f:
            lines = [line for line in f if not line.startswith("libvirt-qemu:")]
        with open(os.path.join(directory, db), "w") as f:
            f.writelines(lines + [entry + "\n"])


def _in_namespace(binds, argv, then=""):
    """argv run in a private mount namespace with (source, target) bind mounts, after the
    shell command `then`."""
    mounts = "".join(f"mount --bind {shlex.quote(source)} {shlex.quote(target)} && "
                     for source, target in binds)
    return ["unshare", "--mount", "--propagation", "private",
            "sh", "-c", mounts + then + 'exec "$@"', "sh", *argv]


def ensure_libvirt_user():
    """Re-exec this interpreter in a mount namespace whose /etc/passwd and /etc/group have
    libvirt-qemu, unless the machine has it: a process that opens an embedded root itself
    needs it (see the module docstring). Call first thing, before sysfs.ensure_preloaded()
    and before starting anything; children inherit the namespace."""
    try:
        pwd.getpwnam(QEMU_USER)
        grp.getgrnam(QEMU_USER)
        return
    except KeyError:
        pass
    ids = tempfile.mkdtemp(prefix="vmdesk-ids-")
    _write_identities(ids)
    # The bind mounts keep the files alive: the directory can go at once.
    argv = _in_namespace([(os.path.join(ids, db), f"/etc/{db}") for db in ("passwd", "group")],
                         [sys.executable, *sys.orig_argv[1:]],
                         then=f"rm -r {shlex.quote(ids)} && ")
    sys.stdout.flush()
    sys.stderr.flush()
    os.execvp(argv[0], argv)


_event_loop = None


def start_event_loop():
    """libvirt's default event loop on a thread of its own, once per process. An embedded
    driver opened in this process needs it, and domain events are delivered on it."""
    global _event_loop
    if _event_loop is None:
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()
        _event_loop = threading.Thread(target=run, name="libvirt-events", daemon=True)
        _event_loop.start()


def _caps_cache_dir(tag):
    """Where probed QEMU capabilities are kept between tests: beside the guest image, which
    every integration test shares. None when there is no guest image dir."""
    guest_dir = os.environ.get("VMDESK_GUEST_DIR")
    return os.path.join(guest_dir, "libvirt-caps", tag) if guest_dir else None


def _seed_capabilities(cache_dir, tag):
    """Copies the kept capabilities into a fresh QEMU driver's cache dir. A fresh driver
    otherwise probes QEMU for ~8 s under TCG; libvirt still checks each cached file (QEMU's
    and libvirt's ctime and version, the kernel) and probes again if it is stale."""
    kept = _caps_cache_dir(tag)
    target = os.path.join(cache_dir, "capabilities")
    if kept and os.path.isdir(kept) and not os.path.exists(target):
        os.makedirs(cache_dir, exist_ok=True)
        shutil.copytree(kept, target)


def _keep_capabilities(cache_dir, tag):
    """Keeps a driver's probed capabilities for the next test (first writer wins; the rename
    makes a concurrent reader see all or nothing)."""
    kept = _caps_cache_dir(tag)
    probed = os.path.join(cache_dir, "capabilities")
    if not kept or os.path.exists(kept) or not os.path.isdir(probed) or not os.listdir(probed):
        return
    os.makedirs(os.path.dirname(kept), exist_ok=True)
    staging = tempfile.mkdtemp(prefix=".staging-", dir=os.path.dirname(kept))
    shutil.copytree(probed, os.path.join(staging, "c"))
    try:
        os.rename(os.path.join(staging, "c"), kept)
    except OSError:
        pass  # another test kept its copy first
    shutil.rmtree(staging, ignore_errors=True)


class PrivateLibvirtd:
    """A libvirtd of the test's own; use as a context manager so a failure still cleans up."""

    # Host path -> path in the workdir bind-mounted over it.
    BINDS = (("/etc/libvirt", "etc"), ("/run", "run"), ("/var", "var"),
             ("/etc/passwd", "ids/passwd"), ("/etc/group", "ids/group"))

    def __init__(self, workdir, dbus_address=None, libvirtd_conf=None):
        """libvirtd_conf: extra libvirtd.conf settings, name -> value as written there."""
        self.workdir = os.path.abspath(workdir)
        self.libvirtd_conf = libvirtd_conf or {}
        for host_dir, _ in self.BINDS:
            if (self.workdir + "/").startswith(host_dir + "/"):
                raise ValueError(f"workdir must not be under {host_dir}: it is hidden there")
        self.sock_dir = os.path.join(self.workdir, "sock")
        self.uri = f"qemu+unix:///system?socket={self.sock_dir}/libvirt-sock"
        self.log = os.path.join(self.workdir, "libvirtd.log")
        # No bus given: point at nothing rather than let it fall back to the real one.
        self.dbus_address = dbus_address or f"unix:path={self.workdir}/no-system-bus"
        self._child = None
        self._namespaces = set()
        self._prepare()

    def _prepare(self):
        # var/lock: virDomainOpenChannel locks the channel there, as on a real host.
        for sub in ("sock", "etc", "run", "var/lib/libvirt", "var/cache/libvirt",
                    "var/log/libvirt", "var/tmp", "var/lock"):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        run_link = os.path.join(self.workdir, "var/run")
        if not os.path.islink(run_link):
            os.symlink("/run", run_link)
        _write_identities(os.path.join(self.workdir, "ids"))
        with open(os.path.join(self.workdir, "etc/libvirtd.conf"), "w") as f:
            f.write(_conf({
                # Outside the namespace's /run, so clients in the host namespace reach it.
                "unix_sock_dir": _quote(self.sock_dir),
                # Root clients pass polkit anyway; others would be judged by whatever
                # polkitd the test bus runs.
                "auth_unix_rw": '"none"',
                "auth_unix_ro": '"none"',
                "log_outputs": _quote(f"3:file:{self.log}"),
                **self.libvirtd_conf,
            }))
        with open(os.path.join(self.workdir, "etc/qemu.conf"), "w") as f:
            f.write(_conf(QEMU_CONF))
        _seed_capabilities(os.path.join(self.workdir, "var/cache/libvirt/qemu"), "libvirtd")

    def start(self, timeout=30):
        """Start libvirtd and wait until its QEMU driver is ready. Returns the seconds taken."""
        began = time.monotonic()
        binds = [(os.path.join(self.workdir, sub), target) for target, sub in self.BINDS]
        argv = ["libvirtd", "--config", os.path.join(self.workdir, "etc/libvirtd.conf")]
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
               "DBUS_SYSTEM_BUS_ADDRESS": self.dbus_address}
        with open(self.log, "a") as log:
            self._child = procs.Child(_in_namespace(binds, argv), name="libvirtd", env=env,
                                      stdout=log, stderr=log)
        procs.wait_until(self._ready, timeout, interval=0.1, what="libvirtd to be ready")
        # Safe to record once it answers: by then unshare has moved it into its own namespace.
        namespace = _mount_ns(self._child.pid)
        if namespace == _mount_ns(os.getpid()):
            raise RuntimeError("libvirtd runs in the host's mount namespace")
        self._namespaces.add(namespace)
        _keep_capabilities(os.path.join(self.workdir, "var/cache/libvirt/qemu"), "libvirtd")
        return time.monotonic() - began

    def _ready(self):
        if not self._child.running():
            raise RuntimeError(f"libvirtd exited ({self._child.proc.returncode}), see {self.log}")
        try:
            conn = libvirt.open(self.uri)
        except libvirt.libvirtError:
            return False
        try:
            # Returns once the QEMU driver has probed QEMU (~8 s on a fresh workdir; the
            # result is cached in var/cache): only then can domains be defined without delay.
            conn.getCapabilities()
            return True
        finally:
            conn.close()

    def stop(self):
        """SIGTERM: libvirtd exits and leaves running guests alone."""
        if self._child:
            self._child.stop()
            self._child = None

    def kill(self):
        """SIGKILL libvirtd alone (not its group): its QEMUs must live on."""
        if self._child:
            self._child.proc.send_signal(signal.SIGKILL)
            self._child.proc.wait()
            self._child.stop()  # reaps helpers in its group; QEMU has its own session
            self._child = None

    def restart(self, timeout=30):
        """Stop libvirtd if it runs, start a new one on the same state. Returns seconds."""
        self.stop()
        return self.start(timeout)

    def open(self):
        return libvirt.open(self.uri)

    def processes(self):
        """Pids of every process in this daemon's mount namespaces (libvirtd, QEMU, helpers),
        plus any whose command line names the workdir."""
        return procs.pids_where(lambda pid, cmdline: _mount_ns(pid) in self._namespaces
                     or self.workdir.encode() in cmdline)

    def cleanup(self):
        """Destroy every domain, stop libvirtd, kill whatever is left. When the last process
        of a namespace is gone, so are its mounts."""
        if self._child and self._child.running():
            try:
                conn = self.open()
                for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                    dom.destroy()
                conn.close()
            except libvirt.libvirtError:
                pass
        self.stop()
        _kill_all(self.processes())
        procs.wait_until(lambda: not self.processes(), 10, what="leftover processes to exit")
        self._namespaces.clear()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()


class EmbeddedRoot:
    """A root for libvirt's embedded QEMU driver. One process at a time may have it open:
    define domains here, and the daemon under test opens it later (run it with command())."""

    def __init__(self, workdir, caps_tag="embedded"):
        """caps_tag: names the kept QEMU capabilities to start from. Processes that open the
        root under a different umockdev testbed may see the host differently, so each kind
        of lab keeps its own."""
        # Socket paths below the root must stay under 108 bytes: keep workdir short.
        self.root = os.path.abspath(workdir)
        self.uri = f"qemu:///embed?root={self.root}"
        self.caps_tag = caps_tag
        os.makedirs(os.path.join(self.root, "etc"), exist_ok=True)
        _seed_capabilities(os.path.join(self.root, "cache/qemu"), caps_tag)
        with open(os.path.join(self.root, "etc/qemu.conf"), "w") as f:
            f.write(_conf(QEMU_CONF))
        self._ids = os.path.join(self.root, "ids")
        _write_identities(self._ids)

    def command(self, argv):
        """argv wrapped so that it can open the root as root (see the module docstring)."""
        return _in_namespace([(os.path.join(self._ids, db), f"/etc/{db}")
                              for db in ("passwd", "group")], argv)

    def virsh(self, *commands, timeout=120, env=None):
        """Run virsh commands ("start x; destroy x") in one process, one driver instance:
        a fresh instance re-attaches to running QEMUs asynchronously. Returns stdout.
        env: virsh's environment (Testbed.env() for USB hostdevs)."""
        child = procs.Child(self.command(["virsh", "-q", "-c", self.uri, "; ".join(commands)]),
                            name="virsh", env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)
        out, err = child.proc.communicate(timeout=timeout)
        child.stop()
        if child.proc.returncode != 0:
            raise RuntimeError(f"virsh {commands} failed: {err.decode()}")
        return out.decode()

    def define(self, xml, env=None):
        """env: as for virsh. Give every process that opens the root the same environment:
        QEMU's capabilities probed under umockdev's preload (no host CPU data) are stale
        for a process without it, and the next one probes again (~8 s)."""
        with tempfile.NamedTemporaryFile("w", suffix=".xml", dir=self.root) as f:
            f.write(xml)
            f.flush()
            self.virsh(f"define {shlex.quote(f.name)}", env=env)

    def live_xml(self, name):
        """Domain `name`'s live XML as libvirt last saved it (its status file
        ROOT/run/qemu/NAME.xml: rewritten before an attach call returns, and when QEMU
        reports a detached device gone), or None when it is not running. Readable while
        another process holds the root."""
        try:
            status = ET.parse(os.path.join(self.root, "run", "qemu", f"{name}.xml"))
        except FileNotFoundError:
            return None
        return ET.tostring(status.getroot().find("domain"), encoding="unicode")

    def processes(self):
        """Pids of processes (QEMU) whose command line names the root."""
        return procs.pids_where(lambda pid, cmdline: self.root.encode() in cmdline)

    def cleanup(self):
        """Kill what still runs on this root: QEMU outlives the process that started it."""
        _keep_capabilities(os.path.join(self.root, "cache/qemu"), self.caps_tag)
        _kill_all(self.processes())
        procs.wait_until(lambda: not self.processes(), 10, what="leftover processes to exit")

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"


def guest_image_dir():
    """VMDESK_GUEST_DIR, once the guest-image fixture has built an image there."""
    path = os.environ.get("VMDESK_GUEST_DIR", "")
    if not os.path.exists(os.path.join(path, "inputs.sha256")):
        raise RuntimeError(f"no guest image in VMDESK_GUEST_DIR={path!r}: "
                           "build it with `cmake --build build --target guest-image`")
    return path


SWAP_SERIAL = "vmdesk-swap"   # the guest's init looks for its swap disk by this serial
TEST_AGENT_PORT = "org.vmdesk.test-agent.0"   # the guest's init runs a second qemu-ga on it


def swap_disk_file(path, size_mib=128):
    """A sparse raw file for guest_domain_xml(swap_disk=...), emptied if it exists: the
    guest's init makes it swap (mkswap) at its first boot. 128 MiB holds the ~30 MB image
    of the idle 256 MiB test guest with room to spare, and costs no disk until written."""
    with open(path, "wb") as f:
        f.truncate(size_mib << 20)
    return path


def guest_domain_xml(name, guest_dir, serial_log, uuid=None, extra_channels=(),
                     memory_mib=256, umockdev_dir=None, fast_boot=False, qmp_socket=None,
                     graphics=None, paint=None, swap_disk=None, test_agent=None):
    """The test guest's domain XML.

    fast_boot: boot the ELF vmlinux through PVH, ready in ~4 s instead of ~7 s under TCG;
    but such a guest dies on S3 wakeup (QEMU's wakeup is a reset, which copies the ELF
    image into guest RAM again), so only for guests that are never woken from S3.

    extra_channels: virtio-serial port names, or (name, socket_path) pairs for ports the
    host side must reach by path (libvirt's own path is inside PrivateLibvirtd's namespace).
    umockdev_dir: run QEMU under umockdev's preload on that testbed (USB hostdevs; with
    EmbeddedRoot, whose process runs under the same preload). The domain always has a
    qemu-xhci controller for them.
    qmp_socket: a second QMP monitor at that path, the test's own (qmp_hmp): libvirt keeps
    its monitor to itself.
    graphics: "spice" or "vnc", a display server with <listen type='none'/>: reachable only
    through virDomainOpenGraphicsFD, as vmdeskd's OpenDisplay hands it out.
    paint: an ANSI colour 1..6; the guest's init fills its VGA text console with it and one
    line naming the VM (vmdesk.paint=N vmdesk.name=NAME on the kernel command line). A
    painted guest always boots the bzImage, fast_boot or not: under PVH the kernel gets no
    screen_info from a real-mode setup, so it never takes over the VGA text console (the
    screen keeps SeaBIOS's last words, whatever init writes to tty1).
    swap_disk: a raw file (swap_disk_file()) given to the guest as a virtio disk with serial
    vmdesk-swap, and S4 enabled: the guest's init resumes from it or swaps on it, so
    `dompmsuspend --target disk` hibernates the guest and the next start resumes it.
    test_agent: a socket path for a second qemu-ga, the test's own (agent_socket_exec):
    usable while another process holds libvirt (an embedded root held by vmdeskd).
    """
    if paint is not None and paint not in range(1, 7):
        raise ValueError(f"paint must be an ANSI colour 1..6, not {paint!r}")
    if graphics not in (None, "spice", "vnc"):
        raise ValueError(f"graphics must be None, 'spice' or 'vnc', not {graphics!r}")
    ET.register_namespace("qemu", QEMU_NS)
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "uuid").text = str(uuid or uuidlib.uuid4())
    ET.SubElement(dom, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(dom, "vcpu").text = "1"

    os_ = ET.SubElement(dom, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    kernel = "vmlinux" if fast_boot and paint is None else "vmlinuz"
    ET.SubElement(os_, "kernel").text = os.path.join(guest_dir, kernel)
    ET.SubElement(os_, "initrd").text = os.path.join(guest_dir, "initramfs.cpio")
    cmdline_text = "console=ttyS0 quiet panic=-1"
    if paint is not None:
        if not re.fullmatch(r"[A-Za-z0-9._-]+", name):
            raise ValueError(f"a painted guest's name goes on its kernel command line: {name!r}")
        cmdline_text += f" vmdesk.paint={paint} vmdesk.name={name}"
    ET.SubElement(os_, "cmdline").text = cmdline_text

    ET.SubElement(ET.SubElement(dom, "features"), "acpi")  # S3 needs ACPI
    pm = ET.SubElement(dom, "pm")
    ET.SubElement(pm, "suspend-to-mem", enabled="yes")
    # libvirt refuses guest S4 (PMSuspendForDuration DISK) when this is "no".
    ET.SubElement(pm, "suspend-to-disk", enabled="yes" if swap_disk else "no")
    ET.SubElement(dom, "on_reboot").text = "destroy"

    devices = ET.SubElement(dom, "devices")
    ET.SubElement(devices, "controller", type="usb", model="qemu-xhci")
    if swap_disk:
        disk = ET.SubElement(devices, "disk", type="file", device="disk")
        # unsafe: no flushes; the image only has to outlive QEMU, not the host.
        ET.SubElement(disk, "driver", name="qemu", type="raw", cache="unsafe")
        ET.SubElement(disk, "source", file=swap_disk)
        ET.SubElement(disk, "target", dev="vda", bus="virtio")
        ET.SubElement(disk, "serial").text = SWAP_SERIAL
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=serial_log)
    ET.SubElement(serial, "target", port="0")
    test_channels = [(TEST_AGENT_PORT, test_agent)] if test_agent else []
    for channel in ("org.qemu.guest_agent.0", *extra_channels, *test_channels):
        port, path = (channel, None) if isinstance(channel, str) else channel
        chan = ET.SubElement(devices, "channel", type="unix")
        if path:
            ET.SubElement(chan, "source", mode="bind", path=path)
        ET.SubElement(chan, "target", type="virtio", name=port)
    if graphics:
        ET.SubElement(ET.SubElement(devices, "graphics", type=graphics), "listen", type="none")
    # A VGA console is what QEMU's screendump (virsh screenshot) reads.
    ET.SubElement(ET.SubElement(devices, "video"), "model", type="vga")
    ET.SubElement(devices, "memballoon", model="none")

    if umockdev_dir or qmp_socket:
        cmdline = ET.SubElement(dom, f"{{{QEMU_NS}}}commandline")
    if qmp_socket:
        if "," in qmp_socket:
            raise ValueError(f"a comma in {qmp_socket!r} would end QEMU's option")
        for arg in ("-qmp", f"unix:{qmp_socket},server=on,wait=off"):
            ET.SubElement(cmdline, f"{{{QEMU_NS}}}arg", value=arg)
    if umockdev_dir:
        ET.SubElement(cmdline, f"{{{QEMU_NS}}}env", name="LD_PRELOAD",
                      value="libumockdev-preload.so.0")
        ET.SubElement(cmdline, f"{{{QEMU_NS}}}env", name="UMOCKDEV_DIR", value=umockdev_dir)
    return ET.tostring(dom, encoding="unicode")


def usb_hostdev_xml(vid, pid, bus=None, device=None, alias=None):
    """A USB <hostdev>: by vendor and product, pinned to one bus/device address if given
    (libvirt then matches all three), with a user alias (ua-...) if given."""
    hostdev = ET.Element("hostdev", mode="subsystem", type="usb", managed="yes")
    source = ET.SubElement(hostdev, "source")
    ET.SubElement(source, "vendor", id=f"0x{vid:04x}")
    ET.SubElement(source, "product", id=f"0x{pid:04x}")
    if bus is not None:
        ET.SubElement(source, "address", bus=str(bus), device=str(device))
    if alias:
        ET.SubElement(hostdev, "alias", name=alias)
    return ET.tostring(hostdev, encoding="unicode")


def qmp_hmp(socket_path, command, timeout=10):
    """Run the HMP `command` ("info usb") in QEMU through the test's QMP socket of a domain
    made with guest_domain_xml(qmp_socket=...); returns its output. QEMU serves one QMP
    client at a time on a socket: each call connects, asks, and hangs up."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(socket_path)
        with sock.makefile("rb") as replies:
            for request in ({"execute": "qmp_capabilities"},
                            {"execute": "human-monitor-command",
                             "arguments": {"command-line": command}}):
                sock.sendall(json.dumps(request).encode() + b"\n")
                answer = _qmp_reply(replies, command)
            return answer


def _qmp_reply(replies, command):
    for line in replies:   # past the greeting and events
        message = json.loads(line)
        if "return" in message:
            return message["return"]
        if "error" in message:
            raise RuntimeError(f"QMP {command!r}: {message['error']}")
    raise ConnectionError(f"QEMU hung up during {command!r}")


class _AgentSocket:
    """One session with a qemu-ga through the host end of its virtio-serial port.

    What the host writes while the guest has the port closed may reach qemu-ga later, so a
    session may meet answers to an earlier session's requests: guest-sync-delimited (its
    answer follows a 0xFF byte) with a fresh id skips them."""

    def __init__(self, path, timeout):
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        self.buffer = b""
        try:
            self.sock.connect(path)
            sync_id = int.from_bytes(os.urandom(4), "little") >> 1
            self._send({"execute": "guest-sync-delimited", "arguments": {"id": sync_id}})
            while True:
                self._skip_to_delimiter()
                if self._reply().get("return") == sync_id:
                    break
        except BaseException:
            self.sock.close()
            raise

    def _send(self, request):
        self.sock.sendall(json.dumps(request).encode() + b"\n")

    def _fill(self):
        data = self.sock.recv(65536)
        if not data:
            raise ConnectionError("the guest agent's socket closed")
        self.buffer += data

    def _skip_to_delimiter(self):
        while b"\xff" not in self.buffer:
            self.buffer = b""
            self._fill()
        self.buffer = self.buffer[self.buffer.index(b"\xff") + 1:]

    def _reply(self):
        while b"\n" not in self.buffer:
            self._fill()
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def command(self, execute, **arguments):
        self._send({"execute": execute, "arguments": arguments})
        reply = self._reply()
        if "error" in reply:
            raise RuntimeError(f"qemu-ga {execute}: {reply['error']}")
        return reply["return"]

    def close(self):
        self.sock.close()


def agent_socket_exec(path, argv, timeout=10):
    """guest_exec through the test's own qemu-ga (guest_domain_xml(test_agent=path)):
    returns (exit code, stdout as str). Raises TimeoutError or ConnectionError while the
    guest's qemu-ga is not there (QEMU not started, guest still booting or resuming)."""
    session = _AgentSocket(path, timeout)
    try:
        pid = session.command("guest-exec", path=argv[0], arg=list(argv[1:]),
                              **{"capture-output": True})["pid"]

        def exited():
            status = session.command("guest-exec-status", pid=pid)
            return status if status.get("exited") else None
        status = procs.wait_until(exited, timeout, interval=0.05, what=f"{argv[0]} in the guest")
    finally:
        session.close()
    out = base64.b64decode(status.get("out-data", "")).decode("utf-8", "replace")
    return status.get("exitcode", -1), out


def wait_agent_socket(path, timeout=60):
    """Wait until the test's own qemu-ga at `path` answers (QEMU listens on the socket as
    soon as it starts; the agent answers once the guest's init has started it)."""
    def answers():
        try:
            _AgentSocket(path, 1).close()
            return True
        except (OSError, ConnectionError):   # socket.timeout is an OSError
            return False
    procs.wait_until(answers, timeout, interval=0.2, what=f"the test's guest agent at {path}")


def wait_serial_marker(path, marker, timeout=60):
    """Wait for `marker` on the guest's serial console log; return its line."""
    def find():
        try:
            with open(path, errors="replace") as f:
                return next((line.strip() for line in f if marker in line), None)
        except FileNotFoundError:
            return None
    return procs.wait_until(find, timeout, interval=0.1, what=f"{marker} in {path}")


def guest_ping(dom, timeout=2):
    libvirt_qemu.qemuAgentCommand(dom, '{"execute":"guest-ping"}', timeout, 0)


def wait_guest_agent(conn_or_uri, name, timeout=60):
    """Wait until qemu-ga in domain `name` answers guest-ping (not for embedded URIs:
    a fresh embedded driver re-attaches asynchronously; use EmbeddedRoot.virsh)."""
    conn = libvirt.open(conn_or_uri) if isinstance(conn_or_uri, str) else conn_or_uri
    try:
        dom = conn.lookupByName(name)

        def answers():
            try:
                guest_ping(dom)
                return True
            except libvirt.libvirtError:
                return False
        procs.wait_until(answers, timeout, interval=0.2, what=f"guest agent of {name}")
    finally:
        if conn is not conn_or_uri:
            conn.close()


def guest_exec(dom, argv, timeout=10):
    """Run argv inside the guest through qemu-ga; returns (exit code, stdout as str).

    How tests and the demo show what a guest sees (its /sys, its uptime) without a network.
    """
    request = {"execute": "guest-exec",
               "arguments": {"path": argv[0], "arg": list(argv[1:]), "capture-output": True}}
    reply = libvirt_qemu.qemuAgentCommand(dom, json.dumps(request), timeout, 0)
    pid = json.loads(reply)["return"]["pid"]
    status_request = json.dumps({"execute": "guest-exec-status", "arguments": {"pid": pid}})

    def exited():
        status = json.loads(libvirt_qemu.qemuAgentCommand(dom, status_request, timeout, 0))["return"]
        return status if status.get("exited") else None
    status = procs.wait_until(exited, timeout, interval=0.05, what=f"{argv[0]} in the guest")
    out = base64.b64decode(status.get("out-data", "")).decode("utf-8", "replace")
    return status.get("exitcode", -1), out
