#!/usr/bin/env bash
# Proves the simulation has teeth: builds the runner once per planted bug
# (-DEVENTCORE_PLANTED_BUG=<name>, a separate build dir each) and reports the
# first failing seed of the CI workload, and how many seeds it took.
#   scripts/hunt-planted-bugs.sh [bug...]        # default: every planted bug
# Environment: SEEDS (default 0..999, the CI budget), STEPS (default 200),
# FAULTS (default "default"), BUILD_DIR (default build-bug-hunt: one build dir,
# reconfigured per bug; the bug's definition is only on the hooked sources, so
# each bug rebuilds four files).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bugs=("$@")
[ ${#bugs[@]} -gt 0 ] || bugs=(readonly_unchecked early_release ambiguous_retry_unchecked no_release_on_crash stale_snapshot
                               resume_from_report)
seeds="${SEEDS:-0..999}"
steps="${STEPS:-200}"
faults="${FAULTS:-default}"
status=0
for bug in "${bugs[@]}"; do
  dir="${BUILD_DIR:-$root/build-bug-hunt}"
  cmake -S "$root" -B "$dir" -G Ninja -DEVENTCORE_BUILD_BENCH=OFF -DEVENTCORE_BUILD_TESTS=OFF \
        -DEVENTCORE_PLANTED_BUG="$bug" >/dev/null 2>&1
  ninja -C "$dir" eventcore-sim >/dev/null
  start=$(date +%s.%N)
  out="$("$dir/apps/simulator/eventcore-sim" --seeds "$seeds" --steps "$steps" --faults "$faults" 2>&1 || true)"
  secs=$(echo "$(date +%s.%N) - $start" | bc)
  fail_line="$(echo "$out" | grep -m1 '^FAIL seed=' || true)"
  summary="$(echo "$out" | grep -m1 '^seeds ' || true)"
  if [ -n "$fail_line" ]; then
    seed="$(echo "$fail_line" | sed -E 's/^FAIL seed=([0-9]+).*/\1/')"
    invariant="$(echo "$fail_line" | sed -E "s/^[^']*'(.*)' broken.*/\1/")"
    taken="$(echo "$summary" | sed -E 's/.*\(after ([0-9]+) seeds\).*/\1/')"
    printf '%-28s found at seed %-6s after %5s seed(s) (%.1f s): %s\n' "$bug" "$seed" "$taken" "$secs" "$invariant"
  else
    printf '%-28s NOT FOUND in seeds %s\n' "$bug" "$seeds"
    status=1
  fi
done
exit $status
