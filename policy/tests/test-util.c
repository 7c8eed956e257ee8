/* test-util.c: see test-util.h. */
#include "test-util.h"

#include <glib/gstdio.h>

#include <stdio.h>

VmdUsbDevice *
test_device_new (const char *id, const char *interfaces)
{
  VmdUsbDevice *device = vmd_usb_device_new ();
  g_auto(GStrv) ifaces = g_strsplit (interfaces, " ", -1);
  guint vid, pid;

  g_assert_cmpint (sscanf (id, "%4x:%4x", &vid, &pid), ==, 2);
  device->vendor_id = vid;
  device->product_id = pid;
  for (guint i = 0; ifaces[i]; i++)
    {
      guint c, s, p;

      if (*ifaces[i] == '\0')
        continue;
      g_assert_cmpint (sscanf (ifaces[i], "%2x:%2x:%2x", &c, &s, &p), ==, 3);
      vmd_usb_device_add_interface (device, c, s, p);
    }
  return device;
}

gboolean
test_rule_matches (const char *rule, const VmdUsbDevice *device, const VmdPolicyContext *context)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = vmd_policy_new_from_string (rule, -1, "t.rules", &error);
  g_autoptr(VmdPolicyDecision) decision = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (vmd_policy_get_n_rules (policy), ==, 1);
  decision = vmd_policy_decide (policy, device, context);
  return decision->file != NULL;
}

void
test_remove_tree (const char *path)
{
  if (g_file_test (path, G_FILE_TEST_IS_DIR) && !g_file_test (path, G_FILE_TEST_IS_SYMLINK))
    {
      g_autoptr(GDir) dir = g_dir_open (path, 0, NULL);
      const char *name;

      while (dir && (name = g_dir_read_name (dir)) != NULL)
        {
          g_autofree char *child = g_build_filename (path, name, NULL);
          test_remove_tree (child);
        }
      g_rmdir (path);
    }
  else
    g_unlink (path);
}

void
test_put_file (const char *dir, const char *name, const void *data, gssize length)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autofree char *parent = g_path_get_dirname (path);
  g_autoptr(GError) error = NULL;

  g_assert_cmpint (g_mkdir_with_parents (parent, 0700), ==, 0);
  g_file_set_contents (path, data, length, &error);
  g_assert_no_error (error);
}
