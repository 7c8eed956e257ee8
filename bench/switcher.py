#!/usr/bin/python3
"""The switcher's figures, on the test desktop (Xvfb) with real TCG guests and vmdeskd.

1. Hotkey to the target VM on screen: from the host, the hotkey (xdotool, X11 through
   keybinder) opens the overlay on the next VM and Return chooses it; measured from the
   hotkey to vmdeskd's OnScreen naming it, and to the first screenshot of the X screen in
   which the VM's fullscreen SPICE display shows its console colour.
2. Switcher open to its first complete frame with N VMs (every thumbnail drawn), from the
   hotkey to the switcher's own "first-frame" trace (both on CLOCK_MONOTONIC).
3. Idle wakeups of the switcher while hidden (the host on screen): context switches of
   all its threads over a window, and, for comparison, while the overlay is open.

    VMDESK_GUEST_DIR=build/guest /usr/bin/python3 bench/switcher.py --vms 4 --runs 5 --idle 30
"""
import argparse
import os
import re
import statistics
import sys
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests"))
from harness import sysfs  # noqa: E402

sysfs.ensure_preloaded()

from harness import desktop as hdesktop  # noqa: E402
from harness import procs  # noqa: E402
from harness.switcher_lab import VGA, SwitcherLab  # noqa: E402

NAMES = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot"]


def shows(lab, colour):
    width, height = lab.desktop.size
    rect = (width // 2 - 100, height // 2 - 50, 200, 100)
    return hdesktop.fraction_of_colour(lab.desktop.screenshot(), colour, rect=rect) > 0.5


def first_frames(lab):
    return [int(m) for m in re.findall(r"first-frame (\d+)", lab.log())]


def summary(values, unit="ms"):
    return (f"median {statistics.median(values):.0f} {unit} "
            f"(min {min(values):.0f}, max {max(values):.0f}, n={len(values)})")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vms", type=int, default=4, choices=range(1, 7))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--idle", type=float, default=30.0, help="seconds per idle window")
    args = parser.parse_args()
    guest_dir = os.environ.get("VMDESK_GUEST_DIR")
    if not guest_dir:
        sys.exit("VMDESK_GUEST_DIR is not set (build/guest after ./dev test --quick)")

    paint = {NAMES[i]: i % 6 + 1 for i in range(args.vms)}
    lab = SwitcherLab(guest_dir, tray="xembed", paint=paint)
    try:
        lab.start()
        pid = lab.switcher.pid
        target = NAMES[0]  # next after the host

        on_screen, displayed = [], []
        for _ in range(args.runs):
            lab.switch("")
            time.sleep(0.5)
            t0 = time.monotonic()
            lab.desktop.key("super+Tab")
            procs.wait_until(lambda: lab.desktop.wait_window(name="^vmdesk switcher$"), 10,
                             what="the overlay")
            lab.desktop.key("Return")
            procs.wait_until(lambda: lab.on_screen() == target, 20, interval=0.005,
                             what=f"{target} on screen")
            on_screen.append((time.monotonic() - t0) * 1000)
            procs.wait_until(lambda: shows(lab, VGA[paint[target]]), 30, interval=0.01,
                             what=f"{target}'s display")
            displayed.append((time.monotonic() - t0) * 1000)

        opened = []
        lab.switch("")
        for _ in range(args.runs):
            lab.desktop.key("Escape")
            time.sleep(0.5)
            seen = len(first_frames(lab))
            t0 = time.monotonic_ns() // 1000
            lab.desktop.key("super+Tab")
            procs.wait_until(lambda: len(first_frames(lab)) > seen, 30, interval=0.005,
                             what="the first frame")
            opened.append((first_frames(lab)[-1] - t0) / 1000)
            if opened[-1] > 5000:
                print(f"slow open ({opened[-1]:.0f} ms); switcher log:\n{lab.log()[-2000:]}\n"
                      f"vmdeskd log:\n{lab.daemon.log()[-3000:]}", file=sys.stderr)
        lab.desktop.key("Escape")

        time.sleep(2)  # let the overlay's last replies land
        hidden, threads = procs.wakeups(pid, args.idle)
        lab.ctl("--show")
        time.sleep(2)
        visible, _ = procs.wakeups(pid, args.idle)
        lab.desktop.key("Escape")

        print(f"switcher, {args.vms} VMs (TCG, SPICE, Xvfb {lab.desktop.size[0]}x{lab.desktop.size[1]})")
        print(f"  hotkey -> OnScreen = {target}:            {summary(on_screen)}")
        print(f"  hotkey -> its display on the X screen:    {summary(displayed)}")
        print(f"  hotkey -> overlay's first full frame:     {summary(opened)}")
        print(f"  wakeups while hidden:  {hidden} context switches in {args.idle:.0f} s "
              f"({hidden / args.idle:.2f}/s, {threads} threads)")
        print(f"  wakeups while open:    {visible} context switches in {args.idle:.0f} s "
              f"({visible / args.idle:.2f}/s; thumbnails refresh every second)")
    finally:
        lab.close()


if __name__ == "__main__":
    main()
