/* vmd-vfio-jobs.c: the blocking half of pass-through: libvirt reads and defines, and the
 * transactional binds of vfio-helper, each undone when a later step fails. Runs on the
 * daemon's vfio worker only (vmd-vfio.c), one job at a time. */
#include "vmd-vfio-jobs.h"

#include "vmd-libvirt.h"
#include "vmd-vfio-domain.h"
#include "vmdesk-vfio.h"

#include <libvirt/virterror.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)

void
vmd_vfio_bound_free (VmdVfioBound *bound)
{
  if (bound == NULL)
    return;
  g_free (bound->bdf);
  g_strfreev (bound->functions);
  g_free (bound->error);
  g_free (bound);
}

static char *
libvirt_string (char *s)
{
  char *copy = g_strdup (s);

  free (s);
  return copy;
}

/* The persistent settings: what the VM is about to start with. Absent metadata means the
 * defaults; metadata that cannot be read fails the start rather than start the VM without
 * the devices it names. */
static VmdVmSettings *
read_settings (virDomainPtr dom, const char *name, GError **error)
{
  g_autofree char *xml = libvirt_string (virDomainGetMetadata (dom, VIR_DOMAIN_METADATA_ELEMENT,
                                                               VMD_SETTINGS_NS,
                                                               VIR_DOMAIN_AFFECT_CONFIG));
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  VmdVmSettings *settings;

  if (xml == NULL && virGetLastErrorCode () != VIR_ERR_NO_DOMAIN_METADATA)
    {
      vmd_set_libvirt_error (error, "reading the vmdesk settings of '%s'", name);
      return NULL;
    }
  settings = vmd_vm_settings_parse (xml, warnings);

  /* The warnings are VmdLibvirt's to report on D-Bus; here they explain what is passed. */
  for (guint i = 0; i < warnings->len; i++)
    g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VMDESK_VM", name,
                      "MESSAGE", "VM '%s': settings: %s", name, (char *) warnings->pdata[i]);
  return settings;
}

/* Gives back, newest first, what this prepare bound; `error`'s message says so at its end.
 * What cannot be given back moves to `stuck`, with why. */
static void
give_back (GPtrArray *bound, const VmdVfioOps *ops, gpointer ops_data, GPtrArray *stuck,
           GError **error)
{
  g_autoptr(GString) what = g_string_new (NULL);
  gboolean failed = FALSE;

  for (guint i = bound->len; i-- > 0;)
    {
      VmdVfioBound *b = bound->pdata[i];
      g_autoptr(GError) local = NULL;

      if (ops->release (ops_data, b->bdf, &local))
        {
          g_string_append_printf (what, "%s%s was given back", what->len ? ", " : "", b->bdf);
          continue;
        }
      /* Logged by the daemon's part, which records it (vmd-vfio.c). */
      g_string_append_printf (what, "%sgiving %s back failed (%s)", what->len ? ", " : "",
                              b->bdf, local->message);
      b->error = g_strdup (local->message);
      g_ptr_array_add (stuck, g_ptr_array_steal_index (bound, i));
      failed = TRUE;
    }
  g_ptr_array_set_size (bound, 0);
  if (failed)
    g_string_append (what, ": " VMD_VFIO_RETRY_NOTE);
  if (what->len && error && *error)
    {
      g_autofree char *old = (*error)->message;
      (*error)->message = g_strdup_printf ("%s; %s", old, what->str);
    }
}

static gboolean
is_bound_already (GPtrArray *bound, const char *bdf)
{
  for (guint i = 0; i < bound->len; i++)
    if (g_strv_contains ((const char *const *) ((VmdVfioBound *) bound->pdata[i])->functions, bdf))
      return TRUE;
  return FALSE;
}

static GStrv
all_functions (GPtrArray *bound)
{
  GPtrArray *all = g_ptr_array_new ();

  for (guint i = 0; i < bound->len; i++)
    for (GStrv f = ((VmdVfioBound *) bound->pdata[i])->functions; *f; f++)
      g_ptr_array_add (all, g_strdup (*f));
  g_ptr_array_add (all, NULL);
  return (GStrv) g_ptr_array_free (all, FALSE);
}

/* Makes the persistent definition carry exactly vmdesk's hostdevs for `bound`. */
static gboolean
sync_definition (virConnectPtr conn, const char *name, const char *xml, GPtrArray *bound,
                 GError **error)
{
  g_auto(GStrv) functions = all_functions (bound);
  g_autofree char *list = g_strjoinv (", ", functions);
  g_autofree char *edited = NULL;
  g_autoptr(virDomain) defined = NULL;
  gboolean changed;

  edited = vmd_vfio_domain_set_hostdevs (xml, (const char *const *) functions, &changed, error);
  if (edited == NULL)
    return FALSE;
  if (!changed)
    return TRUE;
  defined = virDomainDefineXML (conn, edited);
  if (defined == NULL)
    {
      vmd_set_libvirt_error (error, "updating the pass-through hostdevs of '%s'", name);
      return FALSE;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VMDESK_VM", name,
                    "MESSAGE", "VM '%s': definition now passes %s", name,
                    *functions ? list : "no PCI device of vmdesk's");
  return TRUE;
}

GPtrArray *
vmd_vfio_job_prepare (virConnectPtr conn, const char *name, const VmdVfioOps *ops,
                      gpointer ops_data, gboolean *single_gpu, GPtrArray *stuck, GError **error)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (conn, name);
  g_autoptr(GPtrArray) bound = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_vfio_bound_free);
  g_autoptr(VmdVmSettings) settings = NULL;
  g_autofree char *xml = NULL;
  const char *const *bdfs;

  *single_gpu = FALSE;
  if (dom == NULL)
    {
      if (virGetLastErrorCode () == VIR_ERR_NO_DOMAIN)
        g_set_error (error, VMD_ERROR, VMD_ERROR_UNKNOWN_VM, "no VM named '%s'", name);
      else
        vmd_set_libvirt_error (error, "looking up '%s'", name);
      return NULL;
    }
  /* StartVM of a running VM changes nothing: its devices were bound when it started. */
  if (virDomainIsActive (dom) == 1)
    return g_steal_pointer (&bound);

  settings = read_settings (dom, name, error);
  if (settings == NULL)
    return NULL;
  *single_gpu = settings->passthrough_single_gpu;
  bdfs = (const char *const *) settings->passthrough_pci;
  xml = libvirt_string (virDomainGetXMLDesc (dom, VIR_DOMAIN_XML_INACTIVE | VIR_DOMAIN_XML_SECURE));
  if (xml == NULL)
    {
      vmd_set_libvirt_error (error, "reading the definition of '%s'", name);
      return NULL;
    }

  if (*bdfs && !ops->preflight (ops_data, bdfs, *single_gpu, error))
    {
      g_prefix_error (error, "VM '%s': pass-through refused, nothing was changed: ", name);
      return NULL;
    }
  for (guint i = 0; bdfs[i]; i++)
    {
      VmdVfioBound *b;
      GStrv functions;

      /* A function of a device bound a moment ago moved with it. */
      if (is_bound_already (bound, bdfs[i]))
        continue;
      functions = ops->bind (ops_data, bdfs[i], *single_gpu, error);
      if (functions == NULL)
        {
          g_prefix_error (error, "VM '%s': ", name);
          give_back (bound, ops, ops_data, stuck, error);
          return NULL;
        }
      b = g_new0 (VmdVfioBound, 1);
      b->bdf = g_strdup (bdfs[i]);
      b->functions = functions;
      g_ptr_array_add (bound, b);
      g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VMDESK_VM", name, "MESSAGE",
                        "VM '%s': %s bound to vfio-pci (%u functions)", name, bdfs[i],
                        g_strv_length (functions));
    }

  if (!sync_definition (conn, name, xml, bound, error))
    {
      g_prefix_error (error, "VM '%s': ", name);
      give_back (bound, ops, ops_data, stuck, error);
      return NULL;
    }
  return g_steal_pointer (&bound);
}

gboolean
vmd_vfio_job_vm_may_run (virConnectPtr conn, const char *name)
{
  g_autoptr(virDomain) dom = NULL;

  if (conn == NULL)
    return TRUE;
  if ((dom = virDomainLookupByName (conn, name)) == NULL)
    return virGetLastErrorCode () != VIR_ERR_NO_DOMAIN;
  return virDomainIsActive (dom) != 0;
}

GHashTable *
vmd_vfio_job_active_users (virConnectPtr conn, GError **error)
{
  g_autoptr(GHashTable) users = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, g_free);
  virDomainPtr *doms = NULL;
  int n = virConnectListAllDomains (conn, &doms, VIR_CONNECT_LIST_DOMAINS_ACTIVE);

  if (n < 0)
    {
      vmd_set_libvirt_error (error, "listing the running VMs");
      return NULL;
    }
  for (int i = 0; i < n; i++)
    {
      g_autofree char *xml = libvirt_string (virDomainGetXMLDesc (doms[i], 0));
      g_auto(GStrv) sources = xml ? vmd_vfio_domain_pci_sources (xml, NULL) : NULL;

      for (guint j = 0; sources && sources[j]; j++)
        g_hash_table_insert (users, g_strdup (sources[j]), g_strdup (virDomainGetName (doms[i])));
      virDomainFree (doms[i]);
    }
  free (doms);
  return g_steal_pointer (&users);
}
