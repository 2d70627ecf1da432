# shellcheck shell=bash
# The load demo against the running service (scripts/run.sh --demo): opens
# accounts over HTTP, runs concurrent random transfers with wrk while a
# progress line reads the service's /metrics, then reads every balance back
# from the read model and checks that no money appeared or vanished.
#   http_demo URL [--accounts N] [--seconds S] [--connections C]
# bench/http_bench.sh uses open_accounts too.

# open_accounts URL PREFIX COUNT CENTS: opens <PREFIX>0..COUNT-1 and deposits CENTS into each.
open_accounts() {
  local url="$1" prefix="$2" count="$3" cents="$4"
  for ((i = 0; i < count; i++)); do
    curl -fsS -o /dev/null -X POST "${url}/accounts" -H 'Content-Type: application/json' -d "{\"id\": \"${prefix}${i}\"}"
    curl -fsS -o /dev/null -X POST "${url}/accounts/${prefix}${i}/deposits" -H 'Content-Type: application/json' \
      -d "{\"amount_cents\": ${cents}}"
  done
}

http_demo() {
  local url="$1" accounts=20 seconds=10 connections=32
  shift
  while (($#)); do
    case "$1" in
      --accounts) accounts="$2"; shift ;;
      --seconds) seconds="$2"; shift ;;
      --connections) connections="$2"; shift ;;
      *) log "--demo takes --accounts N, --seconds S, --connections C; not '$1'"; return 2 ;;
    esac
    shift
  done
  if ! [[ $accounts =~ ^[0-9]+$ && $seconds =~ ^[0-9]+$ && $connections =~ ^[0-9]+$ ]] ||
    ((accounts < 2 || accounts > 10000 || seconds < 1 || seconds > 3600 || connections < 1 || connections > 1000)); then
    log "--demo: --accounts 2..10000, --seconds 1..3600, --connections 1..1000"
    return 2
  fi
  local run prefix initial=100000
  run=$(date +%s)
  prefix="demo${run}-"
  echo "[bank] run ${run}: ${accounts} accounts with 1000.00 each, transfers of up to 50.00 for ${seconds} s, ${connections} connections, over HTTP"
  open_accounts "$url" "$prefix" "$accounts" "$initial"
  # Requests answered on /transfers, by status, from the service's own counters.
  transfers_by_status() {
    curl -fsS "${url}/metrics" |
      awk -v want="$1" '/^eventcore_http_requests_total\{.*route="\/transfers"/ && $0 ~ "status=\"" want "\"" { n += $2 } END { print n + 0 }'
  }
  local ok0 rejected0
  ok0=$(transfers_by_status 200) rejected0=$(transfers_by_status 409)
  ACCOUNTS=$accounts PREFIX=$prefix MAX_CENTS=5000 wrk -t2 -c"$connections" -d"${seconds}s" --latency \
    -s "${EVENTCORE_ROOT}/bench/http_transfers.lua" "$url" >"${EVENTCORE_STATE}/logs/wrk.log" 2>&1 &
  local wrk_pid=$! start=$SECONDS
  while kill -0 "$wrk_pid" 2>/dev/null; do
    sleep 1
    local ok rejected elapsed=$((SECONDS - start))
    ok=$(($(transfers_by_status 200) - ok0)) rejected=$(($(transfers_by_status 409) - rejected0))
    printf '[bank] transfers: %d done, %d rejected (insufficient funds), %d/s, %d of %d s\n' \
      "$ok" "$rejected" $(((ok + rejected) / (elapsed > 0 ? elapsed : 1))) "$elapsed" "$seconds" >&2
  done
  wait "$wrk_pid" || { cat "${EVENTCORE_STATE}/logs/wrk.log" >&2; return 1; }
  grep -E "^Requests/sec|Latency Distribution|^ +(50|99)%" "${EVENTCORE_STATE}/logs/wrk.log" | sed 's/^/[wrk] /'

  # Balances from the read model once it has caught up (bounded: 30 s).
  for ((i = 0; i < 300; i++)); do
    curl -fsS "${url}/health" | grep -q '"lag_events":0' && break
    sleep 0.1
  done
  local total=0 balance
  for ((i = 0; i < accounts; i++)); do
    balance=$(curl -fsS "${url}/accounts/${prefix}${i}" | sed -n 's/.*"balance_cents":\(-\{0,1\}[0-9]*\).*/\1/p')
    total=$((total + balance))
  done
  local expected=$((accounts * initial))
  printf 'total: %d.%02d (expected %d.%02d: %s)\n' $((total / 100)) $((total % 100)) $((expected / 100)) \
    $((expected % 100)) "$([[ $total == "$expected" ]] && echo "money conserved" || echo MISMATCH)"
  echo "transfers: $(($(transfers_by_status 200) - ok0)) done, $(($(transfers_by_status 409) - rejected0)) rejected (insufficient funds)"
  [[ $total == "$expected" ]]
}
