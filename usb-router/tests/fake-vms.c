/* fake-vms.c: see fake-vms.h. Operations complete from an idle callback, as libvirt's
 * complete later from a worker thread, so events can overtake them. */
#include "fake-vms.h"

#include <stdlib.h>
#include <string.h>

FakeVms *
fake_vms_new (void)
{
  FakeVms *vms = g_new0 (FakeVms, 1);

  vms->vms = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, (GDestroyNotify) g_ptr_array_unref);
  vms->no_auto = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
  return vms;
}

void
fake_vms_free (FakeVms *vms)
{
  g_hash_table_unref (vms->vms);
  g_hash_table_unref (vms->no_auto);
  g_free (vms->on_screen);
  g_free (vms);
}

void
fake_vms_start (FakeVms *vms, const char *name)
{
  g_hash_table_replace (vms->vms, g_strdup (name),
                        g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_usb_hostdev_free));
}

void
fake_vms_stop (FakeVms *vms, const char *name)
{
  g_hash_table_remove (vms->vms, name);
}

static gint
find_alias (GPtrArray *hostdevs, const char *alias)
{
  for (guint i = 0; i < hostdevs->len; i++)
    if (g_str_equal (((VmdUsbHostdev *) hostdevs->pdata[i])->alias, alias))
      return (gint) i;
  return -1;
}

void
fake_vms_plant (FakeVms *vms, const char *name, const VmdUsbHostdev *hostdev)
{
  g_ptr_array_add (g_hash_table_lookup (vms->vms, name), vmd_usb_hostdev_copy (hostdev));
}

static gint
by_string (gconstpointer a, gconstpointer b)
{
  return strcmp (*(const char **) a, *(const char **) b);
}

char *
fake_vms_aliases (FakeVms *vms, const char *name)
{
  GPtrArray *hostdevs = g_hash_table_lookup (vms->vms, name);
  g_autoptr(GPtrArray) names = g_ptr_array_new ();

  for (guint i = 0; hostdevs && i < hostdevs->len; i++)
    g_ptr_array_add (names, ((VmdUsbHostdev *) hostdevs->pdata[i])->alias);
  g_ptr_array_sort (names, by_string);
  g_ptr_array_add (names, NULL);
  return g_strjoinv (" ", (char **) names->pdata);
}

typedef struct {
  FakeVms       *vms;
  gboolean       attach;
  char          *vm;
  VmdUsbHostdev *hostdev;
  VmdUsbOpDone   done;
  gpointer       user_data;
} Pending;

static gboolean
complete (gpointer data)
{
  Pending *p = data;
  GPtrArray *hostdevs = g_hash_table_lookup (p->vms->vms, p->vm);
  g_autoptr(GError) error = NULL;
  gint at = hostdevs ? find_alias (hostdevs, p->hostdev->alias) : -1;

  if (hostdevs == NULL)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "domain %s is not running", p->vm);
  else if (p->attach && p->vms->fail_attaches > 0)
    {
      p->vms->fail_attaches--;
      error = g_error_new (G_IO_ERROR, G_IO_ERROR_FAILED, "injected attach failure");
    }
  else if (p->attach && at >= 0)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_EXISTS, "alias %s already in use", p->hostdev->alias);
  else if (!p->attach && at < 0)
    error = g_error_new (G_IO_ERROR, G_IO_ERROR_NOT_FOUND, "no hostdev %s", p->hostdev->alias);
  else if (p->attach)
    g_ptr_array_add (hostdevs, vmd_usb_hostdev_copy (p->hostdev));
  else
    g_ptr_array_remove_index (hostdevs, (guint) at);
  if (error && !g_error_matches (error, G_IO_ERROR, G_IO_ERROR_FAILED))
    p->vms->refused++;
  p->vms->in_flight--;
  p->done (error, p->user_data);
  g_free (p->vm);
  vmd_usb_hostdev_free (p->hostdev);
  g_free (p);
  return G_SOURCE_REMOVE;
}

static void
start (FakeVms *vms, gboolean attach, const char *vm, const VmdUsbHostdev *hostdev, VmdUsbOpDone done,
       gpointer user_data)
{
  Pending *p = g_new0 (Pending, 1);

  p->vms = vms;
  p->attach = attach;
  p->vm = g_strdup (vm);
  p->hostdev = vmd_usb_hostdev_copy (hostdev);
  p->done = done;
  p->user_data = user_data;
  vms->in_flight++;
  if (attach)
    vms->attaches++;
  else
    vms->detaches++;
  g_idle_add (complete, p);
}

static void
op_attach (gpointer data, const char *vm, const VmdUsbHostdev *hostdev, VmdUsbOpDone done, gpointer user_data)
{
  start (data, TRUE, vm, hostdev, done, user_data);
}

static void
op_detach (gpointer data, const char *vm, const VmdUsbHostdev *hostdev, VmdUsbOpDone done, gpointer user_data)
{
  start (data, FALSE, vm, hostdev, done, user_data);
}

static GPtrArray *
op_list (gpointer data, const char *vm, GError **error)
{
  FakeVms *vms = data;
  GPtrArray *hostdevs = g_hash_table_lookup (vms->vms, vm);
  GPtrArray *copy = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_usb_hostdev_free);

  for (guint i = 0; hostdevs && i < hostdevs->len; i++)
    {
      VmdUsbHostdev *h = hostdevs->pdata[i];
      if (g_str_has_prefix (h->alias, VMD_USB_ALIAS_PREFIX))
        g_ptr_array_add (copy, vmd_usb_hostdev_copy (h));
    }
  return copy;
}

const VmdUsbOps *
fake_vms_ops (void)
{
  static const VmdUsbOps ops = { op_attach, op_detach, op_list };

  return &ops;
}

static gboolean
view_is_running (const char *vm, gpointer data)
{
  return g_hash_table_contains (((FakeVms *) data)->vms, vm);
}

static gboolean
view_auto_assign (const char *vm, gpointer data)
{
  return !g_hash_table_contains (((FakeVms *) data)->no_auto, vm);
}

static const char *
view_on_screen (gpointer data)
{
  return ((FakeVms *) data)->on_screen;
}

static GStrv
view_running (gpointer data)
{
  FakeVms *vms = data;
  g_autofree const char **names = (const char **) g_hash_table_get_keys_as_array (vms->vms, NULL);
  GStrv copy = g_strdupv ((char **) names);

  qsort (copy, g_strv_length (copy), sizeof (char *), (int (*) (const void *, const void *)) by_string);
  return copy;
}

const VmdUsbVmView *
fake_vms_view (void)
{
  static const VmdUsbVmView view = { view_is_running, view_auto_assign, view_on_screen, view_running };

  return &view;
}
