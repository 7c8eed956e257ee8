/* `setup` must add what vmdesk needs, keep what the user had, and be idempotent. */
#include "vmdesk-common.h"

#include <string.h>

static const char *virt_install_xml =
  "<domain type='kvm'>\n"
  "  <name>work</name>\n"
  "  <metadata>\n"
  "    <libosinfo:libosinfo xmlns:libosinfo='http://libosinfo.org/xmlns/libvirt/domain/1.0'>"
  "<libosinfo:os id='http://debian.org/debian/12'/></libosinfo:libosinfo>\n"
  "  </metadata>\n"
  "  <memory unit='KiB'>2097152</memory>\n"
  "  <pm><suspend-to-disk enabled='no'/></pm>\n"
  "  <devices>\n"
  "    <channel type='spicevmc'><target type='virtio' name='com.redhat.spice.0'/></channel>\n"
  "  </devices>\n"
  "</domain>\n";

static guint
count (const char *haystack, const char *needle)
{
  guint n = 0;

  for (const char *p = haystack; (p = strstr (p, needle)); p++)
    n++;
  return n;
}

static void
test_adds_what_is_missing (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = vmd_domain_setup_xml (virt_install_xml, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (count (out, "xmlns:vmdesk=\"" VMD_SETTINGS_NS "\""), ==, 1);
  g_assert_cmpuint (count (out, "<libosinfo:os"), ==, 1);
  g_assert_cmpuint (count (out, "name=\"org.qemu.guest_agent.0\""), ==, 1);
  g_assert_cmpuint (count (out, "name=\"org.vmdesk.power.0\""), ==, 1);
  g_assert_cmpuint (count (out, "com.redhat.spice.0"), ==, 1);
  g_assert_cmpuint (count (out, "<suspend-to-mem enabled=\"yes\"/>"), ==, 1);
  g_assert_cmpuint (count (out, "<suspend-to-disk enabled=\"no\"/>"), ==, 1);
  g_assert_cmpuint (count (out, "<on-host-sleep>suspend</on-host-sleep>"), ==, 1);
}

static void
test_idempotent_and_keeps_settings (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *once = vmd_domain_setup_xml (virt_install_xml, &error);
  g_autofree char *user_edited = NULL;
  g_autofree char *twice = NULL;
  g_autofree char *thrice = NULL;
  g_auto(GStrv) parts = NULL;

  twice = vmd_domain_setup_xml (once, &error);
  g_assert_no_error (error);
  g_assert_cmpstr (once, ==, twice);

  /* A user's own choice survives a second setup. */
  parts = g_strsplit (once, "<on-host-sleep>suspend</on-host-sleep>", 2);
  user_edited = g_strjoinv ("<on-host-sleep>pause</on-host-sleep>", parts);
  thrice = vmd_domain_setup_xml (user_edited, &error);
  g_assert_no_error (error);
  g_assert_cmpuint (count (thrice, "<on-host-sleep>pause</on-host-sleep>"), ==, 1);
  g_assert_cmpuint (count (thrice, "<on-host-sleep>suspend"), ==, 0);
}

/* A power channel the user added (with a socket path of their own) is kept, not doubled. */
static void
test_keeps_an_existing_power_channel (void)
{
  const char *xml =
    "<domain type='kvm'><name>p</name><devices>"
    "<channel type='unix'><source mode='bind' path='/run/p.sock'/>"
    "<target type='virtio' name='org.vmdesk.power.0'/></channel>"
    "</devices></domain>";
  g_autoptr(GError) error = NULL;
  g_autofree char *out = vmd_domain_setup_xml (xml, &error);

  g_assert_no_error (error);
  g_assert_cmpuint (count (out, "name=\"org.vmdesk.power.0\""), ==, 1);
  g_assert_cmpuint (count (out, "path=\"/run/p.sock\""), ==, 1);
  g_assert_cmpuint (count (out, "name=\"org.qemu.guest_agent.0\""), ==, 1);
}

static void
test_rejects_garbage (void)
{
  g_autoptr(GError) error = NULL;
  g_autofree char *out = vmd_domain_setup_xml ("<domain><name>x</domain>", &error);

  g_assert_null (out);
  g_assert_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS);
  g_clear_error (&error);
  g_assert_null (vmd_domain_setup_xml ("<network/>", &error));
  g_assert_error (error, VMD_ERROR, VMD_ERROR_INVALID_ARGS);
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/domain-setup/adds", test_adds_what_is_missing);
  g_test_add_func ("/domain-setup/idempotent", test_idempotent_and_keeps_settings);
  g_test_add_func ("/domain-setup/power-channel-kept", test_keeps_an_existing_power_channel);
  g_test_add_func ("/domain-setup/garbage", test_rejects_garbage);
  return g_test_run ();
}
