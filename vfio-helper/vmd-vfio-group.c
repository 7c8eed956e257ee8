/* vmd-vfio-group.c: IOMMU groups and whether one can be given to a VM.
 *
 * group_viable (docs/vfio.md): every endpoint in the group is a function of the same
 * physical device (same domain:bus:slot), or already on vfio-pci, or driverless. Bridges
 * and root ports do not count. Any other endpoint on a host driver, a NIC or a SATA
 * controller say, makes the group not viable: VFIO would refuse to open it, and moving that
 * endpoint would take the device from the host behind the user's back. */
#include "vmd-vfio-private.h"

#include <string.h>

#define IOMMU_GROUPS "/sys/kernel/iommu_groups"

const char *
vmd_member_kind_to_string (VmdMemberKind kind)
{
  static const char *const names[] = {
    [VMD_MEMBER_SELF]        = "self",
    [VMD_MEMBER_SAME_DEVICE] = "same-device",
    [VMD_MEMBER_BRIDGE]      = "bridge",
    [VMD_MEMBER_PARKED]      = "parked",
    [VMD_MEMBER_FOREIGN]     = "foreign",
  };
  return names[kind];
}

VmdMemberKind
vmd_group_classify (const VmdVfioBdf *primary, const VmdPciFunction *member)
{
  const VmdVfioBdf *a = &member->addr;

  if (a->domain == primary->domain && a->bus == primary->bus && a->slot == primary->slot
      && a->function == primary->function)
    return VMD_MEMBER_SELF;
  if (vmd_vfio_bdf_same_device (primary, a))
    return VMD_MEMBER_SAME_DEVICE;
  if (vmd_pci_function_is_bridge (member))
    return VMD_MEMBER_BRIDGE;
  if (member->driver == NULL || g_str_equal (member->driver, "vfio-pci"))
    return VMD_MEMBER_PARKED;
  return VMD_MEMBER_FOREIGN;
}

void
vmd_iommu_group_free (VmdIommuGroup *group)
{
  if (group == NULL)
    return;
  g_clear_pointer (&group->members, g_ptr_array_unref);
  g_clear_pointer (&group->kinds, g_array_unref);
  g_free (group);
}

VmdIommuGroup *
vmd_iommu_group_read (const VmdPciFunction *fn, GError **error)
{
  g_autoptr(VmdIommuGroup) group = g_new0 (VmdIommuGroup, 1);
  g_autofree char *dir = NULL;
  g_autoptr(GPtrArray) names = NULL;
  g_autoptr(GError) local = NULL;
  gboolean self_seen = FALSE;

  g_return_val_if_fail (fn->iommu_group >= 0, NULL);
  group->number = fn->iommu_group;
  group->members = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_pci_function_free);
  group->kinds = g_array_new (FALSE, FALSE, sizeof (VmdMemberKind));
  group->viable = TRUE;

  dir = g_strdup_printf (IOMMU_GROUPS "/%d/devices", fn->iommu_group);
  names = vmd_sysfs_list (dir, &local);
  if (names == NULL)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS,
                   "%s: IOMMU group %d cannot be listed: %s", fn->bdf, fn->iommu_group,
                   local ? local->message : "the directory does not exist");
      return NULL;
    }
  for (guint i = 0; i < names->len; i++)
    {
      const char *name = names->pdata[i];
      VmdVfioBdf addr;
      VmdPciFunction *member;
      VmdMemberKind kind;

      /* Group entries are named by BDF; anything else is not a PCI function. */
      if (!vmd_vfio_bdf_parse (name, &addr, &local))
        {
          g_propagate_prefixed_error (error, g_steal_pointer (&local),
                                      "%s: IOMMU group %d lists an entry that is no PCI "
                                      "function: ", fn->bdf, fn->iommu_group);
          return NULL;
        }
      member = vmd_pci_function_read (name);
      kind = vmd_group_classify (&fn->addr, member);
      self_seen |= kind == VMD_MEMBER_SELF;
      if (kind == VMD_MEMBER_FOREIGN)
        group->viable = FALSE;
      g_ptr_array_add (group->members, member);
      g_array_append_val (group->kinds, kind);
    }
  if (!self_seen)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_SYSFS,
                   "%s: its iommu_group link names group %d, which does not list it",
                   fn->bdf, fn->iommu_group);
      return NULL;
    }
  return g_steal_pointer (&group);
}
