/* agent-power.h: the host's power state into the guest's power_supply devices, through
 * the vmdesk_battery module or, when only it is loaded, the kernel's test_power. */
#pragma once

#include "agent-proto.h"

#include <stdbool.h>
#include <stddef.h>

/* The guest has one battery: several host batteries are combined into it, as UPower's
 * DisplayDevice does. Units are the kernel's (uWh, uW, s); negative means unknown. */
typedef enum {
  AGENT_STATUS_UNKNOWN,
  AGENT_STATUS_CHARGING,
  AGENT_STATUS_DISCHARGING,
  AGENT_STATUS_NOT_CHARGING,
  AGENT_STATUS_FULL,
} AgentSupplyStatus;

typedef struct {
  bool              ac_online;
  bool              present;
  AgentSupplyStatus status;
  int               capacity;   /* 0..100 */
  int               energy_now_uwh;
  int               energy_full_uwh;
  int               power_now_uw;
  int               time_to_empty_s;
  int               time_to_full_s;
} AgentSupply;

void agent_supply_from_power (const AgentPower *power, AgentSupply *supply);

/* The line written to /sys/module/vmdesk_battery/parameters/state. Returns its length, or
 * 0 if it did not fit. */
size_t agent_supply_format_vmdesk (const AgentSupply *supply, char *buf, size_t size);

typedef enum {
  AGENT_POWER_BACKEND_NONE,
  AGENT_POWER_BACKEND_VMDESK,      /* vmdesk_battery */
  AGENT_POWER_BACKEND_TEST_POWER,  /* test_power's module parameters */
} AgentPowerBackend;

/* sysfs_root: "/sys", or a directory laid out like it (tests). */
AgentPowerBackend agent_power_backend (const char *sysfs_root);

/* Writes the supply to the backend present now. False with `error` filled on failure,
 * including when there is no backend. */
bool agent_power_apply (const char *sysfs_root, const AgentSupply *supply,
                        char *error, size_t error_size);
