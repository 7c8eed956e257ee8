#!/usr/bin/python3
"""Guest S4 on the test guest (docs/testing.md, Guest S4), what the critical battery's
hibernate costs on TCG, against a managed save of the same guest:

  hibernate: virDomainPMSuspendForDuration(DISK) (qemu-ga writes "disk" to
             /sys/power/state): until the call returns, until the domain is shut off;
  resume:    virDomainCreate until the guest's qemu-ga answers again (boot, then the image);
  save:      virDomainManagedSave, and the restore until qemu-ga answers.

One guest of 256 MiB with a swap disk and a qemu-ga of the bench's own, on a private
libvirtd. Every round checks that the guest kept what only its RAM held (a token in its
tmpfs, its boot_id); a round that lost it stops the bench.

usage: bench/guest_s4.py [--rounds 5] [--pvh]
Prints figures; asserts nothing about speed.
"""
import argparse
import os
import secrets
import shutil
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))

import libvirt  # noqa: E402

from harness import procs                # noqa: E402
from harness import virt                 # noqa: E402
from power_bridge import summary         # noqa: E402  (this folder: the same figures)


def timed(action):
    began = time.monotonic()
    action()
    return time.monotonic() - began


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--pvh", action="store_true", help="boot the ELF vmlinux (PVH)")
    args = parser.parse_args()

    guest_dir = virt.guest_image_dir()
    workdir = tempfile.mkdtemp(prefix="vmd-s4-", dir="/tmp")
    agent = os.path.join(workdir, "g.qga")
    figures = {key: [] for key in ("call", "off", "resume", "save", "restore")}

    def in_guest(script):
        code, out = virt.agent_socket_exec(agent, ["/bin/sh", "-c", script])
        if code != 0:
            raise RuntimeError(f"{script!r} failed in the guest: {out}")
        return out.split()

    try:
        with virt.PrivateLibvirtd(os.path.join(workdir, "libvirt")) as libvirtd:
            conn = libvirtd.open()
            dom = conn.defineXML(virt.guest_domain_xml(
                "g", guest_dir, os.path.join(workdir, "serial.log"), fast_boot=args.pvh,
                swap_disk=virt.swap_disk_file(os.path.join(workdir, "swap.raw")),
                test_agent=agent))
            dom.create()
            virt.wait_agent_socket(agent, 180)
            virt.wait_guest_agent(conn, "g")   # libvirt's own, which the S4 request goes to
            token = secrets.token_hex(16)
            (boot_id,) = in_guest(f"echo {token} > /tmp/token; cat /proc/sys/kernel/random/boot_id")

            def kept():
                if in_guest("cat /tmp/token /proc/sys/kernel/random/boot_id") != [token, boot_id]:
                    raise RuntimeError("the guest lost its RAM")

            def shut_off():
                procs.wait_until(lambda: dom.state()[0] == libvirt.VIR_DOMAIN_SHUTOFF, 120,
                                 interval=0.02, what="the guest to be shut off")

            def back():
                dom.create()
                virt.wait_agent_socket(agent, 180)

            for _ in range(args.rounds):
                began = time.monotonic()
                dom.pMSuspendForDuration(libvirt.VIR_NODE_SUSPEND_TARGET_DISK, 0, 0)
                figures["call"].append(time.monotonic() - began)
                shut_off()
                figures["off"].append(time.monotonic() - began)
                figures["resume"].append(timed(back))
                kept()
                virt.wait_guest_agent(conn, "g")
                figures["save"].append(timed(lambda: dom.managedSave(0)))
                figures["restore"].append(timed(back))
                kept()
                virt.wait_guest_agent(conn, "g")
            dom.destroy()
    finally:
        shutil.rmtree(workdir, ignore_errors=True)

    boot = "PVH (vmlinux)" if args.pvh else "bzImage"
    print(f"guest S4, 256 MiB TCG guest booted from the {boot}, {args.rounds} rounds, "
          f"load {os.getloadavg()[0]:.1f}; RAM kept in every round")
    print(f"  hibernate call returns:      {summary(figures['call'])}")
    print(f"  hibernate until shut off:    {summary(figures['off'])}")
    print(f"  start until qemu-ga answers: {summary(figures['resume'])}")
    print(f"  managed save:                {summary(figures['save'])}")
    print(f"  restore until qemu-ga:       {summary(figures['restore'])}")


if __name__ == "__main__":
    main()
