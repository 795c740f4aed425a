# test-bundle: ${CMAKE_BINARY_DIR}/bundles/busybox/{config.json,rootfs/}, the
# OCI bundle that runtime integration tests copy and edit. Rebuilt only when the
# helper, the template or the script change.
set(NUCLEO_TEST_BUNDLE_DIR ${CMAKE_BINARY_DIR}/bundles/busybox)
set(_nucleo_bundle_stamp ${CMAKE_BINARY_DIR}/bundles/busybox.stamp)
add_custom_command(
  OUTPUT ${_nucleo_bundle_stamp}
  COMMAND sh ${CMAKE_SOURCE_DIR}/tests/bundle/make-bundle.sh
          $<TARGET_FILE:nucleo-test-helper>
          ${CMAKE_SOURCE_DIR}/tests/bundle/config.json.in
          ${NUCLEO_TEST_BUNDLE_DIR}
  COMMAND ${CMAKE_COMMAND} -E touch ${_nucleo_bundle_stamp}
  DEPENDS nucleo-test-helper
          $<TARGET_FILE:nucleo-test-helper>
          ${CMAKE_SOURCE_DIR}/tests/bundle/config.json.in
          ${CMAKE_SOURCE_DIR}/tests/bundle/make-bundle.sh
  COMMENT "Making the busybox test bundle"
  VERBATIM)
add_custom_target(test-bundle ALL DEPENDS ${_nucleo_bundle_stamp})
