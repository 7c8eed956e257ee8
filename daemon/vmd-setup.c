/* vmd-setup.c: `SetupVM`. The shown XML and the defined XML are computed separately so
 * that secrets needed for the definition never travel over D-Bus. */
#include "vmd-setup.h"

#include "vmd-libvirt.h"

#include <libvirt/virterror.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)

static char *
domain_xml (virDomainPtr dom, unsigned int flags, GError **error)
{
  char *xml = virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE | flags);
  char *copy;

  if (xml == NULL)
    {
      vmd_set_libvirt_error (error, "reading the definition of '%s'", virDomainGetName (dom));
      return NULL;
    }
  copy = g_strdup (xml);
  free (xml);
  return copy;
}

gboolean
vmd_setup_domain (virConnectPtr conn, const char *name, gboolean dry_run,
                  const char *expected_old, char **old_xml, char **new_xml, GError **error)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, name);
  g_autofree char *shown = NULL;
  g_autofree char *shown_old = NULL;
  g_autofree char *shown_new = NULL;
  int persistent;

  if (dom == NULL)
    {
      if (virGetLastErrorCode () == VIR_ERR_NO_DOMAIN)
        g_set_error (error, VMD_ERROR, VMD_ERROR_UNKNOWN_VM, "no VM named '%s'", name);
      else
        vmd_set_libvirt_error (error, "looking up '%s'", name);
      return FALSE;
    }
  persistent = virDomainIsPersistent (dom);
  if (persistent != 1)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED,
                   "VM '%s' is transient; define it (virsh define) before setting it up", name);
      return FALSE;
    }

  if ((shown = domain_xml (dom, 0, error)) == NULL
      || (shown_old = vmd_domain_xml_reformat (shown, error)) == NULL
      || (shown_new = vmd_domain_setup_xml (shown, error)) == NULL)
    return FALSE;

  if (!dry_run && *expected_old && !g_str_equal (expected_old, shown_old))
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_CONFLICT,
                   "the definition of '%s' changed since it was shown; nothing was applied, "
                   "run setup again", name);
      return FALSE;
    }
  if (!dry_run && !g_str_equal (shown_old, shown_new))
    {
      g_autofree char *secure = domain_xml (dom, VIR_DOMAIN_XML_SECURE, error);
      g_autofree char *secure_new = NULL;
      g_autoptr(virDomain) defined = NULL;

      if (secure == NULL || (secure_new = vmd_domain_setup_xml (secure, error)) == NULL)
        return FALSE;
      defined = virDomainDefineXML (conn, secure_new);
      if (defined == NULL)
        {
          vmd_set_libvirt_error (error, "defining '%s'", name);
          return FALSE;
        }
      g_message ("VM '%s' set up for vmdesk", name);
    }
  *old_xml = g_steal_pointer (&shown_old);
  *new_xml = g_steal_pointer (&shown_new);
  return TRUE;
}
