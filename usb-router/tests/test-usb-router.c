/* The router against fake VMs: where devices go on plug, unplug, VM start/stop, focus
 * switches, answers and requests; and that no order of events attaches twice or leaves a
 * hostdev behind. */
#include "fake-vms.h"

#include <glib/gstdio.h>
#include <string.h>

static const char POLICY[] =
  "attach work id 1050:0407 label \"YubiKey\" sticky\n"
  "attach @focused id 046d:085c follow\n"
  "deny with-interface all-of { 08:*:* 03:01:01 }\n"
  "ask with-interface 08:*:*\n"
  "attach personal id 18d1:4ee1\n";

typedef struct {
  FakeVms      *vms;
  char         *tmp;
  VmdUsbMemory *memory;
  VmdUsbRouter *router;
  GPtrArray    *asked;      /* ids */
  guint         removed;
} Fixture;

static VmdPolicy *
policy (const char *text)
{
  g_autoptr(GError) error = NULL;
  VmdPolicy *p = vmd_policy_new_from_string (text, -1, "test.rules", &error);

  g_assert_no_error (error);
  return p;
}

static void
on_ask (VmdUsbRouter *router, const VmdUsbDeviceInfo *info, Fixture *f)
{
  g_ptr_array_add (f->asked, g_strdup (info->id));
}

static void
on_removed (VmdUsbRouter *router, const char *id, Fixture *f)
{
  f->removed++;
}

static void
new_router (Fixture *f, const char *text)
{
  g_autoptr(VmdPolicy) p = policy (text);
  g_autoptr(GError) error = NULL;

  g_clear_object (&f->router);
  g_clear_object (&f->memory);
  f->memory = vmd_usb_memory_new (f->tmp, &error);
  g_assert_no_error (error);
  f->router = vmd_usb_router_new (p, f->memory, fake_vms_ops (), f->vms, fake_vms_view (), f->vms);
  g_signal_connect (f->router, "ask", G_CALLBACK (on_ask), f);
  g_signal_connect (f->router, "device-removed", G_CALLBACK (on_removed), f);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->tmp = g_dir_make_tmp ("vmdesk-router-XXXXXX", NULL);
  f->vms = fake_vms_new ();
  f->asked = g_ptr_array_new_with_free_func (g_free);
  fake_vms_start (f->vms, "work");
  fake_vms_start (f->vms, "personal");
  f->vms->on_screen = g_strdup ("work");
  new_router (f, POLICY);
  vmd_usb_router_reconcile (f->router);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  g_autofree char *cmd = g_strdup_printf ("rm -rf '%s'", f->tmp);

  g_clear_object (&f->router);
  g_clear_object (&f->memory);
  g_ptr_array_unref (f->asked);
  g_assert_cmpint (system (cmd), ==, 0);
  g_free (f->tmp);
  fake_vms_free (g_steal_pointer (&f->vms));
}

/* Runs the main loop until every operation is over. */
static void
drain (Fixture *f)
{
  while (f->vms->in_flight > 0 || g_main_context_pending (NULL))
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (vmd_usb_router_busy (f->router), ==, 0);
  /* Nothing libvirt would refuse was ever asked of it. */
  g_assert_cmpuint (f->vms->refused, ==, 0);
}

/* A device as the watcher reports it; its sysfs dir holds an `authorized` file. */
static VmdUsbPresent *
device (Fixture *f, const char *port, guint devnum, guint16 vid, guint16 pid, const char *serial,
        const guint32 *interfaces, guint n_interfaces)
{
  VmdUsbPresent *p = g_new0 (VmdUsbPresent, 1);
  g_autofree char *authorized = NULL;

  p->syspath = g_build_filename (f->tmp, port, NULL);
  g_mkdir_with_parents (p->syspath, 0700);
  authorized = g_build_filename (p->syspath, "authorized", NULL);
  g_assert_true (g_file_set_contents (authorized, "1\n", -1, NULL));
  p->id = g_strdup (port);
  p->bus = 1;
  p->devnum = devnum;
  p->device = vmd_usb_device_new ();
  p->device->vendor_id = vid;
  p->device->product_id = pid;
  p->device->serial = g_strdup (serial);
  p->device->port = g_strdup (port);
  p->device->hash = vmd_usb_device_hash (vid, pid, serial, (const guint8 *) "desc", 4);
  p->device->interfaces = g_array_new (FALSE, FALSE, sizeof (guint32));
  g_array_append_vals (p->device->interfaces, interfaces, n_interfaces);
  return p;
}

static const guint32 HID_CCID[] = { 0x030101, 0x0b0000 };
static const guint32 VIDEO[] = { 0x0e0100, 0x0e0200, 0x010100 };
static const guint32 STORAGE[] = { 0x080650 };
static const guint32 BADUSB[] = { 0x080650, 0x030101 };
static const guint32 VENDOR[] = { 0xff0000 };

static VmdUsbPresent *
yubikey (Fixture *f, guint devnum)
{
  return device (f, "1-2", devnum, 0x1050, 0x0407, "0001234567", HID_CCID, 2);
}

static VmdUsbPresent *
webcam (Fixture *f)
{
  return device (f, "1-3", 7, 0x046d, 0x085c, "CAM1", VIDEO, 3);
}

static char *
aliases (Fixture *f, const char *vm)
{
  return fake_vms_aliases (f->vms, vm);
}

static void
assert_aliases (Fixture *f, const char *vm, const char *expected)
{
  g_autofree char *got = aliases (f, vm);

  g_assert_cmpstr (got, ==, expected);
}

static VmdUsbState
state_of (Fixture *f, const char *id)
{
  g_autoptr(VmdUsbDeviceInfo) info = vmd_usb_router_lookup (f->router, id);

  g_assert_nonnull (info);
  return info->state;
}

static void
test_named_target (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) key = yubikey (f, 5);

  vmd_usb_router_device_added (f->router, key);
  drain (f);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-2");
  assert_aliases (f, "personal", "");
  g_assert_cmpint (state_of (f, "1-2"), ==, VMD_USB_STATE_ATTACHED);

  vmd_usb_router_device_removed (f->router, key->syspath);
  drain (f);
  assert_aliases (f, "work", "");
  g_assert_null (vmd_usb_router_lookup (f->router, "1-2"));
  g_assert_cmpuint (f->removed, ==, 1);
  g_assert_cmpuint (f->vms->attaches, ==, 1);
  g_assert_cmpuint (f->vms->detaches, ==, 1);
}

static void
test_nothing_before_reconcile (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) key = yubikey (f, 5);

  new_router (f, POLICY);     /* not reconciled yet */
  vmd_usb_router_device_added (f->router, key);
  drain (f);
  g_assert_cmpuint (f->vms->attaches, ==, 0);
  vmd_usb_router_reconcile (f->router);
  drain (f);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-2");
}

static void
test_pending_until_vm_starts (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) key = yubikey (f, 5);

  fake_vms_stop (f->vms, "work");
  vmd_usb_router_vm_stopped (f->router, "work");
  vmd_usb_router_device_added (f->router, key);
  drain (f);
  g_assert_cmpint (state_of (f, "1-2"), ==, VMD_USB_STATE_PENDING);
  g_assert_cmpuint (f->vms->attaches, ==, 0);

  fake_vms_start (f->vms, "work");
  vmd_usb_router_vm_started (f->router, "work");
  drain (f);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-2");

  /* The VM restarts: libvirt drops its devices, the router puts them back. */
  fake_vms_stop (f->vms, "work");
  vmd_usb_router_vm_stopped (f->router, "work");
  drain (f);
  g_assert_cmpint (state_of (f, "1-2"), ==, VMD_USB_STATE_PENDING);
  fake_vms_start (f->vms, "work");
  vmd_usb_router_vm_started (f->router, "work");
  drain (f);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-2");
}

static void
test_follow_focus (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) cam = webcam (f);

  vmd_usb_router_device_added (f->router, cam);
  drain (f);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-3");

  g_free (f->vms->on_screen);
  f->vms->on_screen = g_strdup ("personal");
  vmd_usb_router_focus_changed (f->router, "work", "personal");
  drain (f);
  assert_aliases (f, "work", "");
  assert_aliases (f, "personal", "ua-vmdesk-usb-1-3");

  /* The host on screen: the device comes back to the host. */
  g_clear_pointer (&f->vms->on_screen, g_free);
  vmd_usb_router_focus_changed (f->router, "personal", NULL);
  drain (f);
  assert_aliases (f, "personal", "");
  g_assert_cmpint (state_of (f, "1-3"), ==, VMD_USB_STATE_HOST);
}

static void
test_sticky_replug (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) key = yubikey (f, 5);
  g_autoptr(VmdUsbPresent) again = yubikey (f, 9);   /* a replug gets a new address */
  g_autoptr(VmdUsbDeviceInfo) info = NULL;

  vmd_usb_router_device_added (f->router, key);
  drain (f);
  info = vmd_usb_router_lookup (f->router, "1-2");
  g_assert_true (info->remembered);

  /* A new daemon (same state dir) and a new policy that would send it elsewhere. */
  vmd_usb_router_device_removed (f->router, key->syspath);
  drain (f);
  new_router (f, "attach personal id 1050:0407\n");
  vmd_usb_router_reconcile (f->router);
  vmd_usb_router_device_added (f->router, again);
  drain (f);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-2");
  assert_aliases (f, "personal", "");
}

static void
test_deny_deauthorizes (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) bad = device (f, "1-4", 8, 0x0781, 0x5567, "X", BADUSB, 2);
  g_autofree char *path = g_build_filename (bad->syspath, "authorized", NULL);
  g_autofree char *value = NULL;
  g_autoptr(GError) error = NULL;

  vmd_usb_router_device_added (f->router, bad);
  drain (f);
  g_assert_true (g_file_get_contents (path, &value, NULL, NULL));
  g_assert_cmpstr (value, ==, "0\n");
  g_assert_cmpint (state_of (f, "1-4"), ==, VMD_USB_STATE_DENIED);
  g_assert_cmpuint (f->vms->attaches, ==, 0);

  /* Not even by hand. */
  g_assert_false (vmd_usb_router_attach (f->router, "1-4", "work", FALSE, &error));
  g_assert_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_DENIED);
  drain (f);
  g_assert_cmpuint (f->vms->attaches, ==, 0);
}

static void
test_ask_answered (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) stick = device (f, "1-5", 10, 0x0781, 0x5567, "STICK1", STORAGE, 1);
  g_autoptr(VmdUsbDeviceInfo) info = NULL;
  g_autoptr(GError) error = NULL;

  vmd_usb_router_device_added (f->router, stick);
  drain (f);
  g_assert_cmpuint (f->asked->len, ==, 1);
  info = vmd_usb_router_lookup (f->router, "1-5");
  g_assert_cmpint (info->state, ==, VMD_USB_STATE_ASKING);
  g_assert_cmpstrv (info->candidates, ((const char *[]) { "personal", "work", NULL }));

  g_assert_false (vmd_usb_router_answer (f->router, "1-5", "nosuchvm", FALSE, &error));
  g_assert_error (error, G_IO_ERROR, G_IO_ERROR_INVALID_ARGUMENT);
  g_clear_error (&error);
  g_assert_true (vmd_usb_router_answer (f->router, "1-5", "personal", TRUE, &error));
  g_assert_no_error (error);
  drain (f);
  assert_aliases (f, "personal", "ua-vmdesk-usb-1-5");
  g_assert_false (vmd_usb_router_answer (f->router, "1-5", "work", FALSE, &error));
  g_assert_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_NOT_ASKING);

  /* Remembered: the next plug is not asked about. */
  vmd_usb_router_device_removed (f->router, stick->syspath);
  vmd_usb_router_device_added (f->router, stick);
  drain (f);
  g_assert_cmpuint (f->asked->len, ==, 1);
  assert_aliases (f, "personal", "ua-vmdesk-usb-1-5");
}

static void
test_ask_times_out (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) stick = device (f, "1-5", 10, 0x0781, 0x5567, NULL, STORAGE, 1);
  g_autoptr(GError) error = NULL;

  vmd_usb_router_set_ask_timeout (f->router, 10);
  vmd_usb_router_device_added (f->router, stick);
  while (state_of (f, "1-5") == VMD_USB_STATE_ASKING)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpint (state_of (f, "1-5"), ==, VMD_USB_STATE_HOST);
  g_assert_cmpuint (f->vms->attaches, ==, 0);
  g_assert_false (vmd_usb_router_answer (f->router, "1-5", "work", FALSE, &error));
}

static void
test_ambiguous_never_remembered (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) a = device (f, "1-6", 11, 0x0781, 0x5567, NULL, STORAGE, 1);
  g_autoptr(VmdUsbPresent) b = device (f, "1-7", 12, 0x0781, 0x5567, NULL, STORAGE, 1);
  g_autoptr(VmdUsbDeviceInfo) info = NULL;
  g_autoptr(GError) error = NULL;

  vmd_usb_router_device_added (f->router, a);
  vmd_usb_router_device_added (f->router, b);
  /* No serial: the answer is applied, but nothing is remembered, and the caller is told. */
  g_assert_false (vmd_usb_router_answer (f->router, "1-6", "work", TRUE, &error));
  g_assert_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_AMBIGUOUS);
  drain (f);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-6");
  info = vmd_usb_router_lookup (f->router, "1-6");
  g_assert_true (info->ambiguous);
  g_assert_false (info->remembered);
}

static void
test_manual_attach_detach_forget (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) key = yubikey (f, 5);
  g_autoptr(GError) error = NULL;

  vmd_usb_router_device_added (f->router, key);
  drain (f);
  g_assert_true (vmd_usb_router_attach (f->router, "1-2", "personal", FALSE, &error));
  drain (f);
  assert_aliases (f, "work", "");
  assert_aliases (f, "personal", "ua-vmdesk-usb-1-2");
  g_assert_true (vmd_usb_router_detach (f->router, "1-2", &error));
  drain (f);
  assert_aliases (f, "personal", "");
  g_assert_cmpint (state_of (f, "1-2"), ==, VMD_USB_STATE_HOST);

  g_assert_false (vmd_usb_router_attach (f->router, "9-9", "work", FALSE, &error));
  g_assert_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_UNKNOWN_DEVICE);
  g_clear_error (&error);
  g_assert_false (vmd_usb_router_attach (f->router, "1-2", "stopped", FALSE, &error));
  g_assert_error (error, VMD_USB_ROUTER_ERROR, VMD_USB_ROUTER_ERROR_NOT_RUNNING);
  g_clear_error (&error);

  g_assert_true (vmd_usb_router_forget (f->router, "1-2", &error));
  g_assert_no_error (error);
  {
    g_autoptr(VmdUsbDeviceInfo) info = vmd_usb_router_lookup (f->router, "1-2");
    g_assert_false (info->remembered);
  }
}

/* Runs the main loop, timers included, until `attaches` attaches were asked for, then until
 * every operation is over. */
static void
wait_attaches (Fixture *f, guint attaches)
{
  gint64 deadline = g_get_monotonic_time () + 10 * G_TIME_SPAN_SECOND;

  while (f->vms->attaches < attaches && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  drain (f);
  g_assert_cmpuint (f->vms->attaches, ==, attaches);
}

/* A failure that passes (libvirt read a half-written sysfs): the retry attaches it. */
static void
test_failure_retried (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) key = yubikey (f, 5);
  g_autoptr(VmdUsbDeviceInfo) info = NULL;

  vmd_usb_router_set_retry_delay (f->router, 2);
  f->vms->fail_attaches = 1;
  g_test_expect_message ("vmdesk-usb", G_LOG_LEVEL_MESSAGE,
                         "USB 1-2: injected attach failure; trying again in 2 ms");
  vmd_usb_router_device_added (f->router, key);
  drain (f);
  info = vmd_usb_router_lookup (f->router, "1-2");
  g_assert_cmpint (info->state, ==, VMD_USB_STATE_FAILED);
  g_clear_pointer (&info, vmd_usb_device_info_free);
  wait_attaches (f, 2);
  g_test_assert_expected_messages ();
  info = vmd_usb_router_lookup (f->router, "1-2");
  g_assert_cmpint (info->state, ==, VMD_USB_STATE_ATTACHED);
  g_assert_null (info->error);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-2");
}

/* A failure that stays: three retries, spaced out, then it is left failed until something
 * changes. */
static void
test_failure_not_retried_in_a_loop (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) key = yubikey (f, 5);
  g_autoptr(VmdUsbDeviceInfo) info = NULL;

  vmd_usb_router_set_retry_delay (f->router, 1);
  f->vms->fail_attaches = 4;
  g_test_expect_message ("vmdesk-usb", G_LOG_LEVEL_MESSAGE, "*; trying again in 1 ms");
  g_test_expect_message ("vmdesk-usb", G_LOG_LEVEL_MESSAGE, "*; trying again in 4 ms");
  g_test_expect_message ("vmdesk-usb", G_LOG_LEVEL_MESSAGE, "*; trying again in 16 ms");
  g_test_expect_message ("vmdesk-usb", G_LOG_LEVEL_WARNING, "USB 1-2: injected attach failure");
  vmd_usb_router_device_added (f->router, key);
  wait_attaches (f, 4);
  g_test_assert_expected_messages ();
  /* Nothing more is due: no timer is left behind. */
  g_usleep (100 * 1000);
  drain (f);
  g_assert_cmpuint (f->vms->attaches, ==, 4);
  info = vmd_usb_router_lookup (f->router, "1-2");
  g_assert_cmpint (info->state, ==, VMD_USB_STATE_FAILED);
  g_assert_cmpstr (info->error, ==, "injected attach failure");

  /* Something changed: it is tried again. */
  vmd_usb_router_vm_started (f->router, "personal");
  drain (f);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-2");
}

/* An attach for an old plug fails after the device was plugged again: the new plug is
 * attached and its record does not carry the old plug's failure. */
static void
test_old_failure_not_carried_over (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) first = yubikey (f, 5);
  g_autoptr(VmdUsbPresent) again = yubikey (f, 6);
  g_autoptr(VmdUsbDeviceInfo) info = NULL;

  f->vms->fail_attaches = 1;
  g_test_expect_message ("vmdesk-usb", G_LOG_LEVEL_WARNING, "USB 1-2: injected attach failure");
  vmd_usb_router_device_added (f->router, first);       /* its attach is now in flight */
  vmd_usb_router_device_removed (f->router, first->syspath);
  vmd_usb_router_device_added (f->router, again);
  drain (f);
  g_test_assert_expected_messages ();
  info = vmd_usb_router_lookup (f->router, "1-2");
  g_assert_cmpint (info->state, ==, VMD_USB_STATE_ATTACHED);
  g_assert_null (info->error);
  g_assert_cmpuint (info->devnum, ==, 6);
  assert_aliases (f, "work", "ua-vmdesk-usb-1-2");
}

static void
test_reconcile (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbPresent) key = yubikey (f, 5);
  g_autoptr(VmdUsbPresent) cam = webcam (f);
  VmdUsbHostdev orphan = { .alias = (char *) "ua-vmdesk-usb-2-1", .vendor_id = 1, .product_id = 2, .bus = 2, .devnum = 3 };
  VmdUsbHostdev users = { .alias = (char *) "ua-mine", .vendor_id = 1, .product_id = 2, .bus = 2, .devnum = 4 };
  VmdUsbHostdev cam_there = { .alias = (char *) "ua-vmdesk-usb-1-3", .vendor_id = 0x046d, .product_id = 0x085c,
                              .bus = 1, .devnum = 7 };

  /* What a previous daemon left: the webcam in personal (the policy would say work, on
   * screen), a hostdev for a device that is gone, and one the user added. */
  fake_vms_plant (f->vms, "personal", &cam_there);
  fake_vms_plant (f->vms, "personal", &orphan);
  fake_vms_plant (f->vms, "work", &users);
  new_router (f, POLICY);
  vmd_usb_router_device_added (f->router, key);
  vmd_usb_router_device_added (f->router, cam);
  vmd_usb_router_reconcile (f->router);
  drain (f);
  assert_aliases (f, "personal", "ua-vmdesk-usb-1-3");
  assert_aliases (f, "work", "ua-mine ua-vmdesk-usb-1-2");
  g_assert_cmpuint (f->vms->attaches, ==, 1);
  g_assert_cmpuint (f->vms->detaches, ==, 1);
}

/* Plug and unplug 200 times, with operations completing in between or not at all: the
 * end is exactly one hostdev when the device is in, none when it is out. */
static void
test_storm (Fixture *f, gconstpointer data)
{
  g_autoptr(GRand) rand = g_rand_new_with_seed (42);
  gboolean in = FALSE;

  for (guint i = 0; i < 200; i++)
    {
      g_autoptr(VmdUsbPresent) key = yubikey (f, 5 + i);
      g_autoptr(VmdUsbPresent) cam = webcam (f);

      if (in)
        {
          vmd_usb_router_device_removed (f->router, key->syspath);
          vmd_usb_router_device_removed (f->router, cam->syspath);
        }
      else
        {
          vmd_usb_router_device_added (f->router, key);
          vmd_usb_router_device_added (f->router, cam);
        }
      in = !in;
      if (g_rand_boolean (rand))
        {
          g_free (f->vms->on_screen);
          f->vms->on_screen = g_strdup (g_rand_boolean (rand) ? "work" : "personal");
          vmd_usb_router_focus_changed (f->router, NULL, f->vms->on_screen);
        }
      for (gint32 n = g_rand_int_range (rand, 0, 4); n > 0; n--)
        g_main_context_iteration (NULL, FALSE);
    }
  drain (f);
  assert_aliases (f, "work", "");
  assert_aliases (f, "personal", "");
  g_assert_cmpuint (f->vms->attaches, ==, f->vms->detaches);

  {
    g_autoptr(VmdUsbPresent) key = yubikey (f, 999);
    vmd_usb_router_device_added (f->router, key);
    drain (f);
    assert_aliases (f, "work", "ua-vmdesk-usb-1-2");
  }
}

static void
test_hundred_at_once (Fixture *f, gconstpointer data)
{
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_usb_present_free);
  g_autoptr(GPtrArray) list = NULL;
  g_autofree char *in_personal = NULL;
  g_auto(GStrv) attached = NULL;

  for (guint i = 0; i < 100; i++)
    {
      g_autofree char *port = g_strdup_printf ("3-%u", i + 1);
      g_autofree char *serial = g_strdup_printf ("PHONE%u", i);
      g_ptr_array_add (devices, device (f, port, i + 2, 0x18d1, 0x4ee1, serial, VENDOR, 1));
      vmd_usb_router_device_added (f->router, devices->pdata[i]);
    }
  drain (f);
  in_personal = aliases (f, "personal");
  attached = g_strsplit (in_personal, " ", -1);
  g_assert_cmpuint (g_strv_length (attached), ==, 100);
  list = vmd_usb_router_list (f->router);
  g_assert_cmpuint (list->len, ==, 100);
  for (guint i = 0; i < 100; i++)
    vmd_usb_router_device_removed (f->router, ((VmdUsbPresent *) devices->pdata[i])->syspath);
  drain (f);
  assert_aliases (f, "personal", "");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
#define ADD(path, fn) g_test_add ("/usb-router/" path, Fixture, NULL, setup, fn, teardown)
  ADD ("named-target", test_named_target);
  ADD ("nothing-before-reconcile", test_nothing_before_reconcile);
  ADD ("pending-until-vm-starts", test_pending_until_vm_starts);
  ADD ("follow-focus", test_follow_focus);
  ADD ("sticky-replug", test_sticky_replug);
  ADD ("deny-deauthorizes", test_deny_deauthorizes);
  ADD ("ask-answered", test_ask_answered);
  ADD ("ask-times-out", test_ask_times_out);
  ADD ("ambiguous-never-remembered", test_ambiguous_never_remembered);
  ADD ("manual-attach-detach-forget", test_manual_attach_detach_forget);
  ADD ("failure-retried", test_failure_retried);
  ADD ("failure-not-retried-in-a-loop", test_failure_not_retried_in_a_loop);
  ADD ("old-failure-not-carried-over", test_old_failure_not_carried_over);
  ADD ("reconcile", test_reconcile);
  ADD ("storm", test_storm);
  ADD ("hundred-at-once", test_hundred_at_once);
  return g_test_run ();
}
