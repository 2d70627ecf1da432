# Every dependency comes from Debian 12's archive (scripts/lib/common.sh installs them).
find_package(Threads REQUIRED)
find_package(PostgreSQL REQUIRED)
find_package(cereal REQUIRED)
find_package(spdlog REQUIRED)
find_package(fmt REQUIRED)
find_package(nlohmann_json 3 REQUIRED)
find_package(CLI11 REQUIRED)
find_package(PkgConfig REQUIRED)

# CAF 0.17 ships no CMake package: wrap its libraries in imported targets.
# EVENTCORE_CAF_ROOT names another install of it (headers and libraries
# together): scripts/test.sh --sanitize=thread builds one with TSan.
set(EVENTCORE_CAF_ROOT "" CACHE PATH "A CAF 0.17 install to use instead of Debian's")
if(EVENTCORE_CAF_ROOT)
  set(CAF_INCLUDE_DIR ${EVENTCORE_CAF_ROOT}/include)
  set(CAF_CORE_LIBRARY ${EVENTCORE_CAF_ROOT}/lib/libcaf_core.so)
  set(CAF_IO_LIBRARY ${EVENTCORE_CAF_ROOT}/lib/libcaf_io.so)
  if(NOT EXISTS ${CAF_INCLUDE_DIR}/caf/all.hpp OR NOT EXISTS ${CAF_CORE_LIBRARY} OR NOT EXISTS ${CAF_IO_LIBRARY})
    message(FATAL_ERROR "EVENTCORE_CAF_ROOT=${EVENTCORE_CAF_ROOT} holds no CAF install (include/caf/all.hpp, "
                        "lib/libcaf_core.so, lib/libcaf_io.so)")
  endif()
  message(STATUS "CAF from ${EVENTCORE_CAF_ROOT}")
else()
  find_path(CAF_INCLUDE_DIR caf/all.hpp)
  find_library(CAF_CORE_LIBRARY caf_core)
  find_library(CAF_IO_LIBRARY caf_io)
endif()
if(CAF_INCLUDE_DIR AND CAF_CORE_LIBRARY AND CAF_IO_LIBRARY)
  add_library(CAF::core SHARED IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION ${CAF_CORE_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io SHARED IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION ${CAF_IO_LIBRARY}
    INTERFACE_LINK_LIBRARIES CAF::core)
else()
  message(FATAL_ERROR "CAF 0.17 not found: apt-get install libcaf-dev")
endif()

if(EVENTCORE_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED)
  include(Catch)
endif()
