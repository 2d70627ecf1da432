#!/usr/bin/env bash
# Where a single-event append's server time goes: pgbench runs variants of
# the store's append statement (store/src/postgres_append_sql.cpp, with
# literals for its parameters) against the raw INSERT, alternating, and
# prints one JSON line per variant with its median tps and its ratio to
# raw. synchronous_commit is off: the figure is server CPU per statement,
# not fsync. Used for docs/PERFORMANCE.md, "Known versions".
#   bench/append_variants.sh BUILD_DIR DATABASE_URL [--rounds N] [--seconds S] [--clients C]
# BUILD_DIR holds the CLI (apps/cli/eventcore), which migrates the schema.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/../scripts/lib/common.sh"  # PG_BIN, median
build="$1" url="$2"
shift 2
rounds=5 seconds=3 clients=4
while (($#)); do
  case "$1" in
    --rounds) rounds="$2"; shift ;;
    --seconds) seconds="$2"; shift ;;
    --clients) clients="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
schema=append_variants
work="$(mktemp -d)"
trap 'rm -rf "$work"; psql "$url" -qc "DROP SCHEMA IF EXISTS ${schema} CASCADE" >/dev/null 2>&1 || true' EXIT
psql "$url" -qc "DROP SCHEMA IF EXISTS ${schema} CASCADE" >/dev/null 2>&1 || true
"${build}/apps/cli/eventcore" --database "$url" --schema "$schema" migrate >/dev/null
psql "$url" -qc "CREATE SEQUENCE ${schema}.v"

payload="'\\x$(printf '%0128d' 0)'::bytea"
columns="event_id, stream_id, stream_version, event_type, payload, correlation_id, causation_id, user_id, metadata"
nulls="NULL::uuid, NULL::uuid, NULL::text, NULL::jsonb"
lock="(SELECT pg_advisory_xact_lock(eventcore_stream_key(:s))::text)"
probe="(SELECT coalesce(max(e.stream_version), 0) FROM events e WHERE e.stream_id = :s)"
returning="RETURNING position, stream_version, pg_current_xact_id()"
variant() {  # NAME SQL: a script whose stream (:s in SQL) is its own per client
  local stream="('${1}-' || :client_id)"
  printf '%s;\n' "${2//:s/$stream}" >"${work}/$1.sql"
  names+=("$1")
}
names=()
# The raw INSERT; the version from a sequence, which keeps the key unique.
variant raw "INSERT INTO events (${columns}) VALUES (gen_random_uuid(), :s, nextval('v'), 'Recorded', ${payload}, ${nulls})"
# The same with the stream's advisory lock (a one-time filter).
variant lock "INSERT INTO events (${columns}) SELECT gen_random_uuid(), :s, nextval('v'), 'Recorded', ${payload}, ${nulls} WHERE ${lock} = '' ${returning}"
# Lock and the version read, the version taken from it.
variant lock_read "INSERT INTO events (${columns}) SELECT gen_random_uuid(), :s, h.head + 1, 'Recorded', ${payload}, ${nulls} FROM (SELECT ${probe} AS head WHERE ${lock} = '') h ${returning}"
# The store's statement (append_stream_sql, one event, no create).
variant store "INSERT INTO events (${columns}) SELECT gen_random_uuid(), :s, h.head + 1, 'Recorded', ${payload}, ${nulls} FROM (SELECT l.locked, ${probe} AS head FROM (SELECT pg_advisory_xact_lock(eventcore_stream_key(:s))::text AS locked OFFSET 0) l OFFSET 0) h WHERE (h.head BETWEEN 0 AND 9223372036854775807 OR eventcore_conflict(0, h.head, :s) IS NULL) ${returning}"
# Its known form: the version expected instead of the read (a sequence here).
variant store_known "INSERT INTO events (${columns}) SELECT gen_random_uuid(), :s, h.head + 1, 'Recorded', ${payload}, ${nulls} FROM (SELECT l.locked, nextval('v') - 1 AS head FROM (SELECT pg_advisory_xact_lock(eventcore_stream_key(:s))::text AS locked OFFSET 0) l OFFSET 0) h WHERE (h.head BETWEEN 0 AND 9223372036854775807 OR eventcore_conflict(0, h.head, :s) IS NULL) ${returning}"

declare -A runs
for ((round = 1; round <= rounds; round++)); do
  echo "[bench] append variants: round ${round} of ${rounds}" >&2
  for name in "${names[@]}"; do
    out=$(PGOPTIONS="-c search_path=${schema} -c synchronous_commit=off" \
      "${PG_BIN}/pgbench" -n -M prepared -c "$clients" -j 2 -T "$seconds" -f "${work}/${name}.sql" "$url" 2>&1) ||
      { echo "pgbench failed on variant ${name}:" >&2; echo "$out" >&2; exit 1; }
    tps=$(sed -n 's/^tps = \([0-9.]*\).*/\1/p' <<<"$out")
    runs[$name]+="${tps} "
  done
done
raw=$(tr ' ' '\n' <<<"${runs[raw]}" | median)
for name in "${names[@]}"; do
  m=$(tr ' ' '\n' <<<"${runs[$name]}" | median)
  printf '{"bench": "append_variant", "variant": "%s", "clients": %d, "seconds": %s, "rounds": %d, "tps_median": %s, "ratio_to_raw": %s, "tps": [%s]}\n' \
    "$name" "$clients" "$seconds" "$rounds" "$m" "$(awk -v a="$m" -v b="$raw" 'BEGIN { printf "%.3f", a / b }')" \
    "$(tr ' ' '\n' <<<"${runs[$name]}" | grep . | paste -sd, -)"
done
