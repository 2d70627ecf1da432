#!/usr/bin/env bash
# scripts/bench.sh [--quick] [--only BENCH] [options of that bench...]
#
# Builds the benchmarks (build-bench, Release), starts a durable project-local
# PostgreSQL (.eventcore/bench-pgdata, port 54331, fsync on) unless
# EVENTCORE_DATABASE_URL names one, runs store_bench and stops the server it
# started. JSON lines go to stdout (and .eventcore/bench/last.jsonl), progress
# to stderr. Options after the script's own go to store_bench (--list,
# --cases pg_append,mem, --reps 5, --clients 8, ...).
#
#   --quick   a smoke run: EVENTCORE_BENCH_SECONDS=1, 50,000 catch-up events, 1 repetition
#   --only B  run only benchmark B (store_bench, append_variants, runtime_bench, history_bench, projection_bench,
#             http_bench, remote_bench, cluster_bench),
#             with the options that follow, e.g. --only projection_bench --cases mem_proj
# Afterwards append_variants (bench/append_variants.sh: pgbench variants of
# the single-event append statement against the raw INSERT), runtime_bench
# (the command runtime), history_bench (long-lived streams: cost by history,
# memory of many live streams) and projection_bench
# (catch-up, live lag, appends with projections running) and http_bench
# (bench/http_bench.sh: transfers through the HTTP service with wrk, against
# the same transfers in-process), remote_bench (commands through the remote
# gateway from another process, against in-process) and cluster_bench
# (bench/cluster_bench.sh: 3 nodes behind haproxy against 1) run with their
# default options: one command runs every benchmark.
# bench/instructions.sh (not run here) counts the in-memory runtime's
# instructions per command under callgrind, where timing is too noisy.
#
# Environment: EVENTCORE_BENCH_SECONDS (seconds per timed run, default 5),
# EVENTCORE_BENCH_EVENTS (catch-up log size, default 1,000,000),
# EVENTCORE_DATABASE_URL (use this server instead of starting one),
# EVENTCORE_BENCH_PGPORT (default 54331), EVENTCORE_BENCH_SKIP_RUNTIME=1 (run
# store_bench only, not runtime_bench, history_bench and projection_bench).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

quick=0
only=""
args=()
while (($#)); do
  case "$1" in
    --quick) quick=1 ;;
    --only)
      only="${2:?--only needs a benchmark name}"
      shift
      ;;
    *) args+=("$1") ;;
  esac
  shift
done
case "$only" in
  "" | store_bench | append_variants | runtime_bench | history_bench | projection_bench | http_bench | remote_bench | cluster_bench) ;;
  *)
    log "--only: no benchmark '$only' (store_bench, append_variants, runtime_bench, history_bench, projection_bench, http_bench, remote_bench, cluster_bench)"
    exit 2
    ;;
esac
if ((quick)); then
  export EVENTCORE_BENCH_SECONDS="${EVENTCORE_BENCH_SECONDS:-1}"
  export EVENTCORE_BENCH_EVENTS="${EVENTCORE_BENCH_EVENTS:-50000}"
  args=(--reps 1 "${args[@]}")
fi

install_packages
build_dir="${EVENTCORE_ROOT}/build-bench"
export CCACHE_DIR="${CCACHE_DIR:-${EVENTCORE_STATE}/ccache}"
if [[ ! -f "${build_dir}/build.ninja" ]]; then
  # -O2: GCC 12 at -O3 reports a false -Wrestrict in libstdc++ (store/src/event_id.cpp) under -Werror.
  cmake -S "${EVENTCORE_ROOT}" -B "${build_dir}" -G Ninja -DCMAKE_BUILD_TYPE=Release \
    "-DCMAKE_CXX_FLAGS_RELEASE=-O2 -DNDEBUG" -DEVENTCORE_BUILD_TESTS=OFF -DEVENTCORE_BUILD_BENCH=ON >&2
fi
# Only the benches this script runs and what they link, not the apps and tests.
# stdout carries only the JSON lines: the build's output goes to a log.
mkdir -p "${EVENTCORE_STATE}/bench"
build_log="${EVENTCORE_STATE}/bench/build.log"
targets=(store_bench eventcore)  # the CLI migrates append_variants' schema
http_targets=(eventcore-bank-service eventcore-bank-demo)
cluster_targets=(eventcore-bank-service eventcore-projection-worker)
if [[ -z ${EVENTCORE_BENCH_SKIP_RUNTIME:-} ]]; then
  targets+=(runtime_bench history_bench projection_bench remote_bench "${http_targets[@]}" "${cluster_targets[@]}")
fi
if [[ -n $only ]]; then targets=("$only"); fi
if [[ $only == http_bench ]]; then targets=("${http_targets[@]}"); fi
if [[ $only == cluster_bench ]]; then targets=("${cluster_targets[@]}"); fi
if [[ $only == append_variants ]]; then targets=(eventcore); fi
log "building ${targets[*]} in ${build_dir#"${EVENTCORE_ROOT}/"}"
if ! cmake --build "${build_dir}" --target "${targets[@]}" -- -j"$(nproc)" >"${build_log}" 2>&1; then
  grep -vE '^\[[0-9]+/[0-9]+\] ' "${build_log}" >&2 || true
  log "build failed (full log: ${build_log#"${EVENTCORE_ROOT}/"})"
  exit 1
fi
bench="${build_dir}/bench/store_bench"

pgdata="${EVENTCORE_STATE}/bench-pgdata"
started=0
stop_server() { if ((started)); then log "stopping PostgreSQL"; pg_stop "$pgdata"; fi; }
trap stop_server EXIT
if [[ -z ${EVENTCORE_DATABASE_URL:-} ]]; then
  if ! as_pg_user "${PG_BIN}/pg_ctl" -D "$pgdata" status >/dev/null 2>&1; then started=1; fi
  EVENTCORE_DATABASE_URL="$(pg_start "$pgdata" "${EVENTCORE_BENCH_PGPORT:-54331}")"
  export EVENTCORE_DATABASE_URL
fi

if [[ $only == http_bench ]]; then
  log "running http_bench ${args[*]:-}"
  "${EVENTCORE_ROOT}/bench/http_bench.sh" "$build_dir" "$EVENTCORE_DATABASE_URL" "${args[@]}" |
    tee "${EVENTCORE_STATE}/bench/last.jsonl"
  exit 0
fi
if [[ $only == append_variants ]]; then
  log "running append_variants ${args[*]:-}"
  "${EVENTCORE_ROOT}/bench/append_variants.sh" "$build_dir" "$EVENTCORE_DATABASE_URL" "${args[@]}" |
    tee "${EVENTCORE_STATE}/bench/last.jsonl"
  exit 0
fi
if [[ $only == cluster_bench ]]; then
  log "running cluster_bench ${args[*]:-}"
  "${EVENTCORE_ROOT}/bench/cluster_bench.sh" "$build_dir" "$EVENTCORE_DATABASE_URL" "${args[@]}" |
    tee "${EVENTCORE_STATE}/bench/last.jsonl"
  exit 0
fi
if [[ -n $only ]]; then
  log "running $only ${args[*]:-}"
  "${build_dir}/bench/${only}" "${args[@]}" | tee "${EVENTCORE_STATE}/bench/last.jsonl"
  exit 0
fi
log "running store_bench ${args[*]:-}"
"$bench" "${args[@]}" | tee "${EVENTCORE_STATE}/bench/last.jsonl"
log "running append_variants"
variant_args=()
if ((quick)); then variant_args=(--rounds 1 --seconds 1); fi
"${EVENTCORE_ROOT}/bench/append_variants.sh" "$build_dir" "$EVENTCORE_DATABASE_URL" "${variant_args[@]}" |
  tee -a "${EVENTCORE_STATE}/bench/last.jsonl"
# The command runtime (bench/runtime_bench.cpp); EVENTCORE_BENCH_SKIP_RUNTIME=1 skips it.
if [[ -z ${EVENTCORE_BENCH_SKIP_RUNTIME:-} ]]; then
  log "running runtime_bench"
  runtime_args=()
  if ((quick)); then runtime_args=(--reps 1); fi
  "${build_dir}/bench/runtime_bench" "${runtime_args[@]}" | tee -a "${EVENTCORE_STATE}/bench/last.jsonl"
  log "running history_bench"
  "${build_dir}/bench/history_bench" "${runtime_args[@]}" | tee -a "${EVENTCORE_STATE}/bench/last.jsonl"
  log "running projection_bench"
  "${build_dir}/bench/projection_bench" "${runtime_args[@]}" | tee -a "${EVENTCORE_STATE}/bench/last.jsonl"
  log "running http_bench"
  http_args=()
  if ((quick)); then http_args=(--reps 1 --seconds 2); fi
  "${EVENTCORE_ROOT}/bench/http_bench.sh" "$build_dir" "$EVENTCORE_DATABASE_URL" "${http_args[@]}" |
    tee -a "${EVENTCORE_STATE}/bench/last.jsonl"
  log "running remote_bench"
  "${build_dir}/bench/remote_bench" "${runtime_args[@]}" | tee -a "${EVENTCORE_STATE}/bench/last.jsonl"
  log "running cluster_bench"
  cluster_args=()
  if ((quick)); then cluster_args=(--reps 1 --seconds 2); fi
  "${EVENTCORE_ROOT}/bench/cluster_bench.sh" "$build_dir" "$EVENTCORE_DATABASE_URL" "${cluster_args[@]}" |
    tee -a "${EVENTCORE_STATE}/bench/last.jsonl"
fi
