#!/usr/bin/env bash
# compose/images/shardwire/sw-start.sh — owns one shardwire instance's
# configuration: writes /etc/shardwire/shardwire.toml for the rig's topology
# (SHARDS shards named shard<k>-p/-s1/-s2, REPLICAS replica nodes, the
# three etcd members) and execs shardwire, which then gets Docker's SIGTERM
# itself (a clean drain).
#   SW_NAME   this instance's name in the fleet (sw1, sw2)
#   SHARDS    number of shards, REPLICAS number of replica-cluster nodes
set -euo pipefail
: "${SW_NAME:?}" "${SHARDS:?}" "${REPLICAS:?}"
mkdir -p /etc/shardwire
cfg=/etc/shardwire/shardwire.toml
node() { echo "{ host = \"$1\", port = 5432 }"; }
{
  cat <<TOML
# Written by sw-start.sh for the compose rig.
[proxy]
listen = "0.0.0.0:6432"
database = "app"
pool_mode = "transaction"
shutdown_timeout = "10s"

[pool]
size = 20
connect_timeout = "2s"

[sharding]
key_columns = ["user_id"]
shards = $SHARDS

[[users]]
name = "app"
password = "app"

[admin]
users = ["app"]

[metrics]
listen = "0.0.0.0:9930"

[replication]
user = "postgres"
password = "postgres"

[coordination]
endpoints = ["http://etcd1:2379", "http://etcd2:2379", "http://etcd3:2379"]
cluster = "compose"
name = "$SW_NAME"
TOML
  if [ "$REPLICAS" -gt 0 ]; then
    nodes=()
    for ((i = 0; i < REPLICAS; i++)); do nodes+=("$(node replica$i)"); done
    printf '\n[replica_cluster]\nnodes = [%s]\nmax_lag = "2s"\n' "$(IFS=,; echo "${nodes[*]}" | sed 's/},{/}, {/g')"
    printf '\n[[routes]]\nname = "leaderboards"\ntables = ["leaderboard*"]\n'
  fi
  for ((k = 0; k < SHARDS; k++)); do
    printf '\n[[shards]]\nprimary = %s\nstandbys = [%s, %s]\n' \
      "$(node shard$k-p)" "$(node shard$k-s1)" "$(node shard$k-s2)"
  done
} >"$cfg"
shardwire check-config "$cfg"
exec shardwire run --config "$cfg"
