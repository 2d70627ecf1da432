#!/usr/bin/env bash
# A cluster on one machine: PostgreSQL, N bank-service nodes (each with its
# command gateway), haproxy in front of them and a projection worker. Any
# node serves any account: the store's version check arbitrates between
# them, so nothing routes by account.
#   scripts/cluster.sh                    # 3 nodes; serve until Ctrl-C
#   scripts/cluster.sh --nodes 5
#   scripts/cluster.sh --demo [--seconds S --accounts N --connections C] [--kill-one]
#                                         # load through haproxy (with --kill-one, node 2
#                                         # is killed with SIGKILL halfway); money conserved?
#   scripts/cluster.sh --no-wait          # start, show, stop
#   scripts/cluster.sh --replica          # also a hot standby of the local PostgreSQL
#                                         # (.eventcore/standby, port 54339): the worker
#                                         # reads the log there
# EVENTCORE_LISTEN (default 127.0.0.1:8080) is haproxy's address; the nodes
# listen on the ports after it (HTTP) and from 7401 (gateways).
# EVENTCORE_DATABASE_URL: an external PostgreSQL instead of the local one;
# EVENTCORE_BUILD_DIR: run the binaries built there (nothing is built).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

count=3 demo=0 wait_for_ctrl_c=1 kill_one=0 replica=0
args=()
while (($#)); do
  case "$1" in
    --nodes) count="$2"; shift ;;
    --demo) demo=1 ;;
    --no-wait) wait_for_ctrl_c=0 ;;
    --kill-one) kill_one=1 ;;
    --replica) replica=1 ;;
    *) args+=("$1") ;;
  esac
  shift
done
if ! [[ $count =~ ^[0-9]+$ ]] || ((count < 1 || count > 16)); then
  log "--nodes takes 1 to 16, not '${count}'"
  exit 2
fi
if ((!demo && ${#args[@]})); then
  log "unknown arguments: ${args[*]} (only --demo takes --accounts, --seconds, --connections)"
  exit 2
fi

install_packages
if [[ -z "${EVENTCORE_BUILD_DIR:-}" ]]; then
  build "${EVENTCORE_ROOT}/build"
fi
worker_args=()
if [[ -z "${EVENTCORE_DATABASE_URL:-}" ]]; then
  EVENTCORE_DATABASE_URL="$(pg_start "${EVENTCORE_STATE}/pgdata" "${EVENTCORE_PG_PORT:-54329}")"
  export EVENTCORE_DATABASE_URL
  if ((replica)); then
    worker_args=(--replica "$(pg_start_standby "${EVENTCORE_PG_PORT:-54329}" "${EVENTCORE_STATE}/standby" 54339)")
    log "hot standby in .eventcore/standby (stop it with: scripts/pgctl.sh stop .eventcore/standby;" \
      "while it is stopped its slot eventcore_standby_54339 keeps the WAL it has not received on the primary)"
  fi
elif ((replica)); then
  log "--replica needs the local PostgreSQL (unset EVENTCORE_DATABASE_URL)"
  exit 2
fi

apps="${EVENTCORE_BUILD_DIR:-${EVENTCORE_ROOT}/build}/apps"
listen="${EVENTCORE_LISTEN:-127.0.0.1:8080}"
host="${listen%:*}" port="${listen##*:}"
logs="${EVENTCORE_STATE}/logs/cluster"
mkdir -p "$logs"
pids=() node_pids=() node_urls=() backends=()
stop_all() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    log "stopping haproxy, the nodes and the worker"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all EXIT
trap 'exit 0' INT TERM

"${apps}/projection_worker/eventcore-projection-worker" --projection event_counts --status-ms 60000 \
  "${worker_args[@]}" >"${logs}/worker.log" 2>&1 &
pids+=($!)
for ((i = 1; i <= count; i++)); do
  node="${host}:$((port + i))"
  "${apps}/bank_service/eventcore-bank-service" --listen "$node" --gateway "${host}:$((7400 + i))" \
    --log-level warn >"${logs}/node${i}.log" 2>&1 &
  pids+=($!) node_pids+=($!) node_urls+=("http://${node}") backends+=("$node")
done
"${EVENTCORE_ROOT}/scripts/lib/haproxy_config.sh" "$listen" "${backends[@]}" >"${logs}/haproxy.cfg"
haproxy -f "${logs}/haproxy.cfg" -db >"${logs}/haproxy.log" 2>&1 &
pids+=($!)
log "logs and haproxy.cfg in .eventcore/logs/cluster"

# Ready when every node answers /health, and haproxy does (bounded: 30 s).
for url in "${node_urls[@]}" "http://${listen}"; do
  for ((i = 0; i < 300; i++)); do
    curl -fsS -o /dev/null "${url}/health" 2>/dev/null && break
    sleep 0.1
  done
  curl -fsS -o /dev/null "${url}/health" || { log "${url} did not become ready in 30 s"; exit 1; }
done
for ((i = 0; i < count; i++)); do
  if ! kill -0 "${node_pids[i]}" 2>/dev/null; then
    log "node$((i + 1)) exited:"
    cat "${logs}/node$((i + 1)).log" >&2
    exit 1
  fi
done
echo "EventCore cluster: haproxy on http://${listen} in front of ${count} nodes${worker_args:+ (the worker reads the log from the standby ${worker_args[1]})}:"
for ((i = 1; i <= count; i++)); do
  echo "  node${i}: ${node_urls[i - 1]}  gateway ${host}:$((7400 + i))  (pid ${node_pids[i - 1]})"
done

if ((demo)); then
  source "${EVENTCORE_ROOT}/scripts/lib/http_demo.sh"
  midway=""
  if ((kill_one && count > 1)); then
    midway="log 'killing node2 (SIGKILL, pid ${node_pids[1]}): haproxy sends its traffic to the others'; kill -KILL ${node_pids[1]}"
  fi
  DEMO_NODES="${node_urls[*]}" DEMO_MIDWAY="$midway" http_demo "http://${listen}" "${args[@]}"
  exit $?
fi

if ((wait_for_ctrl_c)); then
  cat <<EOF
Serving on http://${listen} until Ctrl-C. Try:
  curl -X POST http://${listen}/accounts -H 'Content-Type: application/json' -d '{"id": "carol"}'
  build/apps/cli/eventcore execute --connect ${host}:7401 deposit carol 700
  curl http://${listen}/accounts/carol
EOF
  wait "${pids[-1]}"
fi
