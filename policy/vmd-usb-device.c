/* vmd-usb-device.c: the device as the policy sees it, its identity hash, and its JSON form
 * (`vmdeskctl policy explain --device-json`). The JSON comes from users and scripts, so it
 * is read strictly: every error names the member at fault. */
#include "vmd-policy-private.h"

#include <json-glib/json-glib.h>
#include <string.h>

#define MAX_JSON_SIZE    (1024 * 1024)
#define MAX_INTERFACES   256

VmdUsbDevice *
vmd_usb_device_new (void)
{
  VmdUsbDevice *device = g_new0 (VmdUsbDevice, 1);

  device->interfaces = g_array_new (FALSE, FALSE, sizeof (guint32));
  return device;
}

VmdUsbDevice *
vmd_usb_device_copy (const VmdUsbDevice *device)
{
  VmdUsbDevice *copy = vmd_usb_device_new ();

  copy->vendor_id = device->vendor_id;
  copy->product_id = device->product_id;
  copy->name = g_strdup (device->name);
  copy->manufacturer = g_strdup (device->manufacturer);
  copy->serial = g_strdup (device->serial);
  copy->port = g_strdup (device->port);
  copy->connect_type = g_strdup (device->connect_type);
  if (device->interfaces)
    g_array_append_vals (copy->interfaces, device->interfaces->data, device->interfaces->len);
  copy->hash = g_strdup (device->hash);
  copy->parent_hash = g_strdup (device->parent_hash);
  return copy;
}

void
vmd_usb_device_free (VmdUsbDevice *device)
{
  if (device == NULL)
    return;
  g_free (device->name);
  g_free (device->manufacturer);
  g_free (device->serial);
  g_free (device->port);
  g_free (device->connect_type);
  if (device->interfaces)
    g_array_free (device->interfaces, TRUE);
  g_free (device->hash);
  g_free (device->parent_hash);
  g_free (device);
}

void
vmd_usb_device_add_interface (VmdUsbDevice *device, guint8 iclass, guint8 isubclass,
                              guint8 iprotocol)
{
  guint32 value = (guint32) iclass << 16 | (guint32) isubclass << 8 | iprotocol;

  if (device->interfaces == NULL)
    device->interfaces = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_array_append_val (device->interfaces, value);
}

char *
vmd_usb_device_hash (guint16 vendor_id, guint16 product_id, const char *serial,
                     const guint8 *descriptors, gsize descriptors_len)
{
  g_autoptr(GChecksum) sha = g_checksum_new (G_CHECKSUM_SHA256);
  char id[10];
  guint8 digest[32];
  gsize digest_len = sizeof digest;
  const guint8 zero = 0;

  /* The 0 bytes keep the fields apart: a serial never contains one (sysfs strings are C
   * strings), so no two devices share the hashed bytes unless they share every field. */
  g_snprintf (id, sizeof id, "%04x:%04x", vendor_id, product_id);
  g_checksum_update (sha, (const guint8 *) id, 9);
  g_checksum_update (sha, &zero, 1);
  if (serial)
    g_checksum_update (sha, (const guint8 *) serial, strlen (serial));
  g_checksum_update (sha, &zero, 1);
  if (descriptors_len > 0)
    g_checksum_update (sha, descriptors, descriptors_len);
  g_checksum_get_digest (sha, digest, &digest_len);
  return g_base64_encode (digest, digest_len);
}

/* ---- JSON ---- */

G_GNUC_PRINTF (2, 3) static gboolean
json_error (GError **error, const char *format, ...)
{
  g_autofree char *message = NULL;
  va_list ap;

  va_start (ap, format);
  message = g_strdup_vprintf (format, ap);
  va_end (ap);
  g_set_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_INVALID, "device JSON: %s", message);
  return FALSE;
}

static const char *
node_type_name (JsonNode *node)
{
  if (JSON_NODE_HOLDS_OBJECT (node))
    return "an object";
  if (JSON_NODE_HOLDS_ARRAY (node))
    return "an array";
  if (JSON_NODE_HOLDS_NULL (node))
    return "null";
  if (json_node_get_value_type (node) == G_TYPE_STRING)
    return "a string";
  if (json_node_get_value_type (node) == G_TYPE_BOOLEAN)
    return "a boolean";
  return "a number";
}

/* "CC:SS:PP" in hex, as in rules but without wildcards. */
static gboolean
parse_interface_text (const char *text, guint8 out[3])
{
  if (strlen (text) != 8 || text[2] != ':' || text[5] != ':')
    return FALSE;
  for (guint i = 0; i < 3; i++)
    {
      const char *hex = text + 3 * i;

      if (!g_ascii_isxdigit (hex[0]) || !g_ascii_isxdigit (hex[1]))
        return FALSE;
      out[i] = (guint8) (g_ascii_xdigit_value (hex[0]) << 4 | g_ascii_xdigit_value (hex[1]));
    }
  return TRUE;
}

static gboolean
node_is_string (JsonNode *node)
{
  return JSON_NODE_HOLDS_VALUE (node) && json_node_get_value_type (node) == G_TYPE_STRING;
}

/* A string member, or null / absent for NULL. */
static gboolean
read_string (JsonObject *object, const char *member, char **out, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);
  const char *value;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!node_is_string (node))
    return json_error (error, "\"%s\" must be a string or null, not %s", member, node_type_name (node));
  value = json_node_get_string (node);
  if (strlen (value) > VMD_USB_STRING_MAX)
    return json_error (error, "\"%s\" is longer than %d bytes", member, VMD_USB_STRING_MAX);
  *out = g_strdup (value);
  return TRUE;
}

static gboolean
read_id (JsonObject *object, const char *member, guint16 *out, GError **error)
{
  JsonNode *node = json_object_get_member (object, member);
  guint32 value;

  if (node == NULL)
    return json_error (error, "\"%s\" is missing (4 hex digits, as \"046d\")", member);
  if (!node_is_string (node) || !vmd_parse_hex_exact (json_node_get_string (node), 4, &value))
    return json_error (error, "\"%s\" must be a string of 4 hex digits, as \"046d\"", member);
  *out = (guint16) value;
  return TRUE;
}

static gboolean
read_interfaces (JsonObject *object, VmdUsbDevice *device, GError **error)
{
  JsonNode *node = json_object_get_member (object, "interfaces");
  JsonArray *array;

  if (node == NULL || JSON_NODE_HOLDS_NULL (node))
    return TRUE;
  if (!JSON_NODE_HOLDS_ARRAY (node))
    return json_error (error, "\"interfaces\" must be an array of \"CC:SS:PP\", not %s",
                       node_type_name (node));
  array = json_node_get_array (node);
  if (json_array_get_length (array) > MAX_INTERFACES)
    return json_error (error, "\"interfaces\" has more than %d entries", MAX_INTERFACES);
  for (guint i = 0; i < json_array_get_length (array); i++)
    {
      JsonNode *item = json_array_get_element (array, i);
      guint8 v[3];

      if (!node_is_string (item) || !parse_interface_text (json_node_get_string (item), v))
        return json_error (error, "\"interfaces\"[%u] must be a string \"CC:SS:PP\" in hex", i);
      vmd_usb_device_add_interface (device, v[0], v[1], v[2]);
    }
  return TRUE;
}

static const char *const members[] = {
  "vendor", "product", "serial", "name", "manufacturer", "port", "connect_type",
  "interfaces", "hash", "parent_hash", NULL,
};

VmdUsbDevice *
vmd_usb_device_from_json (const char *data, gssize length, GError **error)
{
  g_autoptr(JsonParser) parser = json_parser_new ();
  g_autoptr(VmdUsbDevice) device = vmd_usb_device_new ();
  g_autoptr(GError) parse_error = NULL;
  g_autoptr(GList) names = NULL;
  JsonObject *object;
  JsonNode *root;
  gsize size = length < 0 ? strlen (data) : (gsize) length;

  if (size > MAX_JSON_SIZE)
    {
      json_error (error, "larger than %d bytes", MAX_JSON_SIZE);
      return NULL;
    }
  if (!json_parser_load_from_data (parser, data, size, &parse_error))
    {
      /* json-glib may quote the bytes it choked on. */
      g_autofree char *shown = vmd_policy_escape_for_message (parse_error->message);
      json_error (error, "%s", shown);
      return NULL;
    }
  root = json_parser_get_root (parser);
  if (root == NULL || !JSON_NODE_HOLDS_OBJECT (root))
    {
      json_error (error, "the document must be an object");
      return NULL;
    }
  object = json_node_get_object (root);

  names = json_object_get_members (object);
  for (GList *l = names; l; l = l->next)
    if (!g_strv_contains (members, l->data))
      {
        g_autofree char *shown = vmd_policy_escape_for_message (l->data);
        json_error (error, "unknown member \"%s\"", shown);
        return NULL;
      }
  if (!read_id (object, "vendor", &device->vendor_id, error)
      || !read_id (object, "product", &device->product_id, error)
      || !read_string (object, "serial", &device->serial, error)
      || !read_string (object, "name", &device->name, error)
      || !read_string (object, "manufacturer", &device->manufacturer, error)
      || !read_string (object, "port", &device->port, error)
      || !read_string (object, "connect_type", &device->connect_type, error)
      || !read_interfaces (object, device, error)
      || !read_string (object, "hash", &device->hash, error)
      || !read_string (object, "parent_hash", &device->parent_hash, error))
    return NULL;
  return g_steal_pointer (&device);
}
