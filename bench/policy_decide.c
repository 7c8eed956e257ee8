/* policy_decide: the time of one vmd_policy_decide() (decision built and freed included)
 * at 1k and 10k rules, to show it stays flat. Prints figures; asserts nothing.
 *
 * The policies are what a large deployment looks like: the example laptop policy
 * (policy/tests/data/laptop.rules: class rules, BadUSB, conditions) first, then per-device
 * rules as an inventory would generate them: 85% `attach VM id V:P serial "..."`, 10%
 * vendor rules `host id V:*` (some with interfaces), 5% `attach work hash "..." sticky`.
 * The devices: 50% named by a rule of the policy, 30% of a known vendor only, 20% unknown
 * (they fall through to the built-in defaults). */
#include "vmdesk-policy.h"

#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define DECISIONS 200000

static const char *const interface_lists[] = {
  "03:01:01 03:01:02 03:00:00",       /* Unifying receiver */
  "0e:01:00 0e:02:00 01:01:00 01:02:00", /* webcam with microphone */
  "03:01:01 0b:00:00 03:00:00",       /* YubiKey */
  "08:06:50",                         /* stick */
  "08:06:50 03:01:01",                /* BadUSB */
  "06:01:01 ff:ff:00",                /* phone */
  "e0:01:01 e0:01:01",                /* Bluetooth */
  "ff:ff:ff",                         /* serial adapter */
};

static const char laptop_rules[] =
  "deny with-interface all-of { 08:*:* 03:*:* } label \"storage that types\"\n"
  "deny with-interface all-of { 08:*:* 02:*:* } label \"storage with a network card\"\n"
  "deny with-interface all-of { 08:*:* e0:*:* } label \"storage with a radio\"\n"
  "attach work id 1050:0407 label \"YubiKey 5 NFC\" sticky\n"
  "host with-interface one-of { 03:01:01 03:01:02 } label \"keyboards and mice\"\n"
  "attach @focused with-interface one-of { 0e:*:* } label \"webcams\" follow\n"
  "ask with-interface match-all { 08:*:* } label \"USB sticks\"\n"
  "attach personal with-interface one-of { 06:01:01 } label \"phones\" if vm-running(personal)\n"
  "ask personal work with-interface one-of { 06:01:01 } label \"phones\"\n"
  "host with-interface equals { 09:*:* } label \"hubs\"\n"
  "host with-interface one-of { e0:01:01 } label \"Bluetooth\"\n";

/* Rule i names device (vendor_of (i), 0x1000 + i); vendors are shared by 50 rules each. */
static guint16
vendor_of (guint i)
{
  return (guint16) (0x2000 + i / 50);
}

static char *
generate_policy (guint n_rules)
{
  GString *text = g_string_new (laptop_rules);
  const char *const vms[] = { "work", "personal", "lab" };

  for (guint i = 0; i < n_rules - 11; i++)
    {
      guint kind = g_random_int_range (0, 100);

      if (kind < 85)
        g_string_append_printf (text, "attach %s id %04x:%04x serial \"SN%06u\" label \"asset %u\"\n",
                                vms[i % 3], vendor_of (i), 0x1000 + i, i, i);
      else if (kind < 95)
        g_string_append_printf (text, "host id %04x:*%s\n", vendor_of (i),
                                i % 2 ? " with-interface one-of { 03:*:* }" : "");
      else
        g_string_append_printf (text, "attach work hash \"hash-%u\" sticky\n", i);
    }
  return g_string_free (text, FALSE);
}

static VmdUsbDevice *
generate_device (guint n_rules)
{
  VmdUsbDevice *d = vmd_usb_device_new ();
  guint i = g_random_int_range (0, n_rules - 11);
  guint kind = g_random_int_range (0, 10);
  g_auto(GStrv) ifaces = g_strsplit (interface_lists[g_random_int_range (0, G_N_ELEMENTS (interface_lists))], " ", -1);

  if (kind < 5)          /* named by rule i (if it is an id rule) */
    {
      d->vendor_id = vendor_of (i);
      d->product_id = 0x1000 + i;
      d->serial = g_strdup_printf ("SN%06u", i);
    }
  else if (kind < 8)     /* a known vendor, an unknown product */
    {
      d->vendor_id = vendor_of (i);
      d->product_id = 0xf000 + g_random_int_range (0, 0x1000);
    }
  else                   /* nobody knows it */
    {
      d->vendor_id = 0xa000 + g_random_int_range (0, 0x1000);
      d->product_id = g_random_int_range (0, 0x10000);
    }
  d->hash = g_strdup_printf ("hash-%u", g_random_int_range (0, n_rules));
  d->name = g_strdup ("Some USB Device");
  d->port = g_strdup ("1-2.3");
  for (guint k = 0; ifaces[k]; k++)
    {
      guint c, s, p;
      if (sscanf (ifaces[k], "%2x:%2x:%2x", &c, &s, &p) == 3)
        vmd_usb_device_add_interface (d, c, s, p);
    }
  return d;
}

static gint64
now_ns (void)
{
  struct timespec ts;

  clock_gettime (CLOCK_MONOTONIC, &ts);
  return (gint64) ts.tv_sec * 1000000000 + ts.tv_nsec;
}

static int
compare_times (const void *a, const void *b)
{
  gint64 x = *(const gint64 *) a, y = *(const gint64 *) b;
  return x < y ? -1 : x > y;
}

static gboolean
auto_assign_yes (const char *vm, gpointer user_data)
{
  return TRUE;
}

static void
run (guint n_rules)
{
  const char *running[] = { "work", "personal", NULL };
  VmdPolicyContext context = { "work", running, auto_assign_yes, NULL };
  g_autofree char *text = generate_policy (n_rules);
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = NULL;
  g_autoptr(GPtrArray) devices = g_ptr_array_new_with_free_func ((GDestroyNotify) vmd_usb_device_free);
  gint64 *times = g_new (gint64, DECISIONS);
  gint64 build_start, build_ns, total = 0;
  guint targets[4] = { 0 };

  build_start = now_ns ();
  policy = vmd_policy_new_from_string (text, -1, "bench.rules", &error);
  build_ns = now_ns () - build_start;
  if (policy == NULL)
    g_error ("generated policy does not load: %s", error->message);
  for (guint i = 0; i < 1000; i++)
    g_ptr_array_add (devices, generate_device (n_rules));

  for (guint i = 0; i < DECISIONS / 10; i++)   /* warm-up: caches, allocator */
    vmd_policy_decision_free (vmd_policy_decide (policy, devices->pdata[i % devices->len], &context));
  for (guint i = 0; i < DECISIONS; i++)
    {
      const VmdUsbDevice *device = devices->pdata[i % devices->len];
      gint64 start = now_ns ();
      VmdPolicyDecision *d = vmd_policy_decide (policy, device, &context);

      targets[d->target]++;
      vmd_policy_decision_free (d);
      times[i] = now_ns () - start;
      total += times[i];
    }
  qsort (times, DECISIONS, sizeof *times, compare_times);
  printf ("%6u rules  median %6.2f us  p99 %6.2f us  mean %6.2f us   "
          "(load %.0f ms; %u attach, %u ask, %u host, %u deny)\n",
          vmd_policy_get_n_rules (policy), times[DECISIONS / 2] / 1000.0,
          times[DECISIONS * 99 / 100] / 1000.0, total / 1000.0 / DECISIONS, build_ns / 1e6,
          targets[VMD_POLICY_ATTACH], targets[VMD_POLICY_ASK], targets[VMD_POLICY_HOST],
          targets[VMD_POLICY_DENY]);
  g_free (times);
}

int
main (int argc, char **argv)
{
  g_random_set_seed (1);
  printf ("vmd_policy_decide, %d decisions each (decision built and freed, clock read included)\n",
          DECISIONS);
  run (1000);
  run (10000);
  return 0;
}
