/* vmd-vfio-steps.c: the sysfs writes a bind, rollback or release is made of, each followed
 * by reading back what the kernel did: a write that "succeeds" but leaves the `driver` link
 * elsewhere (vfio-pci not loaded, a driver that grabbed the device first) is a failure too. */
#include "vmd-vfio-private.h"

#define PCI "/sys/bus/pci"

static gboolean
driver_is (const char *bdf, const char *expect, const char *after, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *now = vmd_pci_driver_now (bdf, &local);

  if (local)
    {
      g_propagate_prefixed_error (error, g_steal_pointer (&local), "%s: after %s: ", bdf, after);
      return FALSE;
    }
  if (g_strcmp0 (now, expect) == 0)
    return TRUE;
  g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_STEP_FAILED,
               "%s: after %s the driver is %s, expected %s", bdf, after,
               now ? now : "none", expect ? expect : "none");
  return FALSE;
}

gboolean
vmd_step_set_override (const char *bdf, const char *value, GError **error)
{
  g_autofree char *path = g_build_filename (PCI "/devices", bdf, "driver_override", NULL);
  g_autofree char *now = NULL;
  g_autofree char *what = g_strdup_printf ("setting driver_override to \"%s\"", value ? value : "");

  /* The kernel clears the override on an empty line. */
  if (!vmd_sysfs_write (path, value && *value ? value : "\n", error))
    {
      g_prefix_error (error, "%s: ", bdf);
      return FALSE;
    }
  now = vmd_pci_override_now (bdf, error);
  if (now == NULL)
    {
      g_prefix_error (error, "%s: after %s: ", bdf, what);
      return FALSE;
    }
  if (!g_str_equal (now, value ? value : ""))
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_STEP_FAILED,
                   "%s: after %s it reads \"%s\"", bdf, what, now);
      return FALSE;
    }
  return TRUE;
}

/* Write the BDF to a driver's bind or unbind file, then check the `driver` link. */
static gboolean
driver_control (const char *bdf, const char *driver, const char *control, const char *expect,
                GError **error)
{
  g_autofree char *path = g_build_filename (PCI "/drivers", driver, control, NULL);
  g_autofree char *what = g_strdup_printf ("%s %s", control, driver);

  if (!vmd_sysfs_write (path, bdf, error))
    {
      g_prefix_error (error, "%s: %s: ", bdf, what);
      return FALSE;
    }
  return driver_is (bdf, expect, what, error);
}

gboolean
vmd_step_unbind (const char *bdf, const char *driver, GError **error)
{
  return driver_control (bdf, driver, "unbind", NULL, error);
}

gboolean
vmd_step_bind (const char *bdf, const char *driver, GError **error)
{
  return driver_control (bdf, driver, "bind", driver, error);
}

gboolean
vmd_step_probe (const char *bdf, const char *expect, GError **error)
{
  if (!vmd_sysfs_write (PCI "/drivers_probe", bdf, error))
    {
      g_prefix_error (error, "%s: drivers_probe: ", bdf);
      return FALSE;
    }
  return driver_is (bdf, expect, "drivers_probe", error);
}

int
vmd_vtcon_bound (const char *vtcon)
{
  g_autofree char *dir = g_build_filename ("/sys/class/vtconsole", vtcon, NULL);
  g_autofree char *value = vmd_sysfs_read_attr (dir, "bind", NULL);

  if (value == NULL || (!g_str_equal (value, "0") && !g_str_equal (value, "1")))
    return -1;
  return value[0] == '1';
}

gboolean
vmd_step_vtcon (const char *vtcon, gboolean bind, GError **error)
{
  g_autofree char *path = g_build_filename ("/sys/class/vtconsole", vtcon, "bind", NULL);

  if (!vmd_sysfs_write (path, bind ? "1" : "0", error))
    {
      g_prefix_error (error, "%s: ", vtcon);
      return FALSE;
    }
  if (vmd_vtcon_bound (vtcon) != bind)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_STEP_FAILED,
                   "%s: the console is still %s", vtcon, bind ? "unbound" : "bound");
      return FALSE;
    }
  return TRUE;
}

gboolean
vmd_fb_is_bound (const VmdFirmwareFb *fb)
{
  g_autofree char *link = g_build_filename ("/sys/bus/platform/devices", fb->device, "driver",
                                            NULL);
  g_autofree char *now = vmd_sysfs_link_name (link, NULL);

  return g_strcmp0 (now, fb->driver) == 0;
}

static gboolean
fb_step (const VmdFirmwareFb *fb, const char *control, gboolean expect_bound, GError **error)
{
  g_autofree char *path = g_build_filename ("/sys/bus/platform/drivers", fb->driver, control,
                                            NULL);

  if (!vmd_sysfs_write (path, fb->device, error))
    {
      g_prefix_error (error, "%s: %s %s: ", fb->device, control, fb->driver);
      return FALSE;
    }
  if (vmd_fb_is_bound (fb) != expect_bound)
    {
      g_set_error (error, VMD_VFIO_ERROR, VMD_VFIO_ERROR_STEP_FAILED,
                   "%s: after %s it is %s %s", fb->device, control,
                   expect_bound ? "not bound to" : "still bound to", fb->driver);
      return FALSE;
    }
  return TRUE;
}

gboolean
vmd_step_fb_unbind (const VmdFirmwareFb *fb, GError **error)
{
  return fb_step (fb, "unbind", FALSE, error);
}

gboolean
vmd_step_fb_bind (const VmdFirmwareFb *fb, GError **error)
{
  return fb_step (fb, "bind", TRUE, error);
}
