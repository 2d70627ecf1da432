#!/usr/bin/env bash
# pgctl.sh start|stop|restart|crash DATADIR PORT: controls a project-local
# PostgreSQL (used by tests that stop and restart the database). crash stops
# it with -m immediate (no shutdown checkpoint, connections cut mid-flight,
# as in a server crash) and starts it again.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
cmd="$1" data="$2" port="${3:-54329}"
case "$cmd" in
  start) pg_start "$data" "$port" >/dev/null ;;
  stop) pg_stop "$data" ;;
  restart) pg_stop "$data"; pg_start "$data" "$port" >/dev/null ;;
  crash) as_pg_user "${PG_BIN}/pg_ctl" -D "$data" -m immediate -w stop >/dev/null 2>&1 || true
         pg_start "$data" "$port" >/dev/null ;;
  *) echo "usage: $0 start|stop|restart|crash DATADIR PORT" >&2; exit 2 ;;
esac
