/* libFuzzer target: hostile vmdesk metadata through the settings parser. Whatever the
 * bytes, what comes out must be within the documented bounds, and writing it out and
 * reading it back must give the same settings with no warning. */
#include "vmdesk-common.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static void
check_bounds (const VmdVmSettings *s)
{
  if (g_strv_length (s->evdev_inputs) > VMD_EVDEV_INPUTS_MAX
      || g_strv_length (s->passthrough_pci) > VMD_PASSTHROUGH_MAX)
    abort ();
  for (guint i = 0; s->evdev_inputs[i]; i++)
    if (!vmd_evdev_path_validate (s->evdev_inputs[i], NULL) || strstr (s->evdev_inputs[i], "/../")
        || g_str_has_suffix (s->evdev_inputs[i], "/..") || strstr (s->evdev_inputs[i], "//"))
      abort ();
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  g_autofree char *xml = g_strndup ((const char *) data, size);
  g_autoptr(GPtrArray) warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(GPtrArray) again_warnings = g_ptr_array_new_with_free_func (g_free);
  g_autoptr(VmdVmSettings) s = vmd_vm_settings_parse (xml, warnings);
  g_autofree char *written = vmd_vm_settings_to_xml (s);
  g_autoptr(VmdVmSettings) again = vmd_vm_settings_parse (written, again_warnings);

  check_bounds (s);
  if (again_warnings->len != 0 || g_strcmp0 (s->role, again->role) != 0
      || !g_strv_equal ((const char *const *) s->evdev_inputs, (const char *const *) again->evdev_inputs)
      || !g_strv_equal ((const char *const *) s->passthrough_pci, (const char *const *) again->passthrough_pci))
    abort ();
  return 0;
}
