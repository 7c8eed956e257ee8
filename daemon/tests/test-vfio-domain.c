/* vmdesk's pass-through hostdevs in a domain definition: added when wanted, removed when
 * not, and hostdevs without vmdesk's alias never touched, whatever the definition holds. */
#include "vmd-vfio-domain.h"

#include "vmdesk-common.h"

#include <string.h>

#define HOSTDEV(managed, domain, bus, slot, fn, alias)                                       \
  "<hostdev mode='subsystem' type='pci' managed='" managed "'><source><address domain='"   \
  domain "' bus='" bus "' slot='" slot "' function='" fn "'/></source><alias name='" alias \
  "'/></hostdev>"

static char *
apply (const char *xml, const char *const *functions, gboolean *changed)
{
  g_autoptr(GError) error = NULL;
  char *out = vmd_vfio_domain_set_hostdevs (xml, functions, changed, &error);

  g_assert_no_error (error);
  g_assert_nonnull (out);
  return out;
}

static GStrv
sources (const char *xml)
{
  g_autoptr(GError) error = NULL;
  GStrv out = vmd_vfio_domain_pci_sources (xml, &error);

  g_assert_no_error (error);
  return out;
}

static guint
count (const char *haystack, const char *needle)
{
  guint n = 0;

  for (const char *p = strstr (haystack, needle); p; p = strstr (p + 1, needle))
    n++;
  return n;
}

static void
test_adds_then_nothing_to_do (void)
{
  const char *functions[] = { "0000:01:00.0", "0000:01:00.1", NULL };
  const char *expected[] = { "0000:01:00.0", "0000:01:00.1", NULL };
  gboolean changed;
  g_autofree char *once = apply ("<domain type='kvm'><name>g</name><devices><disk/></devices></domain>",
                                 functions, &changed);
  g_autofree char *twice = NULL;
  g_auto(GStrv) found = sources (once);

  g_assert_true (changed);
  g_assert_cmpstrv (found, expected);
  g_assert_cmpuint (count (once, "managed=\"no\""), ==, 2);
  g_assert_nonnull (strstr (once, "ua-vmdesk-pci-0000-01-00-1"));
  g_assert_nonnull (strstr (once, "<disk/>"));
  twice = apply (once, functions, &changed);
  g_assert_false (changed);
}

static void
test_no_devices_element (void)
{
  const char *functions[] = { "0000:02:00.0", NULL };
  gboolean changed;
  g_autofree char *out = apply ("<domain><name>g</name></domain>", functions, &changed);

  g_assert_true (changed);
  g_assert_nonnull (strstr (out, "<devices><hostdev"));
}

static void
test_user_hostdevs_are_never_touched (void)
{
  const char *wanted[] = { "0000:01:00.0", "0000:01:00.1", NULL };
  const char *none[] = { NULL };
  const char *xml =
    "<domain><devices>"
    HOSTDEV ("yes", "0x0000", "0x01", "0x00", "0x0", "ua-mine")
    HOSTDEV ("no", "0", "2", "0", "0", "hostdev0")
    "<hostdev mode='subsystem' type='pci' managed='yes'><source><address bus='0x03' "
    "slot='0x00' function='0x0'/></source></hostdev>"
    "</devices></domain>";
  gboolean changed;
  g_autofree char *added = apply (xml, wanted, &changed);
  g_autofree char *removed = NULL;

  /* 01:00.0 is passed already by the user's hostdev: ours only for 01:00.1. */
  g_assert_true (changed);
  g_assert_cmpuint (count (added, "<hostdev"), ==, 4);
  g_assert_null (strstr (added, "ua-vmdesk-pci-0000-01-00-0"));
  g_assert_nonnull (strstr (added, "ua-vmdesk-pci-0000-01-00-1"));
  g_assert_nonnull (strstr (added, "ua-mine"));

  removed = apply (added, none, &changed);
  g_assert_true (changed);
  g_assert_cmpuint (count (removed, "<hostdev"), ==, 3);
  g_assert_null (strstr (removed, "ua-vmdesk-"));
  g_assert_nonnull (strstr (removed, "ua-mine"));
  g_assert_nonnull (strstr (removed, "hostdev0"));
}

static void
test_stale_and_broken_ones_of_ours_go (void)
{
  const char *wanted[] = { "0000:01:00.0", NULL };
  const char *xml =
    "<domain><devices>"
    HOSTDEV ("no", "0x0000", "0x01", "0x00", "0x0", "ua-vmdesk-pci-0000-01-00-0")
    HOSTDEV ("no", "0x0000", "0x01", "0x00", "0x0", "ua-vmdesk-pci-again")
    HOSTDEV ("no", "0x0000", "0x05", "0x00", "0x0", "ua-vmdesk-pci-0000-05-00-0")
    HOSTDEV ("no", "0x0000", "0x100", "0x00", "0x0", "ua-vmdesk-pci-out-of-range")
    HOSTDEV ("no", "zero", "0x01", "0x00", "0x0", "ua-vmdesk-pci-garbage")
    "<hostdev mode='subsystem' type='usb'><source><vendor id='0x1050'/></source>"
    "<alias name='ua-vmdesk-usb-1-2'/></hostdev>"
    "</devices></domain>";
  const char *expected[] = { "0000:01:00.0", NULL };
  gboolean changed;
  g_autofree char *out = apply (xml, wanted, &changed);
  g_auto(GStrv) found = sources (out);

  g_assert_true (changed);
  g_assert_cmpstrv (found, expected);
  g_assert_nonnull (strstr (out, "ua-vmdesk-pci-0000-01-00-0"));
  /* Not PCI: the USB router's, not ours to judge here. */
  g_assert_nonnull (strstr (out, "ua-vmdesk-usb-1-2"));
  g_assert_cmpuint (count (out, "<hostdev"), ==, 2);
}

static void
test_sources_of_every_hostdev (void)
{
  const char *xml =
    "<domain><devices>"
    HOSTDEV ("yes", "0x10000", "0x0a", "0x1f", "0x7", "ua-x")
    HOSTDEV ("no", "0", "10", "31", "7", "hostdev1")
    HOSTDEV ("no", "0", "1", "32", "0", "bad-slot")
    HOSTDEV ("no", "0", "1", "0", "0x", "bad-function")
    "<hostdev type='pci'/><hostdev type='pci'><source/></hostdev>"
    "</devices></domain>";
  const char *expected[] = { "10000:0a:1f.7", "0000:0a:1f.7", NULL };
  g_auto(GStrv) found = sources (xml);

  g_assert_cmpstrv (found, expected);
}

static void
test_hostile_definitions (void)
{
  const char *none[] = { NULL };
  const char *bad[] = {
    "", "not xml", "<domain>", "<network/>",
    "<!DOCTYPE d [<!ENTITY x SYSTEM 'file:///etc/passwd'>]><domain>&x;</domain>",
  };

  for (guint i = 0; i < G_N_ELEMENTS (bad); i++)
    {
      g_autoptr(GError) error = NULL;
      g_autofree char *out = NULL;
      gboolean changed = TRUE;

      out = vmd_vfio_domain_set_hostdevs (bad[i], none, &changed, &error);
      if (out == NULL)
        {
          g_assert_error (error, VMD_ERROR, VMD_ERROR_FAILED);
          g_assert_false (changed);
        }
      else
        /* The entity is not expanded, and nothing of ours is added. */
        g_assert_null (strstr (out, "root:"));
    }
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/vfio-domain/adds-then-nothing-to-do", test_adds_then_nothing_to_do);
  g_test_add_func ("/vfio-domain/no-devices-element", test_no_devices_element);
  g_test_add_func ("/vfio-domain/user-hostdevs-never-touched", test_user_hostdevs_are_never_touched);
  g_test_add_func ("/vfio-domain/stale-and-broken-ours-go", test_stale_and_broken_ones_of_ours_go);
  g_test_add_func ("/vfio-domain/sources", test_sources_of_every_hostdev);
  g_test_add_func ("/vfio-domain/hostile", test_hostile_definitions);
  return g_test_run ();
}
