#!/usr/bin/env bash
# The load bench: pgbench -S through shardwire vs pgbouncer vs direct.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh --bench
cargo bench -p shardwire-benches --bench load "$@"
