#!/usr/bin/env bash
# scripts/compose-ci.sh — owns the compose rig's CI run: build the images
# (nothing is pulled), start the small profile (2 shards x 3 copies, one
# replica node, 2 shardwire instances, 3 etcd members, HAProxy,
# Prometheus, the load container), run every drill, print the table, and
# always tear everything down. Fails when a drill loses an acknowledged
# write or could not recover. Exits 0 with "skipped: docker not available"
# where `docker info` fails.
#
# ALERT_WAIT=short: an alert seen `pending` counts, so drills do not wait
# out the rules' `for:` durations (the table says `pending` for those).
# Set ALERT_WAIT=full to wait for `firing`, as scripts/compose.sh does.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! docker info >/dev/null 2>&1 || ! command -v docker-compose >/dev/null; then
  echo "compose-ci: skipped: docker not available (docker info failed or docker-compose missing)"
  exit 0
fi
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-shardwire-ci}
export SHARDWIRE_COMPOSE_STATE=${SHARDWIRE_COMPOSE_STATE:-/var/tmp/shardwire-compose-$COMPOSE_PROJECT_NAME}
export ALERT_WAIT=${ALERT_WAIT:-short}
compose() { bash "$ROOT/scripts/compose.sh" "$@"; }
start=$SECONDS
trap 'compose down; echo "compose-ci: $((SECONDS - start)) s in all"' EXIT
rm -rf "$SHARDWIRE_COMPOSE_STATE/results"
compose down
compose build
compose up small
compose drills
python3 - "$SHARDWIRE_COMPOSE_STATE/results" <<'PY'
import json, os, sys
bad = []
for f in sorted(os.listdir(sys.argv[1])):
    r = json.load(open(os.path.join(sys.argv[1], f)))
    if r["lost"]:
        bad.append(f"{r['drill']}: {r['lost']} acknowledged writes lost")
    if "recovery_s" in r and r["recovery_s"] is None:
        bad.append(f"{r['drill']}: no acknowledged write after the fault")
if bad:
    print("compose-ci: FAILED\n  " + "\n  ".join(bad))
    sys.exit(1)
print("compose-ci: every drill recovered, 0 acknowledged writes lost")
PY
