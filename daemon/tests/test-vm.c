#include "vmd-vm.h"

#include <libvirt/libvirt.h>

static void
test_names (void)
{
  g_assert_cmpstr (vmd_state_reason_to_string (VIR_DOMAIN_RUNNING, VIR_DOMAIN_RUNNING_BOOTED), ==, "booted");
  g_assert_cmpstr (vmd_state_reason_to_string (VIR_DOMAIN_SHUTOFF, VIR_DOMAIN_SHUTOFF_DESTROYED), ==, "destroyed");
  g_assert_cmpstr (vmd_state_reason_to_string (VIR_DOMAIN_PAUSED, VIR_DOMAIN_PAUSED_USER), ==, "user");
  g_assert_cmpstr (vmd_state_reason_to_string (VIR_DOMAIN_SHUTOFF, 99), ==, "unknown");
  g_assert_cmpstr (vmd_state_reason_to_string (VIR_DOMAIN_BLOCKED, 3), ==, "unknown");
  g_assert_cmpstr (vmd_state_reason_to_string (-1, 0), ==, "unknown");
  g_assert_cmpstr (vmd_domain_state_to_string (VIR_DOMAIN_PMSUSPENDED), ==, "pmsuspended");
  g_assert_cmpstr (vmd_domain_state_to_string (42), ==, "unknown");
  g_assert_cmpstr (vmd_domain_state_to_string (-3), ==, "unknown");
}

static void
test_record (void)
{
  g_autoptr(VmdVm) vm = vmd_vm_new ("6695eb01-f6a4-8304-79aa-97f2502e193f");
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariantDict) d = NULL;
  g_autofree const char **none = NULL;
  const char *s;
  gboolean b;

  vm->state = VIR_DOMAIN_RUNNING;
  vm->settings_warning = g_strdup ("metadata is not well-formed XML");
  v = g_variant_ref_sink (vmd_vm_to_variant (vm, TRUE));
  d = g_variant_dict_new (v);
  g_assert_true (g_variant_dict_lookup (d, "state", "&s", &s));
  g_assert_cmpstr (s, ==, "running");
  g_assert_true (g_variant_dict_lookup (d, "on-screen", "b", &b));
  g_assert_true (b);
  g_assert_true (g_variant_dict_lookup (d, "settings-warning", "&s", &s));
  g_assert_true (g_variant_dict_lookup (d, "passthrough", "^a&s", &none));
  g_assert_cmpuint (g_strv_length ((GStrv) none), ==, 0);
  g_assert_true (g_variant_dict_lookup (d, "physical-display", "b", &b));
  g_assert_false (b);
}

/* What StartVM would bind is in the record, as the settings name it. */
static void
test_record_passthrough (void)
{
  g_autoptr(VmdVm) vm = vmd_vm_new ("6695eb01-f6a4-8304-79aa-97f2502e193f");
  g_autoptr(GVariant) v = NULL;
  g_autoptr(GVariantDict) d = NULL;
  g_autofree const char **bdfs = NULL;
  const char *const expected[] = { "0000:01:00.0", "0000:01:00.1", NULL };
  gboolean b;

  g_strfreev (vm->settings->passthrough_pci);
  vm->settings->passthrough_pci = g_strdupv ((GStrv) expected);
  vm->settings->passthrough_single_gpu = TRUE;
  v = g_variant_ref_sink (vmd_vm_to_variant (vm, FALSE));
  d = g_variant_dict_new (v);
  g_assert_true (g_variant_dict_lookup (d, "passthrough", "^a&s", &bdfs));
  g_assert_cmpstrv (bdfs, expected);
  g_assert_true (g_variant_dict_lookup (d, "passthrough-single-gpu", "b", &b));
  g_assert_true (b);
  g_assert_true (g_variant_dict_lookup (d, "physical-display", "b", &b));
  g_assert_true (b);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vm/names", test_names);
  g_test_add_func ("/vm/record", test_record);
  g_test_add_func ("/vm/record-passthrough", test_record_passthrough);
  return g_test_run ();
}
