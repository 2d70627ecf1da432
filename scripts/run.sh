#!/usr/bin/env bash
# Sets everything up and runs the example: the bank demo (concurrent transfers
# through the command runtime).
#   scripts/run.sh                  # against a project-local PostgreSQL (started if needed)
#   scripts/run.sh --store=memory   # in-memory store, no database
# EVENTCORE_DATABASE_URL points it at an external PostgreSQL instead.
# Other arguments go to eventcore-bank-demo (--accounts, --transfers, --clients,
# --log-level=debug, --log-format=json, --metrics; see --help).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

store=postgres
args=()
for arg in "$@"; do
  case "$arg" in
    --store=*) store="${arg#--store=}" ;;
    *) args+=("$arg") ;;
  esac
done

install_packages
build "${EVENTCORE_ROOT}/build"

if [[ "$store" == postgres && -z "${EVENTCORE_DATABASE_URL:-}" ]]; then
  EVENTCORE_DATABASE_URL="$(pg_start "${EVENTCORE_STATE}/pgdata" "${EVENTCORE_PG_PORT:-54329}")"
  export EVENTCORE_DATABASE_URL
  log "PostgreSQL data in .eventcore/pgdata (stop it with: scripts/pgctl.sh stop .eventcore/pgdata)"
fi

# The bank through the command runtime (the store alone: build/apps/store_demo/eventcore-store-demo).
exec "${EVENTCORE_ROOT}/build/apps/bank_demo/eventcore-bank-demo" --store="$store" "${args[@]}"
