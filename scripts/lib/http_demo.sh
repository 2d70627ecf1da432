# shellcheck shell=bash
# The load demo against the running service (scripts/run.sh --demo): opens
# accounts over HTTP, runs concurrent random transfers with wrk while a
# progress line reads the service's /metrics, then reads every balance back
# from the read model and checks that no money appeared or vanished.
#   http_demo URL [--accounts N] [--seconds S] [--connections C]
# DEMO_NODES: the URLs of the nodes behind URL when it is a load balancer
# (scripts/cluster.sh); progress counts and read-model waits cover them all.
# DEMO_MIDWAY: a command run once, halfway through the load.
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
  local nodes=(${DEMO_NODES:-$url})
  # Requests answered on /transfers, by status, from the services' own
  # counters; a node that stopped answering counts with what it said last.
  # Sets REPLY (no subshell, so that last_seen keeps what it saw).
  local -A last_seen=()
  transfers_by_status() {
    local node n total=0
    for node in "${nodes[@]}"; do
      if n=$(curl -fsS -m 2 "${node}/metrics" 2>/dev/null |
        awk -v want="$1" '/^eventcore_http_requests_total\{.*route="\/transfers"/ && $0 ~ "status=\"" want "\"" { n += $2 } END { print n + 0 }'); then
        last_seen["$node $1"]=$n
      fi
      total=$((total + ${last_seen["$node $1"]:-0}))
    done
    REPLY=$total
  }
  local ok0 rejected0
  transfers_by_status 200; ok0=$REPLY
  transfers_by_status 409; rejected0=$REPLY
  ACCOUNTS=$accounts PREFIX=$prefix MAX_CENTS=5000 wrk -t2 -c"$connections" -d"${seconds}s" --latency \
    -s "${EVENTCORE_ROOT}/bench/http_transfers.lua" "$url" >"${EVENTCORE_STATE}/logs/wrk.log" 2>&1 &
  local wrk_pid=$! start=$SECONDS midway_done=0
  while kill -0 "$wrk_pid" 2>/dev/null; do
    sleep 1
    if [[ -n "${DEMO_MIDWAY:-}" ]] && ((!midway_done && SECONDS - start >= seconds / 2)); then
      midway_done=1
      eval "$DEMO_MIDWAY"
    fi
    local ok rejected elapsed=$((SECONDS - start))
    transfers_by_status 200; ok=$((REPLY - ok0))
    transfers_by_status 409; rejected=$((REPLY - rejected0))
    printf '[bank] transfers: %d done, %d rejected (insufficient funds), %d/s, %d of %d s\n' \
      "$ok" "$rejected" $(((ok + rejected) / (elapsed > 0 ? elapsed : 1))) "$elapsed" "$seconds" >&2
  done
  wait "$wrk_pid" || { cat "${EVENTCORE_STATE}/logs/wrk.log" >&2; return 1; }
  grep -E "^Requests/sec|Latency Distribution|^ +(50|99)%" "${EVENTCORE_STATE}/logs/wrk.log" | sed 's/^/[wrk] /'

  # Balances from the read model once every node's has caught up (bounded: 30 s each).
  local node
  for node in "${nodes[@]}"; do
    curl -fsS -m 2 -o /dev/null "${node}/health" 2>/dev/null || continue  # gone
    for ((i = 0; i < 300; i++)); do
      curl -fsS "${node}/health" | grep -q '"lag_events":0' && break
      sleep 0.1
    done
  done
  local total=0 balance
  for ((i = 0; i < accounts; i++)); do
    balance=$(curl -fsS "${url}/accounts/${prefix}${i}" | sed -n 's/.*"balance_cents":\(-\{0,1\}[0-9]*\).*/\1/p')
    total=$((total + balance))
  done
  local expected=$((accounts * initial))
  printf 'total: %d.%02d (expected %d.%02d: %s)\n' $((total / 100)) $((total % 100)) $((expected / 100)) \
    $((expected % 100)) "$([[ $total == "$expected" ]] && echo "money conserved" || echo MISMATCH)"
  transfers_by_status 200; ok=$((REPLY - ok0))
  transfers_by_status 409; rejected=$((REPLY - rejected0))
  echo "transfers: ${ok} done, ${rejected} rejected (insufficient funds)"
  [[ $total == "$expected" ]]
}
