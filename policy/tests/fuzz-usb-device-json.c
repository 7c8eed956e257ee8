/* fuzz-usb-device-json.c: any bytes as `vmdeskctl policy explain --device-json`. Never a
 * crash; a device that parses can be copied and decided on. */
#include "vmdesk-policy.h"

#include <stdint.h>
#include <string.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  static VmdPolicy *policy;
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdUsbDevice) device = vmd_usb_device_from_json ((const char *) data, size, &error);
  g_autoptr(VmdUsbDevice) copy = NULL;
  g_autoptr(VmdPolicyDecision) decision = NULL;

  if (policy == NULL)   /* built once: the fuzzer calls this function millions of times */
    policy = vmd_policy_new_from_string ("attach work name \"YubiKey\" sticky\n"
                                         "deny with-interface all-of { 08:*:* 03:*:* }\n"
                                         "ask serial none-of { \"\" }\n", -1, "f.rules", NULL);
  if (device == NULL)
    {
      g_assert_nonnull (error);
      g_assert_true (g_utf8_validate (error->message, -1, NULL));
      return 0;
    }
  copy = vmd_usb_device_copy (device);
  g_assert_cmpstr (copy->serial, ==, device->serial);
  decision = vmd_policy_decide (policy, copy, NULL);
  g_assert_true (g_utf8_validate (decision->reason, -1, NULL));
  return 0;
}
