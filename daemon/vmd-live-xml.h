/* vmd-live-xml.h: what the power bridge reads from a running domain's live XML. */
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
