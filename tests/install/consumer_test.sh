#!/usr/bin/env bash
# Installs the build into a scratch prefix, builds tests/install/consumer
# against it with find_package(EventCore), and runs it.
#   consumer_test.sh BUILD_DIR SOURCE_DIR WORK_DIR CXX_FLAGS LINKER_FLAGS
set -euo pipefail
build="$1" source="$2" work="$3" cxx_flags="$4" link_flags="$5"
rm -rf "$work"
cmake --install "$build" --prefix "$work/prefix" >/dev/null
cmake -S "$source/tests/install/consumer" -B "$work/build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_PREFIX_PATH="$work/prefix" -DCMAKE_CXX_COMPILER_LAUNCHER=ccache \
  -DCMAKE_CXX_FLAGS="$cxx_flags" -DCMAKE_EXE_LINKER_FLAGS="$link_flags" \
  ${EVENTCORE_CAF_ROOT:+-DEVENTCORE_CAF_ROOT="$EVENTCORE_CAF_ROOT"} >/dev/null
cmake --build "$work/build" >/dev/null
"$work/build/consumer"
