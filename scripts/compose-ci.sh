#!/usr/bin/env bash
# scripts/compose-ci.sh — owns the compose rig's CI run: build the images
# (nothing is pulled), start the small profile (2 shards x 3 copies, one
# replica node, 2 shardwire instances, 3 etcd members, HAProxy,
# Prometheus, the load container), run every drill, print the table, and
# always tear everything down. Fails when a drill loses an acknowledged
# write, could not recover, did not see the alert it expects (or saw one
# it must not), when a primary cut from the proxies only was promoted, or
# a former primary came back writable. Exits 0 with "skipped: docker not
# available" where `docker info` fails.
#
# What keeps it inside CI's budget and out of a developer's way:
# - the shardwire binary is the debug build scripts/test.sh already made
#   ($CARGO_TARGET_DIR/debug/shardwire, built with `cargo build -p
#   shardwire` only when missing; SHARDWIRE_BIN overrides it), not a
#   release build (minutes of compiling on 2 cores). Its figures are a
#   debug build's; docs/compose-rig.md's are the release binary's, run by hand.
# - ALERT_WAIT=short: an alert seen `pending` counts, so drills do not wait
#   out the rules' `for:` durations (the table says `pending` for those).
#   Set ALERT_WAIT=full to wait for `firing`, as scripts/compose.sh does.
# - FINAL_HEAL=0: no healing after the last drill (the rig is removed next).
# - Its own project (COMPOSE_PROJECT_NAME=shardwire-ci), image tag
#   (RIG_TAG=ci) and subnets (RIG_NET=10.214) next to a developer's rig
#   (shardwire, local, 10.213); one compose-ci run at a time (a lock).
# - The whole run has a deadline (COMPOSE_CI_TIMEOUT, default 20m): past it
#   everything is stopped, the rig is torn down and it fails saying so.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
if ! docker info >/dev/null 2>&1 || ! command -v docker-compose >/dev/null; then
  echo "compose-ci: skipped: docker not available (docker info failed or docker-compose missing)"
  exit 0
fi
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-shardwire-ci}
export RIG_TAG=${RIG_TAG:-ci} RIG_NET=${RIG_NET:-10.214}
export SHARDWIRE_COMPOSE_STATE=${SHARDWIRE_COMPOSE_STATE:-/var/tmp/shardwire-compose-$COMPOSE_PROJECT_NAME}
export ALERT_WAIT=${ALERT_WAIT:-short} FINAL_HEAL=${FINAL_HEAL:-0}
compose() { bash "$ROOT/scripts/compose.sh" "$@"; }

if [ -z "${COMPOSE_CI_INNER:-}" ]; then
  # The outer run: one compose-ci at a time, the inner run under a
  # deadline, and the rig removed again whatever became of the inner run.
  limit=${COMPOSE_CI_TIMEOUT:-20m}
  start=$SECONDS
  exec 9>"/tmp/shardwire-compose-ci-$COMPOSE_PROJECT_NAME.lock"
  if ! flock -n 9; then
    echo "compose-ci: another compose-ci run (project $COMPOSE_PROJECT_NAME) holds the lock; waiting up to 10 min"
    flock -w 600 9 || { echo "compose-ci: FAILED: the other run did not finish within 10 min"; exit 1; }
  fi
  rc=0
  COMPOSE_CI_INNER=1 timeout -k 90s "$limit" bash "$0" "$@" || rc=$?
  case $rc in
    0) ;;
    124 | 137) echo "compose-ci: FAILED: timed out after $limit (COMPOSE_CI_TIMEOUT); rig torn down" ;;
    *) echo "compose-ci: FAILED (exit $rc)" ;;
  esac
  [ "$rc" = 0 ] || compose down 2>/dev/null || true
  echo "compose-ci: $((SECONDS - start)) s in all"
  exit "$rc"
fi

# The inner run.
t() { echo "compose-ci: $1 $((SECONDS - phase)) s"; phase=$SECONDS; }
trap 'exit 143' TERM INT
trap 'compose down' EXIT
phase=$SECONDS
if [ -z "${SHARDWIRE_BIN:-}" ]; then
  SHARDWIRE_BIN=${CARGO_TARGET_DIR:-$ROOT/target}/debug/shardwire
  if [ ! -x "$SHARDWIRE_BIN" ]; then
    echo "compose-ci: no debug binary at $SHARDWIRE_BIN: cargo build -p shardwire"
    (cd "$ROOT" && cargo build -p shardwire)
    t "debug build:"
  fi
fi
export SHARDWIRE_BIN
rm -rf "$SHARDWIRE_COMPOSE_STATE/results"
compose down
compose build; t "images built in"
compose up small; t "up small in"
compose drills; t "drills in"
python3 - "$SHARDWIRE_COMPOSE_STATE/results" <<'PY'
import json, os, sys
bad = []
files = sorted(os.listdir(sys.argv[1]))
for f in files:
    r = json.load(open(os.path.join(sys.argv[1], f)))
    d = r["drill"]
    if r["lost"]:
        bad.append(f"{d}: {r['lost']} acknowledged writes lost")
    if "recovery_s" in r and r["recovery_s"] is None:
        bad.append(f"{d}: no acknowledged write after the fault")
    alert = r.get("alert", "")
    if ": none" in alert or "unexpected" in alert:
        bad.append(f"{d}: alert not as expected ({alert})")
    if "= NO" in r.get("note", "") or "read_only=off" in r.get("note", ""):
        bad.append(f"{d}: {r['note']}")
if len(files) < 9:
    bad.append(f"only {len(files)} of 9 drills left figures")
if bad:
    print("compose-ci: FAILED\n  " + "\n  ".join(bad))
    sys.exit(1)
print("compose-ci: every drill recovered and saw its alert, 0 acknowledged writes lost")
PY
