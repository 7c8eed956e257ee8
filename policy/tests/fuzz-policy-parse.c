/* fuzz-policy-parse.c: any bytes as a rule file. Never a crash; errors are one valid UTF-8
 * line each naming the file; a policy that loads prints as text that loads again and
 * decides the same way. */
#include "vmdesk-policy.h"

#include <stdint.h>
#include <stdio.h>
#include <string.h>

static const char *const interface_lists[][4] = {
  { "03:01:01", "08:06:50", NULL },
  { "0e:01:00", "01:01:00", NULL },
  { "ff:ff:ff", NULL },
  { NULL },
};

static void
check_error (const GError *error)
{
  g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  for (guint i = 0; lines[i]; i++)
    g_assert_true (g_str_has_prefix (lines[i], "fuzz.rules:"));
}

static VmdUsbDevice *
device_for (guint n)
{
  VmdUsbDevice *d = vmd_usb_device_new ();
  const char *const *ifaces = interface_lists[n % G_N_ELEMENTS (interface_lists)];

  d->vendor_id = n & 1 ? 0x1050 : 0x046d;
  d->product_id = n & 2 ? 0x0407 : 0xc52b;
  d->name = g_strdup (n & 1 ? "YubiKey" : "q\"\n\xff");
  d->serial = n & 2 ? g_strdup ("ABC") : NULL;
  d->hash = n & 4 ? g_strdup ("H1") : NULL;
  for (guint i = 0; ifaces[i]; i++)
    {
      guint c, s, p;
      if (sscanf (ifaces[i], "%2x:%2x:%2x", &c, &s, &p) == 3)
        vmd_usb_device_add_interface (d, c, s, p);
    }
  return d;
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  const char *running[] = { "work", "personal", NULL };
  const VmdPolicyContext contexts[] = { { NULL, NULL, NULL, NULL }, { "work", running, NULL, NULL } };
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = vmd_policy_new_from_string ((const char *) data, size, "fuzz.rules", &error);
  g_autoptr(VmdPolicy) again = NULL;
  g_autofree char *text = NULL;

  if (policy == NULL)
    {
      check_error (error);
      return 0;
    }
  text = vmd_policy_to_text (policy);
  g_assert_true (g_utf8_validate (text, -1, NULL));
  again = vmd_policy_new_from_string (text, -1, "again.rules", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vmd_policy_get_n_rules (again), ==, vmd_policy_get_n_rules (policy) + 3);

  for (guint n = 0; n < 8; n++)
    {
      g_autoptr(VmdUsbDevice) device = device_for (n);
      g_autoptr(VmdPolicyDecision) first = vmd_policy_decide (policy, device, &contexts[n % 2]);
      g_autoptr(VmdPolicyDecision) second = vmd_policy_decide (again, device, &contexts[n % 2]);

      g_assert_true (g_utf8_validate (first->reason, -1, NULL));
      g_assert_null (strchr (first->reason, '\n'));
      g_assert_cmpint (first->target, ==, second->target);
      g_assert_cmpstr (first->rule_text, ==, second->rule_text);
      g_assert_cmpstr (first->vm, ==, second->vm);
    }
  return 0;
}
