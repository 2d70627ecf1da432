# cmake --install: headers, the three libraries and a CMake package, so that
# another project does
#   find_package(EventCore CONFIG REQUIRED)
#   target_link_libraries(app PRIVATE EventCore::actors EventCore::projections)
# The package finds the same Debian dependencies and wraps CAF (which has no
# CMake package of its own) with the EventCoreCAF.cmake this build uses.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(EVENTCORE_PACKAGE_DIR ${CMAKE_INSTALL_LIBDIR}/cmake/EventCore)

install(TARGETS eventcore_store eventcore_actors eventcore_remote eventcore_projections
        EXPORT EventCoreTargets
        ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
        LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(DIRECTORY store/include/ actors/include/ projections/include/
        DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})
install(EXPORT EventCoreTargets NAMESPACE EventCore:: DESTINATION ${EVENTCORE_PACKAGE_DIR})

configure_package_config_file(cmake/EventCoreConfig.cmake.in ${CMAKE_CURRENT_BINARY_DIR}/EventCoreConfig.cmake
                              INSTALL_DESTINATION ${EVENTCORE_PACKAGE_DIR})
write_basic_package_version_file(${CMAKE_CURRENT_BINARY_DIR}/EventCoreConfigVersion.cmake
                                 COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_CURRENT_BINARY_DIR}/EventCoreConfig.cmake ${CMAKE_CURRENT_BINARY_DIR}/EventCoreConfigVersion.cmake
              cmake/EventCoreCAF.cmake
        DESTINATION ${EVENTCORE_PACKAGE_DIR})
