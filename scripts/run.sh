#!/usr/bin/env bash
# Sets everything up and runs the main job: the bank as an HTTP service on a
# project-local PostgreSQL, with a projection worker beside it. Prints the
# URL, runs a short scripted tour against the service (each request and its
# real response), then serves until Ctrl-C and stops both processes cleanly.
#   scripts/run.sh                  # PostgreSQL (started if needed) on 127.0.0.1:54329
#   scripts/run.sh --store=memory   # an in-memory store, no database, no worker
#   scripts/run.sh --no-wait        # the tour, then stop (no serving until Ctrl-C)
#   scripts/run.sh --demo [--accounts N] [--seconds S] [--connections C]
#                                   # the load demo against the service: concurrent transfers
#                                   # over HTTP (wrk) with progress, then money conserved?
# EVENTCORE_DATABASE_URL points it at an external PostgreSQL instead;
# EVENTCORE_LISTEN (default 127.0.0.1:8080) is where the service listens.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

store=postgres
demo=0
wait_for_ctrl_c=1
args=()
for arg in "$@"; do
  case "$arg" in
    --store=*) store="${arg#--store=}" ;;
    --demo) demo=1 ;;
    --no-wait) wait_for_ctrl_c=0 ;;
    *) args+=("$arg") ;;
  esac
done
if [[ "$store" != postgres && "$store" != memory ]]; then
  log "--store must be postgres or memory, not '${store}'"
  exit 2
fi

install_packages
build "${EVENTCORE_ROOT}/build"

if [[ "$store" == postgres && -z "${EVENTCORE_DATABASE_URL:-}" ]]; then
  EVENTCORE_DATABASE_URL="$(pg_start "${EVENTCORE_STATE}/pgdata" "${EVENTCORE_PG_PORT:-54329}")"
  export EVENTCORE_DATABASE_URL
  log "PostgreSQL data in .eventcore/pgdata (stop it with: scripts/pgctl.sh stop .eventcore/pgdata)"
fi

apps="${EVENTCORE_ROOT}/build/apps"
if ((!demo && ${#args[@]})); then
  log "unknown arguments: ${args[*]} (only --demo takes --accounts, --seconds, --connections)"
  exit 2
fi

listen="${EVENTCORE_LISTEN:-127.0.0.1:8080}"
url="http://${listen}"
logs="${EVENTCORE_STATE}/logs"
mkdir -p "$logs"
pids=()
stop_all() {
  trap - INT TERM EXIT
  if ((${#pids[@]})); then
    log "stopping the service and the worker"
    kill -TERM "${pids[@]}" 2>/dev/null || true
    wait "${pids[@]}" 2>/dev/null || true
  fi
}
trap stop_all EXIT
trap 'exit 0' INT TERM

if [[ "$store" == postgres ]]; then
  "${apps}/projection_worker/eventcore-projection-worker" --projection event_counts --status-ms 60000 \
    >"${logs}/worker.log" 2>&1 &
  pids+=($!)
  "${apps}/bank_service/eventcore-bank-service" --listen "$listen" >"${logs}/service.log" 2>&1 &
else
  "${apps}/bank_service/eventcore-bank-service" --listen "$listen" --store memory >"${logs}/service.log" 2>&1 &
fi
pids+=($!)
log "logs in .eventcore/logs (service.log, worker.log)"

# Ready when /health says so (bounded: 30 s).
for ((i = 0; i < 300; i++)); do
  if curl -fsS -o /dev/null "${url}/health" 2>/dev/null; then break; fi
  if ! kill -0 "${pids[-1]}" 2>/dev/null; then
    log "the service exited:"
    cat "${logs}/service.log" >&2
    exit 1
  fi
  sleep 0.1
done
curl -fsS -o /dev/null "${url}/health" || { log "the service did not become ready in 30 s"; exit 1; }
echo "EventCore bank service on ${url} ($(head -1 "${logs}/service.log"))"
if ((demo)); then
  source "${EVENTCORE_ROOT}/scripts/lib/http_demo.sh"
  http_demo "$url" "${args[@]}"
  exit $?
fi

# The tour: each request as a curl line, then the service's real answer.
run=$(date +%s)
ada="ada-${run}" bob="bob-${run}"
request() {
  local method="$1" path="$2" body="${3:-}"
  echo
  if [[ -n "$body" ]]; then
    echo "\$ curl -X ${method} ${url}${path} -H 'Content-Type: application/json' -d '${body}'"
    curl -sS -X "$method" "${url}${path}" -H 'Content-Type: application/json' -d "$body" -w '  -> HTTP %{http_code}\n'
  else
    echo "\$ curl ${url}${path}"
    curl -sS "${url}${path}" -w '  -> HTTP %{http_code}\n'
  fi
}
request POST /accounts "{\"id\": \"${ada}\", \"owner\": \"Ada\"}"
request POST /accounts "{\"id\": \"${bob}\", \"owner\": \"Bob\"}"
request POST "/accounts/${ada}/deposits" '{"amount_cents": 10000}'
transfer=$(curl -sS -X POST "${url}/transfers" -H 'Content-Type: application/json' \
  -d "{\"from\": \"${ada}\", \"to\": \"${bob}\", \"amount_cents\": 2500, \"reference\": \"rent\"}" \
  -w '  -> HTTP %{http_code}')
echo
echo "\$ curl -X POST ${url}/transfers -H 'Content-Type: application/json' -d '{\"from\": \"${ada}\", \"to\": \"${bob}\", \"amount_cents\": 2500, \"reference\": \"rent\"}'"
echo "$transfer"
position=$(sed -n 's/.*"position":"\([0-9]*:[0-9]*\)".*/\1/p' <<<"$transfer")
request POST /transfers "{\"from\": \"${bob}\", \"to\": \"${ada}\", \"amount_cents\": 999999}"
request GET "/accounts/${ada}?min_position=${position}"
request GET "/accounts/${bob}?min_position=${position}"
request GET "/accounts/${bob}/events"
echo
if [[ "$store" == postgres ]]; then
  # The operator's view of the same store, with the eventcore CLI.
  echo "\$ eventcore read account-${ada} --from 3"
  "${apps}/cli/eventcore" read "account-${ada}" --from 3
  echo "\$ eventcore projections    # event_counts: the worker's table; balances: the service's in-memory model (progress reported once a second)"
  "${apps}/cli/eventcore" projections
  echo
fi

if ((wait_for_ctrl_c)); then
  cat <<EOF
Serving on ${url} until Ctrl-C. Try:
  curl -X POST ${url}/accounts -H 'Content-Type: application/json' -d '{"id": "carol"}'
  curl -X POST ${url}/accounts/carol/deposits -H 'Content-Type: application/json' -d '{"amount_cents": 700}'
  curl ${url}/accounts/${ada}
  curl ${url}/health
  curl ${url}/metrics
  build/apps/cli/eventcore stats      # (EVENTCORE_DATABASE_URL=${EVENTCORE_DATABASE_URL:-...})
EOF
  wait "${pids[-1]}"
fi
