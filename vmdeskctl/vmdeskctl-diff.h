/* vmdeskctl-diff.h: a unified diff of two texts, by diff(1) (diffutils is Essential). */
#pragma once

#include <glib.h>

G_BEGIN_DECLS

/* The `diff -u` output with the given labels, "" when the texts are equal. */
char *vmctl_diff (const char *old_text, const char *new_text,
                  const char *old_label, const char *new_label, GError **error);

G_END_DECLS
