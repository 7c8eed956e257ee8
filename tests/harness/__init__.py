"""vmdesk's integration-test harness: real counterparts, no hardware.

bus     -- a private system bus with python-dbusmock's logind, upower and polkitd
sysfs   -- umockdev testbeds (USB, PCI with IOMMU groups, power_supply) and uevents
usbfs   -- the usbfs node of a testbed USB device, as QEMU's libusb meets it
virt    -- a private libvirt (embedded driver or a private libvirtd) and tiny TCG guests
daemon  -- vmdeskd under test, wired to the pieces above
usb_lab -- all of them for the USB router: testbed devices into real QEMU guests
procs   -- child processes that never outlive the test that started them
"""
