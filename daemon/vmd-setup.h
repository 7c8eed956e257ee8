/* vmd-setup.h: adopting an existing libvirt domain into vmdesk. */
#pragma once

#include <glib.h>
#include <libvirt/libvirt.h>

/* Computes (and unless `dry_run`, defines) the persistent definition of domain `name`
 * with vmdesk's additions. `old_xml` and `new_xml` are formatted alike for a diff and
 * never carry secrets such as graphics passwords. */
gboolean vmd_setup_domain (virConnectPtr conn, const char *name, gboolean dry_run,
                           char **old_xml, char **new_xml, GError **error);
