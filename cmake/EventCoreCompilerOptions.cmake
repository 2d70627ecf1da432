# Compiler settings shared by every target: warnings as errors, optional
# sanitizers (EVENTCORE_SANITIZE=address,undefined or thread) and ccache.
find_program(EVENTCORE_CCACHE ccache)
if(EVENTCORE_CCACHE AND NOT CMAKE_CXX_COMPILER_LAUNCHER)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${EVENTCORE_CCACHE})
endif()

set(EVENTCORE_SANITIZE "" CACHE STRING "Sanitizers to build with: address,undefined or thread")

add_library(eventcore_options INTERFACE)
# GCC 12 flags designated initializers that leave defaulted members out, the
# idiom for config structs here (PostgresStoreConfig{.conninfo = ...}).
target_compile_options(eventcore_options INTERFACE -Wall -Wextra -Werror -Wno-missing-field-initializers)
if(EVENTCORE_SANITIZE)
  target_compile_options(eventcore_options INTERFACE
    -fsanitize=${EVENTCORE_SANITIZE} -fno-omit-frame-pointer -fno-sanitize-recover=all)
  target_link_options(eventcore_options INTERFACE -fsanitize=${EVENTCORE_SANITIZE})
  # GCC 12's sanitizer instrumentation makes -Wmaybe-uninitialized fire inside
  # libstdc++ (<regex>, std::function); the normal build keeps the warning.
  target_compile_options(eventcore_options INTERFACE -Wno-maybe-uninitialized)
endif()
