#!/usr/bin/env bash
# Sets everything up and runs every test, including those against a real
# PostgreSQL that this script starts on a fresh data folder and always stops.
#   scripts/test.sh                              # all tests
#   scripts/test.sh --sanitize=address,undefined # the same under ASan+UBSan
#   scripts/test.sh --sanitize=thread            # under TSan, with a TSan-built CAF
#                                                # (built once into .eventcore/caf-tsan: ~4 min)
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

if [[ ${sanitize:-} == thread ]]; then
  # CAF itself instrumented too (scripts/lib/caf_tsan.sh), else TSan cannot
  # see how actors hand data to each other.
  source "${EVENTCORE_ROOT}/scripts/lib/caf_tsan.sh"
  EVENTCORE_PACKAGES+=(curl)
  install_packages
  build_caf_tsan "${EVENTCORE_STATE}/caf-tsan"
  cmake_args+=("-DEVENTCORE_CAF_ROOT=${EVENTCORE_STATE}/caf-tsan")
else
  install_packages
fi
build "$build_dir" "${cmake_args[@]}"

# A fresh, throw-away server: durability is not under test here, so fsync is off.
port="${EVENTCORE_TEST_PG_PORT:-54330}"
data="${EVENTCORE_STATE}/test-pgdata"
standby="${EVENTCORE_STATE}/test-standby"
pg_stop "$standby"
pg_stop "$data"
rm -rf "$data" "$standby"
cleanup() { pg_stop "$standby"; pg_stop "$data"; rm -rf "$data" "$standby"; }
trap cleanup EXIT
EVENTCORE_TEST_DATABASE_URL="$(pg_start "$data" "$port" "-c fsync=off -c synchronous_commit=off -c full_page_writes=off")"
export EVENTCORE_TEST_DATABASE_URL EVENTCORE_TEST_PGDATA="$data" EVENTCORE_TEST_PGPORT="$port"
# A hot standby of it, for the tests that read the log from a replica. It
# applies commits 100 ms late, so that a reader woken before the standby has
# the commit would see nothing (what the replica tests check).
EVENTCORE_TEST_REPLICA_URL="$(pg_start_standby "$port" "$standby" "$((port + 100))" "-c recovery_min_apply_delay=100ms")"
export EVENTCORE_TEST_REPLICA_URL

# Narrow, justified suppressions only (see the file).
if [[ ${sanitize:-} == thread ]]; then
  export TSAN_OPTIONS="suppressions=${EVENTCORE_ROOT}/tests/tsan.supp ${TSAN_OPTIONS:-}"
  # Debian's libgrpc and abseil are not built with TSan: their threads hand
  # data over through synchronization TSan cannot see, so the gRPC test
  # process reports races inside gRPC and on every buffer it frees (121
  # reports in one run, all in that process). They run in the plain and the
  # ASan+UBSan runs.
  log "not run under TSan: the gRPC tests (label grpc; uninstrumented libgrpc)"
  ctest_args+=(-LE grpc)
fi

log "running tests"
cd "$build_dir"
# This script provides every server a test needs: a skipped test is a failure here.
set +e
ctest --output-on-failure --timeout 600 "${ctest_args[@]}" 2>&1 | tee ctest.log
status=${PIPESTATUS[0]}
set -e
if grep -q '(Skipped)' ctest.log; then
  log "tests were skipped although this script provided their servers:"
  grep '(Skipped)' ctest.log >&2
  exit 1
fi
exit "$status"
