/* Rule files: MAIN then DIR/ *.rules in strcmp order, what is skipped, what is an error,
 * the whole policy as text, and hostile rule files. */
#include "vmdesk-policy.h"

#include "test-util.h"

#include <glib/gstdio.h>
#include <string.h>
#include <unistd.h>

typedef struct {
  char *dir;
  char *main_file;
  char *dropins;
} Tree;

static void
write_file (const char *dir, const char *name, const char *text)
{
  g_autofree char *path = g_build_filename (dir, name, NULL);
  g_autoptr(GError) error = NULL;

  g_file_set_contents (path, text, -1, &error);
  g_assert_no_error (error);
}

static void
tree_setup (Tree *tree, gconstpointer data)
{
  g_autoptr(GError) error = NULL;

  tree->dir = g_dir_make_tmp ("vmdesk-policy-XXXXXX", &error);
  g_assert_no_error (error);
  tree->main_file = g_build_filename (tree->dir, VMD_POLICY_MAIN_FILE_NAME, NULL);
  tree->dropins = g_build_filename (tree->dir, VMD_POLICY_DROPIN_DIR_NAME, NULL);
}

static void
tree_teardown (Tree *tree, gconstpointer data)
{
  test_remove_tree (tree->dir);
  g_free (tree->dir);
  g_free (tree->main_file);
  g_free (tree->dropins);
}

static void
test_order_and_skips (Tree *tree, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) files = NULL;
  g_autoptr(VmdPolicy) policy = NULL;
  g_autoptr(VmdUsbDevice) stick = test_device_new ("0781:5567", "08:06:50");
  g_autoptr(VmdUsbDevice) key = test_device_new ("1050:0407", "03:01:01");
  g_autoptr(VmdUsbDevice) other = test_device_new ("0403:6001", "ff:ff:ff");
  g_autoptr(VmdPolicyDecision) d = NULL;
  g_autofree char *sub = g_build_filename (tree->dropins, "sub.rules", NULL);
  g_autofree char *a = g_build_filename (tree->dropins, "10-a.rules", NULL);
  g_autofree char *b = g_build_filename (tree->dropins, "02-b.rules", NULL);
  g_autofree char *upper = g_build_filename (tree->dropins, "Z-upper.rules", NULL);
  g_autofree char *lower = g_build_filename (tree->dropins, "a-lower.rules", NULL);

  write_file (tree->dir, VMD_POLICY_MAIN_FILE_NAME, "# main\nattach work id 1050:0407\n");
  g_assert_cmpint (g_mkdir (tree->dropins, 0700), ==, 0);
  g_assert_cmpint (g_mkdir (sub, 0700), ==, 0);
  write_file (tree->dropins, "10-a.rules", "deny id 0781:*\nhost id 1050:*\n");
  write_file (tree->dropins, "02-b.rules", "ask with-interface one-of { 08:*:* }\n");
  write_file (tree->dropins, "Z-upper.rules", "deny\n");
  write_file (tree->dropins, "a-lower.rules", "host\n");
  write_file (tree->dropins, "README", "this is not a rule file\n");
  write_file (tree->dropins, "30-c.rules~", "this is not a rule file\n");
  write_file (tree->dropins, ".#10-a.rules", "this is not a rule file\n");

  policy = vmd_policy_new_from_files (tree->main_file, tree->dropins, &files, &error);
  g_assert_no_error (error);
  /* strcmp order: digits, then upper case, then lower case. */
  g_assert_cmpstrv (files, ((const char *const[]) { tree->main_file, b, a, upper, lower, NULL }));
  g_assert_cmpuint (vmd_policy_get_n_rules (policy), ==, 6);

  d = vmd_policy_decide (policy, key, NULL);        /* main wins over 10-a.rules */
  g_assert_cmpstr (d->file, ==, tree->main_file);
  g_assert_cmpuint (d->line, ==, 2);
  g_clear_pointer (&d, vmd_policy_decision_free);
  d = vmd_policy_decide (policy, stick, NULL);      /* 02-b before 10-a */
  g_assert_cmpint (d->target, ==, VMD_POLICY_ASK);
  g_assert_cmpstr (d->file, ==, b);
  g_clear_pointer (&d, vmd_policy_decision_free);
  d = vmd_policy_decide (policy, other, NULL);      /* Z-upper's deny comes before a-lower */
  g_assert_cmpint (d->target, ==, VMD_POLICY_DENY);
  g_assert_cmpstr (d->file, ==, upper);
}

static void
test_missing_is_fine (Tree *tree, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_auto(GStrv) none = NULL;
  g_auto(GStrv) only_main = NULL;
  g_auto(GStrv) only_dir = NULL;
  g_autoptr(VmdPolicy) empty = vmd_policy_new_from_files (tree->main_file, tree->dropins, &none, &error);
  g_autoptr(VmdPolicy) main_only = NULL;
  g_autoptr(VmdPolicy) dir_only = NULL;
  g_autoptr(VmdPolicy) nothing = NULL;
  g_autoptr(VmdUsbDevice) keyboard = test_device_new ("046d:c31c", "03:01:01");
  g_autoptr(VmdPolicyDecision) d = NULL;

  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (none), ==, 0);
  g_assert_cmpuint (vmd_policy_get_n_rules (empty), ==, 0);
  d = vmd_policy_decide (empty, keyboard, NULL);
  g_assert_null (d->file);
  g_assert_cmpuint (d->line, ==, 1);

  write_file (tree->dir, VMD_POLICY_MAIN_FILE_NAME, "host\n");
  main_only = vmd_policy_new_from_files (tree->main_file, tree->dropins, &only_main, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (only_main), ==, 1);

  g_unlink (tree->main_file);
  g_assert_cmpint (g_mkdir (tree->dropins, 0700), ==, 0);
  write_file (tree->dropins, "a.rules", "host\n");
  dir_only = vmd_policy_new_from_files (tree->main_file, tree->dropins, &only_dir, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (g_strv_length (only_dir), ==, 1);

  nothing = vmd_policy_new_from_files (NULL, NULL, NULL, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vmd_policy_get_n_rules (nothing), ==, 0);
}

static void
test_errors_name_their_file (Tree *tree, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = NULL;
  g_autoptr(VmdPolicy) listed = NULL;
  g_autofree char *bad = g_build_filename (tree->dropins, "10-bad.rules", NULL);
  g_autofree char *also_bad = g_build_filename (tree->dropins, "20-bad.rules", NULL);
  g_autofree char *missing = g_build_filename (tree->dir, "missing.rules", NULL);
  g_autofree char *expect_1 = NULL;
  g_autofree char *expect_2 = NULL;
  g_auto(GStrv) lines = NULL;
  const char *files[] = { tree->main_file, missing, NULL };

  write_file (tree->dir, VMD_POLICY_MAIN_FILE_NAME, "host\n");
  g_assert_cmpint (g_mkdir (tree->dropins, 0700), ==, 0);
  write_file (tree->dropins, "10-bad.rules", "host\nhost id 1050\n");
  write_file (tree->dropins, "20-bad.rules", "deny if\n");
  policy = vmd_policy_new_from_files (tree->main_file, tree->dropins, NULL, &error);
  g_assert_null (policy);
  g_assert_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_PARSE);
  lines = g_strsplit (error->message, "\n", -1);
  expect_1 = g_strdup_printf ("%s:2:9: bad device id '1050'", bad);
  expect_2 = g_strdup_printf ("%s:1:8: expected a condition after 'if'", also_bad);
  g_assert_cmpuint (g_strv_length (lines), ==, 2);
  g_assert_true (g_str_has_prefix (lines[0], expect_1));
  g_assert_cmpstr (lines[1], ==, expect_2);
  g_clear_error (&error);

  /* A file named on the command line must exist. */
  listed = vmd_policy_new_from_file_list (files, &error);
  g_assert_null (listed);
  g_assert_error (error, VMD_POLICY_ERROR, VMD_POLICY_ERROR_IO);
  g_assert_nonnull (strstr (error->message, "missing.rules: cannot open: "));
}

static void
test_to_text (Tree *tree, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = NULL;
  g_autoptr(VmdPolicy) again = NULL;
  g_autofree char *text = NULL;
  g_autofree char *text_again = NULL;
  g_autofree char *main_comment = NULL;
  const char *files[] = { tree->main_file, NULL };

  write_file (tree->dir, VMD_POLICY_MAIN_FILE_NAME,
              "# a comment\nattach  work id 1050:0407   sticky\n\nask if !on-screen(@focused)\n");
  policy = vmd_policy_new_from_file_list (files, &error);
  g_assert_no_error (error);
  text = vmd_policy_to_text (policy);
  main_comment = g_strdup_printf ("# %s:2\nattach work id 1050:0407 sticky\n# %s:4\n"
                                  "ask if !on-screen(@focused)\n", tree->main_file, tree->main_file);
  g_assert_nonnull (strstr (text, main_comment));
  g_assert_nonnull (strstr (text, "# built-in default 1: HID boot keyboards and mice stay on the host\n"
                                  "host with-interface one-of { 03:01:01 03:01:02 }\n"));
  g_assert_nonnull (strstr (text, "# built-in default 2: "));
  g_assert_nonnull (strstr (text, "attach @focused if auto-assign(@focused)\n"));
  g_assert_true (g_str_has_suffix (text, "# built-in default 3: otherwise the device stays on the host\nhost\n"));
  /* The text is rule text: read back, it gives the same rules (the defaults now twice). */
  again = vmd_policy_new_from_string (text, -1, "again.rules", &error);
  g_assert_no_error (error);
  g_assert_cmpuint (vmd_policy_get_n_rules (again), ==, 2 + 3);
  text_again = vmd_policy_to_text (again);
  g_assert_nonnull (strstr (text_again, "attach work id 1050:0407 sticky\n"));
  g_assert_nonnull (strstr (text_again, "# again.rules:"));
}

static void
assert_safe_text (const char *text)
{
  g_assert_true (g_utf8_validate (text, -1, NULL));
  for (const char *p = text; *p; p++)
    g_assert_false ((guchar) *p < 0x20 && *p != '\n');
}

static void
assert_one_line (const char *text)
{
  assert_safe_text (text);
  g_assert_null (strchr (text, '\n'));
}

/* Quotes, <>&, newlines, invalid UTF-8 and 4 KiB strings, in rules and in file names:
 * decisions, texts and errors stay valid UTF-8 with one thing per line. */
static void
test_hostile_rule_files (Tree *tree, gconstpointer data)
{
  g_autoptr(GError) error = NULL;
  g_autoptr(VmdPolicy) policy = NULL;
  g_autoptr(VmdPolicy) broken = NULL;
  g_autoptr(VmdUsbDevice) device = test_device_new ("1050:0407", "");
  g_autoptr(VmdPolicyDecision) d = NULL;
  g_autofree char *big = g_strnfill (4096, 'A');
  g_autofree char *rules = NULL;
  g_autofree char *text = NULL;
  g_autofree char *evil_name = g_build_filename (tree->dir, "evil\n\xff\"<&>.rules", NULL);
  const char *files[] = { evil_name, NULL };

  device->name = g_strconcat ("q\"<&>\n\xff\xfe", big, NULL);
  rules = g_strdup_printf ("attach \"w\xc3\xa9rk\" name \"q\\\"<&>\\x0a\\xff\\xfe%s\" "
                           "label \"l\\xff\\x0a\\x1b[2J\\\"\" sticky\n", big);
  g_file_set_contents (evil_name, rules, -1, &error);
  g_assert_no_error (error);
  policy = vmd_policy_new_from_file_list (files, &error);
  g_assert_no_error (error);
  d = vmd_policy_decide (policy, device, NULL);
  g_assert_cmpint (d->target, ==, VMD_POLICY_ATTACH);
  g_assert_cmpstr (d->vm, ==, "w\xc3\xa9rk");
  assert_one_line (d->reason);
  assert_one_line (d->rule_text);
  g_assert_true (g_utf8_validate (d->label, -1, NULL));   /* data: valid, not escaped */
  g_assert_true (g_str_has_prefix (d->reason, "rule "));
  g_assert_nonnull (strstr (d->reason, "evil\\x0a\\xff\"<&>.rules:1 matched: name \"q\\\"<&>\\x0a\\xff\\xfe"));
  g_assert_cmpstr (d->file, ==, evil_name);           /* the path itself, as given */
  text = vmd_policy_to_text (policy);
  assert_safe_text (text);

  /* Errors in such a file: one safe line each. */
  g_file_set_contents (evil_name, "host name \"\xff\n\x1b[2J bogus\nattach w\xff\n", -1, &error);
  g_assert_no_error (error);
  broken = vmd_policy_new_from_file_list (files, &error);
  g_assert_null (broken);
  {
    g_auto(GStrv) lines = g_strsplit (error->message, "\n", -1);

    g_assert_cmpuint (g_strv_length (lines), ==, 3);
    for (guint i = 0; lines[i]; i++)
      {
        assert_one_line (lines[i]);
        g_assert_true (g_str_has_prefix (lines[i], tree->dir));
      }
  }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add ("/policy/files/order-and-skips", Tree, NULL, tree_setup, test_order_and_skips, tree_teardown);
  g_test_add ("/policy/files/missing-is-fine", Tree, NULL, tree_setup, test_missing_is_fine, tree_teardown);
  g_test_add ("/policy/files/errors-name-their-file", Tree, NULL, tree_setup, test_errors_name_their_file, tree_teardown);
  g_test_add ("/policy/files/to-text", Tree, NULL, tree_setup, test_to_text, tree_teardown);
  g_test_add ("/policy/files/hostile", Tree, NULL, tree_setup, test_hostile_rule_files, tree_teardown);
  return g_test_run ();
}
