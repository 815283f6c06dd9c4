#!/usr/bin/env bash
# Runs every test of the workspace: unit tests and the end-to-end tests that
# start real PostgreSQL through the rig. Installs what is missing first.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh test
if cargo nextest --version >/dev/null 2>&1; then
  cargo nextest run --workspace --no-fail-fast "$@"
else
  cargo test --workspace --no-fail-fast "$@"
fi
