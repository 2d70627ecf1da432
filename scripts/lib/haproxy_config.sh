#!/usr/bin/env bash
# haproxy_config.sh LISTEN NODE... : prints an haproxy configuration that
# balances HTTP on LISTEN (HOST:PORT) over the bank-service NODEs
# (HOST:PORT each), with /health checks. Used by scripts/cluster.sh and the
# cluster test, so that both run the same configuration.
#
# A request whose connection to a node fails is sent to another node
# (retry-on conn-failure with redispatch: safe, nothing reached the node).
# A request a node took and then lost (the node died) is answered 502, never
# resent by haproxy (it may have committed): the client retries it with the
# same Idempotency-Key, which is safe on any node.
set -euo pipefail
if (($# < 2)); then
  echo "usage: haproxy_config.sh LISTEN NODE..." >&2
  exit 2
fi
listen="$1"
shift
cat <<EOF
global
  maxconn 4096

defaults
  mode http
  option http-keep-alive
  timeout connect 2s
  timeout client 60s
  timeout server 60s
  timeout http-request 10s
  # A node answers /health within this even under full load; a dead one
  # refuses at once (connection refused takes it out within a second).
  timeout check 3s
  retries 3
  option redispatch 1
  retry-on conn-failure

frontend bank
  bind ${listen}
  default_backend nodes

backend nodes
  balance roundrobin
  option httpchk GET /health
  http-check expect status 200
  default-server inter 1s fall 2 rise 2
EOF
n=0
for node in "$@"; do
  n=$((n + 1))
  echo "  server node${n} ${node} check"
done
