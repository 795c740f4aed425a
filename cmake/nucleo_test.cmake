# nucleo_add_test(NAME <name> LABEL unit|root SOURCES ... LIBS ... [LOCK <resource>])
# One gtest binary per component; ctest discovers the cases so that a skipped
# case shows up as skipped in ctest's summary. LOCK: cases that share a host
# resource (a test bridge, an nft table) never run at the same time under
# `ctest -j`.
function(nucleo_add_test)
  cmake_parse_arguments(T "" "NAME;LABEL;LOCK" "SOURCES;LIBS" ${ARGN})
  add_executable(${T_NAME} ${T_SOURCES})
  set_target_properties(${T_NAME} PROPERTIES RUNTIME_OUTPUT_DIRECTORY ${CMAKE_BINARY_DIR}/tests)
  target_link_libraries(${T_NAME} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  set(lock)
  if(T_LOCK)
    set(lock RESOURCE_LOCK ${T_LOCK})
  endif()
  gtest_discover_tests(${T_NAME}
    PROPERTIES LABELS ${T_LABEL} SKIP_REGULAR_EXPRESSION "\\[  SKIPPED \\]" ${lock}
    DISCOVERY_TIMEOUT 30)
endfunction()
