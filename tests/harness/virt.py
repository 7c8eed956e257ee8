"""A private libvirt for tests, and the tiny TCG guest that runs under it.

PrivateLibvirtd -- a root libvirtd in its own mount namespace: its /etc/libvirt, /run and
                   /var are directories of the workdir, so it never sees or touches the
                   machine's libvirt, and its state survives a restart (QEMU keeps running
                   when libvirtd is killed; the next libvirtd re-attaches to it).
EmbeddedRoot    -- a root for the embedded driver, qemu:///embed?root=DIR.
guest_domain_xml -- the domain of the image built by guest/build-guest-image.

Paths handed to libvirtd (guest image, serial log, channel sockets) must not lie under
/run or /var: inside its namespace those are the workdir's copies.
"""
import os
import signal
import threading
import time
import uuid as uuidlib
import xml.etree.ElementTree as ET

import libvirt
import libvirt_qemu

from harness import procs

# Each knob keeps QEMU from touching the machine or needing a service we do not run.
QEMU_CONF = {
    # AppArmor/SELinux drivers would write host profiles and labels.
    "security_driver": '"none"',
    # No libvirt-qemu user here; root QEMU reads the image and writes logs as they are.
    "user": '"root"',
    "group": '"root"',
    # Do not chown/xattr-label the test's files (kernel, initramfs, logs).
    "dynamic_ownership": "0",
    # No systemd/machined: libvirt would create cgroups under the host's /sys/fs/cgroup.
    "cgroup_controllers": "[ ]",
    # QEMU's stdout/stderr to a plain file: there is no virtlogd.
    "stdio_handler": '"file"',
    # No private /dev per QEMU: it must see umockdev's testbed devices as they are.
    "namespaces": "[ ]",
}


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


class PrivateLibvirtd:
    """A libvirtd of the test's own; use as a context manager so a failure still cleans up."""

    # Host path -> path in the workdir bind-mounted over it.
    BINDS = (("/etc/libvirt", "etc"), ("/run", "run"), ("/var", "var"),
             ("/etc/passwd", "ids/passwd"), ("/etc/group", "ids/group"))

    def __init__(self, workdir, dbus_address=None):
        self.workdir = os.path.abspath(workdir)
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
        for sub in ("sock", "etc", "run", "ids", "var/lib/libvirt", "var/cache/libvirt",
                    "var/log/libvirt", "var/tmp"):
            os.makedirs(os.path.join(self.workdir, sub), exist_ok=True)
        run_link = os.path.join(self.workdir, "var/run")
        if not os.path.islink(run_link):
            os.symlink("/run", run_link)
        # libvirtd resolves its built-in QEMU user before it reads qemu.conf and fails
        # without one; this machine has none (libvirt-daemon-system would create it).
        for db, entry in (("passwd", "libvirt-qemu:x:64055:64055::/nonexistent:/usr/sbin/nologin"),
                          ("group", "libvirt-qemu:x:64055:")):
            with open(f"/etc/{db}") as f:
                lines = [line for line in f if not line.startswith("libvirt-qemu:")]
            with open(os.path.join(self.workdir, "ids", db), "w") as f:
                f.writelines(lines + [entry + "\n"])
        with open(os.path.join(self.workdir, "etc/libvirtd.conf"), "w") as f:
            f.write(_conf({
                # Outside the namespace's /run, so clients in the host namespace reach it.
                "unix_sock_dir": _quote(self.sock_dir),
                # The default is polkit on the system bus, which a test bus may not have.
                "auth_unix_rw": '"none"',
                "auth_unix_ro": '"none"',
                "log_outputs": _quote(f"3:file:{self.log}"),
            }))
        with open(os.path.join(self.workdir, "etc/qemu.conf"), "w") as f:
            f.write(_conf(QEMU_CONF))

    def start(self, timeout=30):
        """Start libvirtd and wait until it accepts connections. Returns the seconds taken."""
        began = time.monotonic()
        mounts = "".join(f"mount --bind {self.workdir}/{sub} {host_dir} && "
                         for host_dir, sub in self.BINDS)
        script = mounts + f'exec libvirtd --config {self.workdir}/etc/libvirtd.conf'
        env = {"PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
               "DBUS_SYSTEM_BUS_ADDRESS": self.dbus_address}
        with open(self.log, "a") as log:
            self._child = procs.Child(
                ["unshare", "--mount", "--propagation", "private", "sh", "-c", script],
                name="libvirtd", env=env, stdout=log, stderr=log)
        procs.wait_until(self._answers, timeout, interval=0.1, what="libvirtd to answer")
        self._namespaces.add(_mount_ns(self._child.pid))
        return time.monotonic() - began

    def _answers(self):
        if not self._child.running():
            raise RuntimeError(f"libvirtd exited ({self._child.proc.returncode}), see {self.log}")
        try:
            libvirt.open(self.uri).close()
            return True
        except libvirt.libvirtError:
            return False

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
        pids = []
        for entry in os.listdir("/proc"):
            if not entry.isdigit() or int(entry) == os.getpid():
                continue
            try:
                with open(f"/proc/{entry}/cmdline", "rb") as f:
                    cmdline = f.read()
            except OSError:
                continue
            if _mount_ns(entry) in self._namespaces or self.workdir.encode() in cmdline:
                pids.append(int(entry))
        return pids

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
        for pid in self.processes():
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
        procs.wait_until(lambda: not self.processes(), 10, what="leftover processes to exit")
        self._namespaces.clear()

    def __enter__(self):
        self.start()
        return self

    def __exit__(self, *exc):
        self.cleanup()


_event_loop = None


def _ensure_event_loop():
    """The embedded driver (and agent replies) need a running libvirt event loop."""
    global _event_loop
    if _event_loop is None:
        libvirt.virEventRegisterDefaultImpl()

        def run():
            while True:
                libvirt.virEventRunDefaultImpl()

        _event_loop = threading.Thread(target=run, name="libvirt-events", daemon=True)
        _event_loop.start()


class EmbeddedRoot:
    """A root for libvirt's embedded QEMU driver. Only one process may have it open at a
    time: define domains here, close, and the daemon under test opens it later."""

    def __init__(self, workdir):
        # Socket paths below the root must stay under 108 bytes: keep workdir short.
        self.root = os.path.abspath(workdir)
        self.uri = f"qemu:///embed?root={self.root}"
        os.makedirs(os.path.join(self.root, "etc"), exist_ok=True)
        with open(os.path.join(self.root, "etc/qemu.conf"), "w") as f:
            f.write(_conf(QEMU_CONF))

    def open(self):
        _ensure_event_loop()
        return libvirt.open(self.uri)

    def define(self, xml):
        conn = self.open()
        try:
            conn.defineXML(xml)
        finally:
            conn.close()

    def cleanup(self):
        """Destroy the domains this root still runs (QEMU outlives a closed connection)."""
        conn = self.open()
        try:
            for dom in conn.listAllDomains(libvirt.VIR_CONNECT_LIST_DOMAINS_ACTIVE):
                dom.destroy()
        finally:
            conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.cleanup()


QEMU_NS = "http://libvirt.org/schemas/domain/qemu/1.0"


def guest_domain_xml(name, guest_dir, serial_log, uuid=None, extra_channels=(),
                     memory_mib=256, umockdev_dir=None):
    """The test guest's domain XML.

    extra_channels: virtio-serial port names, or (name, socket_path) pairs for ports the
    host side must reach by path (libvirt's own path is inside PrivateLibvirtd's namespace).
    umockdev_dir: run QEMU under umockdev's preload on that testbed (USB hostdevs).
    """
    ET.register_namespace("qemu", QEMU_NS)
    dom = ET.Element("domain", type="qemu")
    ET.SubElement(dom, "name").text = name
    ET.SubElement(dom, "uuid").text = str(uuid or uuidlib.uuid4())
    ET.SubElement(dom, "memory", unit="MiB").text = str(memory_mib)
    ET.SubElement(dom, "vcpu").text = "1"

    os_ = ET.SubElement(dom, "os")
    ET.SubElement(os_, "type", arch="x86_64", machine="pc").text = "hvm"
    # An ELF vmlinux boots through PVH, about twice as fast as the bzImage under TCG.
    ET.SubElement(os_, "kernel").text = os.path.join(guest_dir, "vmlinux")
    ET.SubElement(os_, "initrd").text = os.path.join(guest_dir, "initramfs.cpio.gz")
    ET.SubElement(os_, "cmdline").text = "console=ttyS0 quiet panic=-1"

    ET.SubElement(ET.SubElement(dom, "features"), "acpi")  # S3 needs ACPI
    pm = ET.SubElement(dom, "pm")
    ET.SubElement(pm, "suspend-to-mem", enabled="yes")
    ET.SubElement(pm, "suspend-to-disk", enabled="no")
    ET.SubElement(dom, "on_reboot").text = "destroy"

    devices = ET.SubElement(dom, "devices")
    ET.SubElement(devices, "controller", type="usb", model="qemu-xhci")
    serial = ET.SubElement(devices, "serial", type="file")
    ET.SubElement(serial, "source", path=serial_log)
    ET.SubElement(serial, "target", port="0")
    for channel in ("org.qemu.guest_agent.0", *extra_channels):
        port, path = (channel, None) if isinstance(channel, str) else channel
        chan = ET.SubElement(devices, "channel", type="unix")
        if path:
            ET.SubElement(chan, "source", mode="bind", path=path)
        ET.SubElement(chan, "target", type="virtio", name=port)
    # A VGA console is what QEMU's screendump (virsh screenshot) reads.
    ET.SubElement(ET.SubElement(devices, "video"), "model", type="vga")
    ET.SubElement(devices, "memballoon", model="none")

    if umockdev_dir:
        cmdline = ET.SubElement(dom, f"{{{QEMU_NS}}}commandline")
        ET.SubElement(cmdline, f"{{{QEMU_NS}}}env", name="LD_PRELOAD",
                      value="libumockdev-preload.so.0")
        ET.SubElement(cmdline, f"{{{QEMU_NS}}}env", name="UMOCKDEV_DIR", value=umockdev_dir)
    return ET.tostring(dom, encoding="unicode")


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
    """Wait until qemu-ga in domain `name` answers guest-ping."""
    if isinstance(conn_or_uri, str):
        if conn_or_uri.startswith("qemu:///embed"):
            _ensure_event_loop()
        conn = libvirt.open(conn_or_uri)
    else:
        conn = conn_or_uri
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
