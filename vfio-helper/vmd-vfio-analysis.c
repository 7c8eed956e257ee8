/* vmd-vfio-analysis.c: the facts about one device that both `check` (as findings) and
 * `plan` (as refusals and steps) judge, gathered once so the two can never disagree. */
#include "vmd-vfio-private.h"

void
vmd_analysis_free (VmdAnalysis *a)
{
  if (a == NULL)
    return;
  /* `functions` and `foreign` borrow from `group` (or `fn`): drop them first. */
  g_clear_pointer (&a->functions, g_ptr_array_unref);
  g_clear_pointer (&a->foreign, g_ptr_array_unref);
  g_clear_pointer (&a->group, vmd_iommu_group_free);
  g_clear_pointer (&a->fn, vmd_pci_function_free);
  g_free (a->group_error);
  g_clear_pointer (&a->console, g_ptr_array_unref);
  g_clear_pointer (&a->panels, g_ptr_array_unref);
  g_free (a->holds_root);
  g_clear_pointer (&a->keyboards_lost, g_ptr_array_unref);
  g_free (a);
}

static gboolean
in_set (GPtrArray *functions, const char *bdf)
{
  for (guint i = 0; i < functions->len; i++)
    if (g_str_equal (((VmdPciFunction *) functions->pdata[i])->bdf, bdf))
      return TRUE;
  return FALSE;
}

static void
find_functions (VmdAnalysis *a)
{
  if (a->group == NULL)
    {
      /* Without a group nothing can be bound; the plan refuses. Show the device alone. */
      g_ptr_array_add (a->functions, a->fn);
      return;
    }
  for (guint i = 0; i < a->group->members->len; i++)
    {
      VmdMemberKind kind = g_array_index (a->group->kinds, VmdMemberKind, i);
      VmdPciFunction *member = a->group->members->pdata[i];

      if (kind == VMD_MEMBER_SELF || kind == VMD_MEMBER_SAME_DEVICE)
        g_ptr_array_add (a->functions, member);
      else if (kind == VMD_MEMBER_FOREIGN)
        g_ptr_array_add (a->foreign, member);
    }
}

static void
find_console_and_panels (VmdAnalysis *a, VmdHost *host)
{
  for (guint i = 0; i < a->functions->len; i++)
    {
      VmdPciFunction *fn = a->functions->pdata[i];

      if (!vmd_pci_function_is_display (fn))
        continue;
      /* A firmware framebuffer lives in the boot VGA device's memory. */
      if (fn->boot_vga == 1)
        for (guint j = 0; j < host->firmware_fbs->len; j++)
          {
            VmdFirmwareFb *fb = host->firmware_fbs->pdata[j];
            if (fb->driver)
              g_ptr_array_add (a->console, g_strdup_printf ("%s (%s)", fb->device, fb->driver));
          }
      for (guint j = 0; j < fn->framebuffers->len; j++)
        g_ptr_array_add (a->console, g_strdup (fn->framebuffers->pdata[j]));
      for (guint j = 0; j < fn->connectors->len; j++)
        {
          VmdDrmConnector *c = fn->connectors->pdata[j];
          if (g_str_equal (c->status, "connected"))
            g_ptr_array_add (a->panels, g_strdup_printf ("%s%s", c->name,
                                                         c->internal ? " (built-in panel)" : ""));
        }
    }
}

/* Would the host keep a display device with a host driver? */
static gboolean
is_only_display (VmdAnalysis *a, VmdHost *host)
{
  gboolean moves_display = FALSE;

  for (guint i = 0; i < a->functions->len; i++)
    moves_display |= vmd_pci_function_is_display (a->functions->pdata[i]);
  if (!moves_display)
    return FALSE;
  for (guint i = 0; i < host->displays->len; i++)
    {
      VmdPciFunction *other = host->displays->pdata[i];

      if (!in_set (a->functions, other->bdf) && other->driver
          && !g_str_equal (other->driver, "vfio-pci"))
        return FALSE;
    }
  return TRUE;
}

VmdAnalysis *
vmd_analysis_new (VmdHost *host, const char *bdf)
{
  g_autoptr(VmdAnalysis) a = g_new0 (VmdAnalysis, 1);

  a->fn = vmd_pci_function_read (bdf);
  a->functions = g_ptr_array_new ();
  a->foreign = g_ptr_array_new ();
  a->console = g_ptr_array_new_with_free_func (g_free);
  a->panels = g_ptr_array_new_with_free_func (g_free);
  a->keyboards_lost = g_ptr_array_new_with_free_func (g_free);
  if (!a->fn->present)
    return g_steal_pointer (&a);

  if (a->fn->iommu_group >= 0)
    {
      g_autoptr(GError) error = NULL;
      a->group = vmd_iommu_group_read (a->fn, &error);
      if (a->group == NULL)
        a->group_error = g_strdup (error->message);
    }
  find_functions (a);
  find_console_and_panels (a, host);
  a->only_display = is_only_display (a, host);

  for (guint i = 0; i < host->root_path->len && a->holds_root == NULL; i++)
    if (in_set (a->functions, host->root_path->pdata[i]))
      a->holds_root = g_strdup (host->root_path->pdata[i]);

  for (guint i = 0; i < host->keyboards->len; i++)
    {
      VmdKeyboard *k = host->keyboards->pdata[i];
      if (k->controller && in_set (a->functions, k->controller))
        g_ptr_array_add (a->keyboards_lost, g_strdup_printf ("%s (on %s)", k->name,
                                                             k->controller));
    }
  a->last_keyboard = a->keyboards_lost->len > 0
                     && a->keyboards_lost->len == host->keyboards->len;
  return g_steal_pointer (&a);
}
