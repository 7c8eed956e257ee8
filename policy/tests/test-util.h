/* test-util.h: what the policy tests share: devices written as people read them, one-rule
 * policies, temporary trees. */
#pragma once

#include "vmdesk-policy.h"

/* "1050:0407" and "03:01:01 0b:00:00" (space-separated; "" for none). */
VmdUsbDevice *test_device_new (const char *id, const char *interfaces);

/* Whether `rule` (one line) matches `device` under `context`: the decision names the rule
 * and not a built-in default. */
gboolean test_rule_matches (const char *rule, const VmdUsbDevice *device,
                            const VmdPolicyContext *context);

/* rm -r, without following symbolic links. */
void test_remove_tree (const char *path);

/* Writes DIR/NAME (`length` -1: a string), making the directories on the way: a fake sysfs
 * attribute. */
void test_put_file (const char *dir, const char *name, const void *data, gssize length);
