"""python-dbusmock template: xdg-desktop-portal with only org.freedesktop.portal.GlobalShortcuts.

CreateSession and BindShortcuts follow the portal's Request pattern: the Request object's
path is built from the caller's unique name and its handle_token, and its Response signal
comes after the method has returned, as the real portal does. Calls are in the mock's call
log (GetMethodCalls); tests emit Activated with the Mock interface's EmitSignal.
Parameter "refuse_bind": answer BindShortcuts with response 1 (the user cancelled).
"""
import dbus
from dbusmock import mockobject
from gi.repository import GLib

BUS_NAME = "org.freedesktop.portal.Desktop"
MAIN_OBJ = "/org/freedesktop/portal/desktop"
MAIN_IFACE = "org.freedesktop.portal.GlobalShortcuts"
SYSTEM_BUS = False

REQUEST_IFACE = "org.freedesktop.portal.Request"
SESSION_IFACE = "org.freedesktop.portal.Session"


def load(mock, parameters):
    mock.refuse_bind = bool(parameters.get("refuse_bind", False))
    mock.AddProperties(MAIN_IFACE, dbus.Dictionary({"version": dbus.UInt32(1)},
                                                   signature="sv"))


def _path(kind, sender, token):
    return f"{MAIN_OBJ}/{kind}/{sender[1:].replace('.', '_')}/{token}"


def _respond(mock, path, response, results):
    """Create the Request object and emit its Response once the call has returned."""
    if path not in mockobject.objects:
        mock.AddObject(path, REQUEST_IFACE, {}, [("Close", "", "", "")])

    def emit():
        mockobject.objects[path].EmitSignal(
            REQUEST_IFACE, "Response", "ua{sv}",
            [dbus.UInt32(response), dbus.Dictionary(results, signature="sv")])
        return False
    GLib.idle_add(emit)
    return dbus.ObjectPath(path)


@dbus.service.method(MAIN_IFACE, in_signature="a{sv}", out_signature="o",
                     sender_keyword="sender")
def CreateSession(self, options, sender=None):
    session = _path("session", sender, options["session_handle_token"])
    if session not in mockobject.objects:
        self.AddObject(session, SESSION_IFACE, {}, [("Close", "", "", "")])
    return _respond(self, _path("request", sender, options["handle_token"]), 0,
                    {"session_handle": dbus.String(session)})


@dbus.service.method(MAIN_IFACE, in_signature="oa(sa{sv})sa{sv}", out_signature="o",
                     sender_keyword="sender")
def BindShortcuts(self, session, shortcuts, parent_window, options, sender=None):
    bound = dbus.Array([(sid, {"description": props.get("description", ""),
                               "trigger_description": props.get("preferred_trigger", "")})
                        for sid, props in shortcuts], signature="(sa{sv})")
    return _respond(self, _path("request", sender, options["handle_token"]),
                    1 if self.refuse_bind else 0, {"shortcuts": bound})
