#!/usr/bin/env bash
# Sets everything up and runs every test, including those against a real
# PostgreSQL that this script starts on a fresh data folder and always stops.
#   scripts/test.sh                              # all tests
#   scripts/test.sh --sanitize=address,undefined # the same under ASan+UBSan
#   scripts/test.sh --sanitize=thread            # under TSan
# Other arguments go to ctest (e.g. -R contract).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

build_dir="${EVENTCORE_ROOT}/build"
cmake_args=()
ctest_args=()
for arg in "$@"; do
  case "$arg" in
    --sanitize=*)
      sanitize="${arg#--sanitize=}"
      build_dir="${EVENTCORE_ROOT}/build-${sanitize//,/-}"
      cmake_args+=("-DEVENTCORE_SANITIZE=${sanitize}" -DEVENTCORE_BUILD_BENCH=OFF)
      ;;
    *) ctest_args+=("$arg") ;;
  esac
done

install_packages
build "$build_dir" "${cmake_args[@]}"

# A fresh, throw-away server: durability is not under test here, so fsync is off.
port="${EVENTCORE_TEST_PG_PORT:-54330}"
data="${EVENTCORE_STATE}/test-pgdata"
pg_stop "$data"
rm -rf "$data"
cleanup() { pg_stop "$data"; rm -rf "$data"; }
trap cleanup EXIT
EVENTCORE_TEST_DATABASE_URL="$(pg_start "$data" "$port" "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")"
export EVENTCORE_TEST_DATABASE_URL EVENTCORE_TEST_PGDATA="$data" EVENTCORE_TEST_PGPORT="$port"

# Debian's libcaf_core is not built with TSan: its mailbox synchronization is
# invisible, so reports whose stacks pass through it are suppressed (see the file).
if [[ ${sanitize:-} == thread ]]; then
  export TSAN_OPTIONS="suppressions=${EVENTCORE_ROOT}/tests/tsan.supp ${TSAN_OPTIONS:-}"
fi

log "running tests"
cd "$build_dir"
ctest --output-on-failure --timeout 600 "${ctest_args[@]}"
