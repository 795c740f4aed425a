# `cmake --install` of the framework SDK: static libraries, headers and a CMake
# package (find_package(nucleo CONFIG) -> nucleo::sdk) for other projects.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(NUCLEO_INCLUDE_INSTALL_DIR ${CMAKE_INSTALL_INCLUDEDIR}/nucleo)
foreach(target nucleo_base nucleo_proto nucleo_asio nucleo_sdk)
  target_include_directories(${target} INTERFACE $<INSTALL_INTERFACE:${NUCLEO_INCLUDE_INSTALL_DIR}>)
endforeach()
set_target_properties(nucleo_sdk PROPERTIES EXPORT_NAME sdk)
set_target_properties(nucleo_base PROPERTIES EXPORT_NAME base)
set_target_properties(nucleo_proto PROPERTIES EXPORT_NAME proto)
set_target_properties(nucleo_asio PROPERTIES EXPORT_NAME asio)

install(TARGETS nucleo_base nucleo_proto nucleo_asio nucleo_sdk
  EXPORT nucleoTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  COMPONENT sdk)
install(DIRECTORY ${CMAKE_SOURCE_DIR}/sdk/ DESTINATION ${NUCLEO_INCLUDE_INSTALL_DIR}/sdk
  COMPONENT sdk FILES_MATCHING PATTERN "*.hpp" PATTERN "tests" EXCLUDE)
install(FILES ${CMAKE_SOURCE_DIR}/base/result.hpp ${CMAKE_SOURCE_DIR}/base/logging.hpp
  DESTINATION ${NUCLEO_INCLUDE_INSTALL_DIR}/base COMPONENT sdk)
install(FILES ${CMAKE_SOURCE_DIR}/proto/json.hpp
  DESTINATION ${NUCLEO_INCLUDE_INSTALL_DIR}/proto COMPONENT sdk)
install(DIRECTORY ${CMAKE_BINARY_DIR}/proto/gen/ DESTINATION ${NUCLEO_INCLUDE_INSTALL_DIR}
  COMPONENT sdk FILES_MATCHING PATTERN "*.pb.h")
install(DIRECTORY ${CMAKE_SOURCE_DIR}/proto/ DESTINATION ${NUCLEO_INCLUDE_INSTALL_DIR}
  COMPONENT sdk FILES_MATCHING PATTERN "*.proto" PATTERN "tests" EXCLUDE)
install(EXPORT nucleoTargets NAMESPACE nucleo:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nucleo
  COMPONENT sdk)
configure_package_config_file(${CMAKE_SOURCE_DIR}/cmake/nucleoConfig.cmake.in
  ${CMAKE_BINARY_DIR}/nucleoConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nucleo)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/nucleoConfigVersion.cmake
  COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/nucleoConfig.cmake ${CMAKE_BINARY_DIR}/nucleoConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/nucleo COMPONENT sdk)

# The programs (component "runtime"): `nucleo` finds its helpers
# (nucleo-pull, nucleo-cluster) beside itself, the agent finds nucleo and
# nucleo-supervisor beside itself.
foreach(program nucleo nucleo-pull nucleo-master nucleo-agent nucleo-supervisor
                nucleo-execute nucleo-batch nucleo-cluster)
  if(TARGET ${program})
    install(TARGETS ${program} RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT runtime)
  endif()
endforeach()
install(FILES ${CMAKE_SOURCE_DIR}/packaging/systemd/nucleo-master.service
              ${CMAKE_SOURCE_DIR}/packaging/systemd/nucleo-agent.service
  DESTINATION lib/systemd/system COMPONENT runtime)
install(FILES ${CMAKE_SOURCE_DIR}/README.md DESTINATION ${CMAKE_INSTALL_DOCDIR} COMPONENT runtime)
