"""A stand-in for vmdeskd on a private bus: exports org.vmdesk.Manager1 from the real
introspection XML and answers with canned records and errors, so the CLI's decoding of real
D-Bus replies is tested without libvirt or polkit. Prints "ready" once it owns the name."""
import os
import sys

from gi.repository import Gio, GLib

SRC = os.environ["VMDESK_SOURCE_DIR"]
HOSTILE = 'evil"name\nline2 \u00fc \u65e5\u672c \x1b[2J'


def record(name, state, on_screen=False, role="", warning=None):
    rec = {
        "name": GLib.Variant("s", name),
        "uuid": GLib.Variant("s", "c7a5fdbd-cdaf-9455-926a-d65c16db1809"),
        "state": GLib.Variant("s", state),
        "state-reason": GLib.Variant("s", "booted"),
        "on-screen": GLib.Variant("b", on_screen),
        "role": GLib.Variant("s", role),
        "persistent": GLib.Variant("b", True),
    }
    if warning is not None:
        rec["settings-warning"] = GLib.Variant("s", warning)
    return rec


VMS = [record("work", "running", True, "office"), record(HOSTILE, "shutoff", warning="bad")]
PROPS = {"Version": GLib.Variant("s", "9.9.9"), "OnScreen": GLib.Variant("s", "work"),
         "Connected": GLib.Variant("b", True), "LibvirtUri": GLib.Variant("s", "test:///default")}
OLD = "<domain>\n  <name>work</name>\n</domain>\n"
# What GetPower returns on battery at 42 %, lid closed, with a guest whose name and link
# problem are hostile (the problem text comes from what a guest sent).
POWER_PROBLEM = "malformed line: \u202edesrever\x1b]0;x\x07"
POWER = {
    "available": GLib.Variant("b", True), "on-battery": GLib.Variant("b", True),
    "battery-present": GLib.Variant("b", True), "percentage": GLib.Variant("d", 42.0),
    "state": GLib.Variant("s", "discharging"), "time-to-empty": GLib.Variant("x", 3900),
    "time-to-full": GLib.Variant("x", 0), "warning-level": GLib.Variant("s", "low"),
    "critical": GLib.Variant("b", False),
    "batteries": GLib.Variant("aa{sv}", [{
        "name": GLib.Variant("s", "BAT0"), "percentage": GLib.Variant("d", 42.0),
        "state": GLib.Variant("s", "discharging"), "time-to-empty": GLib.Variant("x", 3900),
        "time-to-full": GLib.Variant("x", 0)}]),
    "lid-closed": GLib.Variant("b", True), "docked": GLib.Variant("b", False),
    "sleep-inhibitor": GLib.Variant("b", True),
    "quiesced": GLib.Variant("as", [HOSTILE]),
    "under-way": GLib.Variant("as", []),
    "guests": GLib.Variant("aa{sv}", [
        {"name": GLib.Variant("s", "work"), "link": GLib.Variant("s", "ready"),
         "caps": GLib.Variant("as", ["power", "lid", "button"]),
         "lid-closed": GLib.Variant("b", True), "problem": GLib.Variant("s", "")},
        {"name": GLib.Variant("s", HOSTILE), "link": GLib.Variant("s", "waiting"),
         "caps": GLib.Variant("as", []), "lid-closed": GLib.Variant("b", False),
         "problem": GLib.Variant("s", POWER_PROBLEM)}]),
}
# PressButton's answers by VM, as vmdeskd gives them.
BUTTON_ERRORS = {
    "locked": ("org.vmdesk.Error.NotAuthorized", "not authorized for org.vmdesk.power"),
    "nope": ("org.vmdesk.Error.UnknownVM", "no VM named 'nope'"),
    "off": ("org.vmdesk.Error.NotRunning", "off has no ready power channel: libvirt is not connected"),
    "dumb": ("org.vmdesk.Error.Failed", "dumb's guest agent cannot press buttons"),
}
NEW = "<domain>\n  <name>work</name>\n  <pm/>\n</domain>\n"

# Pass-through (vmdeskctl passthrough, start): VMs only GetVM knows, with the devices their
# settings name, and vfio-helper's documents cut to what the CLI reads. 05:00.0 fails its
# check and its plan refuses; 07:00.0 is absent; a sysfs string is hostile.
GPU, AUDIO, BAD = "0000:01:00.0", "0000:01:00.1", "0000:05:00.0"
PT_VMS = {
    "gpu": dict(record("gpu", "shutoff"), **{"passthrough": GLib.Variant("as", [GPU, AUDIO]),
                                            "passthrough-single-gpu": GLib.Variant("b", False)}),
    "bad": dict(record("bad", "shutoff"), **{"passthrough": GLib.Variant("as", [BAD]),
                                            "passthrough-single-gpu": GLib.Variant("b", True)}),
    "plain": dict(record("plain", "shutoff"), **{"passthrough": GLib.Variant("as", []),
                                                "passthrough-single-gpu": GLib.Variant("b", False)}),
}
PT_HOSTILE = "NVIDIA \u202e\x1b[2J\nVGA"


def pt_finding(fid, severity, bdf, message, fix=None):
    return {"id": fid, "severity": severity, "bdf": bdf, "message": message, "fix": fix}


def pt_report(bdfs):
    findings = [pt_finding("iommu", "ok", None, "IOMMU enabled: 4 groups")]
    for bdf in bdfs or [GPU]:
        if bdf == BAD:
            findings.append(pt_finding("iommu-group", "fail", bdf, "IOMMU group 14 is not viable",
                                       "put the card in another slot"))
        else:
            findings.append(pt_finding("device", "ok", bdf, PT_HOSTILE))
            findings.append(pt_finding("reset", "warn", bdf, "no FLR", "vendor-reset"))
    worst = "fail" if BAD in bdfs else "warn"
    return {"schema": 1, "worst": worst, "devices": [{"bdf": b} for b in bdfs or [GPU]],
            "findings": findings, "asked": bdfs}


def pt_plan(bdf, single_gpu):
    refused = bdf == BAD
    functions = [bdf] if refused else [GPU, AUDIO]
    return {"schema": 1, "bdf": bdf, "allowed": not refused, "single_gpu": single_gpu,
            "functions": [{"bdf": f, "description": PT_HOSTILE, "driver": "nvidia",
                           "target": "vfio-pci", "action": "move"} for f in functions],
            "steps": [f"{f}: write vfio-pci to driver_override" for f in functions],
            "host_loses": [], "sessions": [],
            "refusals": [{"id": "iommu-group", "message": "IOMMU group 14 is not viable",
                          "fix": "put the card in another slot", "forceable": False,
                          "overridden": False}] if refused else []}


HELD = [{"bdf": GLib.Variant("s", GPU), "vm": GLib.Variant("s", "gpu"),
         "functions": GLib.Variant("as", [GPU, AUDIO]), "state": GLib.Variant("s", "bound"),
         "single-gpu": GLib.Variant("b", False)},
        {"bdf": GLib.Variant("s", BAD), "vm": GLib.Variant("s", ""),
         "functions": GLib.Variant("as", []), "state": GLib.Variant("s", "release-failed"),
         "single-gpu": GLib.Variant("b", False),
         "error": GLib.Variant("s", "release of 0000:05:00.0 incomplete: \x1b[2J EBUSY")}]
# StartVM's answers by VM, as vmdeskd gives them.
START_ERRORS = {
    "gpu": ("org.vmdesk.Error.Libvirt", "starting 'gpu': internal error: qemu unexpectedly "
            "closed the monitor; 0000:01:00.0 was given back to the host"),
    "bad": ("org.vmdesk.Error.Denied", "VM 'bad': pass-through refused, nothing was changed: "
            "0000:05:00.0: [iommu-group] IOMMU group 14 is not viable (fix: put the card in "
            "another slot)"),
    "nope": ("org.vmdesk.Error.UnknownVM", "no VM named 'nope'"),
}


def on_passthrough_call(method, args, invocation):
    """The pass-through methods; False when `method` is not one of them."""
    import json
    if method == "CheckPassthrough":
        invocation.return_value(GLib.Variant("(s)", (json.dumps(pt_report(list(args[0]))),)))
    elif method == "PlanPassthrough":
        if args[0] == "0000:07:00.0":
            invocation.return_dbus_error("org.vmdesk.Error.UnknownDevice",
                                         "no PCI device 0000:07:00.0")
        else:
            invocation.return_value(GLib.Variant("(s)", (json.dumps(pt_plan(*args)),)))
    elif method == "ListPassthrough":
        invocation.return_value(GLib.Variant("(aa{sv})", (HELD,)))
    elif method == "StartVM":
        if args[0] in START_ERRORS:
            invocation.return_dbus_error(*START_ERRORS[args[0]])
        else:
            invocation.return_value(None)
    else:
        return False
    return True


def on_call(conn, sender, path, iface, method, params, invocation):
    args = params.unpack()
    if method == "ListVMs":
        invocation.return_value(GLib.Variant("(aa{sv})", (VMS,)))
    elif on_passthrough_call(method, args, invocation):
        pass
    elif method == "GetVM":
        found = [v for v in VMS if v["name"].unpack() == args[0]] + (
            [PT_VMS[args[0]]] if args[0] in PT_VMS else [])
        if found:
            invocation.return_value(GLib.Variant("(a{sv})", (found[0],)))
        else:
            invocation.return_dbus_error("org.vmdesk.Error.UnknownVM", f"no VM named '{args[0]}'")
    elif method == "Switch":
        if args[0] == "locked":
            invocation.return_dbus_error("org.vmdesk.Error.NotAuthorized",
                                         "not authorized for org.vmdesk.switch")
        elif args[0] == "off":
            invocation.return_dbus_error("org.vmdesk.Error.NotRunning", "VM 'off' is shutoff")
        else:
            invocation.return_value(None)
    elif method == "GetPower":
        invocation.return_value(GLib.Variant("(a{sv})", (POWER,)))
    elif method == "PressButton":
        if args[1] not in ("power", "sleep"):
            invocation.return_dbus_error("org.vmdesk.Error.InvalidArgs",
                                         'button must be "power" or "sleep"')
        elif args[0] in BUTTON_ERRORS:
            invocation.return_dbus_error(*BUTTON_ERRORS[args[0]])
        else:
            invocation.return_value(None)
    elif method == "SetupVM":
        if not args[1] and args[2] and args[2] != OLD:
            invocation.return_dbus_error("org.vmdesk.Error.Conflict",
                                         "the definition changed since it was shown")
        elif args[0] == "work":
            invocation.return_value(GLib.Variant("(ss)", (OLD, NEW)))
        elif args[0] == "done":
            invocation.return_value(GLib.Variant("(ss)", (OLD, OLD)))
        else:
            invocation.return_dbus_error("org.vmdesk.Error.NotConnected", "not connected to libvirt")


def on_get_property(conn, sender, path, iface, name):
    return PROPS[name]


def main():
    with open(os.path.join(SRC, "daemon", "data", "org.vmdesk.Manager1.xml"), encoding="utf-8") as f:
        info = Gio.DBusNodeInfo.new_for_xml(f.read()).interfaces[0]
    bus = Gio.bus_get_sync(Gio.BusType.SYSTEM, None)
    bus.register_object("/org/vmdesk/Manager1", info, on_call, on_get_property, None)
    loop = GLib.MainLoop()

    def acquired(*_):
        print("ready", flush=True)

    Gio.bus_own_name_on_connection(bus, "org.vmdesk.Manager1", Gio.BusNameOwnerFlags.NONE,
                                   acquired, lambda *_: loop.quit())
    loop.run()


if __name__ == "__main__":
    sys.exit(main())
