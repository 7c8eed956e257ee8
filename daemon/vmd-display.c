/* vmd-display.c: Screenshot and OpenDisplay. Both talk to QEMU through libvirt (a
 * screendump, a new display client) and can take long on a busy or hung QEMU, so the
 * libvirt half runs on GLib's thread pool; the main loop only checks and replies. */
#include "vmd-display.h"

#include "vmd-live-xml.h"
#include "vmd-screen-image.h"

#include <gio/gunixfdlist.h>
#include <libvirt/virterror.h>

G_DEFINE_AUTOPTR_CLEANUP_FUNC (virDomain, virDomainFree)
G_DEFINE_AUTOPTR_CLEANUP_FUNC (virStream, virStreamFree)

/* How much a stream read asks for at a time. */
#define STREAM_CHUNK (256 * 1024)

struct _VmdDisplay {
  GObject     parent;
  VmdLibvirt *libvirt;
  GHashTable *screenshots;  /* VMs with a screendump under way */
};

G_DEFINE_TYPE (VmdDisplay, vmd_display, G_TYPE_OBJECT)

typedef struct {
  virConnectPtr conn;
  char         *name;
  guint         max_width;
  guint         max_height;
} Request;

static void
request_free (Request *req)
{
  virConnectClose (req->conn);
  g_free (req->name);
  g_free (req);
}

static void
rgb_image_free (VmdRgbImage *image)
{
  vmd_rgb_image_clear (image);
  g_free (image);
}

/* --- on a worker thread --- */

static virDomainPtr
lookup_running (Request *req, GError **error)
{
  g_autoptr(virDomain) dom = virDomainLookupByName (req->conn, req->name);

  if (dom == NULL)
    {
      if (virGetLastErrorCode () == VIR_ERR_NO_DOMAIN)
        g_set_error (error, VMD_ERROR, VMD_ERROR_UNKNOWN_VM, "no VM named '%s'", req->name);
      else
        vmd_set_libvirt_error (error, "looking up '%s'", req->name);
      return NULL;
    }
  if (virDomainIsActive (dom) != 1)
    {
      g_set_error (error, VMD_ERROR, VMD_ERROR_NOT_RUNNING, "VM '%s' is not running", req->name);
      return NULL;
    }
  return g_steal_pointer (&dom);
}

/* The screendump's bytes, at most VMD_SCREEN_MAX_BYTES: the guest chooses its mode. */
static GBytes *
receive_screenshot (Request *req, virDomainPtr dom, GError **error)
{
  g_autoptr(virStream) st = virStreamNew (req->conn, 0);
  g_autoptr(GByteArray) buf = g_byte_array_new ();
  g_autofree char *mime = NULL;
  gsize len = 0;

  if (st == NULL || (mime = virDomainScreenshot (dom, st, 0, 0)) == NULL)
    {
      if (virGetLastErrorCode () == VIR_ERR_OPERATION_INVALID)
        g_set_error (error, VMD_ERROR, VMD_ERROR_NOT_RUNNING, "VM '%s' is not running: %s",
                     req->name, virGetLastErrorMessage ());
      else
        vmd_set_libvirt_error (error, "taking a screenshot of '%s'", req->name);
      return NULL;
    }
  for (;;)
    {
      /* One byte past the limit tells a too-large image from one exactly at it. */
      gsize want = MIN (STREAM_CHUNK, (gsize) VMD_SCREEN_MAX_BYTES + 1 - len);
      int n;

      g_byte_array_set_size (buf, len + want);
      n = virStreamRecv (st, (char *) buf->data + len, want);
      if (n < 0)
        {
          vmd_set_libvirt_error (error, "reading the screenshot of '%s'", req->name);
          virStreamAbort (st);
          return NULL;
        }
      if (n == 0)
        break;
      len += (gsize) n;
      if (len > VMD_SCREEN_MAX_BYTES)
        {
          virStreamAbort (st);
          g_set_error (error, VMD_ERROR, VMD_ERROR_FAILED, "the screenshot of '%s' (%s) is larger "
                       "than %u MiB", req->name, mime, VMD_SCREEN_MAX_BYTES >> 20);
          return NULL;
        }
    }
  if (virStreamFinish (st) < 0)
    {
      vmd_set_libvirt_error (error, "finishing the screenshot of '%s'", req->name);
      return NULL;
    }
  g_byte_array_set_size (buf, len);
  return g_byte_array_free_to_bytes (g_steal_pointer (&buf));
}

static void
screenshot_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Request *req = task_data;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(GBytes) bytes = NULL;
  g_auto(VmdRgbImage) full = { 0 };
  VmdRgbImage *thumb;
  g_autoptr(GError) error = NULL;
  guint width, height;

  if ((dom = lookup_running (req, &error)) == NULL
      || (bytes = receive_screenshot (req, dom, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  if (!vmd_screen_image_decode (bytes, &full, &error))
    {
      g_task_return_new_error (task, VMD_ERROR, VMD_ERROR_FAILED, "the screenshot of '%s': %s",
                               req->name, error->message);
      return;
    }
  vmd_screen_fit (full.width, full.height, req->max_width, req->max_height, &width, &height);
  thumb = g_new0 (VmdRgbImage, 1);
  vmd_rgb_scale_down (&full, width, height, thumb);
  g_task_return_pointer (task, thumb, (GDestroyNotify) rgb_image_free);
}

static void
open_display_thread (GTask *task, gpointer source, gpointer task_data, GCancellable *cancellable)
{
  Request *req = task_data;
  g_autoptr(virDomain) dom = NULL;
  g_autoptr(GError) error = NULL;
  g_autofree char *xml = NULL;
  const char *display;
  guint index = 0;
  int fd;

  if ((dom = lookup_running (req, &error)) == NULL)
    {
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  /* The live definition: the display QEMU runs now. */
  if ((xml = virDomainGetXMLDesc (dom, 0)) == NULL)
    {
      vmd_set_libvirt_error (&error, "reading the definition of '%s'", req->name);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  display = vmd_live_xml_display (xml, &index);
  if (g_str_equal (display, "none"))
    {
      g_task_return_new_error (task, VMD_ERROR, VMD_ERROR_FAILED,
                               "VM '%s' has no SPICE or VNC display to open", req->name);
      return;
    }
  /* SKIPAUTH: the caller passed polkit; a display password would only be in the way. */
  fd = virDomainOpenGraphicsFD (dom, index, VIR_DOMAIN_OPEN_GRAPHICS_SKIPAUTH);
  if (fd < 0)
    {
      vmd_set_libvirt_error (&error, "opening the %s display of '%s'", display, req->name);
      g_task_return_error (task, g_steal_pointer (&error));
      return;
    }
  g_task_return_pointer (task, g_unix_fd_list_new_from_array (&fd, 1), g_object_unref);
}

/* --- on the main loop --- */

static gboolean
check_name_arg (GVariant *params, GError **error)
{
  const char *name;

  g_variant_get_child (params, 0, "&s", &name);
  return vmd_vm_name_validate (name, error);
}

/* The task for `name` when it names a running VM, else NULL after replying the error. */
static GTask *
start_request (VmdDisplay *self, const char *name, GDBusMethodInvocation *invocation,
               GAsyncReadyCallback callback)
{
  virConnectPtr conn = vmd_libvirt_get_connection (self->libvirt);
  const VmdVm *vm = vmd_libvirt_lookup (self->libvirt, name);
  Request *req;
  GTask *task;

  if (conn == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_NOT_CONNECTED,
                                             "not connected to libvirt (%s)",
                                             vmd_libvirt_get_uri (self->libvirt));
      return NULL;
    }
  if (vm == NULL)
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_UNKNOWN_VM,
                                             "no VM named '%s'", name);
      return NULL;
    }
  if (vm->state != VIR_DOMAIN_RUNNING && vm->state != VIR_DOMAIN_PAUSED
      && vm->state != VIR_DOMAIN_BLOCKED)
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_NOT_RUNNING,
                                             "VM '%s' is %s; only a running VM has a screen",
                                             name, vmd_domain_state_to_string (vm->state));
      return NULL;
    }
  req = g_new0 (Request, 1);
  virConnectRef (conn);
  req->conn = conn;
  req->name = g_strdup (name);
  task = g_task_new (self, NULL, callback, invocation);
  g_task_set_task_data (task, req, (GDestroyNotify) request_free);
  return task;
}

static void
on_screenshot (GObject *source, GAsyncResult *result, gpointer data)
{
  GDBusMethodInvocation *invocation = data;
  g_autoptr(GError) error = NULL;
  VmdRgbImage *image = g_task_propagate_pointer (G_TASK (result), &error);
  Request *req = g_task_get_task_data (G_TASK (result));

  g_hash_table_remove (VMD_DISPLAY (source)->screenshots, req->name);
  if (image == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_dbus_method_invocation_return_value (invocation, g_variant_new (
    "(uu@ay)", image->width, image->height,
    g_variant_new_from_bytes (G_VARIANT_TYPE_BYTESTRING, image->rgb, TRUE)));
  rgb_image_free (image);
}

static void
handle_screenshot (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdDisplay *self = owner;
  const char *name;
  guint max_width, max_height;
  g_autoptr(GTask) task = NULL;
  Request *req;

  g_variant_get (params, "(&suu)", &name, &max_width, &max_height);
  if (g_hash_table_contains (self->screenshots, name))
    {
      g_dbus_method_invocation_return_error (invocation, VMD_ERROR, VMD_ERROR_CONFLICT,
                                             "a screenshot of '%s' is being taken", name);
      return;
    }
  if ((task = start_request (self, name, invocation, on_screenshot)) == NULL)
    return;
  g_hash_table_add (self->screenshots, g_strdup (name));
  req = g_task_get_task_data (task);
  req->max_width = max_width;
  req->max_height = max_height;
  g_task_run_in_thread (task, screenshot_thread);
}

static void
on_display_opened (GObject *source, GAsyncResult *result, gpointer data)
{
  GDBusMethodInvocation *invocation = data;
  g_autoptr(GError) error = NULL;
  g_autoptr(GUnixFDList) fds = g_task_propagate_pointer (G_TASK (result), &error);
  Request *req = g_task_get_task_data (G_TASK (result));

  if (fds == NULL)
    {
      g_dbus_method_invocation_return_gerror (invocation, error);
      return;
    }
  g_log_structured (G_LOG_DOMAIN, G_LOG_LEVEL_MESSAGE, "VMDESK_VM", req->name,
                    "MESSAGE", "opened the display of '%s' for %s", req->name,
                    g_dbus_method_invocation_get_sender (invocation));
  /* The reply holds its own reference: the fd closes here once it is sent. */
  g_dbus_method_invocation_return_value_with_unix_fd_list (invocation, g_variant_new ("(h)", 0), fds);
}

static void
handle_open_display (gpointer owner, GVariant *params, GDBusMethodInvocation *invocation)
{
  VmdDisplay *self = owner;
  const char *name;
  g_autoptr(GTask) task = NULL;

  g_variant_get (params, "(&s)", &name);
  if ((task = start_request (self, name, invocation, on_display_opened)) != NULL)
    g_task_run_in_thread (task, open_display_thread);
}

static const VmdMethod methods[] = {
  { "Screenshot",  "org.vmdesk.display", check_name_arg, handle_screenshot },
  { "OpenDisplay", "org.vmdesk.display", check_name_arg, handle_open_display },
};

static void
vmd_display_dispose (GObject *object)
{
  g_clear_object (&VMD_DISPLAY (object)->libvirt);
  G_OBJECT_CLASS (vmd_display_parent_class)->dispose (object);
}

static void
vmd_display_finalize (GObject *object)
{
  g_hash_table_unref (VMD_DISPLAY (object)->screenshots);
  G_OBJECT_CLASS (vmd_display_parent_class)->finalize (object);
}

static void
vmd_display_class_init (VmdDisplayClass *klass)
{
  G_OBJECT_CLASS (klass)->dispose = vmd_display_dispose;
  G_OBJECT_CLASS (klass)->finalize = vmd_display_finalize;
}

static void
vmd_display_init (VmdDisplay *self)
{
  self->screenshots = g_hash_table_new_full (g_str_hash, g_str_equal, g_free, NULL);
}

VmdDisplay *
vmd_display_new (VmdManager *manager, VmdLibvirt *libvirt)
{
  VmdDisplay *self = g_object_new (VMD_TYPE_DISPLAY, NULL);

  self->libvirt = g_object_ref (libvirt);
  vmd_manager_add_methods (manager, methods, G_N_ELEMENTS (methods), self);
  return self;
}
