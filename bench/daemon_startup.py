#!/usr/bin/python3
"""vmdeskd's start-to-ready time, RSS and idle wakeups with many defined domains.

Start-to-ready is measured from spawn to the daemon's sd_notify READY=1 (it is sent after
libvirt is reconciled and the bus name is owned), on a private bus and a private libvirtd
holding N defined, not running, tiny domains. Idle wakeups are the context switches of all
the daemon's threads over an idle window: every wakeup, timer or not, is one. The window is
measured twice: with libvirtd's default server keepalive (libvirtd pings every client every
5 s and the client answers: wakeups the daemon does not cause) and with it off
(keepalive_interval = -1), which leaves only what the daemon itself would do.

usage: bench/daemon_startup.py [--domains 50] [--runs 10] [--idle 60]
"""
import argparse
import os
import shutil
import socket
import statistics
import sys
import tempfile
import time
import uuid

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from harness import bus as hbus          # noqa: E402
from harness import daemon as hdaemon    # noqa: E402
from harness import procs                # noqa: E402
from harness import virt                 # noqa: E402


def ready_time(env, notify_path):
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as sock:
        sock.bind(notify_path)
        sock.settimeout(30)
        env = dict(env, NOTIFY_SOCKET=notify_path)
        began = time.monotonic()
        child = procs.Child([hdaemon.binary("vmdeskd")], name="vmdeskd", env=env,
                            stdout=open(os.devnull, "w"), stderr=open(os.devnull, "w"))
        while b"READY=1" not in sock.recv(4096):
            pass
        elapsed = time.monotonic() - began
    os.unlink(notify_path)
    return child, elapsed


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--domains", type=int, default=50)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--idle", type=int, default=60)
    args = ap.parse_args()
    guest_dir = os.environ.get("VMDESK_GUEST_DIR", os.path.join(hdaemon.build_dir(), "guest"))

    workdir = tempfile.mkdtemp(prefix="vmdesk-bench-", dir="/tmp")
    try:
        print(f"vmdeskd with {args.domains} defined domains, {args.runs} starts:")
        for label, conf in (("libvirtd default keepalive", {}),
                            ("libvirtd keepalive off", {"keepalive_interval": "-1"})):
            run_once(args, guest_dir, os.path.join(workdir, str(len(conf))), label, conf)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


def run_once(args, guest_dir, workdir, label, libvirtd_conf):
    with hbus.PrivateSystemBus(os.path.join(workdir, "bus")) as bus, \
         virt.PrivateLibvirtd(os.path.join(workdir, "libvirt"), bus.address,
                              libvirtd_conf=libvirtd_conf) as libvirtd:
        bus.start()
        libvirtd.start()
        conn = libvirtd.open()
        for i in range(args.domains):
            conn.defineXML(virt.guest_domain_xml(
                f"bench-{i:02d}", guest_dir, os.path.join(workdir, f"serial-{i}.log"),
                uuid=str(uuid.uuid4())))
        conn.close()

        env = hdaemon.Vmdeskd(workdir, bus.address, libvirtd.uri).env
        times, rss = [], []
        for run in range(args.runs):
            child, elapsed = ready_time(env, os.path.join(workdir, "notify"))
            times.append(elapsed * 1000)
            rss.append(rss_kib(child.pid))
            if run < args.runs - 1:
                child.stop()

        # The last daemon stays up for the idle window, after GLib's worker threads
        # (the libvirt open ran on one) have retired: they idle out after 15 s.
        time.sleep(20)
        wakeups, threads = procs.wakeups(child.pid, args.idle)
        child.stop()

    print(f"[{label}]")
    print(f"  start-to-ready: median {statistics.median(times):.1f} ms, "
          f"min {min(times):.1f} ms, max {max(times):.1f} ms")
    print(f"  RSS after ready: median {statistics.median(rss) / 1024:.1f} MiB")
    print(f"  idle {args.idle} s: {wakeups} wakeups (context switches of {threads} threads)")

if __name__ == "__main__":
    main()
