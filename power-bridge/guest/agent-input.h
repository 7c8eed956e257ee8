/* agent-input.h: the guest's lid switch and power/sleep buttons, as a uinput device that
 * the guest's logind watches like a laptop's own (HandleLidSwitch, HandlePowerKey...). */
#pragma once

#include <stdbool.h>
#include <stddef.h>

#define AGENT_INPUT_NAME "vmdesk power buttons"

typedef struct {
  int fd;   /* -1 when there is no device */
} AgentInput;

/* Creates the device through /dev/uinput. False with `error` filled when uinput is
 * unavailable; the agent then runs without lid and buttons. */
bool agent_input_open (AgentInput *input, char *error, size_t error_size);
void agent_input_close (AgentInput *input);

bool agent_input_lid (AgentInput *input, bool closed, char *error, size_t error_size);
/* code: KEY_POWER or KEY_SLEEP; a press and a release. */
bool agent_input_key (AgentInput *input, int code, char *error, size_t error_size);
