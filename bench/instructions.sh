#!/usr/bin/env bash
# Instructions per command of the in-memory runtime against a direct
# MemoryStore append, counted by valgrind's callgrind: a figure this
# machine's noise does not move (its throughput swings by a quarter between
# runs of one binary, and the VM exposes no hardware counters to perf).
#
#   bench/instructions.sh [RUNTIME_BENCH]    (default: build-bench/bench/runtime_bench)
#
# Runs two of runtime_bench's cases for 2 s each under callgrind (about 40 s
# in all) and prints one JSON line per case:
#   instructions_mem_single    mem_single (the fast path, warm streams)
#   instructions_mem_transfer  mem_transfer on long-lived streams
#                              (RUNTIME_BENCH_STREAM_LENGTH=1000; on the
#                              fast path: two stream actors, the first
#                              one leading)
# with
#   baseline_per_op    MemoryAppendClient::op, inclusive: one direct append,
#                      the request built and its events encoded
#   command_per_op     (mem_single) the fast path's run_local, inclusive: one
#                      command decided, appended, folded and answered (the
#                      next one created by the bench's callback included)
#   actor_work_per_op  everything CAF's workers ran (scheduled_actor::resume),
#                      per command: the above plus CAF's message handling
#   worker_per_op      all that CAF's worker threads ran, per command: the
#                      above plus the scheduler's own loop around each resume
# Give it two binaries' outputs to compare builds (a bisection, a change).
set -euo pipefail

# shellcheck source=../scripts/lib/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"
binary="${1:-${EVENTCORE_ROOT}/build-bench/bench/runtime_bench}"
[[ -x "$binary" ]] || { log "instructions.sh: no runtime_bench at $binary (scripts/bench.sh builds it)"; exit 2; }
EVENTCORE_PACKAGES+=(valgrind)
install_packages

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# count CASE COMMAND_SYMBOL [ENV=VALUE...]: one JSON line for one case.
count() {
  local case="$1" command_symbol="$2"
  shift 2
  log "counting the instructions of $binary --cases $case under callgrind (about 20 s)"
  env "$@" valgrind --tool=callgrind --callgrind-out-file="$work/$case.out" "$binary" --cases "$case" --reps 1 \
    --seconds 2 >/dev/null 2>"$work/valgrind.log" || { tail -20 "$work/valgrind.log" >&2; exit 1; }
  callgrind_annotate --inclusive=yes --tree=calling "$work/$case.out" >"$work/$case.tree" 2>/dev/null
  python3 - "$work/$case.tree" "$binary" "$case" "$command_symbol" <<'PY'
import json, re, sys
tree, binary, case, command_symbol = sys.argv[1:]
lines = open(tree).read().split('\n')
head = re.compile(r'^\s*([0-9,]+) \([^)]*\)\s+\*')
def inclusive(name):
    for line in lines:
        m = head.match(line)
        if m and name in line:
            return int(m.group(1).replace(',', ''))
    raise SystemExit(f"instructions.sh: no '{name}' in the profile")
def inclusive_re(pattern):
    pattern = re.compile(pattern)
    for line in lines:
        m = head.match(line)
        if m and pattern.search(line):
            return int(m.group(1).replace(',', ''))
    raise SystemExit(f"instructions.sh: no '{pattern.pattern}' in the profile")
def calls(name):
    pattern = re.compile(r'^\s*[0-9,]+ \([^)]*\)\s+>.*' + re.escape(name) + r'.*\(([0-9,]+)x\)')
    return sum(int(m.group(1).replace(',', '')) for m in map(pattern.match, lines) if m)
ops = calls('MemoryAppendClient::op(')
commands = calls(command_symbol)
if not ops or not commands:
    raise SystemExit("instructions.sh: the profile counted no appends or commands")
line = {"bench": "instructions_" + case, "binary": binary,
        "baseline_per_op": round(inclusive('MemoryAppendClient::op(') / ops)}
if case == "mem_single":
    line["command_per_op"] = round(inclusive('::run_local(caf') / commands)
line["actor_work_per_op"] = round(inclusive('caf::scheduled_actor::resume(caf::execution_unit') / commands)
line["worker_per_op"] = round(inclusive_re(r'_State_impl<.*caf::scheduler::worker<.*>::start\(\)') / commands)
line.update({"appends": ops, "commands": commands})
print(json.dumps(line))
PY
}

count mem_single '::on_local_appended(caf'
count mem_transfer '::on_local_appended(caf' RUNTIME_BENCH_STREAM_LENGTH=1000
