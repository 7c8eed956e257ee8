/* vmd-setup.h: adopting an existing libvirt domain into vmdesk. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

/* Computes (and unless `dry_run`, defines) the persistent definition of domain `name`
 * with vmdesk's additions. `old_xml` and `new_xml` are formatted alike for a diff and
 * never carry secrets such as graphics passwords. A non-empty `expected_old` must equal
 * the current `old_xml` for anything to be defined (VMD_ERROR_CONFLICT otherwise). */
gboolean vmd_setup_domain (virConnectPtr conn, const char *name, gboolean dry_run,
                           const char *expected_old, char **old_xml, char **new_xml,
                           GError **error);
