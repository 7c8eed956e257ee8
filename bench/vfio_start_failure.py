#!/usr/bin/python3
"""StartVM of a VM whose start fails after its GPU was bound to vfio-pci, on the harness of
tests/integration/test_vfio_daemon.py (docs/vfio.md, "A failed start"): a umockdev laptop
with the kernel emulator, libvirt's embedded driver, real QEMU, which fails for want of
/dev/vfio. StartVM answers only once the GPU and its audio function are given back, so the
figures are:

  reply:     StartVM called to its error received (D-Bus, the bench's own client): bind,
             define, libvirt's start attempt, the give-back;
  give-back: vmdeskd's log, "the start failed; giving its pass-through devices back" to
             "given back to the host": what waiting for it adds to the reply;
  cli:       `vmdeskctl start gpu` run to exit, the process included.

Each run checks that the host drivers are back when the reply arrives (and says so if not).

usage: bench/vfio_start_failure.py [--build-dir build] [--runs 10]
Prints figures; asserts nothing about speed.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests"))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
sys.path.insert(0, os.path.join(HERE, "..", "vfio-helper", "tests"))


def parse_args():
    p = argparse.ArgumentParser()
    p.add_argument("--build-dir", default=os.path.join(HERE, "..", "build"))
    p.add_argument("--runs", type=int, default=10)
    return p.parse_args()


ARGS = parse_args()
os.environ["VMDESK_BUILD_DIR"] = os.path.abspath(ARGS.build_dir)

from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()   # umockdev must see this process (the machine needs it)

from gi.repository import GLib  # noqa: E402

from harness import bus as hbus          # noqa: E402
from harness import daemon as hdaemon    # noqa: E402
from harness import virt                 # noqa: E402
import test_vfio_daemon as fixture       # noqa: E402  (its domain, with the settings)
import vfio_machines as machines         # noqa: E402
from power_bridge import summary         # noqa: E402  (this folder: the same figures)

LOG_LINE = re.compile(r"(\d\d):(\d\d):(\d\d)\.(\d{3}): (.*)")


def give_backs(log):
    """Seconds from each failed start's give-back to its end, from vmdeskd's log."""
    began, spans = None, []
    for line in log.splitlines():
        m = LOG_LINE.search(line)
        if not m:
            continue
        h, mi, s, milli, text = m.groups()
        t = int(h) * 3600 + int(mi) * 60 + int(s) + int(milli) / 1000
        if "the start failed; giving its pass-through devices back" in text:
            began = t
        elif "given back to the host (the start failed)" in text and began is not None:
            spans.append(t - began)
            began = None
    return spans


def main():
    workdir = tempfile.mkdtemp(prefix="vsf-", dir="/tmp")
    bus = root = m = daemon = client = None
    try:
        bus = hbus.PrivateSystemBus(os.path.join(workdir, "bus")).start()
        bus.start_polkitd().allow_all()
        bus.start_logind()
        root = virt.EmbeddedRoot(os.path.join(workdir, "root"))
        m = machines.hybrid_laptop(host_sys=True)
        m.write("dev/vfio/vfio", "")   # libvirt's VFIO check passes; QEMU finds none
        original = m.state()
        xml = os.path.join(workdir, "gpu.xml")
        with open(xml, "w") as f:
            f.write(fixture.domain_xml("gpu", workdir, passthrough=[fixture.GPU]))
        root.virsh(f"define {xml}", env=m.env())
        env = m.env(bus_address=bus.address)
        keep = ("LD_PRELOAD", "UMOCKDEV_DIR", "VMDESK_MODULES_DIR")
        daemon = hdaemon.Vmdeskd(workdir, bus.address, root.uri,
                                 extra_env={k: env[k] for k in keep}, wrap=root.command)
        client = hdaemon.Client(bus.address)
        daemon.start(client)

        def start_vm():
            try:
                client.call("StartVM", ("gpu",), "(s)", timeout_ms=120000)
                return None
            except GLib.Error as e:
                return e.message

        start_vm()   # warm-up: QEMU's capabilities, the first define
        replies, back_at_reply = [], 0
        for _ in range(ARGS.runs):
            t0 = time.perf_counter()
            message = start_vm()
            replies.append(time.perf_counter() - t0)
            back_at_reply += m.state() == original and message is not None \
                and message.endswith("was given back to the host")
        cli_env = dict(os.environ, DBUS_SYSTEM_BUS_ADDRESS=bus.address)
        cli_env.pop("LD_PRELOAD", None)
        cli = []
        for _ in range(ARGS.runs):
            t0 = time.perf_counter()
            subprocess.run([hdaemon.binary("vmdeskctl"), "start", "gpu"], env=cli_env,
                           capture_output=True, timeout=120)
            cli.append(time.perf_counter() - t0)
        spans = give_backs(daemon.log())[1:]   # without the warm-up's
        load = os.getloadavg()

        print(f"StartVM with a GPU (2 functions), start fails in QEMU, build {ARGS.build_dir}")
        print(f"  reply (bind + define + start attempt + give-back): {summary(replies)}")
        print(f"  give-back inside it (vmdeskd's log, ms resolution): {summary(spans)}")
        print(f"  vmdeskctl start gpu, to exit:                     {summary(cli)}")
        print(f"  host drivers back and said so when the reply came: {back_at_reply} of "
              f"{ARGS.runs}")
        print(f"  load average {load[0]:.2f} {load[1]:.2f} {load[2]:.2f}, {os.cpu_count()} cpus")
    finally:
        if daemon and daemon.child and daemon.child.running():
            daemon.stop()
        if client:
            client.close()
        if root:
            root.cleanup()
        if m:
            m.close()
        if bus:
            bus.stop()
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
