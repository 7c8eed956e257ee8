# The tiny test guest (tests/harness/guest/build-guest-image). Not part of ALL: it downloads
# the distribution's kernel package. build-guest-image keeps the image in
# VMDESK_GUEST_DIR and rebuilds it only when an input changed, so both the target and
# the test are cheap to run again.
set(VMDESK_GUEST_DIR "${CMAKE_BINARY_DIR}/guest" CACHE PATH
    "Where the test guest image (kernel, initramfs) is built and cached")
set(VMDESK_GUEST_AGENT "" CACHE FILEPATH
    "Guest agent binary put into the image as /usr/bin/vmdesk-guest-agent (empty: the one this build makes)")

# The image's vmdesk_battery module is built from this tree's sources by the script.
set(_vmdesk_guest_cmd "${CMAKE_CURRENT_LIST_DIR}/build-guest-image" --out "${VMDESK_GUEST_DIR}"
    --kmod-src "${CMAKE_SOURCE_DIR}/power-bridge/guest/kmod")
if(VMDESK_GUEST_AGENT)
  list(APPEND _vmdesk_guest_cmd --agent "${VMDESK_GUEST_AGENT}")
elseif(VMDESK_GUEST_AGENT_IMAGE)
  # power-bridge/guest builds it with fixed flags: the same bytes in every build of this
  # tree, so builds that share VMDESK_GUEST_DIR (./dev's normal and sanitizer) share one image.
  list(APPEND _vmdesk_guest_cmd --agent "${VMDESK_GUEST_AGENT_IMAGE}")
endif()

add_custom_target(guest-image
  COMMAND ${_vmdesk_guest_cmd}
  COMMENT "Building the test guest image in ${VMDESK_GUEST_DIR}"
  VERBATIM USES_TERMINAL)
if(TARGET vmdesk-guest-agent-image)
  add_dependencies(guest-image vmdesk-guest-agent-image)
endif()

# Integration tests that boot the guest declare FIXTURES_REQUIRED guest and find the
# image through the VMDESK_GUEST_DIR environment variable.
add_test(NAME guest-image COMMAND ${_vmdesk_guest_cmd})
set_tests_properties(guest-image PROPERTIES FIXTURES_SETUP guest TIMEOUT 900)
