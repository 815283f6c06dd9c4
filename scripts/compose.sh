#!/usr/bin/env bash
# scripts/compose.sh — owns the compose rig's life: its images, the
# topology's start and initialisation, the drills, and tearing it down.
#
#   compose.sh build            every image, built here (no registry): a
#                               debootstrap'd Debian bookworm imported as the
#                               base, then postgres, etcd, shardwire, haproxy,
#                               prometheus and load FROM it; prints the time
#   compose.sh up [small|full]  starts the topology and waits until every
#                               shard has three copies and the fleet serves
#   compose.sh drill NAME       one drill (kill, partition-primary, hang,
#                               second-failure, replica-lag, proxy-loss,
#                               controller-loss, etcd-member-loss, etcd-loss)
#   compose.sh drills           every drill in turn, then the table
#   compose.sh table            the table of the last figures
#   compose.sh status           SHOW SHARDS and the containers
#   compose.sh down             removes containers, networks and volumes
#
# Environment: COMPOSE_PROJECT_NAME (default shardwire), SHARDWIRE_BIN (the
# binary to put in the image; default $CARGO_TARGET_DIR/release/shardwire,
# built when missing), ALERT_WAIT=short (accept a `pending` alert instead of
# waiting for its `for:` duration), RIG_TAG (the images' tag, default
# local) and RIG_NET (the networks' first two octets, default 10.213), so
# that two rigs (a developer's and compose-ci.sh's) never share images,
# containers or subnets; FINAL_HEAL=0 (`drills` does not heal the rig
# after the last drill: for a run that is torn down next).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
COMPOSE_DIR=$ROOT/compose
export COMPOSE_PROJECT_NAME=${COMPOSE_PROJECT_NAME:-shardwire}
export RIG_TAG=${RIG_TAG:-local} RIG_NET=${RIG_NET:-10.213}
STATE=${SHARDWIRE_COMPOSE_STATE:-/var/tmp/shardwire-compose-$COMPOSE_PROJECT_NAME}
mkdir -p "$STATE"

log() { echo "[compose $(date +%T)] $*" >&2; }
die() { log "error: $*"; exit 1; }

profile() { cat "$STATE/profile" 2>/dev/null || echo small; }
set_sizes() {
  case $1 in
    small) export SHARDS=2 REPLICAS=1 ;;
    full) export SHARDS=6 REPLICAS=3 ;;
    *) die "unknown profile $1 (small or full)" ;;
  esac
}
dc() { docker-compose -f "$COMPOSE_DIR/docker-compose.yml" --profile "$(profile)" "$@"; }
ctr() { echo "${COMPOSE_PROJECT_NAME}_$1_1"; }
net() { echo "${COMPOSE_PROJECT_NAME}_$1"; }
# The database nodes, etcd members and everything else of the profile.
pg_services() {
  local k
  for ((k = 0; k < SHARDS; k++)); do echo "shard$k-p shard$k-s1 shard$k-s2"; done
  for ((k = 0; k < REPLICAS; k++)); do echo "replica$k"; done
}
# The last octet of a database node's addresses (as gen-compose.py).
pg_octet() {
  case $1 in
    replica*) echo $((100 + ${1#replica})) ;;
    shard*) local k=${1#shard}; k=${k%%-*}
            case $1 in *-p) echo $((10 + 10 * k)) ;; *-s1) echo $((11 + 10 * k)) ;; *) echo $((12 + 10 * k)) ;; esac ;;
  esac
}
checker() { docker exec "$(ctr load)" python3 /usr/local/bin/checker.py "$@"; }
psql_node() { # NODE SQL: as the superuser, inside the node's container
  docker exec "$(ctr "$1")" psql -qAtX -d app -c "$2"
}

# ---------------------------------------------------------------- build
IMAGES="postgres etcd shardwire haproxy prometheus load"

shardwire_bin() {
  if [ -n "${SHARDWIRE_BIN:-}" ]; then echo "$SHARDWIRE_BIN"; return; fi
  local target=${CARGO_TARGET_DIR:-$ROOT/target}
  if [ ! -x "$target/release/shardwire" ]; then
    log "building the release binary (cargo build --release -p shardwire)"
    (cd "$ROOT" && cargo build --release -p shardwire) >&2
  fi
  echo "$target/release/shardwire"
}

cmd_build() {
  local t0=$SECONDS step
  command -v docker >/dev/null || die "docker not found"
  local bin; bin=$(shardwire_bin)
  [ -x "$bin" ] || die "no shardwire binary at $bin"
  mkdir -p "$STATE/build"
  if [ "${REBUILD:-}" = 1 ] || ! docker image inspect shardwire-compose/base:bookworm >/dev/null 2>&1; then
    step=$SECONDS
    if ! command -v debootstrap >/dev/null; then
      [ "$(id -u)" = 0 ] || die "debootstrap missing: apt-get install debootstrap"
      log "installing debootstrap (apt-get)"
      DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >"$STATE/build/apt-debootstrap.log" 2>&1 \
        || { apt-get update -q >/dev/null 2>&1 && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap \
               >"$STATE/build/apt-debootstrap.log" 2>&1; } || { tail -20 "$STATE/build/apt-debootstrap.log" >&2; exit 1; }
    fi
    log "base: debootstrap bookworm from deb.debian.org, docker import"
    bash "$COMPOSE_DIR/images/base/make-base.sh" "$STATE/build"
    log "base: $((SECONDS - step)) s"
  fi
  step=$SECONDS
  docker build -q -t "shardwire-compose/apt:$RIG_TAG" -f "$COMPOSE_DIR/images/base/Dockerfile.apt" \
    "$COMPOSE_DIR/images/base" >"$STATE/build/apt.log" 2>&1 || { tail -20 "$STATE/build/apt.log" >&2; exit 1; }
  log "apt lists: $((SECONDS - step)) s"
  # Each image's context is its folder, plus the files it copies from the repository.
  local ctx="$STATE/build/ctx"
  rm -rf "$ctx"; mkdir -p "$ctx"
  cp -r "$COMPOSE_DIR/images/." "$ctx/"
  # The image needs no debug info (the release profile keeps some, a debug
  # build a lot); it needs only libc, libm and libgcc_s (logged from ldd).
  objcopy --strip-debug "$bin" "$ctx/shardwire/shardwire" 2>/dev/null || cp "$bin" "$ctx/shardwire/shardwire"
  log "shardwire binary: $bin ($(du -m "$ctx/shardwire/shardwire" | cut -f1) MB stripped; needs $(ldd "$bin" 2>/dev/null | awk '$1 !~ /^(linux-vdso|\/)/ {print $1}' | tr '\n' ' '))"
  cp "$ROOT/monitoring/prometheus-alerts.yml" "$ctx/prometheus/"
  local pids=() name
  for name in $IMAGES; do
    ( step=$SECONDS
      docker build -q --build-arg "TAG=$RIG_TAG" -t "shardwire-compose/$name:$RIG_TAG" "$ctx/$name" >"$STATE/build/$name.log" 2>&1 \
        || { tail -20 "$STATE/build/$name.log" >&2; exit 1; }
      log "image $name: $((SECONDS - step)) s" ) &
    pids+=($!)
  done
  local failed=0 p
  for p in "${pids[@]}"; do wait "$p" || failed=1; done
  [ $failed = 0 ] || die "an image failed to build"
  log "build done in $((SECONDS - t0)) s"
  echo "$((SECONDS - t0))" >"$STATE/build-seconds"
}

# ---------------------------------------------------------------- up
wait_for() { # SECONDS WHAT COMMAND...
  local limit=$1 what=$2; shift 2
  local deadline=$((SECONDS + limit))
  until "$@" >/dev/null 2>&1; do
    [ $SECONDS -lt $deadline ] || die "timed out after ${limit}s waiting for $what"
    sleep 1
  done
}

all_copies() { # every shard shows copies = copies_configured on the console
  local out; out=$(checker shards) || return 1
  [ "$(echo "$out" | wc -l)" = "$SHARDS" ] || return 1
  ! echo "$out" | awk '{print $4}' | grep -qv 'copies=3/3'
}

cmd_up() {
  local p=${1:-small}
  set_sizes "$p"
  echo "$p" >"$STATE/profile"
  local img
  for img in base:bookworm $(printf "%s:$RIG_TAG " $IMAGES); do
    docker image inspect "shardwire-compose/$img" >/dev/null 2>&1 || { log "images missing: building"; cmd_build; break; }
  done
  local t0=$SECONDS s
  log "profile $p: $SHARDS shards x 3 copies, $REPLICAS replica node(s), 2 shardwire, 3 etcd"
  # The database nodes initialise while etcd elects a leader and the
  # others start; shardwire comes once every node is ready.
  # shellcheck disable=SC2046
  dc up -d $(pg_services) etcd1 etcd2 etcd3 haproxy prometheus load 2>&1 | grep -v '^Creating\|^$' >&2 || true
  for s in $(pg_services); do
    wait_for 300 "$s to initialise" docker exec "$(ctr "$s")" test -f /tmp/ready
  done
  log "database nodes ready ($((SECONDS - t0)) s)"
  dc up -d sw1 sw2 2>&1 | grep -v '^Creating\|^$' >&2 || true
  wait_for 120 "the shardwire consoles" checker shards
  wait_for 180 "three copies of every shard" all_copies
  wait_for 60 "prometheus" docker exec "$(ctr load)" python3 -c \
    "import urllib.request; urllib.request.urlopen('http://prometheus:9090/-/ready', timeout=2)"
  log "up in $((SECONDS - t0)) s"
  checker shards
}

cmd_down() {
  local label="label=com.docker.compose.project=$COMPOSE_PROJECT_NAME" ids n try
  # Nothing in the rig needs a clean stop (its data goes with it), so every
  # container is killed, paused ones (a drill cut short) unpaused first, and
  # waited for: an etcd member can take longer than a stop's grace period to
  # leave, and a container killed at that deadline while `down` removes
  # its network has left a stale endpoint in the daemon (network not
  # removable: "has active endpoints").
  docker ps -q --filter "$label" --filter status=paused | xargs -r docker unpause >/dev/null 2>&1 || true
  ids=$(docker ps -q --filter "$label")
  if [ -n "$ids" ]; then
    # shellcheck disable=SC2086
    docker kill $ids >/dev/null 2>&1 || true
    # shellcheck disable=SC2086
    timeout 30 docker wait $ids >/dev/null 2>&1 || true
  fi
  # The full profile names every service, so this removes either size.
  docker-compose -f "$COMPOSE_DIR/docker-compose.yml" --profile full down -v --remove-orphans -t 1 2>&1 \
    | grep -v '^Stopping\|^Removing\|^Network .* not found' >&2 || true
  for n in $(docker network ls -q --filter "$label"); do
    for try in 1 2 3; do docker network rm "$n" >/dev/null 2>&1 && break; sleep 1; done
    docker network inspect "$n" >/dev/null 2>&1 \
      && log "warning: network $(docker network inspect -f '{{.Name}}' "$n") is left (the daemon still counts an endpoint on it; the next up reuses it)"
  done
  rm -f "$STATE/profile"
  log "containers, networks and volumes of project $COMPOSE_PROJECT_NAME removed"
}

cmd_status() {
  set_sizes "$(profile)"
  checker shards || true
  dc ps
}

# ---------------------------------------------------------------- drills
# shellcheck source=../compose/drills.sh
source "$COMPOSE_DIR/drills.sh"

case ${1:-} in
  build) cmd_build ;;
  up) cmd_up "${2:-small}" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  drill) set_sizes "$(profile)"; run_drill "${2:?drill NAME}" ;;
  drills) set_sizes "$(profile)"; run_all_drills ;;
  table) print_table ;;
  *) sed -n '2,22p' "$0"; exit 2 ;;
esac
