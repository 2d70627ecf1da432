#!/usr/bin/env bash
# HTTP transfers/s through eventcore-bank-service (wrk, 16 and 64 connections)
# next to the same transfers in-process (eventcore-bank-demo, as many clients),
# both on the same PostgreSQL in the same run; prints one JSON line per
# concurrency with medians of the repetitions and their ratio.
#   http_bench.sh BUILD_DIR DATABASE_URL [--reps N] [--seconds S] [--connections "16 64"]
set -euo pipefail
build="$1" url="$2"
shift 2
reps=3 seconds=5 connections="16 64" accounts=100
while (($#)); do
  case "$1" in
    --reps) reps="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    *) echo "http_bench: unknown option $1" >&2; exit 2 ;;
  esac
  shift
done
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
source "${here}/../scripts/lib/common.sh"  # median
log() { printf '[http_bench] %s\n' "$*" >&2; }
source "${here}/../scripts/lib/http_demo.sh"  # open_accounts
# wrk's "12.3ms" / "850us" / "1.2s" in milliseconds.
to_ms() { awk '{ v = $1; if (v ~ /us$/) { sub(/us$/, "", v); v /= 1000 } else if (v ~ /ms$/) { sub(/ms$/, "", v) } else if (v ~ /s$/) { sub(/s$/, "", v); v *= 1000 } print v }'; }

schema="eventcore_http_bench_$$"
out="$(mktemp)"
"${build}/apps/bank_service/eventcore-bank-service" --listen 127.0.0.1:0 --database "$url" --schema "$schema" \
  --log-level warn >"$out" 2>&1 &
service=$!
cleanup() {
  kill -TERM $service 2>/dev/null || true
  wait $service 2>/dev/null || true
  rm -f "$out"
  psql -q "$url" -c "DROP SCHEMA IF EXISTS ${schema} CASCADE" -c "DROP SCHEMA IF EXISTS ${schema}_inproc CASCADE" \
    >/dev/null 2>&1 || true
}
trap cleanup EXIT
for ((i = 0; i < 300; i++)); do
  port="$(sed -n 's/^listening on http:\/\/127.0.0.1:\([0-9]*\).*/\1/p' "$out")"
  [[ -n $port ]] && break
  kill -0 $service 2>/dev/null || { cat "$out" >&2; exit 1; }
  sleep 0.1
done
[[ -n ${port:-} ]] || { log "the service did not start"; exit 1; }
base="http://127.0.0.1:${port}"
log "service on ${base} (schema ${schema}); opening ${accounts} accounts"
open_accounts "$base" h "$accounts" 100000000

for c in $connections; do
  http=() p50=() p99=() inproc=()
  for ((r = 1; r <= reps; r++)); do
    log "c${c} rep ${r}/${reps}: wrk ${seconds} s"
    report="$(ACCOUNTS=$accounts PREFIX=h wrk -t2 -c"$c" -d"${seconds}s" --latency -s "${here}/http_transfers.lua" "$base")"
    if grep -q "Non-2xx" <<<"$report"; then log "non-2xx answers: $(grep Non-2xx <<<"$report")"; fi
    http+=("$(awk '/^Requests\/sec:/ { print $2 }' <<<"$report")")
    p50+=("$(awk '$1 == "50%" { print $2 }' <<<"$report" | to_ms)")
    p99+=("$(awk '$1 == "99%" { print $2 }' <<<"$report" | to_ms)")
    # The same transfers in-process: about as many as HTTP did in the same time.
    n="$(awk -v r="${http[-1]}" -v s="$seconds" 'BEGIN { n = int(r * s); print (n < 2000) ? 2000 : n }')"
    log "c${c} rep ${r}/${reps}: in-process, ${n} transfers"
    demo="$("${build}/apps/bank_demo/eventcore-bank-demo" --store postgres --database-url "$url" \
      --schema "${schema}_inproc" --accounts "$accounts" --transfers "$n" --clients "$c" --max-amount 0.01 2>/dev/null)"
    inproc+=("$(awk '/^throughput:/ { print $2 }' <<<"$demo")")
  done
  h="$(printf '%s\n' "${http[@]}" | median)" i="$(printf '%s\n' "${inproc[@]}" | median)"
  printf '{"bench":"http_bench","case":"http_transfers","connections":%d,"reps":%d,"http_per_s":%.0f,"p50_ms":%s,"p99_ms":%s,"in_process_per_s":%.0f,"ratio":%.2f,"http_runs":[%s],"in_process_runs":[%s]}\n' \
    "$c" "$reps" "$h" "$(printf '%s\n' "${p50[@]}" | median)" "$(printf '%s\n' "${p99[@]}" | median)" "$i" \
    "$(awk -v h="$h" -v i="$i" 'BEGIN { print (i > 0) ? h / i : 0 }')" \
    "$(IFS=,; echo "${http[*]}")" "$(IFS=,; echo "${inproc[*]}")"
done
