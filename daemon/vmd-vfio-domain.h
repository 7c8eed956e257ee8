/* vmd-vfio-domain.h: the pass-through edits to a libvirt domain definition, as pure XML
 * functions (no libvirt calls), so that what vmdesk adds and what it never touches can be
 * tested on strings. */
#pragma once

#include <glib.h>

/* `domain_xml` with vmdesk's PCI hostdevs (alias ua-vmdesk-pci-…, managed='no') being
 * exactly one per function in `functions` (canonical BDFs, NULL-terminated, may be empty):
 * ours that are not wanted go, wanted ones that are missing are added. Hostdevs without the
 * ua-vmdesk- prefix are never changed, and a function one of them already passes gets no
 * second hostdev. `*changed` says whether the result differs. NULL on unparsable XML. */
char  *vmd_vfio_domain_set_hostdevs (const char *domain_xml, const char *const *functions,
                                     gboolean *changed, GError **error);

/* The PCI functions the domain's <hostdev type='pci'> pass, whoever added them, canonical
 * ("0000:01:00.0"); hostdevs whose address cannot be read are skipped. */
GStrv  vmd_vfio_domain_pci_sources (const char *domain_xml, GError **error);
