/* The language: every attribute and set operator with USBGuard's meaning, string escapes,
 * conditions, options, targets, first-match order, normalised text, and errors with their
 * exact FILE:LINE:COL. */
#include "vmdesk-policy.h"

#include "test-util.h"

#include <string.h>

/* 1050:0407 with a keyboard then a storage interface, every string set. */
static VmdUsbDevice *
full_device (void)
{
  VmdUsbDevice *d = test_device_new ("1050:0407", "03:01:01 08:06:50");

  d->name = g_strdup ("YubiKey");
  d->manufacturer = g_strdup ("Yubico");
  d->serial = g_strdup ("ABC123");
  d->port = g_strdup ("1-2.3");
  d->connect_type = g_strdup ("hotplug");
  d->hash = g_strdup ("H1");
  d->parent_hash = g_strdup ("P1");
  return d;
}

static void
test_attribute_operators (void)
{
  static const struct {
    const char *rule;
    gboolean    match;
  } cases[] = {
    /* id: one device value */
    { "deny id 1050:0407", TRUE },
    { "deny id 1050:0408", FALSE },
    { "deny id 1050:*", TRUE },
    { "deny id 1051:*", FALSE },
    { "deny id *:*", TRUE },
    { "deny id ABCD:EF01", FALSE },
    { "deny id one-of { 046d:c52b 1050:* }", TRUE },
    { "deny id one-of { 046d:c52b 046d:* }", FALSE },
    { "deny id none-of { 046d:* }", TRUE },
    { "deny id none-of { 1050:0407 }", FALSE },
    { "deny id all-of { 1050:* 1050:0407 }", TRUE },
    { "deny id all-of { 1050:* 046d:c52b }", FALSE },
    { "deny id equals { 1050:0407 }", TRUE },
    { "deny id equals { 1050:0407 1050:* }", FALSE },
    { "deny id equals-ordered { 1050:* }", TRUE },
    { "deny id match-all { 046d:* 1050:* }", TRUE },
    { "deny id match-all { 046d:* }", FALSE },
    { "deny id match-all { *:* }", TRUE },
    /* with-interface: the device has 03:01:01, then 08:06:50 */
    { "deny with-interface all-of { 08:*:* 03:*:* }", TRUE },
    { "deny with-interface all-of { 08:*:* 09:*:* }", FALSE },
    { "deny with-interface one-of { 09:*:* 08:06:50 }", TRUE },
    { "deny with-interface one-of { 09:*:* 08:06:62 }", FALSE },
    { "deny with-interface none-of { 09:*:* e0:*:* }", TRUE },
    { "deny with-interface none-of { 09:*:* 03:01:* }", FALSE },
    { "deny with-interface equals { 08:*:* 03:*:* }", TRUE },
    { "deny with-interface equals { 08:*:* }", FALSE },
    { "deny with-interface equals { 08:*:* 03:*:* 03:*:* }", FALSE },
    /* USBGuard's equals counts, then asks each rule value to match some device value */
    { "deny with-interface equals { 03:*:* 03:01:* }", TRUE },
    { "deny with-interface equals-ordered { 03:01:01 08:06:50 }", TRUE },
    { "deny with-interface equals-ordered { 08:06:50 03:01:01 }", FALSE },
    { "deny with-interface match-all { 03:*:* 08:*:* 09:*:* }", TRUE },
    { "deny with-interface match-all { 08:*:* }", FALSE },
    { "deny with-interface 08:*:*", FALSE },           /* no operator: equals */
    { "deny with-interface { 08:06:50 03:01:01 }", TRUE },
    { "deny with-interface one-of { 03:01:* }", TRUE },
    { "deny with-interface one-of { 03:00:* }", FALSE },
    /* strings: one device value each, compared byte for byte */
    { "deny name \"YubiKey\"", TRUE },
    { "deny name \"yubikey\"", FALSE },
    { "deny name \"YubiKe\"", FALSE },
    { "deny name one-of { \"Nano\" \"YubiKey\" }", TRUE },
    { "deny name none-of { \"YubiKey\" }", FALSE },
    { "deny name none-of { \"Nano\" }", TRUE },
    { "deny name all-of { \"YubiKey\" \"YubiKey\" }", TRUE },
    { "deny name all-of { \"YubiKey\" \"Nano\" }", FALSE },
    { "deny name equals { \"YubiKey\" \"Nano\" }", FALSE },
    { "deny name equals-ordered { \"YubiKey\" }", TRUE },
    { "deny name match-all { \"Nano\" \"YubiKey\" }", TRUE },
    { "deny name match-all { \"Nano\" }", FALSE },
    { "deny serial \"ABC123\"", TRUE },
    { "deny serial \"\"", FALSE },
    { "deny hash \"H1\"", TRUE },
    { "deny hash \"H2\"", FALSE },
    { "deny hash one-of { \"H2\" \"H1\" }", TRUE },
    { "deny parent-hash \"P1\"", TRUE },
    { "deny parent-hash \"H1\"", FALSE },
    { "deny via-port \"1-2.3\"", TRUE },
    { "deny via-port \"1-2\"", FALSE },
    { "deny with-connect-type \"hotplug\"", TRUE },
    { "deny with-connect-type \"hardwired\"", FALSE },
    { "deny with-connect-type one-of { \"hardwired\" \"not used\" }", FALSE },
    /* label is metadata: it never decides */
    { "deny label \"anything\"", TRUE },
    { "deny label none-of { \"x\" }", TRUE },
    /* attributes all have to hold */
    { "deny id 1050:* name \"YubiKey\" with-interface one-of { 08:*:* }", TRUE },
    { "deny id 1050:* name \"Nano\"", FALSE },
    { "deny", TRUE },
  };
  g_autoptr(VmdUsbDevice) device = full_device ();

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].rule);
      g_assert_cmpint (test_rule_matches (cases[i].rule, device, NULL), ==, cases[i].match);
    }
}

/* Absent strings are "" and no interfaces is the empty set, as in USBGuard. */
static void
test_absent_values (void)
{
  g_autoptr(VmdUsbDevice) bare = test_device_new ("0781:5567", "");
  static const struct {
    const char *rule;
    gboolean    match;
  } cases[] = {
    { "deny serial \"\"", TRUE },
    { "deny name \"\"", TRUE },
    { "deny hash \"\"", TRUE },
    { "deny with-connect-type \"\"", TRUE },
    { "deny with-connect-type \"unknown\"", FALSE },
    { "deny with-interface none-of { 08:*:* }", TRUE },
    { "deny with-interface match-all { 08:*:* }", TRUE },
    { "deny with-interface one-of { 08:*:* }", FALSE },
    { "deny with-interface all-of { 08:*:* }", FALSE },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_test_message ("%s", cases[i].rule);
      g_assert_cmpint (test_rule_matches (cases[i].rule, bare, NULL), ==, cases[i].match);
    }
}

static VmdPolicyDecision *
decide_one (const char *rules, const VmdUsbDevice *device, const VmdPolicyContext *context)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = vmd_policy_new_from_string (rules, -1, "t.rules", &error);

  g_assert_no_error (error);
  return vmd_policy_decide (policy, device, context);
}

static void
test_string_escapes (void)
{
  g_autoptr(VmdUsbDevice) device = test_device_new ("1050:0407", "");
  g_autoptr(VmdPolicyDecision) exact = NULL;
  g_autoptr(VmdPolicyDecision) upper = NULL;
  g_autoptr(VmdPolicyDecision) utf8 = NULL;

  device->name = g_strdup ("a\"b\\c\xff<>&\nA");
  exact = decide_one ("deny name \"a\\\"b\\\\c\\xff<>&\\x0a\\x41\"", device, NULL);
  g_assert_cmpint (exact->target, ==, VMD_POLICY_DENY);
  g_assert_cmpstr (exact->rule_text, ==, "deny name \"a\\\"b\\\\c\\xff<>&\\x0aA\"");
  upper = decide_one ("deny name \"a\\\"b\\\\c\\xFF<>&\\x0A\\x41\"", device, NULL);
  g_assert_cmpint (upper->target, ==, VMD_POLICY_DENY);

  /* Raw UTF-8 in a string is kept as it is, and printed as it is. */
  g_free (device->name);
  device->name = g_strdup ("\xc3\x9cn\xc3\xaf");
  utf8 = decide_one ("deny name \"\xc3\x9cn\xc3\xaf\" label \"caf\xc3\xa9\"", device, NULL);
  g_assert_cmpint (utf8->target, ==, VMD_POLICY_DENY);
  g_assert_cmpstr (utf8->rule_text, ==, "deny name \"\xc3\x9cn\xc3\xaf\" label \"caf\xc3\xa9\"");
  g_assert_cmpstr (utf8->label, ==, "caf\xc3\xa9");
}

static gboolean
auto_assign_not_personal (const char *vm, gpointer user_data)
{
  (*(guint *) user_data)++;
  return strcmp (vm, "personal") != 0;
}

static void
test_conditions (void)
{
  const char *running[] = { "personal", NULL };
  guint calls = 0;
  VmdPolicyContext on_work = { "work", running, auto_assign_not_personal, &calls };
  VmdPolicyContext on_host = { NULL, running, auto_assign_not_personal, &calls };
  static const struct {
    const char *condition;
    gboolean    on_work;
    gboolean    on_host;
  } cases[] = {
    { "true", TRUE, TRUE },
    { "false", FALSE, FALSE },
    { "!false", TRUE, TRUE },
    { "vm-running(personal)", TRUE, TRUE },
    { "vm-running(work)", TRUE, FALSE },          /* the VM on screen runs */
    { "vm-running(gaming)", FALSE, FALSE },
    { "!vm-running(gaming)", TRUE, TRUE },
    { "vm-running(@focused)", TRUE, FALSE },
    { "on-screen(work)", TRUE, FALSE },
    { "on-screen(personal)", FALSE, FALSE },
    { "on-screen(@focused)", TRUE, FALSE },
    { "!on-screen(@focused)", FALSE, TRUE },
    { "auto-assign(work)", TRUE, TRUE },
    { "auto-assign(personal)", FALSE, FALSE },
    { "auto-assign(@focused)", TRUE, FALSE },
    { "all-of { true !false }", TRUE, TRUE },
    { "all-of { true on-screen(work) }", TRUE, FALSE },
    { "{ true on-screen(work) }", TRUE, FALSE },
    { "equals { true on-screen(work) }", TRUE, FALSE },
    { "equals-ordered { on-screen(work) true }", TRUE, FALSE },
    { "one-of { false vm-running(personal) }", TRUE, TRUE },
    { "one-of { false on-screen(work) }", TRUE, FALSE },
    { "none-of { false on-screen(work) }", FALSE, TRUE },
    { "none-of { false !true }", TRUE, TRUE },
    { "vm-running(\"personal\")", TRUE, TRUE },
  };
  g_autoptr(VmdUsbDevice) device = test_device_new ("1050:0407", "");

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *rule = g_strdup_printf ("deny if %s", cases[i].condition);

      g_test_message ("%s", rule);
      g_assert_cmpint (test_rule_matches (rule, device, &on_work), ==, cases[i].on_work);
      g_assert_cmpint (test_rule_matches (rule, device, &on_host), ==, cases[i].on_host);
    }
  g_assert_cmpuint (calls, >, 0);
  /* No context: the host on screen, nothing running, auto-assignment allowed. */
  g_assert_true (test_rule_matches ("deny if auto-assign(work)", device, NULL));
  g_assert_false (test_rule_matches ("deny if vm-running(work)", device, NULL));
}

static void
test_targets (void)
{
  const char *running[] = { "personal", "work", "alpha", NULL };
  VmdPolicyContext on_zeta = { "zeta", running, NULL, NULL };
  VmdPolicyContext on_work = { "work", running, NULL, NULL };
  VmdPolicyContext on_host = { NULL, running, NULL, NULL };
  g_autoptr(VmdUsbDevice) device = test_device_new ("1050:0407", "");
  g_autoptr(VmdPolicyDecision) d = NULL;

  /* attach VM: always that VM, running or not (the router waits for it). */
  d = decide_one ("attach gaming", device, &on_host);
  g_assert_cmpint (d->target, ==, VMD_POLICY_ATTACH);
  g_assert_cmpstr (d->vm, ==, "gaming");
  g_assert_false (d->focused);
  g_assert_null (d->candidates);
  g_clear_pointer (&d, vmd_policy_decision_free);

  d = decide_one ("attach @focused follow", device, &on_work);
  g_assert_cmpint (d->target, ==, VMD_POLICY_ATTACH);
  g_assert_cmpstr (d->vm, ==, "work");
  g_assert_true (d->focused);
  g_assert_true (d->follow);
  g_assert_nonnull (strstr (d->reason, "the VM on screen is work"));
  g_clear_pointer (&d, vmd_policy_decision_free);

  /* Nothing on screen: the host keeps it, but the rule (focused, follow) stands. */
  d = decide_one ("attach @focused follow", device, &on_host);
  g_assert_cmpint (d->target, ==, VMD_POLICY_HOST);
  g_assert_null (d->vm);
  g_assert_true (d->focused);
  g_assert_true (d->follow);
  g_assert_nonnull (strstr (d->reason, "the host is on screen"));
  g_clear_pointer (&d, vmd_policy_decision_free);

  /* ask: every running VM (and the one on screen), sorted. */
  d = decide_one ("ask", device, &on_zeta);
  g_assert_cmpint (d->target, ==, VMD_POLICY_ASK);
  g_assert_null (d->vm);
  g_assert_cmpstrv (d->candidates, ((const char *const[]) { "alpha", "personal", "work", "zeta", NULL }));
  g_clear_pointer (&d, vmd_policy_decision_free);

  /* ask VM...: as listed, @focused resolved, each once. */
  d = decide_one ("ask work @focused personal", device, &on_work);
  g_assert_cmpstrv (d->candidates, ((const char *const[]) { "work", "personal", NULL }));
  g_clear_pointer (&d, vmd_policy_decision_free);

  d = decide_one ("ask @focused", device, &on_host);
  g_assert_cmpint (d->target, ==, VMD_POLICY_ASK);
  g_assert_nonnull (d->candidates);
  g_assert_null (d->candidates[0]);
  g_assert_nonnull (strstr (d->reason, "no VM to ask"));
  g_clear_pointer (&d, vmd_policy_decision_free);

  d = decide_one ("ask", device, NULL);
  g_assert_null (d->candidates[0]);
  g_clear_pointer (&d, vmd_policy_decision_free);

  d = decide_one ("deny", device, &on_work);
  g_assert_cmpint (d->target, ==, VMD_POLICY_DENY);
  g_assert_null (d->vm);
  g_assert_null (d->candidates);
  g_clear_pointer (&d, vmd_policy_decision_free);

  d = decide_one ("host", device, &on_work);
  g_assert_cmpint (d->target, ==, VMD_POLICY_HOST);
  g_clear_pointer (&d, vmd_policy_decision_free);

  /* A VM name that is not one plain word is quoted. */
  d = decide_one ("attach \"Windows 11 (GPU)\"", device, NULL);
  g_assert_cmpstr (d->vm, ==, "Windows 11 (GPU)");
  g_assert_cmpstr (d->rule_text, ==, "attach \"Windows 11 (GPU)\"");
}

static void
test_decision_fields (void)
{
  g_autoptr(VmdUsbDevice) device = test_device_new ("1050:0407", "03:01:01");
  g_autoptr(VmdPolicyDecision) d = decide_one ("# a comment\n\nattach work id 1050:0407 "
                                               "label \"YubiKey\" sticky\n", device, NULL);
  g_autoptr(VmdPolicyDecision) copy = vmd_policy_decision_copy (d);

  g_assert_cmpint (d->target, ==, VMD_POLICY_ATTACH);
  g_assert_cmpstr (d->vm, ==, "work");
  g_assert_true (d->sticky);
  g_assert_false (d->follow);
  g_assert_cmpstr (d->file, ==, "t.rules");
  g_assert_cmpuint (d->line, ==, 3);
  g_assert_cmpstr (d->label, ==, "YubiKey");
  g_assert_cmpstr (d->rule_text, ==, "attach work id 1050:0407 label \"YubiKey\" sticky");
  g_assert_cmpstr (d->reason, ==, "rule t.rules:3 matched: id 1050:0407; sticky");
  g_assert_cmpstr (copy->reason, ==, d->reason);
  g_assert_cmpstr (copy->vm, ==, "work");
  g_assert_true (copy->reason != d->reason);
}

static void
test_options (void)
{
  g_autoptr(VmdUsbDevice) device = test_device_new ("1050:0407", "");
  g_autoptr(VmdPolicyDecision) plain = decide_one ("attach work", device, NULL);
  g_autoptr(VmdPolicyDecision) sticky_ask = decide_one ("ask work personal sticky", device, NULL);
  g_autoptr(VmdPolicyDecision) both = decide_one ("attach @focused if true sticky follow", device, NULL);

  g_assert_false (plain->sticky);
  g_assert_false (plain->follow);
  g_assert_true (sticky_ask->sticky);
  g_assert_true (both->sticky);
  g_assert_true (both->follow);
  g_assert_cmpstr (both->reason, ==, "rule t.rules:1 matched: if true; sticky; follow; "
                   "the host is on screen, so the device stays on the host");
}

static void
test_builtin_defaults (void)
{
  g_autoptr(VmdUsbDevice) keyboard = test_device_new ("046d:c31c", "03:01:01");
  g_autoptr(VmdUsbDevice) unifying = test_device_new ("046d:c52b", "03:01:01 03:01:02 03:00:00");
  g_autoptr(VmdUsbDevice) serial = test_device_new ("0403:6001", "ff:ff:ff");
  guint calls = 0;
  VmdPolicyContext on_work = { "work", NULL, NULL, NULL };
  VmdPolicyContext on_personal = { "personal", NULL, auto_assign_not_personal, &calls };
  VmdUsbDevice *devices[] = { keyboard, unifying, serial };
  const struct {
    guint                   device;
    const VmdPolicyContext *context;
    VmdPolicyTarget         target;
    guint                   line;
    const char             *vm;
  } cases[] = {
    { 0, &on_work, VMD_POLICY_HOST, 1, NULL },
    { 1, &on_work, VMD_POLICY_HOST, 1, NULL },
    { 2, &on_work, VMD_POLICY_ATTACH, 2, "work" },
    { 2, &on_personal, VMD_POLICY_HOST, 3, NULL },
    { 2, NULL, VMD_POLICY_HOST, 3, NULL },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(VmdPolicyDecision) d = decide_one ("# nothing\n", devices[cases[i].device],
                                                   cases[i].context);
      g_autofree char *prefix = g_strdup_printf ("built-in default %u matched: ", cases[i].line);

      g_assert_cmpint (d->target, ==, cases[i].target);
      g_assert_null (d->file);
      g_assert_cmpuint (d->line, ==, cases[i].line);
      g_assert_cmpstr (d->vm, ==, cases[i].vm);
      g_assert_true (g_str_has_prefix (d->reason, prefix));
    }
  g_assert_cmpuint (calls, ==, 1);
}

/* Each rule of the policy sits in another list of the index (general, vendor, exact id,
 * hash): whatever their order, the first one in the file wins. */
static void
test_first_match_order (void)
{
  const char *lines[] = {
    "host with-interface one-of { 03:*:* }",   /* matches only the HID device */
    "deny id 1050:*",
    "attach work id 1050:0407",
    "attach personal hash \"H1\"",
  };
  g_autoptr(VmdUsbDevice) hid = test_device_new ("1050:0407", "03:01:01");
  g_autoptr(VmdUsbDevice) ccid = test_device_new ("1050:0407", "0b:00:00");
  guint n_orders = 0;

  hid->hash = g_strdup ("H1");
  ccid->hash = g_strdup ("H1");
  for (guint a = 0; a < 4; a++)
    for (guint b = 0; b < 4; b++)
      for (guint c = 0; c < 4; c++)
        {
          guint d = 6 - a - b - c;   /* the one left */
          guint order[4] = { a, b, c, d };
          g_autofree char *text = NULL;
          g_autoptr(VmdPolicyDecision) for_hid = NULL;
          g_autoptr(VmdPolicyDecision) for_ccid = NULL;
          guint first_for_ccid;

          if (a == b || a == c || b == c || d > 3 || d == a || d == b || d == c)
            continue;
          n_orders++;
          text = g_strdup_printf ("%s\n%s\n%s\n%s\n", lines[a], lines[b], lines[c], lines[d]);
          for_hid = decide_one (text, hid, NULL);
          for_ccid = decide_one (text, ccid, NULL);
          first_for_ccid = a == 0 ? 2 : 1;   /* rule 0 does not match the CCID device */
          g_assert_cmpuint (for_hid->line, ==, 1);
          g_assert_cmpstr (for_hid->rule_text, ==, lines[a]);
          g_assert_cmpuint (for_ccid->line, ==, first_for_ccid);
          g_assert_cmpstr (for_ccid->rule_text, ==, lines[order[first_for_ccid - 1]]);
        }
  g_assert_cmpuint (n_orders, ==, 24);
}

static void
test_normalised_text (void)
{
  static const struct {
    const char *written;
    const char *normalised;
  } cases[] = {
    { "  attach   work   id  1050:04A7\twith-interface one-of {03:01:01   03:*:*}  if   "
      "!vm-running( personal )  sticky  # why",
      "attach work id 1050:04a7 with-interface one-of { 03:01:01 03:*:* } if !vm-running(personal) sticky" },
    { "host name equals { \"x\" }", "host name \"x\"" },
    { "host name { \"x\" }", "host name \"x\"" },
    { "host name {\"x\" \"y\"}", "host name { \"x\" \"y\" }" },
    { "host id equals-ordered { 1050:* }", "host id equals-ordered { 1050:* }" },
    { "ask \"my vm\" \"if\" work \"1050:0407\"", "ask \"my vm\" \"if\" work \"1050:0407\"" },
    { "attach @focused if { true }", "attach @focused if true" },
    { "deny if equals { true false }", "deny if { true false }" },
    { "deny if one-of{on-screen(\"a b\") !auto-assign(@focused)}",
      "deny if one-of { on-screen(\"a b\") !auto-assign(@focused) }" },
    { "deny with-interface 0E:*:*", "deny with-interface 0e:*:*" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autoptr(VmdPolicy) policy = vmd_policy_new_from_string (cases[i].written, -1, "t.rules", &error);
      g_autoptr(VmdPolicy) again = NULL;
      g_autofree char *text = NULL;
      g_autofree char *text_again = NULL;

      g_assert_no_error (error);
      text = vmd_policy_to_text (policy);
      g_assert_nonnull (strstr (text, cases[i].normalised));
      /* The normalised form reads back as itself. */
      again = vmd_policy_new_from_string (cases[i].normalised, -1, "t.rules", &error);
      g_assert_no_error (error);
      text_again = vmd_policy_to_text (again);
      g_assert_cmpstr (text_again, ==, text);
    }
}

static char *
first_error (const char *text, gssize length)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = vmd_policy_new_from_string (text, length, "t.rules", &error);

  g_assert_null (policy);
  g_assert_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_PARSE);
  g_assert_true (g_utf8_validate (error->message, -1, NULL));
  return g_strdup (error->message);
}

static void
test_errors (void)
{
  static const struct {
    const char *text;
    guint       line;
    guint       column;
    const char *says;
  } cases[] = {
    { "frobnicate", 1, 1, "unknown target 'frobnicate'" },
    { "allow id 1050:0407", 1, 1, "'allow' is a USBGuard target" },
    { "attach", 1, 7, "expected a VM name or @focused after 'attach'" },
    { "attach id 1050:0407", 1, 8, "expected a VM name or @focused after 'attach', not 'id'" },
    { "attach work id 1050:040", 1, 16, "bad device id '1050:040'" },
    { "attach work id *:0407", 1, 16, "bad device id '*:0407'" },
    { "host with-interface 03:*:01", 1, 21, "bad interface '03:*:01'" },
    { "host with-interface *:*:*", 1, 21, "bad interface '*:*:*'" },
    { "host name \"abc", 1, 11, "unterminated string" },
    { "host name \"a\\qb\"", 1, 13, "unknown escape '\\q'" },
    { "host name \"\\x4\"", 1, 12, "\\x needs two hex digits" },
    { "host name \"\\xzz\"", 1, 12, "\\x needs two hex digits" },
    { "host name \"\\x00\"", 1, 12, "\\x00 is not allowed" },
    { "host name \"a\" name \"b\"", 1, 15, "'name' appears twice in one rule (first at column 6)" },
    { "host label \"a\" label \"b\"", 1, 16, "'label' appears twice" },
    { "host with-interface one-of { 03:01:01 } with-interface 08:*:*", 1, 41, "'with-interface' appears twice" },
    { "host name { }", 1, 13, "empty set" },
    { "deny if { }", 1, 11, "empty set" },
    { "host name one-of \"a\"", 1, 18, "expected '{' after 'one-of'" },
    { "host name one-of { \"a\"", 1, 23, "unterminated set: expected '}' for the '{' at column 18" },
    { "attach work id { 1050:0407", 1, 27, "unterminated set: expected '}' for the '{' at column 16" },
    { "host id 1050:0407 label", 1, 24, "expected a value after 'label'" },
    { "host id 1050:0407 if", 1, 21, "expected a condition after 'if'" },
    { "host if vm-running", 1, 19, "'vm-running' needs a VM" },
    { "host if bogus(x)", 1, 9, "unknown condition 'bogus'" },
    { "host if match-all { true }", 1, 9, "match-all does not apply to conditions" },
    { "host if !", 1, 10, "expected a condition" },
    { "host if true(x)", 1, 13, "'true' takes no argument" },
    { "host if vm-running(work", 1, 24, "expected ')'" },
    { "host sticky", 1, 6, "'sticky' needs a VM target" },
    { "attach work follow", 1, 13, "'follow' needs 'attach @focused'" },
    { "attach @focused follow follow", 1, 24, "'follow' is given twice" },
    { "attach @nobody", 1, 8, "unknown VM reference '@nobody'" },
    { "attach \"a/b\"", 1, 8, "bad VM name" },
    { "attach work if true name \"x\"", 1, 21, "'name' must come before 'if'" },
    { "attach work sticky if true", 1, 20, "'if' must come before the options" },
    { "attach work id 1050:0407 if true if false", 1, 34, "a rule has one 'if'" },
    { "attach work name \"a\" \"b\"", 1, 22, "unexpected string" },
    { "host \"x\"", 1, 6, "unexpected string" },
    { "attach work {", 1, 13, "unexpected '{'" },
    { "host with-connect-type \"usb\"", 1, 24, "unknown connect type" },
    { "ask work work", 1, 10, "'work' is listed twice" },
    { "ask 1050:0407", 1, 5, "looks like a device id" },
    { "host\nhost bogus", 2, 6, "unknown attribute 'bogus'" },
    { "# c\n\n  host name\n", 3, 12, "expected a value after 'name'" },
    { "host name \"\xc3\xa9\" bogus", 1, 15, "unknown attribute 'bogus'" },
    { "host\x01", 1, 5, "unexpected control character \\x01" },
    { "host name \"a\rb\"", 1, 13, "carriage return inside a string" },
    { "host bogus\xff", 1, 6, "unknown attribute 'bogus\\xff'" },
  };

  for (guint i = 0; i < G_N_ELEMENTS (cases); i++)
    {
      g_autofree char *message = first_error (cases[i].text, -1);
      g_autofree char *position = g_strdup_printf ("t.rules:%u:%u: ", cases[i].line, cases[i].column);

      g_test_message ("%s -> %s", cases[i].text, message);
      g_assert_true (g_str_has_prefix (message, position));
      g_assert_nonnull (strstr (message, cases[i].says));
      g_assert_null (strchr (message, '\n'));
    }
}

static void
test_errors_bytes (void)
{
  g_autofree char *nul = first_error ("host\0", 5);
  g_autofree char *long_line = g_strnfill (VMD_POLICY_MAX_LINE + 1, 'x');
  g_autofree char *too_long = first_error (long_line, -1);
  g_autoptr(VmdPolicy) windows = NULL;
  g_autoptr(GError) error = NULL;

  g_assert_true (g_str_has_prefix (nul, "t.rules:1:5: NUL byte"));
  g_assert_true (g_str_has_prefix (too_long, "t.rules:1:1: line is 65537 bytes long"));
  /* CRLF line ends are fine; a CR elsewhere is not. */
  windows = vmd_policy_new_from_string ("host\r\ndeny id 1050:*\r\n", -1, "t.rules", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vmd_policy_get_n_rules (windows), ==, 2);
}

/* Every error of a text is reported, one per line, and a text with errors loads nothing. */
static void
test_errors_all_reported (void)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = vmd_policy_new_from_string ("host\nbogus\nattach\nhost\nhost x\n",
                                                            -1, "t.rules", &error);
  g_auto(GStrv) lines = NULL;

  g_assert_null (policy);
  g_assert_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_PARSE);
  lines = g_strsplit (error->message, "\n", -1);
  g_assert_cmpuint (g_strv_length (lines), ==, 3);
  g_assert_true (g_str_has_prefix (lines[0], "t.rules:2:1: "));
  g_assert_true (g_str_has_prefix (lines[1], "t.rules:3:7: "));
  g_assert_true (g_str_has_prefix (lines[2], "t.rules:5:6: "));
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/policy/parse/attribute-operators", test_attribute_operators);
  g_test_add_func ("/policy/parse/absent-values", test_absent_values);
  g_test_add_func ("/policy/parse/string-escapes", test_string_escapes);
  g_test_add_func ("/policy/parse/conditions", test_conditions);
  g_test_add_func ("/policy/parse/targets", test_targets);
  g_test_add_func ("/policy/parse/decision-fields", test_decision_fields);
  g_test_add_func ("/policy/parse/options", test_options);
  g_test_add_func ("/policy/parse/builtin-defaults", test_builtin_defaults);
  g_test_add_func ("/policy/parse/first-match-order", test_first_match_order);
  g_test_add_func ("/policy/parse/normalised-text", test_normalised_text);
  g_test_add_func ("/policy/parse/errors", test_errors);
  g_test_add_func ("/policy/parse/errors-bytes", test_errors_bytes);
  g_test_add_func ("/policy/parse/errors-all-reported", test_errors_all_reported);
  return g_test_run ();
}
