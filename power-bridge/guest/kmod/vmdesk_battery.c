// SPDX-License-Identifier: GPL-2.0-only
/*
 * vmdesk_battery: the host laptop's battery and AC, as seen by a vmdesk guest.
 *
 * Registers two power_supply devices, "vmdesk_battery" (Battery) and "vmdesk_ac" (Mains),
 * whose values come from vmdesk-guest-agent. The guest's UPower and desktop then show the
 * host's power state as if it were the guest's own hardware.
 *
 * Control interface: the module parameter "state"
 * (/sys/module/vmdesk_battery/parameters/state, root only). Writing it takes
 * whitespace-separated key=value pairs and applies them all or none:
 *
 *   ac_online=0|1  present=0|1  status=charging|discharging|not-charging|full|unknown
 *   capacity=0..100  energy_now, energy_full, energy_full_design (uWh)  power_now (uW)
 *   time_to_empty_now, time_to_full_now (s)
 *
 * Keys not written keep their value. An unknown key, a malformed or out-of-range value,
 * or energy_now above a non-zero energy_full rejects the whole write with -EINVAL.
 * Reading it returns the current state in the same form. Each supply whose values
 * changed gets one power_supply_changed() (one uevent) per write, whatever the number
 * of keys, so a consumer never sees a half-applied update.
 */
#include <linux/kernel.h>
#include <linux/module.h>
#include <linux/moduleparam.h>
#include <linux/power_supply.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/string.h>

struct vmdesk_power_state {
	int ac_online;
	int present;
	int status;		/* POWER_SUPPLY_STATUS_* */
	int capacity;
	int energy_now;
	int energy_full;
	int energy_full_design;
	int power_now;
	int time_to_empty_now;
	int time_to_full_now;
};

/*
 * Until the agent says otherwise: on AC, no battery. A guest of a desktop host, or one
 * whose agent never ran, must not show an invented battery.
 */
static struct vmdesk_power_state state = {
	.ac_online = 1,
	.present = 0,
	.status = POWER_SUPPLY_STATUS_UNKNOWN,
};
static DEFINE_SPINLOCK(state_lock);
static struct power_supply *battery;
static struct power_supply *ac;

static const struct {
	const char *name;
	int status;
} status_names[] = {
	{ "charging", POWER_SUPPLY_STATUS_CHARGING },
	{ "discharging", POWER_SUPPLY_STATUS_DISCHARGING },
	{ "not-charging", POWER_SUPPLY_STATUS_NOT_CHARGING },
	{ "full", POWER_SUPPLY_STATUS_FULL },
	{ "unknown", POWER_SUPPLY_STATUS_UNKNOWN },
};

static const char *status_name(int status)
{
	size_t i;

	for (i = 0; i < ARRAY_SIZE(status_names); i++)
		if (status_names[i].status == status)
			return status_names[i].name;
	return "unknown";
}

#define INT_KEY(field, lo, hi) { #field, offsetof(struct vmdesk_power_state, field), lo, hi }

static const struct {
	const char *name;
	size_t offset;
	int min;
	int max;
} int_keys[] = {
	INT_KEY(ac_online, 0, 1),
	INT_KEY(present, 0, 1),
	INT_KEY(capacity, 0, 100),
	INT_KEY(energy_now, 0, INT_MAX),
	INT_KEY(energy_full, 0, INT_MAX),
	INT_KEY(energy_full_design, 0, INT_MAX),
	INT_KEY(power_now, 0, INT_MAX),
	INT_KEY(time_to_empty_now, 0, INT_MAX),
	INT_KEY(time_to_full_now, 0, INT_MAX),
};

static int parse_pair(struct vmdesk_power_state *next, char *pair)
{
	char *value = strchr(pair, '=');
	size_t i;
	int v;

	if (!value)
		return -EINVAL;
	*value++ = '\0';

	if (strcmp(pair, "status") == 0) {
		for (i = 0; i < ARRAY_SIZE(status_names); i++) {
			if (strcmp(value, status_names[i].name) == 0) {
				next->status = status_names[i].status;
				return 0;
			}
		}
		return -EINVAL;
	}
	for (i = 0; i < ARRAY_SIZE(int_keys); i++) {
		if (strcmp(pair, int_keys[i].name) != 0)
			continue;
		if (kstrtoint(value, 10, &v) || v < int_keys[i].min || v > int_keys[i].max)
			return -EINVAL;
		*(int *)((char *)next + int_keys[i].offset) = v;
		return 0;
	}
	return -EINVAL;
}

static bool battery_differs(const struct vmdesk_power_state *a,
			    const struct vmdesk_power_state *b)
{
	return a->present != b->present || a->status != b->status ||
	       a->capacity != b->capacity || a->energy_now != b->energy_now ||
	       a->energy_full != b->energy_full ||
	       a->energy_full_design != b->energy_full_design ||
	       a->power_now != b->power_now ||
	       a->time_to_empty_now != b->time_to_empty_now ||
	       a->time_to_full_now != b->time_to_full_now;
}

static int state_set(const char *val, const struct kernel_param *kp)
{
	struct vmdesk_power_state next, old;
	char *copy, *cursor, *pair;
	int ret = 0;

	copy = kstrdup(val, GFP_KERNEL);
	if (!copy)
		return -ENOMEM;

	spin_lock_irq(&state_lock);
	next = state;
	spin_unlock_irq(&state_lock);

	/* Parse into a copy: a bad pair anywhere leaves the state untouched. */
	cursor = copy;
	while ((pair = strsep(&cursor, " \t\n")) != NULL) {
		if (*pair == '\0')
			continue;
		ret = parse_pair(&next, pair);
		if (ret)
			break;
	}
	kfree(copy);
	if (ret)
		return ret;
	if (next.energy_full > 0 && next.energy_now > next.energy_full)
		return -EINVAL;

	/*
	 * Writers are serialised by the module parameter lock, so "old" is the state this
	 * write replaces.
	 */
	spin_lock_irq(&state_lock);
	old = state;
	state = next;
	spin_unlock_irq(&state_lock);

	/* NULL while the module loads with state= on its command line. */
	if (battery && battery_differs(&old, &next))
		power_supply_changed(battery);
	if (ac && old.ac_online != next.ac_online)
		power_supply_changed(ac);
	return 0;
}

static int state_get(char *buffer, const struct kernel_param *kp)
{
	struct vmdesk_power_state s;

	spin_lock_irq(&state_lock);
	s = state;
	spin_unlock_irq(&state_lock);

	return scnprintf(buffer, PAGE_SIZE,
			 "ac_online=%d present=%d status=%s capacity=%d energy_now=%d "
			 "energy_full=%d energy_full_design=%d power_now=%d "
			 "time_to_empty_now=%d time_to_full_now=%d\n",
			 s.ac_online, s.present, status_name(s.status), s.capacity,
			 s.energy_now, s.energy_full, s.energy_full_design, s.power_now,
			 s.time_to_empty_now, s.time_to_full_now);
}

static const struct kernel_param_ops state_ops = {
	.set = state_set,
	.get = state_get,
};
module_param_cb(state, &state_ops, NULL, 0600);
MODULE_PARM_DESC(state, "power state as key=value pairs (see the module source)");

static int capacity_level(int capacity)
{
	if (capacity >= 100)
		return POWER_SUPPLY_CAPACITY_LEVEL_FULL;
	if (capacity > 15)
		return POWER_SUPPLY_CAPACITY_LEVEL_NORMAL;
	if (capacity > 5)
		return POWER_SUPPLY_CAPACITY_LEVEL_LOW;
	return POWER_SUPPLY_CAPACITY_LEVEL_CRITICAL;
}

static int battery_get_property(struct power_supply *psy, enum power_supply_property psp,
				union power_supply_propval *val)
{
	struct vmdesk_power_state s;
	unsigned long flags;

	spin_lock_irqsave(&state_lock, flags);
	s = state;
	spin_unlock_irqrestore(&state_lock, flags);

	switch (psp) {
	case POWER_SUPPLY_PROP_STATUS:
		val->intval = s.status;
		break;
	case POWER_SUPPLY_PROP_PRESENT:
		val->intval = s.present;
		break;
	case POWER_SUPPLY_PROP_TECHNOLOGY:
		val->intval = POWER_SUPPLY_TECHNOLOGY_UNKNOWN;
		break;
	case POWER_SUPPLY_PROP_SCOPE:
		val->intval = POWER_SUPPLY_SCOPE_SYSTEM;
		break;
	case POWER_SUPPLY_PROP_CAPACITY:
		val->intval = s.capacity;
		break;
	case POWER_SUPPLY_PROP_CAPACITY_LEVEL:
		val->intval = capacity_level(s.capacity);
		break;
	case POWER_SUPPLY_PROP_ENERGY_NOW:
		val->intval = s.energy_now;
		break;
	case POWER_SUPPLY_PROP_ENERGY_FULL:
		val->intval = s.energy_full;
		break;
	case POWER_SUPPLY_PROP_ENERGY_FULL_DESIGN:
		val->intval = s.energy_full_design;
		break;
	case POWER_SUPPLY_PROP_POWER_NOW:
		val->intval = s.power_now;
		break;
	case POWER_SUPPLY_PROP_TIME_TO_EMPTY_NOW:
		val->intval = s.time_to_empty_now;
		break;
	case POWER_SUPPLY_PROP_TIME_TO_FULL_NOW:
		val->intval = s.time_to_full_now;
		break;
	case POWER_SUPPLY_PROP_MODEL_NAME:
		val->strval = "vmdesk virtual battery";
		break;
	case POWER_SUPPLY_PROP_MANUFACTURER:
		val->strval = "vmdesk";
		break;
	default:
		return -EINVAL;
	}
	return 0;
}

static int ac_get_property(struct power_supply *psy, enum power_supply_property psp,
			   union power_supply_propval *val)
{
	unsigned long flags;

	if (psp != POWER_SUPPLY_PROP_ONLINE)
		return -EINVAL;
	spin_lock_irqsave(&state_lock, flags);
	val->intval = state.ac_online;
	spin_unlock_irqrestore(&state_lock, flags);
	return 0;
}

static enum power_supply_property battery_props[] = {
	POWER_SUPPLY_PROP_STATUS,
	POWER_SUPPLY_PROP_PRESENT,
	POWER_SUPPLY_PROP_TECHNOLOGY,
	POWER_SUPPLY_PROP_SCOPE,
	POWER_SUPPLY_PROP_CAPACITY,
	POWER_SUPPLY_PROP_CAPACITY_LEVEL,
	POWER_SUPPLY_PROP_ENERGY_NOW,
	POWER_SUPPLY_PROP_ENERGY_FULL,
	POWER_SUPPLY_PROP_ENERGY_FULL_DESIGN,
	POWER_SUPPLY_PROP_POWER_NOW,
	POWER_SUPPLY_PROP_TIME_TO_EMPTY_NOW,
	POWER_SUPPLY_PROP_TIME_TO_FULL_NOW,
	POWER_SUPPLY_PROP_MODEL_NAME,
	POWER_SUPPLY_PROP_MANUFACTURER,
};

static enum power_supply_property ac_props[] = {
	POWER_SUPPLY_PROP_ONLINE,
};

static const struct power_supply_desc battery_desc = {
	.name = "vmdesk_battery",
	.type = POWER_SUPPLY_TYPE_BATTERY,
	.properties = battery_props,
	.num_properties = ARRAY_SIZE(battery_props),
	.get_property = battery_get_property,
	.no_thermal = true,
};

static const struct power_supply_desc ac_desc = {
	.name = "vmdesk_ac",
	.type = POWER_SUPPLY_TYPE_MAINS,
	.properties = ac_props,
	.num_properties = ARRAY_SIZE(ac_props),
	.get_property = ac_get_property,
	.no_thermal = true,
};

static char *ac_supplied_to[] = { "vmdesk_battery" };

/*
 * The supplies are published under the module parameter lock, which state_set() runs
 * under: a write racing with load or unload never notifies a supply that is not there.
 */
static void publish(struct power_supply *new_ac, struct power_supply *new_battery)
{
	kernel_param_lock(THIS_MODULE);
	ac = new_ac;
	battery = new_battery;
	kernel_param_unlock(THIS_MODULE);
}

static int __init vmdesk_battery_init(void)
{
	struct power_supply_config ac_config = {
		.supplied_to = ac_supplied_to,
		.num_supplicants = ARRAY_SIZE(ac_supplied_to),
	};
	struct power_supply_config battery_config = {};
	struct power_supply *new_ac, *new_battery;

	new_ac = power_supply_register(NULL, &ac_desc, &ac_config);
	if (IS_ERR(new_ac))
		return PTR_ERR(new_ac);
	new_battery = power_supply_register(NULL, &battery_desc, &battery_config);
	if (IS_ERR(new_battery)) {
		power_supply_unregister(new_ac);
		return PTR_ERR(new_battery);
	}
	publish(new_ac, new_battery);
	return 0;
}

static void __exit vmdesk_battery_exit(void)
{
	struct power_supply *old_ac = ac, *old_battery = battery;

	publish(NULL, NULL);
	power_supply_unregister(old_battery);
	power_supply_unregister(old_ac);
}

module_init(vmdesk_battery_init);
module_exit(vmdesk_battery_exit);

MODULE_DESCRIPTION("vmdesk guest battery and AC, fed by vmdesk-guest-agent");
MODULE_AUTHOR("vmdesk");
MODULE_LICENSE("GPL");
