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
NEW = "<domain>\n  <name>work</name>\n  <pm/>\n</domain>\n"


def on_call(conn, sender, path, iface, method, params, invocation):
    args = params.unpack()
    if method == "ListVMs":
        invocation.return_value(GLib.Variant("(aa{sv})", (VMS,)))
    elif method == "GetVM":
        found = [v for v in VMS if v["name"].unpack() == args[0]]
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
