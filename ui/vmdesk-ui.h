/* vmdesk-ui.h: the switcher's parts — vmdeskd as seen from the user's session, the tray,
 * the switcher overlay, the VM display, "ask" prompts and the global hotkey.
 *
 * The switcher talks only to vmdeskd (system bus) and to the desktop (session bus:
 * notifications, StatusNotifier, portals); it never opens libvirt itself, so the user needs
 * no libvirt permissions and every privileged step is the daemon's polkit check. */
#pragma once

#include <gio/gio.h>
#include <gtk/gtk.h>

G_BEGIN_DECLS

/* ---- VmdUiClient: vmdeskd's state, kept current from its signals ----------------------
 *
 * Follows org.vmdesk.Manager1 through restarts: when the daemon goes away the model empties
 * and "daemon" turns FALSE; when it comes back everything is read again. Never polls. */

typedef struct {
  char    *name;
  char    *state;          /* running, shutoff, ... as in the VM record */
  char    *display;        /* spice | vnc | none */
  gboolean physical_display; /* drives a physical output (pass-through GPU) */
  gboolean on_screen;
} VmdUiVm;

typedef struct {
  char    *id;             /* port, "1-2.3" */
  char    *label;          /* "Manufacturer Product", valid UTF-8 */
  char    *state;          /* host | attached | pending | asking | ... */
  char    *vm;             /* where it is; "" the host */
} VmdUiUsb;

#define VMD_TYPE_UI_CLIENT (vmd_ui_client_get_type ())
G_DECLARE_FINAL_TYPE (VmdUiClient, vmd_ui_client, VMD, UI_CLIENT, GObject)

/* Watches the name on `system_bus` (any message bus connection, for tests a private one). */
VmdUiClient *vmd_ui_client_new (GDBusConnection *system_bus);
gboolean     vmd_ui_client_has_daemon (VmdUiClient *self);
/* The daemon is there and its whole state has been read (not only some of it). */
gboolean     vmd_ui_client_is_loaded (VmdUiClient *self);
/* Sorted by name; owned by the client, valid until the next "changed". */
GPtrArray   *vmd_ui_client_get_vms (VmdUiClient *self);       /* of VmdUiVm */
GPtrArray   *vmd_ui_client_get_usb (VmdUiClient *self);       /* of VmdUiUsb */
const VmdUiVm *vmd_ui_client_find_vm (VmdUiClient *self, const char *name);
const char  *vmd_ui_client_get_on_screen (VmdUiClient *self); /* "" the host */
/* "Battery 42 % (discharging)", "AC", or NULL when UPower told nothing. */
const char  *vmd_ui_client_get_power_summary (VmdUiClient *self);

void     vmd_ui_client_switch (VmdUiClient *self, const char *vm, GCancellable *cancellable,
                               GAsyncReadyCallback callback, gpointer user_data);
gboolean vmd_ui_client_switch_finish (VmdUiClient *self, GAsyncResult *result, GError **error);
void     vmd_ui_client_move_usb (VmdUiClient *self, const char *id, const char *vm,
                                 GAsyncReadyCallback callback, gpointer user_data);
gboolean vmd_ui_client_move_usb_finish (VmdUiClient *self, GAsyncResult *result, GError **error);
void     vmd_ui_client_answer_ask (VmdUiClient *self, const char *id, const char *vm,
                                   gboolean remember, GAsyncReadyCallback callback,
                                   gpointer user_data);
gboolean vmd_ui_client_answer_ask_finish (VmdUiClient *self, GAsyncResult *result,
                                          GError **error);
/* A screenshot no larger than max_width x max_height, as a pixbuf. */
void       vmd_ui_client_screenshot (VmdUiClient *self, const char *vm, guint max_width,
                                     guint max_height, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
GdkPixbuf *vmd_ui_client_screenshot_finish (VmdUiClient *self, GAsyncResult *result,
                                            GError **error);
/* A connected socket to the VM's SPICE server (the daemon's OpenDisplay); -1 on error. */
void     vmd_ui_client_open_display (VmdUiClient *self, const char *vm, GCancellable *cancellable,
                                     GAsyncReadyCallback callback, gpointer user_data);
int      vmd_ui_client_open_display_finish (VmdUiClient *self, GAsyncResult *result,
                                            GError **error);

/* Starts a defined VM; finishes once it runs. */
void     vmd_ui_client_start (VmdUiClient *self, const char *vm, GAsyncReadyCallback callback,
                              gpointer user_data);
gboolean vmd_ui_client_start_finish (VmdUiClient *self, GAsyncResult *result, GError **error);

/* Signals: "changed" (the model changed), "ask" (const char *id, const char *label,
 * GStrv candidates, guint timeout_ms; a question found asked already when the daemon's
 * state was read gets a minute), "ask-done" (const char *id: nobody asks any more). */

/* ---- VmdAskNotifier: "ask" prompts as desktop notifications ---------------------------
 *
 * org.freedesktop.Notifications on the session bus, with one action per candidate VM,
 * "keep on host" and "remember". "remember" shows the prompt again, for a choice that is
 * then remembered. Emits "answered" (const char *id, const char *vm ("" the host),
 * gboolean remember). A prompt that times out or is never answered leaves the device on
 * the host: that is the daemon's default, so nothing is sent then. */

#define VMD_TYPE_ASK_NOTIFIER (vmd_ask_notifier_get_type ())
G_DECLARE_FINAL_TYPE (VmdAskNotifier, vmd_ask_notifier, VMD, ASK_NOTIFIER, GObject)

VmdAskNotifier *vmd_ask_notifier_new (GDBusConnection *session_bus);
/* Shows or replaces the prompt for device `id`; expires after timeout_ms. */
void            vmd_ask_notifier_show (VmdAskNotifier *self, const char *id, const char *label,
                                       const char *const *candidates, guint timeout_ms);
/* The daemon no longer asks about `id`: close its prompt, if any. */
void            vmd_ask_notifier_withdraw (VmdAskNotifier *self, const char *id);

/* ---- VmdHotkey: one global shortcut ---------------------------------------------------
 *
 * The GlobalShortcuts portal where the session has one (Wayland), keybinder on X11.
 * Emits "activated". */

#define VMD_TYPE_HOTKEY (vmd_hotkey_get_type ())
G_DECLARE_FINAL_TYPE (VmdHotkey, vmd_hotkey, VMD, HOTKEY, GObject)

/* accelerator in GTK's syntax, "<Super>Tab"; session_bus may be NULL (no portal). */
VmdHotkey  *vmd_hotkey_new (const char *accelerator, GDBusConnection *session_bus,
                            GError **error);
/* "portal", "x11" */
const char *vmd_hotkey_get_backend (VmdHotkey *self);

/* ---- VmdTray: the status icon and its menu -------------------------------------------
 *
 * libayatana-appindicator3: a StatusNotifierItem where the session has a host, else it
 * falls back to an XEmbed icon by itself. The menu is rebuilt on every "changed".
 * Emits "open-switcher" and "quit"; "failed" (const char *message) when an action failed. */

#define VMD_TYPE_TRAY (vmd_tray_get_type ())
G_DECLARE_FINAL_TYPE (VmdTray, vmd_tray, VMD, TRAY, GObject)

VmdTray *vmd_tray_new (VmdUiClient *client);

/* ---- VmdSwitcher: the Alt-Tab-like overlay --------------------------------------------
 *
 * One card per VM with a live thumbnail, refreshed only while the overlay is visible.
 * Emits "failed" (const char *message) and "first-frame" (gint64 monotonic µs: the first
 * frame drawn with every running VM's thumbnail after it opened). */

#define VMD_TYPE_SWITCHER (vmd_switcher_get_type ())
G_DECLARE_FINAL_TYPE (VmdSwitcher, vmd_switcher, VMD, SWITCHER, GtkWindow)

VmdSwitcher *vmd_switcher_new (VmdUiClient *client);
/* Opens the overlay with the next VM after the one on screen selected; if it is open
 * already, selects the next card (the hotkey pressed again). */
void         vmd_switcher_cycle (VmdSwitcher *self);

/* ---- VmdDisplayWindow: the VM on screen, fullscreen -----------------------------------
 *
 * Follows the daemon's OnScreen: a VM with a SPICE display is shown in a spice-gtk
 * SpiceDisplay over connections the daemon opens (OpenDisplay); the host or a VM on a
 * physical output hides it. Emits "hotkey" when the accelerator is pressed inside it
 * (the SPICE display grabs the keyboard, so the global hotkey cannot see it), and
 * "failed" (const char *message). */

#define VMD_TYPE_DISPLAY_WINDOW (vmd_display_window_get_type ())
G_DECLARE_FINAL_TYPE (VmdDisplayWindow, vmd_display_window, VMD, DISPLAY_WINDOW, GtkWindow)

VmdDisplayWindow *vmd_display_window_new (VmdUiClient *client, const char *hotkey);
/* FALSE while the overlay is open over the display: the guest must not keep the keyboard
 * grabbed, or the overlay never sees its keys. */
void              vmd_display_window_set_grab (VmdDisplayWindow *self, gboolean grab);

G_END_DECLS
