#!/usr/bin/env bash
# The load bench: pgbench -S through shardwire vs pgbouncer vs direct.
# With --fleet: the fleet bench (failover through two instances, etcd
# load, 20 instances against a three-member etcd).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --bench
if [ "${1:-}" = "--fleet" ]; then
  shift
  cargo build --release -p shardwire
  exec cargo bench -p shardwire-benches --bench fleet -- "$@"
fi
cargo bench -p shardwire-benches --bench load "$@"
