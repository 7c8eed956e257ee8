/* vmd-usb-memory.c: where each remembered device goes (sticky rules, "remember" answers,
 * `usb attach --remember`), by device identity hash. Survives daemon restarts. */
#include "vmdesk-usb-router.h"

#include "vmdesk-common.h"

struct _VmdUsbMemory {
  GObject   parent;
  char     *path;
  GKeyFile *kf;      /* one group per hash: vm=, device= (a description for humans) */
};

G_DEFINE_TYPE (VmdUsbMemory, vmd_usb_memory, G_TYPE_OBJECT)

VmdUsbMemory *
vmd_usb_memory_new (const char *state_dir, GError **error)
{
  g_autoptr(VmdUsbMemory) self = NULL;

  if (!vmd_state_dir_ensure (state_dir, error))
    return NULL;
  self = g_object_new (VMD_TYPE_USB_MEMORY, NULL);
  self->path = g_build_filename (state_dir, "usb-memory.ini", NULL);
  self->kf = vmd_keyfile_load_or_quarantine (self->path);
  return g_steal_pointer (&self);
}

char *
vmd_usb_memory_lookup (VmdUsbMemory *self, const char *hash)
{
  g_autofree char *vm = NULL;

  if (hash == NULL || !g_key_file_has_group (self->kf, hash))
    return NULL;
  vm = g_key_file_get_string (self->kf, hash, "vm", NULL);
  /* The file is ours, but a hand-edited name must not reach libvirt unchecked. */
  if (vm == NULL || !vmd_vm_name_validate (vm, NULL))
    return NULL;
  return g_steal_pointer (&vm);
}

gboolean
vmd_usb_memory_remember (VmdUsbMemory *self, const char *hash, const char *vm,
                         const char *description, GError **error)
{
  g_key_file_set_string (self->kf, hash, "vm", vm);
  g_key_file_set_string (self->kf, hash, "device", description);
  return vmd_keyfile_save (self->kf, self->path, error);
}

gboolean
vmd_usb_memory_forget (VmdUsbMemory *self, const char *hash, GError **error)
{
  if (!g_key_file_remove_group (self->kf, hash, NULL))
    return TRUE;
  return vmd_keyfile_save (self->kf, self->path, error);
}

static void
vmd_usb_memory_init (VmdUsbMemory *self)
{
}

static void
vmd_usb_memory_finalize (GObject *object)
{
  VmdUsbMemory *self = VMD_USB_MEMORY (object);

  g_free (self->path);
  g_clear_pointer (&self->kf, g_key_file_unref);
  G_OBJECT_CLASS (vmd_usb_memory_parent_class)->finalize (object);
}

static void
vmd_usb_memory_class_init (VmdUsbMemoryClass *klass)
{
  G_OBJECT_CLASS (klass)->finalize = vmd_usb_memory_finalize;
}
