/* vmdeskctl-output.h: what vmdeskctl prints. Tables are for people (names escaped so a
 * hostile VM name cannot move the cursor or fake a row); JSON is for scripts (exact, built
 * with json-glib, pretty-printed). Functions return text; commands decide where it goes. */
#pragma once

#include <json-glib/json-glib.h>
#include <stdio.h>

G_BEGIN_DECLS

typedef enum {
  VMCTL_ESCAPE_ALL,        /* one line: newlines and tabs escaped too, '\' doubled */
  VMCTL_ESCAPE_KEEP_LINES, /* multi-line text such as a diff: '\n' and '\t' kept as they are */
} VmctlEscapeMode;

/* Control characters (C0, DEL, C1), bidi overrides and line/paragraph separators become
 * \n, \t, \r, \xNN or \uNNNN; invalid UTF-8 bytes become \xNN. Printable non-ASCII stays. */
char *vmctl_escape (const char *text, VmctlEscapeMode mode);

/* Columns a terminal gives to `text` (already escaped): wide characters count 2. */
gsize vmctl_display_width (const char *text);

/* A string field of a D-Bus record (a{sv}), escaped for a terminal; `fallback` when the
 * record lacks it or it is empty. */
char *vmctl_record_field (GVariant *record, const char *key, const char *fallback);
/* `text` (escaped) and spaces up to `width` terminal columns. */
void  vmctl_append_padded (GString *out, const char *text, gsize width);
/* A table: `headings`, then the rows of `cells` (escaped text, n_cols a row, row after
 * row), each column as wide on a terminal as its widest cell, two spaces apart. */
void  vmctl_append_columns (GString *out, const char *const *headings, guint n_cols,
                            GPtrArray *cells);

/* USB device records (aa{sv}, see ListUSBDevices) as a table: port, id, name, state, VM,
 * rule; "no USB devices\n" when empty. */
char *vmctl_usb_table (GVariant *devices);

/* The power summary (a{sv}, see GetPower) for people: battery, AC, warning level, lid,
 * inhibitor, quiesced VMs, then a table of the guests' power links. Every string is
 * escaped; a missing or mistyped key shows as "?". */
char *vmctl_power_text (GVariant *power);
/* The same as JSON, key for key as D-Bus carries it; a number that is not finite (which
 * JSON cannot carry) becomes null. */
JsonNode *vmctl_power_to_json (GVariant *power);

/* A VM record (a{sv}, see org.vmdesk.Manager1.xml) as a JSON object with the keys
 * name, uuid, state, state_reason, on_screen, role, persistent, display, physical_display,
 * passthrough, passthrough_single_gpu, settings_warning; a key the record lacks (or carries
 * with the wrong type) is null. */
JsonNode *vmctl_vm_to_json (GVariant *record);

/* `vms` is aa{sv}: a table with an on-screen mark, name, state and role, followed by one
 * line per settings warning; "no VMs\n" when empty. */
char *vmctl_vm_table (GVariant *vms);

/* One VM record as "key: value" lines. */
char *vmctl_vm_details (GVariant *record);

/* The daemon summary from the Manager1 properties (a{sv}, as GetAll returns them). */
JsonNode *vmctl_status_to_json (GVariant *properties, guint n_vms);
char     *vmctl_status_text (GVariant *properties, guint n_vms);

/* {"error": {"name": D-Bus name or null, "message": ..., "exit_code": n}} */
JsonNode *vmctl_error_to_json (const GError *error);
/* The same with an exit code the command chose (an error name can mean more than one). */
JsonNode *vmctl_error_to_json_with_exit (const GError *error, int exit_code);

/* Pretty-printed, with a final newline. */
char *vmctl_json_to_string (JsonNode *node);
void  vmctl_print_json (JsonNode *node);
/* Prints the object (or array) `b` has built. */
void  vmctl_print_json_builder (JsonBuilder *b);
/* A member whose value is `value`, or null when it is NULL. */
void  vmctl_json_add_string_or_null (JsonBuilder *b, const char *key, const char *value);

/* "vmdeskctl: <message>" on stderr, plus the {"error": ...} object on stdout when `json`
 * (stdout then holds exactly that one document). Returns the exit code for `error`. */
int vmctl_report_error (const GError *error, gboolean json);
int vmctl_report_error_with_exit (const GError *error, gboolean json, int exit_code);

/* Bytes out as they are (UTF-8), without g_print's conversion to the locale charset:
 * JSON must stay UTF-8 whatever LANG says. */
void vmctl_write (FILE *stream, const char *text);

G_END_DECLS
