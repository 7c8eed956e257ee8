/* vmd-vm.c: the VM record and how it is shown on D-Bus. */
#include "vmd-vm.h"

#include <libvirt/libvirt.h>

VmdVm *
vmd_vm_new (const char *uuid)
{
  VmdVm *vm = g_new0 (VmdVm, 1);

  vm->uuid = g_strdup (uuid);
  vm->name = g_strdup ("");
  vm->state = VIR_DOMAIN_NOSTATE;
  vm->display = "none";
  vm->settings = vmd_vm_settings_new ();
  return vm;
}

void
vmd_vm_free (VmdVm *vm)
{
  if (vm == NULL)
    return;
  g_free (vm->uuid);
  g_free (vm->name);
  vmd_vm_settings_free (vm->settings);
  g_free (vm->settings_warning);
  g_free (vm);
}

GVariant *
vmd_vm_to_variant (const VmdVm *vm, gboolean on_screen)
{
  GVariantBuilder b;

  g_variant_builder_init (&b, G_VARIANT_TYPE_VARDICT);
  g_variant_builder_add (&b, "{sv}", "name", g_variant_new_string (vm->name));
  g_variant_builder_add (&b, "{sv}", "uuid", g_variant_new_string (vm->uuid));
  g_variant_builder_add (&b, "{sv}", "state", g_variant_new_string (vmd_domain_state_to_string (vm->state)));
  g_variant_builder_add (&b, "{sv}", "state-reason",
                         g_variant_new_string (vmd_state_reason_to_string (vm->state, vm->reason)));
  g_variant_builder_add (&b, "{sv}", "on-screen", g_variant_new_boolean (on_screen));
  g_variant_builder_add (&b, "{sv}", "role", g_variant_new_string (vm->settings->role));
  g_variant_builder_add (&b, "{sv}", "persistent", g_variant_new_boolean (vm->persistent));
  g_variant_builder_add (&b, "{sv}", "display", g_variant_new_string (vm->display));
  /* On screen means the physical output (its own GPU, the host's inputs), not a window. */
  g_variant_builder_add (&b, "{sv}", "physical-display",
                         g_variant_new_boolean (vm->settings->evdev_inputs[0] != NULL
                                                || vm->settings->passthrough_pci[0] != NULL
                                                || vm->settings->passthrough_single_gpu));
  /* What StartVM binds, for a client to check or plan it (vmdeskctl passthrough). */
  g_variant_builder_add (&b, "{sv}", "passthrough",
                         g_variant_new_strv ((const char *const *) vm->settings->passthrough_pci, -1));
  g_variant_builder_add (&b, "{sv}", "passthrough-single-gpu",
                         g_variant_new_boolean (vm->settings->passthrough_single_gpu));
  if (vm->settings_warning)
    g_variant_builder_add (&b, "{sv}", "settings-warning", g_variant_new_string (vm->settings_warning));
  return g_variant_builder_end (&b);
}

const char *
vmd_domain_state_to_string (int state)
{
  static const char *const names[] = {
    [VIR_DOMAIN_NOSTATE]     = "unknown",
    [VIR_DOMAIN_RUNNING]     = "running",
    [VIR_DOMAIN_BLOCKED]     = "blocked",
    [VIR_DOMAIN_PAUSED]      = "paused",
    [VIR_DOMAIN_SHUTDOWN]    = "shutdown",
    [VIR_DOMAIN_SHUTOFF]     = "shutoff",
    [VIR_DOMAIN_CRASHED]     = "crashed",
    [VIR_DOMAIN_PMSUSPENDED] = "pmsuspended",
  };

  if (state < 0 || state >= (int) G_N_ELEMENTS (names) || names[state] == NULL)
    return "unknown";
  return names[state];
}

const char *
vmd_state_reason_to_string (int state, int reason)
{
  /* Indexed by virDomainState, then by that state's vir*Reason enum (libvirt-domain.h). */
  static const char *const reasons[][16] = {
    [VIR_DOMAIN_RUNNING] = { "unknown", "booted", "migrated", "restored", "from-snapshot",
                             "unpaused", "migration-canceled", "save-canceled", "wakeup",
                             "crashed", "postcopy", "postcopy-failed" },
    [VIR_DOMAIN_BLOCKED] = { "unknown" },
    [VIR_DOMAIN_PAUSED] = { "unknown", "user", "migration", "save", "dump", "ioerror",
                            "watchdog", "from-snapshot", "shutting-down", "snapshot", "crashed",
                            "starting-up", "postcopy", "postcopy-failed" },
    [VIR_DOMAIN_SHUTDOWN] = { "unknown", "user" },
    [VIR_DOMAIN_SHUTOFF] = { "unknown", "shutdown", "destroyed", "crashed", "migrated", "saved",
                             "failed", "from-snapshot", "daemon" },
    [VIR_DOMAIN_CRASHED] = { "unknown", "panicked" },
    [VIR_DOMAIN_PMSUSPENDED] = { "unknown" },
  };

  if (state < 0 || state >= (int) G_N_ELEMENTS (reasons) || reason < 0
      || reason >= (int) G_N_ELEMENTS (reasons[0]) || reasons[state][reason] == NULL)
    return "unknown";
  return reasons[state][reason];
}
