#!/usr/bin/env bash
# The load bench: pgbench -S through shardwire vs pgbouncer vs direct.
# With --fleet: the fleet bench (failover through two instances, etcd
# load, 20 instances against a three-member etcd).
# With --instructions: user-space instructions per transaction, shardwire
# vs pgbouncer, both under valgrind's callgrind (installed here).
# With --sharded: the demo's keyed mix on six shards through shardwire vs
# pgbench sent directly to each shard, and the leaderboard read.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --bench
if [ "${1:-}" = "--fleet" ]; then
  shift
  cargo build --release -p shardwire
  exec cargo bench -p shardwire-benches --bench fleet -- "$@"
fi
if [ "${1:-}" = "--instructions" ]; then
  shift
  command -v valgrind >/dev/null 2>&1 || { [ "$(id -u)" = 0 ] && apt-get install -y valgrind; }
  exec cargo bench -p shardwire-benches --bench instructions -- "$@"
fi
if [ "${1:-}" = "--sharded" ]; then
  shift
  exec cargo bench -p shardwire-benches --bench sharded -- "$@"
fi
cargo bench -p shardwire-benches --bench load "$@"
