#!/usr/bin/env bash
# Transfers/s through haproxy in front of 1 node and in front of 3 nodes
# (scripts/cluster.sh), on the same PostgreSQL, in one run: the 3-node
# figure as a ratio of the 1-node one. Prints JSON lines.
#   bench/cluster_bench.sh BUILD_DIR DATABASE_URL [--seconds S] [--accounts N] [--connections C] [--reps R]
# Each node is a bank-service process (any node serves any account; the
# store's version check arbitrates), so on a 2-core machine this measures
# what scaling out costs, not what it gains.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
source "${root}/scripts/lib/common.sh"  # median
export EVENTCORE_BUILD_DIR="$1" EVENTCORE_DATABASE_URL="$2"
export EVENTCORE_LISTEN="${EVENTCORE_LISTEN:-127.0.0.1:18180}"
shift 2
seconds=10 accounts=100 connections=32 reps=3
while (($#)); do
  case "$1" in
    --seconds) seconds="$2"; shift ;;
    --accounts) accounts="$2"; shift ;;
    --connections) connections="$2"; shift ;;
    --reps) reps="$2"; shift ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
  esac
  shift
done
declare -A rates
for ((rep = 1; rep <= reps; rep++)); do
  for nodes in 1 3; do
    echo "[bench] cluster: ${nodes} node(s), rep ${rep} of ${reps}, ${seconds} s" >&2
    out=$("${root}/scripts/cluster.sh" --nodes "$nodes" --demo --seconds "$seconds" --accounts "$accounts" \
      --connections "$connections" 2>/dev/null)
    grep -q "money conserved" <<<"$out" || { echo "$out" >&2; exit 1; }
    rate=$(sed -n 's/^transfers: \([0-9]*\) done.*/\1/p' <<<"$out")
    rates[$nodes]+="$(awk -v n="$rate" -v s="$seconds" 'BEGIN { printf "%.1f", n / s }') "
  done
done
one=$(tr ' ' '\n' <<<"${rates[1]}" | median)
three=$(tr ' ' '\n' <<<"${rates[3]}" | median)
printf '{"bench": "cluster", "nodes": 1, "connections": %d, "accounts": %d, "transfers_per_s_median": %s}\n' \
  "$connections" "$accounts" "$one"
printf '{"bench": "cluster", "nodes": 3, "connections": %d, "accounts": %d, "transfers_per_s_median": %s, "ratio_to_1_node": %s}\n' \
  "$connections" "$accounts" "$three" "$(awk -v a="$three" -v b="$one" 'BEGIN { printf "%.2f", a / b }')"
