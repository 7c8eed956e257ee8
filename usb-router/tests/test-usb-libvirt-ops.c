/* The libvirt ops against libvirt's test driver (test:///default, in-process; its domain
 * "test" runs). The test driver has no device hot-plug, so every attach fails there: what is
 * checked is the path around the call. Results come back on the caller's main context,
 * never from within the call that started the operation, in the order each VM's operations
 * were started; errors name the VM; and a VM's worker can be forgotten and made again. */
#include "vmdesk-usb-router.h"

#include <libvirt/virterror.h>
#include <string.h>

typedef struct {
  virConnectPtr conn;     /* test:///default */
  GPtrArray *results;     /* "n: message" or "n: ok", in the order they came */
  gboolean   starting;    /* inside an ops call: a result now would be re-entrant */
  gboolean   reentrant;
  GThread   *main_thread;
  gboolean   off_main;
} Fixture;

typedef struct {
  Fixture *f;
  guint    number;
} Ticket;

static void
on_done (GError *error, gpointer user_data)
{
  Ticket *t = user_data;

  if (t->f->starting)
    t->f->reentrant = TRUE;
  if (g_thread_self () != t->f->main_thread)
    t->f->off_main = TRUE;
  g_ptr_array_add (t->f->results, g_strdup_printf ("%u: %s", t->number, error ? error->message : "ok"));
  g_free (t);
}

static const VmdUsbHostdev KEY = { .alias = (char *) "ua-vmdesk-usb-1-2", .vendor_id = 0x1050,
                                   .product_id = 0x0407, .bus = 1, .devnum = 5 };

static void
start (Fixture *f, VmdUsbLibvirtOps *ops, gboolean attach, const char *vm, guint number)
{
  const VmdUsbOps *vtable = vmd_usb_libvirt_ops_vtable ();
  Ticket *t = g_new0 (Ticket, 1);

  t->f = f;
  t->number = number;
  f->starting = TRUE;
  (attach ? vtable->attach : vtable->detach) (ops, vm, &KEY, on_done, t);
  f->starting = FALSE;
}

static void
wait_results (Fixture *f, guint count)
{
  gint64 deadline = g_get_monotonic_time () + 30 * G_TIME_SPAN_SECOND;

  while (f->results->len < count && g_get_monotonic_time () < deadline)
    g_main_context_iteration (NULL, TRUE);
  g_assert_cmpuint (f->results->len, ==, count);
  g_assert_false (f->reentrant);
  g_assert_false (f->off_main);
}

static void
setup (Fixture *f, gconstpointer data)
{
  f->results = g_ptr_array_new_with_free_func (g_free);
  f->main_thread = g_thread_self ();
  f->conn = virConnectOpen ("test:///default");
  g_assert_nonnull (f->conn);
}

static void
teardown (Fixture *f, gconstpointer data)
{
  virConnectClose (f->conn);
  g_ptr_array_unref (f->results);
}

static VmdUsbLibvirtOps *
connected_ops (Fixture *f)
{
  VmdUsbLibvirtOps *ops = vmd_usb_libvirt_ops_new ();

  vmd_usb_libvirt_ops_set_connection (ops, f->conn);
  return ops;
}

static gint
by_number (gconstpointer a, gconstpointer b)
{
  guint64 x = g_ascii_strtoull (*(const char *const *) a, NULL, 10);
  guint64 y = g_ascii_strtoull (*(const char *const *) b, NULL, 10);

  return x < y ? -1 : x > y;
}

/* Different VMs' workers (and a forgotten VM's old one) finish in any order. */
static void
sort_results (Fixture *f)
{
  g_ptr_array_sort (f->results, by_number);
}

static const char *
result (Fixture *f, guint i)
{
  return f->results->pdata[i];
}

static void
test_not_connected (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbLibvirtOps) ops = vmd_usb_libvirt_ops_new ();

  start (f, ops, TRUE, "test", 0);
  g_assert_cmpuint (f->results->len, ==, 0);
  wait_results (f, 1);
  g_assert_cmpstr (result (f, 0), ==, "0: libvirt is not connected");
}

static void
test_in_order_per_vm (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbLibvirtOps) ops = connected_ops (f);

  for (guint i = 0; i < 20; i++)
    start (f, ops, i % 2 == 0, "test", i);
  g_assert_cmpuint (f->results->len, ==, 0);
  wait_results (f, 20);
  for (guint i = 0; i < 20; i++)
    {
      g_autofree char *prefix = g_strdup_printf ("%u: %s test: ", i, i % 2 == 0 ? "attaching to" : "detaching from");

      g_test_message ("%s", result (f, i));
      g_assert_true (g_str_has_prefix (result (f, i), prefix));
    }
}

static void
test_unknown_vm_and_forget (Fixture *f, gconstpointer data)
{
  g_autoptr(VmdUsbLibvirtOps) ops = connected_ops (f);

  start (f, ops, TRUE, "nope", 0);
  start (f, ops, TRUE, "test", 1);
  wait_results (f, 2);
  sort_results (f);
  g_assert_true (g_str_has_prefix (result (f, 0), "0: looking up nope: "));
  g_assert_true (g_str_has_prefix (result (f, 1), "1: attaching to test: "));

  /* Forgotten while an operation is queued: that one still completes; a new one works. */
  start (f, ops, TRUE, "test", 2);
  vmd_usb_libvirt_ops_forget_vm (ops, "test");
  start (f, ops, FALSE, "test", 3);
  wait_results (f, 4);
  sort_results (f);
  g_assert_true (g_str_has_prefix (result (f, 2), "2: attaching to test: "));
  g_assert_true (g_str_has_prefix (result (f, 3), "3: detaching from test: "));

  /* Disconnected: operations fail at once, on the main loop. */
  vmd_usb_libvirt_ops_set_connection (ops, NULL);
  start (f, ops, TRUE, "test", 4);
  wait_results (f, 5);
  g_assert_cmpstr (result (f, 4), ==, "4: libvirt is not connected");
}

/* Freeing the ops while operations are queued: they still complete on the main loop. */
static void
test_free_with_work_queued (Fixture *f, gconstpointer data)
{
  VmdUsbLibvirtOps *ops = connected_ops (f);

  for (guint i = 0; i < 5; i++)
    start (f, ops, TRUE, "test", i);
  vmd_usb_libvirt_ops_free (ops);
  wait_results (f, 5);
  for (guint i = 0; i < 5; i++)
    g_assert_true (strstr (result (f, i), "attaching to test: ") != NULL);
}

static void
quiet (void *data, virErrorPtr error)
{
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  /* libvirt prints every error on stderr unless told otherwise; here they are expected. */
  virSetErrorFunc (NULL, quiet);
  g_test_add ("/usb-libvirt-ops/not-connected", Fixture, NULL, setup, test_not_connected, teardown);
  g_test_add ("/usb-libvirt-ops/in-order-per-vm", Fixture, NULL, setup, test_in_order_per_vm, teardown);
  g_test_add ("/usb-libvirt-ops/unknown-vm-and-forget", Fixture, NULL, setup, test_unknown_vm_and_forget, teardown);
  g_test_add ("/usb-libvirt-ops/free-with-work-queued", Fixture, NULL, setup, test_free_with_work_queued, teardown);
  return g_test_run ();
}
