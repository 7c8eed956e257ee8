"""The switcher on a test desktop: UsbLab's guests with SPICE displays painted a known colour
at boot, vmdeskd, Xvfb with a private session bus (notifications mock, a tray), and
vmdesk-switcher on it, for tests/integration/test_switcher.py and bench/switcher.py.

    lab = SwitcherLab(GUEST_DIR, tray="xembed").start()
    lab.open_switcher(); lab.desktop.key("Return"); lab.wait_on_screen("personal")
    lab.close()

The test process must run under umockdev's preload (sysfs.ensure_preloaded()), as for UsbLab.
"""
import os
import shutil
import subprocess
import tempfile

from harness import daemon as hdaemon
from harness import desktop as hdesktop
from harness import procs, virt
from harness.usb_lab import UsbLab

# VGA text-mode colours as QEMU renders them, by ANSI number: the VGA DAC has 6 bits per
# channel, so the palette's 0x2A is 0xA8 on screen (and 0x15 is 0x54).
VGA = {1: (0xA8, 0x00, 0x00), 2: (0x00, 0xA8, 0x00), 3: (0xA8, 0x54, 0x00),
       4: (0x00, 0x00, 0xA8), 5: (0xA8, 0x00, 0xA8), 6: (0x00, 0xA8, 0xA8)}
PAINT = {"work": 4, "personal": 1}

SCREENS = os.path.join(hdaemon.build_dir(), "ui-screens")


def save(desktop, name):
    os.makedirs(SCREENS, exist_ok=True)
    return desktop.screenshot(os.path.join(SCREENS, f"{name}.png"))


class SwitcherLab:
    """The lab (bus, guests, vmdeskd), a desktop, and the switcher on it.

    tray: "xembed" (an XEmbed tray, no StatusNotifier host) or "sni" (a watcher, so the
    icon registers as a StatusNotifierItem and its menu is read over dbusmenu)."""

    def __init__(self, guest_dir, tray="xembed", paint=None, policy="", switcher_conf=None):
        self.workdir = tempfile.mkdtemp(prefix="sw-", dir="/tmp")
        self.lab = None
        self.desktop = None
        self.switcher = None
        self.tray = tray
        self.guest_dir = guest_dir
        self.paint = dict(paint or PAINT)
        self.policy = policy
        self.switcher_conf = switcher_conf  # text of ~/.config/vmdesk/switcher.conf

    def start(self):
        """Everything up, guests booted and painted, the switcher running; returns self."""
        self.lab = UsbLab(self.workdir, self.guest_dir, domains=tuple(self.paint),
                          graphics="spice", paint=self.paint).__enter__()
        self.lab.bus.start_polkitd().allow_all()
        # A laptop on battery, for the tray's battery line.
        self.upower = self.lab.bus.start_upower({"OnBattery": True})
        self.upower.setup_display_device(kind=2, state=2, percentage=42.0, energy=21.0,
                                         energy_full=50.0)
        self.config = os.path.join(self.workdir, "etc")
        os.makedirs(self.config)
        with open(os.path.join(self.config, "usb.rules"), "w") as f:
            f.write(self.policy)
        self.lab.start(*self.paint)
        self.client = hdaemon.Client(self.lab.bus.address)
        self.start_daemon()
        self.desktop = hdesktop.Desktop(os.path.join(self.workdir, "d")).__enter__()
        self.notifications = self.desktop.start_notification_daemon()
        if self.tray == "xembed":
            self.desktop.start_xembed_tray()
        else:
            self.desktop.start_sni_watcher()
        for name in self.paint:
            virt.wait_serial_marker(self.lab.serial_log(name), "VMDESK-GUEST-READY", timeout=90)
        self.start_switcher()
        return self

    def start_daemon(self):
        self.daemon = self.lab.daemon(extra_env={"VMDESK_CONFIG_DIR": self.config})
        self.daemon.start(self.client)

    def start_switcher(self):
        env = self.desktop.env({k: v for k, v in self.lab.bus.env().items()
                                if k not in ("LD_PRELOAD", "UMOCKDEV_DIR")})
        if self.switcher_conf is not None:
            conf_dir = os.path.join(env["XDG_CONFIG_HOME"], "vmdesk")
            os.makedirs(conf_dir, exist_ok=True)
            with open(os.path.join(conf_dir, "switcher.conf"), "w") as f:
                f.write(self.switcher_conf.format(workdir=self.workdir))
        env["VMDESK_SWITCHER_TRACE"] = "1"
        env["G_MESSAGES_DEBUG"] = "vmdesk-switcher"
        self.switcher_log = os.path.join(self.workdir, "switcher.log")
        with open(self.switcher_log, "a") as log:
            self.switcher = self.desktop.spawn([hdaemon.binary("vmdesk-switcher")],
                                               env=env, stdout=log, stderr=log)
        self.env = env
        procs.wait_until(lambda: "vmdeskd read:" in self.log(), 20,
                         what="the switcher to read vmdeskd's state")

    def log(self):
        with open(self.switcher_log, errors="replace") as f:
            return f.read()

    def ctl(self, *args):
        """Another vmdesk-switcher invocation: it hands its options to the running one."""
        return subprocess.run([hdaemon.binary("vmdesk-switcher"), *args], env=self.env,
                              timeout=30, capture_output=True, text=True)

    def close(self):
        try:
            if self.desktop:
                self.desktop.__exit__(None, None, None)
            if self.lab:
                self.lab.close()
        finally:
            shutil.rmtree(self.workdir, ignore_errors=True)

    # what the daemon says

    def on_screen(self):
        return self.client.prop("OnScreen")

    def switch(self, name):
        self.client.call("Switch", (name,), "(s)")
        procs.wait_until(lambda: self.on_screen() == name, 10, what=f"{name!r} on screen")

    def wait_on_screen(self, name, timeout=20):
        try:
            procs.wait_until(lambda: self.on_screen() == name, timeout, what=f"{name!r} on screen")
        except TimeoutError as e:
            raise AssertionError(f"{e}\nswitcher log:\n{self.log()[-3000:]}") from None

    def open_switcher(self):
        """Opens the overlay; returns once it drew every running VM's thumbnail."""
        before = self.log().count("first-frame")
        self.ctl("--show")
        procs.wait_until(lambda: self.log().count("first-frame") > before, 30,
                         what="the switcher's first frame")
        self.desktop.wait_window(name="^vmdesk switcher$")

    def guest_screen(self, name):
        """What QEMU renders of the guest's screen (what `virsh screenshot` returns)."""
        path = os.path.join(self.workdir, f"{name}.ppm")
        virt.qmp_hmp(self.lab.qmp_socket(name), f"screendump {path}")
        return hdesktop.load_ppm(path)


