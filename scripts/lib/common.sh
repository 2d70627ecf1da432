# Shared by scripts/run.sh, scripts/test.sh and scripts/bench.sh: installs
# what the project needs, builds it, and runs a project-local PostgreSQL.
# shellcheck shell=bash

EVENTCORE_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
EVENTCORE_STATE="${EVENTCORE_ROOT}/.eventcore"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"

log() { printf '[eventcore] %s\n' "$*" >&2; }
# The median of the numbers on stdin, one per line (blank lines skipped).
median() { grep . | sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

EVENTCORE_PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config
  libcaf-dev libpq-dev libcereal-dev libspdlog-dev libfmt-dev catch2
  libcpp-httplib-dev nlohmann-json3-dev libcli11-dev prometheus-cpp-dev
  postgresql-15 postgresql-client-15 curl wrk libssl-dev openssl haproxy
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
)

# Installs missing Debian packages; quiet and quick when all are present.
install_packages() {
  local missing=()
  for pkg in "${EVENTCORE_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q 'install ok installed' || missing+=("$pkg")
  done
  if ((${#missing[@]} == 0)); then return 0; fi
  log "installing: ${missing[*]}"
  local sudo=()
  if [[ $(id -u) -ne 0 ]]; then sudo=(sudo); fi
  export DEBIAN_FRONTEND=noninteractive
  "${sudo[@]}" apt-get update -qq
  "${sudo[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
}

# build DIR [cmake args...]: configures (a new DIR, or new args) and builds into DIR.
build() {
  local dir="$1"; shift
  export CCACHE_DIR="${CCACHE_DIR:-${EVENTCORE_STATE}/ccache}"
  if [[ ! -f "${dir}/build.ninja" || $# -gt 0 ]]; then
    cmake -S "${EVENTCORE_ROOT}" -B "${dir}" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo "$@" >/dev/null
  fi
  log "building in ${dir#"${EVENTCORE_ROOT}/"} (log: ${dir#"${EVENTCORE_ROOT}/"}/build.log)"
  # Every 25th progress line, all warnings and errors; the full output is in the log.
  local status=0
  set +e
  cmake --build "${dir}" -- -j"$(nproc)" 2>&1 | tee "${dir}/build.log" |
    awk '/^\[[0-9]+\/[0-9]+\] / { if (++n % 25 == 0) { print "  " $1; fflush() } next }
         /^ninja: / { next } { print; fflush() }' >&2
  status=${PIPESTATUS[0]}
  set -e
  if ((status != 0)); then
    log "build failed (exit ${status})"
    return "$status"
  fi
}

# Runs a PostgreSQL tool as the postgres user when we are root (initdb and
# postgres refuse to run as root).
as_pg_user() {
  if [[ $(id -u) -eq 0 ]]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# pg_start DATADIR PORT: initdb DATADIR when new, start it on 127.0.0.1:PORT
# (no unix socket), and print its connection URI. Reuses a running server.
pg_start() {
  local data="$1" port="$2" extra="${3:-}"
  mkdir -p "$(dirname "$data")"
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$(dirname "$data")"; fi
  if [[ ! -f "${data}/PG_VERSION" ]]; then
    log "initdb ${data#"${EVENTCORE_ROOT}/"}"
    as_pg_user "${PG_BIN}/initdb" -D "$data" -U eventcore --auth=trust -E UTF8 --no-sync >/dev/null
  fi
  pg_run "$data" "$port" "PostgreSQL" "$extra"
}

# pg_run DATADIR PORT WHAT OPTIONS: starts the server in DATADIR on
# 127.0.0.1:PORT (no unix socket) unless it runs; prints its URI. When it
# does not start, says so with the end of its log (a caller's cleanup may
# delete the directory) and fails: callers take the URI through a command
# substitution, where `set -e` does not reach.
# Our ports lie in Linux's ephemeral range (32768-60999): a client
# connection that happened to draw PORT as its local port keeps it for the
# 60 s of TIME_WAIT after closing, and the server cannot bind it ("Address
# already in use"; seen once in a clean-clone test run and in a bench run).
# Then it tries again, once a second, for up to 70 s: nothing signals the
# end of TIME_WAIT.
pg_run() {
  local data="$1" port="$2" what="$3" extra="$4" tries=0
  if ! as_pg_user "${PG_BIN}/pg_ctl" -D "$data" status >/dev/null 2>&1; then
    log "starting ${what} on 127.0.0.1:${port}"
    local log_from said
    while :; do
      log_from=$(($(stat -c %s "${data}/server.log" 2>/dev/null || echo 0) + 1))
      if said=$(as_pg_user "${PG_BIN}/pg_ctl" -D "$data" -l "${data}/server.log" -w -t 60 \
        -o "-c listen_addresses=127.0.0.1 -c port=${port} -c unix_socket_directories='' -c max_connections=300 ${extra}" \
        start 2>&1 >/dev/null); then
        break
      fi
      if ((++tries <= 70)) && tail -c "+${log_from}" "${data}/server.log" 2>/dev/null | grep -q 'Address already in use'; then
        ((tries > 1)) || log "port ${port} is in use (a closed connection in TIME_WAIT, or another server); waiting up to 70 s"
        sleep 1
        continue
      fi
      [[ -z $said ]] || echo "$said" >&2
      log "${what} did not start on 127.0.0.1:${port}; the end of ${data}/server.log:"
      tail -n 20 "${data}/server.log" >&2 || true
      return 1
    done
  fi
  echo "postgresql://eventcore@127.0.0.1:${port}/postgres"
}

# pg_start_standby PRIMARY_PORT DATADIR PORT [OPTIONS]: a hot standby of the server on
# 127.0.0.1:PRIMARY_PORT (pg_basebackup, streaming replication) in DATADIR,
# started on 127.0.0.1:PORT with hot_standby_feedback on; prints its URI.
# Reuses a running one. Read the log there with PostgresStoreConfig::
# replica_conninfo (eventcore-projection-worker --replica).
# It replicates through a slot of its own (eventcore_standby_PORT), so the
# primary keeps the WAL it has not received: without one a standby that was
# disconnected while the primary restarted (the restart test does that) can
# ask for WAL already recycled and stop replaying for good.
pg_start_standby() {
  local primary_port="$1" data="$2" port="$3" extra="${4:-}"
  local slot="eventcore_standby_${port}"
  mkdir -p "$(dirname "$data")"
  if [[ $(id -u) -eq 0 ]]; then chown postgres "$(dirname "$data")"; fi
  if [[ ! -f "${data}/PG_VERSION" ]]; then
    log "pg_basebackup of 127.0.0.1:${primary_port} into ${data#"${EVENTCORE_ROOT}/"}"
    # A slot left by an earlier standby of that port would hold WAL forever.
    "${PG_BIN}/psql" -qAt "postgresql://eventcore@127.0.0.1:${primary_port}/postgres" -c \
      "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '${slot}'" >/dev/null
    as_pg_user "${PG_BIN}/pg_basebackup" -h 127.0.0.1 -p "$primary_port" -U eventcore -D "$data" \
      -R -X stream -c fast --no-sync -C -S "$slot"
  fi
  pg_run "$data" "$port" "the standby" "-c hot_standby=on -c hot_standby_feedback=on ${extra}"
}

pg_stop() {
  local data="$1"
  if [[ -f "${data}/postmaster.pid" ]]; then
    as_pg_user "${PG_BIN}/pg_ctl" -D "$data" -m fast -w stop >/dev/null 2>&1 || true
  fi
}
