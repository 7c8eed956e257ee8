/* vmd-usb-device-sysfs.c: a USB device read from its sysfs directory with plain, bounded
 * file reads. Every string in sysfs came from the device itself (descriptor strings) and is
 * untrusted: kept as raw bytes, bounded, never interpreted. */
#include "vmd-policy-private.h"

#include <string.h>

#define MAX_DESCRIPTORS  (256 * 1024)
#define MAX_INTERFACES   256

/* The attribute's bytes without sysfs' final newline; NULL with no error when absent. */
static char *
read_attribute (const char *dir, const char *name, gsize max_size, gsize *length, GError **error)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) local = NULL;
  gsize len = 0;
  char *text = vmd_read_sysfs_bounded (path, max_size, &len, &local);

  if (text == NULL)
    {
      if (!g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
        g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (len > 0 && text[len - 1] == '\n')
    text[--len] = '\0';
  if (length)
    *length = len;
  return text;
}

/* A string attribute: NUL bytes cannot be kept in a C string, so they end it. */
static gboolean
read_string (const char *dir, const char *name, char **out, GError **error)
{
  g_autoptr(GError) local = NULL;

  *out = read_attribute (dir, name, VMD_USB_STRING_MAX + 1, NULL, &local);
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  return TRUE;
}

/* FALSE without an error when the attribute is absent and not `required`. */
static gboolean
read_hex (const char *dir, const char *name, guint digits, gboolean required, guint32 *out,
          GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *text = read_attribute (dir, name, 64, NULL, &local);
  g_autofree char *path = NULL;
  g_autofree char *shown = NULL;

  if (text && vmd_parse_hex_exact (text, digits, out))
    return TRUE;
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (text == NULL && !required)
    return FALSE;
  path = g_build_filename (dir, name, NULL);
  shown = vmd_policy_escape_for_message (path);
  if (text)
    g_set_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_INVALID, "%s: expected %u hex digits",
                 shown, digits);
  else
    g_set_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_INVALID, "%s: missing", shown);
  return FALSE;
}

typedef struct {
  guint   config;
  guint   number;
  guint32 value;
} Interface;

static int
compare_interfaces (gconstpointer a, gconstpointer b)
{
  const Interface *x = a, *y = b;

  if (x->config != y->config)
    return x->config < y->config ? -1 : 1;
  return x->number < y->number ? -1 : x->number > y->number;
}

/* "<port>:C.I" -> C, I (decimal). */
static gboolean
parse_interface_dir (const char *name, const char *port, guint *config, guint *number)
{
  gsize port_len = strlen (port);
  g_auto(GStrv) parts = NULL;
  guint64 c, i;

  if (strncmp (name, port, port_len) != 0 || name[port_len] != ':')
    return FALSE;
  parts = g_strsplit (name + port_len + 1, ".", -1);
  if (g_strv_length (parts) != 2
      || !g_ascii_string_to_unsigned (parts[0], 10, 0, 255, &c, NULL)
      || !g_ascii_string_to_unsigned (parts[1], 10, 0, 255, &i, NULL))
    return FALSE;
  *config = (guint) c;
  *number = (guint) i;
  return TRUE;
}

/* The interfaces of the active configuration, each a <dev>:C.I directory. */
static gboolean
read_interfaces (const char *syspath, const char *port, VmdUsbDevice *device, GError **error)
{
  g_autoptr(GArray) found = g_array_new (FALSE, FALSE, sizeof (Interface));
  g_autoptr(GDir) dir = g_dir_open (syspath, 0, error);
  const char *name;

  if (dir == NULL)
    return FALSE;
  while ((name = g_dir_read_name (dir)) != NULL)
    {
      g_autofree char *path = NULL;
      Interface iface;
      guint32 c, s, p;

      if (!parse_interface_dir (name, port, &iface.config, &iface.number))
        continue;
      if (found->len >= MAX_INTERFACES)
        {
          g_autofree char *shown = vmd_policy_escape_for_message (syspath);
          g_set_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_INVALID,
                       "%s: more than %d interfaces", shown, MAX_INTERFACES);
          return FALSE;
        }
      path = g_build_filename (syspath, name, NULL);
      if (!read_hex (path, "bInterfaceClass", 2, TRUE, &c, error)
          || !read_hex (path, "bInterfaceSubClass", 2, TRUE, &s, error)
          || !read_hex (path, "bInterfaceProtocol", 2, TRUE, &p, error))
        return FALSE;
      iface.value = c << 16 | s << 8 | p;
      g_array_append_val (found, iface);
    }
  g_array_sort (found, compare_interfaces);
  for (guint i = 0; i < found->len; i++)
    {
      guint32 v = g_array_index (found, Interface, i).value;
      vmd_usb_device_add_interface (device, v >> 16, (v >> 8) & 0xff, v & 0xff);
    }
  return TRUE;
}

/* The raw descriptors; NULL without an error when the attribute is absent. Binary: the
 * final byte may be '\n' by chance, so it is kept as it is. */
static char *
read_descriptors (const char *dir, gsize *length, GError **error)
{
  g_autofree char *path = g_build_filename (dir, "descriptors", NULL);
  g_autoptr(GError) local = NULL;
  char *data = vmd_read_sysfs_bounded (path, MAX_DESCRIPTORS, length, &local);

  if (data == NULL && !g_error_matches (local, G_FILE_ERROR, G_FILE_ERROR_NOENT))
    g_propagate_error (error, g_steal_pointer (&local));
  return data;
}

/* The interfaces of the active configuration. From the descriptors when they parse: at
 * "add" time the kernel has not created the interface directories yet. Else from those. */
static gboolean
read_device_interfaces (const char *syspath, const char *port, const char *descriptors, gsize length,
                        VmdUsbDevice *device, GError **error)
{
  g_autofree char *config_text = read_attribute (syspath, "bConfigurationValue", 16, NULL, NULL);
  g_autoptr(GArray) found = g_array_new (FALSE, FALSE, sizeof (guint32));
  guint64 config = 0;

  if (config_text)
    g_ascii_string_to_unsigned (config_text, 10, 0, 255, &config, NULL);
  if (descriptors == NULL
      || !vmd_usb_interfaces_from_descriptors ((const guint8 *) descriptors, length, (guint) config, found)
      || found->len > MAX_INTERFACES)
    return read_interfaces (syspath, port, device, error);
  for (guint i = 0; i < found->len; i++)
    {
      guint32 v = g_array_index (found, guint32, i);
      vmd_usb_device_add_interface (device, v >> 16, (v >> 8) & 0xff, v & 0xff);
    }
  return TRUE;
}

gboolean
vmd_usb_device_hash_from_sysfs (const char *dir, char **out, GError **error)
{
  g_autoptr(GError) local = NULL;
  g_autofree char *descriptors = NULL;
  g_autofree char *serial = NULL;
  guint32 vid, pid;
  gsize length = 0;

  *out = NULL;
  if (!read_hex (dir, "idVendor", 4, FALSE, &vid, &local)
      || !read_hex (dir, "idProduct", 4, FALSE, &pid, &local))
    {
      if (local)
        {
          g_propagate_error (error, g_steal_pointer (&local));
          return FALSE;
        }
      return TRUE;   /* not a USB device (the parent of a root hub): no hash */
    }
  if (!read_string (dir, "serial", &serial, error))
    return FALSE;
  descriptors = read_descriptors (dir, &length, &local);
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return FALSE;
    }
  if (descriptors)
    *out = vmd_usb_device_hash (vid, pid, serial, (const guint8 *) descriptors, length);
  return TRUE;
}

VmdUsbDevice *
vmd_usb_device_from_sysfs_with_parent_hash (const char *syspath, const char *parent_hash, GError **error)
{
  g_autoptr(VmdUsbDevice) device = vmd_usb_device_new ();
  g_autofree char *port = g_path_get_basename (syspath);
  g_autofree char *descriptors = NULL;
  g_autoptr(GError) local = NULL;
  gsize length = 0;
  guint32 vid, pid;

  if (!read_hex (syspath, "idVendor", 4, TRUE, &vid, error)
      || !read_hex (syspath, "idProduct", 4, TRUE, &pid, error))
    return NULL;
  device->vendor_id = (guint16) vid;
  device->product_id = (guint16) pid;
  if (!read_string (syspath, "serial", &device->serial, error)
      || !read_string (syspath, "product", &device->name, error)
      || !read_string (syspath, "manufacturer", &device->manufacturer, error)
      || !read_string (syspath, "port/connect_type", &device->connect_type, error))
    return NULL;
  /* Read once: the interfaces and the identity hash both come from them. */
  descriptors = read_descriptors (syspath, &length, &local);
  if (local)
    {
      g_propagate_error (error, g_steal_pointer (&local));
      return NULL;
    }
  if (!read_device_interfaces (syspath, port, descriptors, length, device, error))
    return NULL;
  device->parent_hash = g_strdup (parent_hash);
  if (descriptors)
    device->hash = vmd_usb_device_hash (vid, pid, device->serial, (const guint8 *) descriptors, length);
  device->port = g_steal_pointer (&port);
  return g_steal_pointer (&device);
}

VmdUsbDevice *
vmd_usb_device_from_sysfs (const char *syspath, GError **error)
{
  /* The physical parent, also when `syspath` is a /sys/bus/usb/devices/ symlink. */
  g_autofree char *parent = g_build_filename (syspath, "..", NULL);
  g_autofree char *parent_hash = NULL;

  if (!vmd_usb_device_hash_from_sysfs (parent, &parent_hash, error))
    return NULL;
  return vmd_usb_device_from_sysfs_with_parent_hash (syspath, parent_hash, error);
}
