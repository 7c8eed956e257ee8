/* vmd-power-private.h: shared inside power-bridge/, not part of its public API. */
#pragma once

#include "vmdesk-power.h"

#include <glib/gstdio.h>
#include <string.h>

/* RFC 8259 JSON, one value, valid UTF-8 without NUL, at most `max_depth` nested
 * objects/arrays, no \u0000, no lone surrogates, integers of at most 15 digits. */
gboolean vmd_json_strict_check (const char *text, gsize len, guint max_depth, GError **error);

/* ---- the sleep journal (vmd-sleep-journal.c) ---- */

/* One VM vmdesk quiesced and has not brought back yet. */
typedef struct {
  char           *vm;
  gint64          instance;      /* libvirt domain id when quiesced, -1 if unknown */
  VmdPowerAction  action;        /* suspend, pause, save, hibernate or shutdown */
  gboolean        user_paused;   /* was paused by its user before: comes back paused */
  char           *reason;        /* "host-sleep", "host-shutdown" or "critical-battery" */
} VmdJournalEntry;

typedef struct _VmdSleepJournal VmdSleepJournal;

/* DIR/power-journal.ini; a missing file is an empty journal, an unreadable one is set
 * aside (.corrupt) with a warning. Fails only when DIR cannot be created. */
VmdSleepJournal *vmd_sleep_journal_load (const char *dir, GError **error);
void             vmd_sleep_journal_free (VmdSleepJournal *journal);
G_DEFINE_AUTOPTR_CLEANUP_FUNC (VmdSleepJournal, vmd_sleep_journal_free)
/* Borrowed, in the order written; entries are unique per VM. */
GPtrArray       *vmd_sleep_journal_entries (VmdSleepJournal *journal);
const VmdJournalEntry *vmd_sleep_journal_lookup (VmdSleepJournal *journal, const char *vm);
/* Replaces any entry of the same VM. Changes stay in memory until save. */
void             vmd_sleep_journal_put (VmdSleepJournal *journal, const char *vm,
                                        gint64 instance, VmdPowerAction action,
                                        gboolean user_paused, const char *reason);
void             vmd_sleep_journal_remove (VmdSleepJournal *journal, const char *vm);
/* Atomic and durable: a crash leaves the old or the new journal, never a torn one. */
gboolean         vmd_sleep_journal_save (VmdSleepJournal *journal, GError **error);

/* ---- a system service followed across restarts (vmd-bus-peer.c) ---- */

/* Its signals, its current unique name, and a GCancellable for calls to that owner,
 * cancelled when the owner goes or changes, so no late reply from an old instance is
 * ever applied. `appeared` runs for every new owner (read everything again). */
typedef struct {
  GDBusConnection *bus;
  char            *name;
  char            *owner;          /* NULL while the service is absent */
  GCancellable    *cancellable;
  guint            watch_id;
  GArray          *subscriptions;
  void           (*appeared) (gpointer user_data);
  void           (*vanished) (gpointer user_data);
  gpointer         user_data;
} VmdBusPeer;

void vmd_bus_peer_init (VmdBusPeer *peer, GDBusConnection *bus, const char *name,
                        void (*appeared) (gpointer), void (*vanished) (gpointer),
                        gpointer user_data);
/* Signals from the service (any owner); `path` may be NULL. Subscribe before watching. */
void vmd_bus_peer_subscribe (VmdBusPeer *peer, const char *iface, const char *member,
                             const char *path, GDBusSignalCallback callback);
void vmd_bus_peer_watch (VmdBusPeer *peer);
/* Asynchronous method call to the current owner, under its cancellable. */
void vmd_bus_peer_call (VmdBusPeer *peer, const char *path, const char *iface,
                        const char *method, GVariant *params, const GVariantType *reply,
                        GAsyncReadyCallback callback, gpointer user_data);
void vmd_bus_peer_clear (VmdBusPeer *peer);
