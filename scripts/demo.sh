#!/usr/bin/env bash
# Builds shardwire and runs `shardwire demo`: six local PostgreSQL shards,
# each a primary with a synchronous standby, a three-node leaderboard
# replica cluster, and the proxy in front of them on port 6432.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh demo
cargo build --release -p shardwire
exec ./target/release/shardwire demo "$@"
