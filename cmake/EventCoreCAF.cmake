# CAF 0.17 ships no CMake package: wrap its libraries in imported targets.
# Used by this build and installed with EventCore's package, so that a
# project using find_package(EventCore) gets CAF::core the same way.
# EVENTCORE_CAF_ROOT names another install of it (headers and libraries
# together): scripts/test.sh --sanitize=thread builds one with TSan.
find_package(Threads REQUIRED)
set(EVENTCORE_CAF_ROOT "" CACHE PATH "A CAF 0.17 install to use instead of Debian's")
if(EVENTCORE_CAF_ROOT)
  set(CAF_INCLUDE_DIR ${EVENTCORE_CAF_ROOT}/include)
  set(CAF_CORE_LIBRARY ${EVENTCORE_CAF_ROOT}/lib/libcaf_core.so)
  set(CAF_IO_LIBRARY ${EVENTCORE_CAF_ROOT}/lib/libcaf_io.so)
  set(CAF_OPENSSL_LIBRARY ${EVENTCORE_CAF_ROOT}/lib/libcaf_openssl.so)
  if(NOT EXISTS ${CAF_INCLUDE_DIR}/caf/all.hpp OR NOT EXISTS ${CAF_CORE_LIBRARY} OR NOT EXISTS ${CAF_IO_LIBRARY}
     OR NOT EXISTS ${CAF_OPENSSL_LIBRARY})
    message(FATAL_ERROR "EVENTCORE_CAF_ROOT=${EVENTCORE_CAF_ROOT} holds no CAF install (include/caf/all.hpp, "
                        "lib/libcaf_core.so, lib/libcaf_io.so, lib/libcaf_openssl.so)")
  endif()
  message(STATUS "CAF from ${EVENTCORE_CAF_ROOT}")
else()
  find_path(CAF_INCLUDE_DIR caf/all.hpp)
  find_library(CAF_CORE_LIBRARY caf_core)
  find_library(CAF_IO_LIBRARY caf_io)
  find_library(CAF_OPENSSL_LIBRARY caf_openssl)
endif()
if(TARGET CAF::core)
  # Already defined (an including project, or a second find_package).
elseif(CAF_INCLUDE_DIR AND CAF_CORE_LIBRARY AND CAF_IO_LIBRARY AND CAF_OPENSSL_LIBRARY)
  add_library(CAF::core SHARED IMPORTED)
  set_target_properties(CAF::core PROPERTIES
    IMPORTED_LOCATION ${CAF_CORE_LIBRARY}
    INTERFACE_INCLUDE_DIRECTORIES ${CAF_INCLUDE_DIR}
    INTERFACE_LINK_LIBRARIES Threads::Threads)
  add_library(CAF::io SHARED IMPORTED)
  set_target_properties(CAF::io PROPERTIES
    IMPORTED_LOCATION ${CAF_IO_LIBRARY}
    INTERFACE_LINK_LIBRARIES CAF::core)
  add_library(CAF::openssl SHARED IMPORTED)
  set_target_properties(CAF::openssl PROPERTIES
    IMPORTED_LOCATION ${CAF_OPENSSL_LIBRARY}
    INTERFACE_LINK_LIBRARIES CAF::io)
else()
  message(FATAL_ERROR "CAF 0.17 not found: apt-get install libcaf-dev")
endif()
