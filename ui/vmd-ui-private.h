/* vmd-ui-private.h: the switcher's internals shared between its files and unit tests. */
#pragma once

#include "vmdesk-ui.h"

G_BEGIN_DECLS

/* ---- records from the daemon (vmd-ui-records.c): hostile-input safe ---- */

/* `text` as valid UTF-8 (invalid bytes become U+FFFD), control characters as spaces, cut
 * to max_chars characters with an ellipsis; NULL gives "". */
char     *vmd_ui_text_bounded (const char *text, glong max_chars);
/* "Yubico YubiKey OTP+CCID"; "USB device 1050:0407" when the strings are empty. */
char     *vmd_ui_usb_label (const char *manufacturer, const char *name, const char *vendor,
                            const char *product);
/* "Battery 42 % (discharging)", "On AC power", or NULL (UPower not available). */
char     *vmd_ui_power_summary (GVariant *summary);
/* NULL for a record without a name (or id). */
VmdUiVm  *vmd_ui_vm_from_record (GVariant *record);
VmdUiUsb *vmd_ui_usb_from_record (GVariant *record);
void      vmd_ui_vm_free (VmdUiVm *vm);
void      vmd_ui_usb_free (VmdUiUsb *usb);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUiVm, vmd_ui_vm_free)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdUiUsb, vmd_ui_usb_free)
/* Whether width x height fits max_width x max_height (0: no limit that way). */
gboolean   vmd_ui_fits (guint width, guint height, guint max_width, guint max_height);
/* Packed RGB rows (width * 3 bytes each) as a pixbuf; an error when the sizes disagree. */
GdkPixbuf *vmd_ui_pixbuf_from_rgb (GBytes *rgb, guint width, guint height, GError **error);

/* ---- the switcher's settings (vmd-switcher-config.c) ---- */

#define VMD_SWITCHER_DEFAULT_HOTKEY "<Super>Tab"

typedef struct {
  char       *hotkey;     /* GTK accelerator */
  GHashTable *commands;   /* VM name ("" the host) -> argv (GStrv) run when it goes on screen */
} VmdSwitcherConfig;

/* Reads `path` ([switcher] hotkey=..., [vm NAME] on-screen-command=..., [host] likewise);
 * a missing file gives the defaults; a bad one an error naming the file and key. */
VmdSwitcherConfig *vmd_switcher_config_load (const char *path, GError **error);
VmdSwitcherConfig *vmd_switcher_config_new_default (void);
void               vmd_switcher_config_free (VmdSwitcherConfig *config);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdSwitcherConfig, vmd_switcher_config_free)

G_END_DECLS
