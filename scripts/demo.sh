#!/usr/bin/env bash
# Builds shardwire and runs `shardwire demo`: a local PostgreSQL primary
# with a synchronous standby and the proxy in front of it on port 6432.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
cargo build --release -p shardwire
exec ./target/release/shardwire demo "$@"
