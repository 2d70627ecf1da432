#!/usr/bin/env bash
# pgctl.sh start|stop|restart DATADIR PORT: controls a project-local
# PostgreSQL (used by tests that stop and restart the database).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cmd="$1" data="$2" port="${3:-54329}"
case "$cmd" in
  start) pg_start "$data" "$port" >/dev/null ;;
  stop) pg_stop "$data" ;;
  restart) pg_stop "$data"; pg_start "$data" "$port" >/dev/null ;;
  *) echo "usage: $0 start|stop|restart DATADIR PORT" >&2; exit 2 ;;
esac
