/* vmd-live-xml.h: what the power bridge (devices, channels) and the display part read from
 * a domain's XML. */
#pragma once

#include <glib.h>

typedef struct {
  gboolean has_hostdev;        /* any <hostdev> */
  gboolean has_channel;        /* a virtio <channel> with the asked-for target name */
  gboolean channel_connected;  /* ... whose state='connected': the guest has the port open */
} VmdLiveDevices;

/* Parsed with libxml2, without network or entities; XML that does not parse reads as a
 * domain with none of these. */
void vmd_live_xml_read_devices (const char *xml, const char *channel, VmdLiveDevices *out);

/* The display a client can reach: the type of the first <graphics> that is SPICE or VNC,
 * "spice", "vnc", or "none" (no graphics, or only others: sdl, egl-headless, dbus).
 * `index` (may be NULL) gets its position among all <graphics>, what
 * virDomainOpenGraphicsFD takes. Static strings. */
const char *vmd_live_xml_display (const char *xml, guint *index);
