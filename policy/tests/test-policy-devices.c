/* Real devices (their VID:PID and interface lists as lsusb shows them) against the example
 * policy of docs/policy.md (data/laptop.rules): each lands where the policy means it to. */
#include "vmdesk-policy.h"

#include "test-util.h"

#include <string.h>

typedef enum {
  WORK_ON_SCREEN,   /* work on screen, personal running too */
  HOST_ON_SCREEN,   /* nothing running */
  WORK_NO_AUTO,     /* work on screen, but its settings refuse auto-assignment */
} Situation;

static gboolean
auto_assign_never (const char *vm, gpointer user_data)
{
  return FALSE;
}

static void
context_for (Situation situation, VmdPolicyContext *context)
{
  static const char *const running[] = { "personal", "work", NULL };

  memset (context, 0, sizeof *context);
  if (situation == HOST_ON_SCREEN)
    return;
  context->on_screen = "work";
  context->running = running;
  if (situation == WORK_NO_AUTO)
    context->auto_assign = auto_assign_never;
}

static void
test_real_devices (void)
{
  static const struct {
    const char     *what;
    const char     *id;
    const char     *interfaces;
    Situation       situation;
    VmdPolicyTarget target;
    const char     *vm;
    const char     *candidates;  /* comma-separated, for ask */
    guint           line;        /* in laptop.rules; 0: a built-in default */
    const char     *label;
    gboolean        sticky, follow, focused;
  } cases[] = {
    { "Logitech Unifying receiver", "046d:c52b", "03:01:01 03:01:02 03:00:00", WORK_ON_SCREEN,
      VMD_POLICY_HOST, NULL, NULL, 18, "keyboards and mice", FALSE, FALSE, FALSE },
    { "Dell keyboard", "413c:2113", "03:01:01 03:00:00", WORK_ON_SCREEN,
      VMD_POLICY_HOST, NULL, NULL, 18, "keyboards and mice", FALSE, FALSE, FALSE },
    { "Logitech C920 webcam with microphone", "046d:085c", "0e:01:00 0e:02:00 01:01:00 01:02:00",
      WORK_ON_SCREEN, VMD_POLICY_ATTACH, "work", NULL, 21, "webcams", FALSE, TRUE, TRUE },
    { "the same webcam, host on screen", "046d:085c", "0e:01:00 0e:02:00 01:01:00 01:02:00",
      HOST_ON_SCREEN, VMD_POLICY_HOST, NULL, NULL, 21, "webcams", FALSE, TRUE, TRUE },
    { "YubiKey 5 NFC (OTP keyboard, CCID, FIDO)", "1050:0407", "03:01:01 0b:00:00 03:00:00",
      WORK_ON_SCREEN, VMD_POLICY_ATTACH, "work", NULL, 15, "YubiKey 5 NFC", TRUE, FALSE, FALSE },
    { "the YubiKey, work not running", "1050:0407", "03:01:01 0b:00:00 03:00:00",
      HOST_ON_SCREEN, VMD_POLICY_ATTACH, "work", NULL, 15, "YubiKey 5 NFC", TRUE, FALSE, FALSE },
    { "SanDisk Cruzer Blade stick", "0781:5567", "08:06:50", WORK_ON_SCREEN,
      VMD_POLICY_ASK, NULL, "personal,work", 24, "USB sticks", FALSE, FALSE, FALSE },
    { "the stick, nothing running", "0781:5567", "08:06:50", HOST_ON_SCREEN,
      VMD_POLICY_ASK, NULL, "", 24, "USB sticks", FALSE, FALSE, FALSE },
    { "dual-slot card reader", "05e3:0749", "08:06:50 08:06:50", WORK_ON_SCREEN,
      VMD_POLICY_ASK, NULL, "personal,work", 24, "USB sticks", FALSE, FALSE, FALSE },
    { "BadUSB: a stick that is also a keyboard", "0781:5567", "08:06:50 03:01:01", WORK_ON_SCREEN,
      VMD_POLICY_DENY, NULL, NULL, 8, "storage that types", FALSE, FALSE, FALSE },
    { "stick with an Ethernet function", "0bda:8153", "08:06:50 02:06:00 0a:00:00", WORK_ON_SCREEN,
      VMD_POLICY_DENY, NULL, NULL, 9, "storage with a network card", FALSE, FALSE, FALSE },
    { "Genesys USB 2.0 hub", "05e3:0610", "09:00:00", WORK_ON_SCREEN,
      VMD_POLICY_HOST, NULL, NULL, 31, "hubs", FALSE, FALSE, FALSE },
    { "Pixel phone in MTP mode", "18d1:4ee1", "06:01:01 ff:ff:00", WORK_ON_SCREEN,
      VMD_POLICY_ATTACH, "personal", NULL, 27, "phones", FALSE, FALSE, FALSE },
    { "the phone, personal not running", "18d1:4ee1", "06:01:01 ff:ff:00", HOST_ON_SCREEN,
      VMD_POLICY_ASK, NULL, "personal,work", 28, "phones", FALSE, FALSE, FALSE },
    { "Intel Bluetooth adapter", "8087:0a2b", "e0:01:01 e0:01:01", WORK_ON_SCREEN,
      VMD_POLICY_HOST, NULL, NULL, 32, "Bluetooth", FALSE, FALSE, FALSE },
    { "FTDI serial adapter: built-in default, to the VM on screen", "0403:6001", "ff:ff:ff",
      WORK_ON_SCREEN, VMD_POLICY_ATTACH, "work", NULL, 0, NULL, FALSE, FALSE, TRUE },
    { "FTDI serial adapter, work refuses auto-assignment", "0403:6001", "ff:ff:ff",
      WORK_NO_AUTO, VMD_POLICY_HOST, NULL, NULL, 0, NULL, FALSE, FALSE, FALSE },
  };
  g_autofree char *path = g_test_build_filename (G_TEST_DIST, "data", "laptop.rules", NULL);
  const char *const files[] = { path, NULL };
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = vmd_policy_new_from_file_list (files, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (vmd_policy_get_n_rules (policy), ==, 11);
  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(VmdUsbDevice) device = test_device_new (cases[i].id, cases[i].interfaces);
      g_autoptr(VmdPolicyDecision) d = NULL;
      VmdPolicyContext context;

      context_for (cases[i].situation, &context);
      d = vmd_policy_decide (policy, device, &context);
      g_test_message ("%s: %s", cases[i].what, d->reason);
      g_assert_cmpstr (vmd_policy_target_to_string (d->target), ==,
                       vmd_policy_target_to_string (cases[i].target));
      g_assert_cmpstr (d->vm, ==, cases[i].vm);
      if (cases[i].candidates)
        {
          g_autofree char *joined = g_strjoinv (",", d->candidates);
          g_assert_cmpstr (joined, ==, cases[i].candidates);
        }
      else
        g_assert_null (d->candidates);
      if (cases[i].line)
        {
          g_assert_cmpstr (d->file, ==, path);
          g_assert_cmpuint (d->line, ==, cases[i].line);
        }
      else
        g_assert_null (d->file);
      g_assert_cmpstr (d->label, ==, cases[i].label);
      g_assert_cmpint (d->sticky, ==, cases[i].sticky);
      g_assert_cmpint (d->follow, ==, cases[i].follow);
      g_assert_cmpint (d->focused, ==, cases[i].focused);
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/policy/devices/laptop", test_real_devices);
  return g_test_run ();
}
