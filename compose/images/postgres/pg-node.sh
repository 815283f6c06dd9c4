#!/usr/bin/env bash
# compose/images/postgres/pg-node.sh — owns one database node's life.
#
# Environment (from compose/docker-compose.yml):
#   NODE   this node's host name (shard0-p, shard0-s1, replica0, ...)
#   ROLE   primary | standby | replica   (the role it is *configured* with)
#   SHARD  the shard number (shard nodes), SHARDS the number of shards
#   PEERS  the host names of the shard's three nodes (shard nodes)
#
# With an empty data directory:
#   - a shard node first looks for a writable primary among its peers; if
#     one exists it becomes its standby (pg_basebackup -R, its own slot and
#     application_name = NODE with '-' as '_'). This is how a failed node is
#     re-attached: `compose.sh` recreates its container and it comes back as
#     a standby of whichever node is primary now; shardwire adopts it.
#   - otherwise, when no peer answers at all, a configured primary runs initdb and loads the sample
#     schema (as the demo does: users, leaderboard, heartbeat, the drills'
#     table, the publication shard<k>_leaderboard) and sets
#     synchronous_standby_names = 'ANY 1 (<its two standbys>)';
#   - a replica node runs initdb and subscribes to every shard's
#     publication on that shard's writable primary.
# With data already there (a container restarted after docker kill/stop)
# it just starts PostgreSQL: a former primary comes back as a primary, and
# shardwire fences it (read-only, no traffic).
# /tmp/ready exists once the node is fully set up; compose.sh waits for it.
set -euo pipefail
: "${NODE:?}" "${ROLE:?}"
# Setting a node up (its own schema, a base backup) may wait for a busy
# machine: 30 s to connect. Probing peers (is it there, is it writable)
# gives up after 2 s and retries.
export PGPASSWORD=postgres PGCONNECT_TIMEOUT=30 PGUSER=postgres
app=${NODE//-/_}
rm -f /tmp/ready
log() { echo "[$NODE $(date +%T)] $*"; }
q() { psql -v ON_ERROR_STOP=1 -qAtX "$@"; }
probe() { PGCONNECT_TIMEOUT=2 q "$@"; }

# The peer that is a writable primary (not in recovery, not fenced read-only).
writable_primary() {
  local h r
  for h in $1; do
    [ "$h" = "$NODE" ] && continue
    r=$(probe -h "$h" -d postgres -c "SELECT NOT pg_is_in_recovery() AND current_setting('default_transaction_read_only') = 'off'" 2>/dev/null) || continue
    [ "$r" = t ] && { echo "$h"; return 0; }
  done
  return 1
}

any_peer_answers() {
  local h
  for h in $PEERS; do
    [ "$h" != "$NODE" ] && probe -h "$h" -d postgres -c "SELECT 1" >/dev/null 2>&1 && return 0
  done
  return 1
}

settings() {
  cat <<CONF
# --- shardwire compose rig ---
listen_addresses = '*'
max_connections = 200
shared_buffers = '32MB'
fsync = off
synchronous_commit = on
full_page_writes = on
wal_log_hints = on
wal_level = logical
max_wal_senders = 20
max_replication_slots = 20
wal_keep_size = '256MB'
hot_standby = on
# A partition or a paused peer shows within seconds, not the default minute.
wal_receiver_timeout = '5s'
wal_sender_timeout = '5s'
wal_receiver_status_interval = '1s'
wal_retrieve_retry_interval = '200ms'
tcp_keepalives_idle = 2
tcp_keepalives_interval = 1
tcp_keepalives_count = 3
max_logical_replication_workers = 16
max_worker_processes = 28
max_sync_workers_per_subscription = 2
log_min_messages = warning
log_line_prefix = '%m [%p] '
password_encryption = 'scram-sha-256'
include_if_exists 'node.conf'
CONF
}

init_cluster() {
  echo postgres >/tmp/pw
  initdb -D "$PGDATA" -U postgres --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 >/dev/null
  rm /tmp/pw
  settings >>"$PGDATA/postgresql.conf"
  printf 'local all all trust\nhost all all 0.0.0.0/0 scram-sha-256\nhost replication all 0.0.0.0/0 scram-sha-256\n' >"$PGDATA/pg_hba.conf"
}

node_conf() { echo "cluster_name = '$app'" >"$PGDATA/node.conf"; }

pg_pid=
start_pg() {
  postgres -D "$PGDATA" &
  pg_pid=$!
  trap 'kill -INT $pg_pid 2>/dev/null' INT TERM
  until pg_isready -q -h /var/run/postgresql 2>/dev/null || pg_isready -q; do
    kill -0 $pg_pid 2>/dev/null || { log "postgres exited"; exit 1; }
    sleep 0.2
  done
}

shard_schema() { # k count
  local k=$1 n=$2 chk
  chk="CHECK (((user_id % $n) + $n) % $n = $k)"
  cat <<SQL
CREATE TABLE users (user_id bigint PRIMARY KEY, name text NOT NULL, $chk);
CREATE TABLE leaderboard (user_id bigint PRIMARY KEY, score bigint NOT NULL DEFAULT 0,
  updated_at timestamptz NOT NULL DEFAULT now(), $chk);
CREATE INDEX leaderboard_score ON leaderboard (score DESC);
CREATE TABLE shardwire_heartbeat (shard int PRIMARY KEY, beat timestamptz NOT NULL);
CREATE TABLE drill_writes (drill text NOT NULL, writer int NOT NULL, seq int NOT NULL,
  user_id bigint NOT NULL, at timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (drill, writer, seq), $chk);
INSERT INTO users SELECT g, 'player ' || g FROM generate_series(1, 60000) g
  WHERE ((g % $n) + $n) % $n = $k;
INSERT INTO leaderboard (user_id, score) SELECT user_id, (user_id * 7919) % 10000 FROM users;
SQL
}

make_app_db() {
  q -d postgres -c "CREATE ROLE app LOGIN PASSWORD 'app'" -c "CREATE DATABASE app OWNER app"
}

become_primary() {
  log "initdb as shard $SHARD's primary"
  init_cluster; node_conf; start_pg
  make_app_db
  shard_schema "$SHARD" "$SHARDS" | PGPASSWORD=app q -h 127.0.0.1 -U app -d app
  q -d app -c "ALTER TABLE shardwire_heartbeat OWNER TO postgres" \
    -c "CREATE PUBLICATION shard${SHARD}_leaderboard FOR TABLE leaderboard, shardwire_heartbeat"
  local names=()
  for h in $PEERS; do [ "$h" != "$NODE" ] && names+=("${h//-/_}"); done
  local list; list=$(IFS=,; echo "${names[*]}")
  q -d postgres -c "ALTER SYSTEM SET synchronous_standby_names = 'ANY 1 (${list//,/, })'" -c "SELECT pg_reload_conf()" >/dev/null
  log "primary ready (synchronous_standby_names = ANY 1 (${list//,/, }))"
}

become_standby() { # upstream
  local up=$1
  log "base backup from $up"
  q -h "$up" -d postgres -c "SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name = '$app' AND NOT active" >/dev/null
  pg_basebackup -h "$up" -D "$PGDATA" -R -X stream -C -S "$app" --checkpoint=fast --no-sync
  node_conf
  sed -i '/^primary_conninfo/d' "$PGDATA/postgresql.auto.conf"
  echo "primary_conninfo = 'host=$up port=5432 user=postgres password=postgres application_name=$app'" >>"$PGDATA/postgresql.auto.conf"
  start_pg
  until [ "$(q -d postgres -c "SELECT coalesce((SELECT status FROM pg_stat_wal_receiver), 'none')")" = streaming ]; do sleep 0.3; done
  log "standby streaming from $up"
}

become_replica() {
  log "initdb as replica-cluster node"
  init_cluster; node_conf; start_pg
  make_app_db
  PGPASSWORD=app q -h 127.0.0.1 -U app -d app <<'SQL'
CREATE TABLE leaderboard (user_id bigint PRIMARY KEY, score bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now());
CREATE INDEX leaderboard_score ON leaderboard (score DESC);
CREATE TABLE shardwire_heartbeat (shard int PRIMARY KEY, beat timestamptz NOT NULL);
SQL
  q -d app -c "ALTER TABLE shardwire_heartbeat OWNER TO postgres"
  local k up
  for ((k = 0; k < SHARDS; k++)); do
    until up=$(writable_primary "shard$k-p shard$k-s1 shard$k-s2") \
        && [ "$(probe -h "$up" -d app -c "SELECT count(*) FROM pg_publication WHERE pubname = 'shard${k}_leaderboard'" 2>/dev/null)" = 1 ]; do
      sleep 1
    done
    q -d app -c "CREATE SUBSCRIPTION ${app}_shard$k CONNECTION 'host=$up port=5432 user=postgres password=postgres dbname=app' PUBLICATION shard${k}_leaderboard"
    log "subscribed to shard $k on $up"
  done
  until [ "$(q -d app -c "SELECT count(*) FROM pg_subscription_rel WHERE srsubstate <> 'r'")" = 0 ]; do sleep 0.5; done
  log "replica ready: every shard's leaderboard copied"
}

if [ -s "$PGDATA/PG_VERSION" ]; then
  log "restarting on existing data"
  start_pg
else
  rm -rf "${PGDATA:?}"/* 2>/dev/null || true
  case $ROLE in
    replica) become_replica ;;
    primary|standby)
      while :; do
        if up=$(writable_primary "$PEERS"); then become_standby "$up"; break; fi
        # Only a brand-new shard (no peer answers at all) gets a fresh primary.
        if [ "$ROLE" = primary ] && ! any_peer_answers; then become_primary; break; fi
        sleep 1
      done ;;
    *) log "unknown ROLE $ROLE"; exit 2 ;;
  esac
fi
touch /tmp/ready
while kill -0 "$pg_pid" 2>/dev/null; do wait "$pg_pid" || true; done
