/* What the power bridge reads from a live domain XML: host devices, a channel, its state. */
#include "vmd-live-xml.h"

static const char *live =
  "<domain type='kvm' id='3'><name>work</name><devices>"
  "<channel type='unix'><source mode='bind' path='/x/org.qemu.guest_agent.0'/>"
  "<target type='virtio' name='org.qemu.guest_agent.0' state='connected'/></channel>"
  "<channel type='unix'><source mode='bind' path='/x/org.vmdesk.power.0'/>"
  "<target type='virtio' name='org.vmdesk.power.0' state='disconnected'/></channel>"
  "<hostdev mode='subsystem' type='pci' managed='yes'/>"
  "</devices></domain>";

static void
test_channels_and_state (void)
{
  VmdLiveDevices d;

  vmd_live_xml_read_devices (live, "org.qemu.guest_agent.0", &d);
  g_assert_true (d.has_hostdev);
  g_assert_true (d.has_channel);
  g_assert_true (d.channel_connected);

  vmd_live_xml_read_devices (live, "org.vmdesk.power.0", &d);
  g_assert_true (d.has_channel);
  g_assert_false (d.channel_connected);

  vmd_live_xml_read_devices (live, "org.example.other", &d);
  g_assert_false (d.has_channel);
  g_assert_false (d.channel_connected);
}

static void
test_no_devices_and_garbage (void)
{
  VmdLiveDevices d;
  /* A channel of the right name outside <devices> is not a device; a target without a
   * state (an inactive definition) is not connected. */
  const char *odd =
    "<domain><metadata><target name='org.vmdesk.power.0' state='connected'/></metadata>"
    "<devices><channel type='unix'><target type='virtio' name='org.vmdesk.power.0'/></channel>"
    "</devices></domain>";

  vmd_live_xml_read_devices (odd, "org.vmdesk.power.0", &d);
  g_assert_false (d.has_hostdev);
  g_assert_true (d.has_channel);
  g_assert_false (d.channel_connected);

  for (const char *const *x = (const char *const[]) { "", "<domain", "<!DOCTYPE d [<!ENTITY e SYSTEM 'file:///etc/passwd'>]><domain>&e;</domain>", "\xff\xfe", NULL }; *x; x++)
    {
      vmd_live_xml_read_devices (*x, "org.vmdesk.power.0", &d);
      g_assert_false (d.has_hostdev || d.has_channel || d.channel_connected);
    }
}

static void
test_display (void)
{
  guint index = 99;

  g_assert_cmpstr (vmd_live_xml_display (live, &index), ==, "none");
  g_assert_cmpuint (index, ==, 99);
  g_assert_cmpstr (vmd_live_xml_display (
    "<domain><devices><graphics type='spice' autoport='yes'><listen type='none'/></graphics>"
    "<graphics type='vnc'/></devices></domain>", &index), ==, "spice");
  g_assert_cmpuint (index, ==, 0);
  /* egl-headless renders for another display; the client's display is the VNC one, the
   * second <graphics>: the index virDomainOpenGraphicsFD takes. */
  g_assert_cmpstr (vmd_live_xml_display (
    "<domain><devices><graphics type='egl-headless'/><video/><graphics type='vnc'/>"
    "</devices></domain>", &index), ==, "vnc");
  g_assert_cmpuint (index, ==, 1);
  g_assert_cmpstr (vmd_live_xml_display (
    "<domain><metadata><graphics type='spice'/></metadata><devices><graphics type='sdl'/>"
    "<graphics/></devices></domain>", NULL), ==, "none");
  for (const char *const *x = (const char *const[]) { "", "<domain", "\xff\xfe", NULL }; *x; x++)
    g_assert_cmpstr (vmd_live_xml_display (*x, NULL), ==, "none");
}

int
main (int argc, char **argv)
{
  g_test_init (&argc, &argv, NULL);
  g_test_add_func ("/live-xml/channels", test_channels_and_state);
  g_test_add_func ("/live-xml/garbage", test_no_devices_and_garbage);
  g_test_add_func ("/live-xml/display", test_display);
  return g_test_run ();
}
