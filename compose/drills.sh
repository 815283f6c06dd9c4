# compose/drills.sh — owns the compose rig's drills (sourced by
# scripts/compose.sh, which provides ctr, net, dc, checker, psql_node, log).
#
# Every drill: start keyed writers and leaderboard readers in the load
# container (checker.py load), break something for real from the host
# (docker kill / pause / network disconnect), mark the moment the fault
# command returned, wait for the first acknowledged write begun after it
# on the affected shard, ask Prometheus for the alert the runbook expects,
# stop the load, count errors per client by SQLSTATE and the acknowledged
# writes missing from each shard's current primary, then heal the rig
# (every shard back to three copies) for the next drill. Each drill's
# figures go to $STATE/results/<drill>.json; `compose.sh table` prints them.

DRILLS="kill partition-primary hang second-failure replica-lag proxy-loss controller-loss etcd-member-loss etcd-loss"

now() { date +%s.%N; }
since() { awk -v a="$(now)" -v b="$1" 'BEGIN { printf "%.1f\n", a - b }'; }
mark() { checker mark "$TAG" "$1" "$(now)"; }

# The host name of shard K's current primary, from SHOW SHARDS.
primary_of() { checker shards | awk -v k="$1" '$1 == k { split($2, a, ":"); print a[1] }'; }

start_load() { # [TARGETS]
  docker exec "$(ctr load)" rm -rf "/var/lib/drill/$TAG"
  docker exec -d "$(ctr load)" bash -c "mkdir -p /var/lib/drill/$TAG && exec python3 \
    /usr/local/bin/checker.py load --tag $TAG --targets ${1:-haproxy:6432} --max-seconds 400 \
    >/var/lib/drill/$TAG/load.log 2>&1"
  # warm: a write begun now is acknowledged on every shard
  mark warm
  checker wait-ack --tag "$TAG" --after warm --timeout 60 >/dev/null || {
    docker exec "$(ctr load)" tail -5 "/var/lib/drill/$TAG/load.log" >&2
    die "the load never got going"; }
}

# Prometheus: the alert the runbook expects. Waits for `firing`; with
# ALERT_WAIT=short it waits at most 20 s and returns as soon as the alert is
# `pending` (its expression holds; only the rule's `for:` is not waited
# out). Prints the state.
expect_alert() { # NAME SINCE_EVENT TIMEOUT [label=value...]
  local name=$1 since=$2 timeout=$3; shift 3
  local match=() kv
  for kv in "$@"; do match+=(--match "$kv"); done
  if [ "${ALERT_WAIT:-}" = short ]; then timeout=$((timeout < 20 ? timeout : 20)); match+=(--pending-ok); fi
  local state
  state=$(checker alert "$name" --tag "$TAG" --since "$since" --timeout "$timeout" "${match[@]}" || true)
  echo "$name: $state"
}
# An alert that must *not* fire within SECONDS.
expect_no_alert() { # NAME SINCE_EVENT SECONDS
  local state
  state=$(checker alert "$1" --tag "$TAG" --since "$2" --timeout "$3" || true)
  case $state in firing*) echo "$1 fired (unexpected)" ;; *) echo "$1 not fired (expected)" ;; esac
}

# Stops the load and stores the drill's figures.
finish() { # FAULT_EVENT SHARD|"" ALERT NOTE
  local fault=$1 shard=$2 alert=$3 note=$4
  checker stop --tag "$TAG" || true
  local report
  report=$(checker report --tag "$TAG" --fault "$fault" ${shard:+--shard "$shard"})
  mkdir -p "$STATE/results"
  python3 - "$report" "$alert" "$note" "$STATE/results/$TAG.json" <<'PY'
import json, sys
r = json.loads(sys.argv[1]); r["alert"] = sys.argv[2]; r["note"] = sys.argv[3]
json.dump(r, open(sys.argv[4], "w"))
print(json.dumps(r, indent=1))
PY
}

# ------------------------------------------------------------ healing
# A database node's container recreated empty comes back as a standby of
# the shard's current primary (pg-node.sh); shardwire adopts it.
rebuild_node() {
  log "re-attaching $1 as a standby (new container, base backup from the current primary)"
  dc rm -sf "$1" >/dev/null 2>&1 || true
  dc up -d --no-deps "$1" 2>&1 | grep -v '^Creating\|^$' >&2 || true
}

reconnect_networks() { # NODE: back on both networks with its own addresses
  local o; o=$(pg_octet "$1")
  docker network connect --ip "$RIG_NET.0.$o" "$(net db)" "$(ctr "$1")" 2>/dev/null || true
  docker network connect --ip "$RIG_NET.1.$o" "$(net proxy)" "$(ctr "$1")" 2>/dev/null || true
}

heal() {
  local s k p streaming
  # stopped, paused or partitioned containers come back first
  for s in etcd1 etcd2 etcd3 sw1 sw2; do
    [ "$(docker inspect -f '{{.State.Running}}' "$(ctr "$s")" 2>/dev/null)" = true ] || docker start "$(ctr "$s")" >/dev/null
  done
  for s in $(pg_services); do
    [ "$(docker inspect -f '{{.State.Paused}}' "$(ctr "$s")" 2>/dev/null)" = true ] && docker unpause "$(ctr "$s")" >/dev/null
    reconnect_networks "$s"
  done
  wait_for 60 "a shardwire console" checker shards
  for ((k = 0; k < SHARDS; k++)); do
    p=$(primary_of $k)
    streaming=$(psql_node "$p" "SELECT string_agg(application_name, ' ') FROM pg_stat_replication WHERE state = 'streaming'" 2>/dev/null || true)
    for s in shard$k-p shard$k-s1 shard$k-s2; do
      [ "$s" = "$p" ] && continue
      case " $streaming " in *" ${s//-/_} "*) ;; *) rebuild_node "$s" ;; esac
    done
  done
  for s in $(pg_services); do
    [ "$(docker inspect -f '{{.State.Running}}' "$(ctr "$s")" 2>/dev/null)" = true ] || docker start "$(ctr "$s")" >/dev/null
  done
  wait_for 180 "three copies of every shard again" all_copies
  log "healed: every shard has three copies"
}

# ------------------------------------------------------------ the drills
# Each prints its figures and leaves the rig healed.

drill_kill() { # docker kill of shard 0's primary
  local p; p=$(primary_of 0)
  start_load
  docker kill "$(ctr "$p")" >/dev/null; mark fault
  log "killed $p (shard 0's primary)"
  checker wait-ack --tag "$TAG" --after fault --shard 0 --timeout 90 >/dev/null || true
  local alert; alert=$(expect_alert ShardwireFailover fault 30 shard=0)
  finish fault 0 "$alert" "killed $p; new primary $(primary_of 0)"
}

drill_partition_primary() { # shard 1's primary cut from the proxies, then from everything
  local p; p=$(primary_of 1)
  start_load
  docker network disconnect "$(net proxy)" "$(ctr "$p")"; mark cut_proxy
  log "$p cut from the proxies' network; its standbys still stream from it"
  sleep 15
  local still; still=$(primary_of 1)
  local refused; refused=$(expect_alert ShardwireFailoverFailedOrRefused cut_proxy 20 shard=1)
  [ "$still" = "$p" ] && log "no promotion after 15 s (primary still $p)" || log "UNEXPECTED: promoted $still"
  docker network disconnect "$(net db)" "$(ctr "$p")"; mark fault
  log "$p cut from the database network too: nothing reaches it"
  checker wait-ack --tag "$TAG" --after fault --shard 1 --timeout 90 >/dev/null || true
  local alert; alert=$(expect_alert ShardwireFailover fault 30 shard=1)
  reconnect_networks "$p"
  sleep 6
  local fenced; fenced=$(checker shards | awk '$1 == 1 {print $NF}')
  finish fault 1 "$refused; $alert" \
    "cut from proxies: still primary after 15s = $([ "$still" = "$p" ] && echo yes || echo NO); cut from all: promoted $(primary_of 1); old primary reconnected: $fenced, read_only=$(psql_node "$p" "SHOW default_transaction_read_only" || echo "?"), $(old_sessions "$p")"
}

# The application sessions still on a former primary once it is back: they
# can only be transactions begun before the fault (it gets no new traffic);
# their COMMITs wait for a synchronous standby that now follows the new
# primary (SyncRep), so none is acknowledged.
old_sessions() {
  psql_node "$1" "SELECT format('app sessions=%s (begun before the fault: %s, commit waiting on SyncRep: %s)',
      count(*), count(*) FILTER (WHERE backend_start < to_timestamp($(checker_event fault))),
      count(*) FILTER (WHERE wait_event = 'SyncRep'))
    FROM pg_stat_activity WHERE usename = 'app'" || echo "app sessions=?"
}
checker_event() { docker exec "$(ctr load)" python3 -c "import json; print(json.load(open('/var/lib/drill/$TAG/events.json'))['$1'])"; }

drill_hang() { # docker pause (SIGSTOP) of shard 0's primary
  local p; p=$(primary_of 0)
  start_load
  docker pause "$(ctr "$p")" >/dev/null; mark fault
  log "paused $p (shard 0's primary): sockets open, nothing answers"
  checker wait-ack --tag "$TAG" --after fault --shard 0 --timeout 90 >/dev/null || true
  local alert; alert=$(expect_alert ShardwireFailover fault 30 shard=0)
  docker unpause "$(ctr "$p")" >/dev/null
  log "unpaused $p; watching that it gets no traffic"
  sleep 8
  local fenced sessions ro
  fenced=$(checker shards | awk '$1 == 0 {print $NF}')
  sessions=$(old_sessions "$p")
  ro=$(psql_node "$p" "SHOW default_transaction_read_only" || echo "?")
  finish fault 0 "$alert" "new primary $(primary_of 0); unpaused $p: $fenced, read_only=$ro, $sessions"
}

drill_second_failure() { # kill shard 1's primary, then the one promoted in its place
  local p1 p2
  p1=$(primary_of 1)
  start_load
  docker kill "$(ctr "$p1")" >/dev/null; mark first
  log "killed $p1 (shard 1's primary)"
  checker wait-ack --tag "$TAG" --after first --shard 1 --timeout 90 >/dev/null || true
  sleep 3
  p2=$(primary_of 1)
  docker kill "$(ctr "$p2")" >/dev/null; mark fault
  log "killed $p2, promoted in its place: one copy left"
  checker wait-ack --tag "$TAG" --after fault --shard 1 --timeout 90 >/dev/null || true
  local alert; alert=$(expect_alert ShardwireShardSingleCopy fault 50 shard=1)
  finish fault 1 "$alert" "killed $p1 then $p2; last copy $(primary_of 1) promoted"
}

drill_replica_lag() { # docker pause of replica0: leaderboard reads move off it and back
  start_load
  docker pause "$(ctr replica0)" >/dev/null; mark fault
  log "paused replica0"
  local off back
  off=$(wait_reads_not replica0 60)
  local alert; alert=$(expect_alert ShardwireNodeDown fault 45 role=replica)
  docker unpause "$(ctr replica0)" >/dev/null; mark back
  back=$(wait_reads_on replica0 60)
  finish fault "" "$alert" "reads off replica0 after ${off}s, back ${back}s after unpause"
}
last_read_label() {
  docker exec "$(ctr load)" python3 -c "import json; print(json.load(open('/var/lib/drill/$TAG/progress.json'))['last_read'][1])"
}
wait_reads_not() { # LABEL SECONDS: prints seconds until the newest read is served elsewhere
  local t0; t0=$(now)
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(last_read_label 2>/dev/null)" != "$1" ] && { since "$t0"; return; }
    sleep 0.3
  done
  echo never
}
wait_reads_on() {
  local t0; t0=$(now)
  local deadline=$((SECONDS + $2))
  while [ $SECONDS -lt $deadline ]; do
    [ "$(last_read_label 2>/dev/null)" = "$1" ] && { since "$t0"; return; }
    sleep 0.3
  done
  echo never
}

drill_proxy_loss() { # docker kill of one shardwire instance
  start_load "sw1:6432,sw2:6432,haproxy:6432"
  docker kill "$(ctr sw1)" >/dev/null; mark fault
  log "killed sw1: clients of sw2 must go on"
  checker wait-ack --tag "$TAG" --after fault --timeout 30 >/dev/null || true
  sleep 5
  local alert; alert=$(expect_alert ShardwireDown fault 80)
  finish fault "" "$alert" "writers and readers split over sw1, sw2 and haproxy"
}

drill_controller_loss() { # kill shard 0's primary, then at once the controller instance
  local p c
  p=$(primary_of 0); c=$(checker fleet)
  start_load "sw1:6432,sw2:6432"
  docker kill "$(ctr "$p")" >/dev/null; mark fault
  docker kill "$(ctr "$c")" >/dev/null; mark controller
  log "killed $p (shard 0's primary), then the controller $c"
  checker wait-ack --tag "$TAG" --after fault --shard 0 --timeout 90 >/dev/null || true
  local alert; alert=$(expect_alert ShardwireFailover fault 30 shard=0)
  finish fault 0 "$alert" "controller $c killed; new controller $(checker fleet); new primary $(primary_of 0)"
}

etcd_leader() { # the member etcd reports as leader (IS LEADER column)
  docker exec "$(ctr etcd1)" env ETCDCTL_API=3 etcdctl \
    --endpoints=http://etcd1:2379,http://etcd2:2379,http://etcd3:2379 endpoint status -w simple \
    | awk -F', ' '$5 == "true" { sub("http://", "", $1); sub(":2379", "", $1); print $1 }'
}

drill_etcd_member_loss() { # docker kill of etcd's leader
  local m; m=$(etcd_leader); m=${m:-etcd1}
  start_load
  docker kill "$(ctr "$m")" >/dev/null; mark fault
  log "killed $m (etcd's leader); two members keep a quorum"
  checker wait-ack --tag "$TAG" --after fault --timeout 30 >/dev/null || true
  local alert; alert=$(expect_no_alert ShardwireCoordinationLost fault 35)
  docker start "$(ctr "$m")" >/dev/null
  finish fault "" "$alert" "killed $m (leader)"
}

drill_etcd_loss() { # docker kill of all three etcd members, then start them
  start_load
  docker kill "$(ctr etcd1)" "$(ctr etcd2)" "$(ctr etcd3)" >/dev/null; mark lost
  log "killed every etcd member: reads go on, writes are refused after coordination_timeout"
  local alert; alert=$(expect_alert ShardwireCoordinationLost lost 50)
  # etcd stays down at least 20 s (writes refused for most of it), even
  # when a pending alert (ALERT_WAIT=short) is seen sooner
  local left; left=$(awk -v a="$(now)" -v b="$(checker_event lost)" 'BEGIN { d = 20 - (a - b); printf "%.1f\n", (d > 0 ? d : 0) }')
  sleep "$left"
  docker start "$(ctr etcd1)" "$(ctr etcd2)" "$(ctr etcd3)" >/dev/null; mark fault
  log "etcd back"
  checker wait-ack --tag "$TAG" --after fault --timeout 90 >/dev/null || true
  finish fault "" "$alert" "etcd down $(docker exec "$(ctr load)" python3 -c "import json; e=json.load(open('/var/lib/drill/$TAG/events.json')); print(round(e['fault']-e['lost']))")s; recovery measured from etcd's return"
}

run_drill() { # NAME [noheal]
  TAG=$1
  case " $DRILLS " in *" $1 "*) ;; *) die "unknown drill $1 (one of: $DRILLS)" ;; esac
  log "drill $1"
  local t0=$SECONDS
  "drill_${1//-/_}"
  [ "${2:-}" = noheal ] || heal
  log "drill $1 done in $((SECONDS - t0)) s"
}

run_all_drills() {
  local d last=${DRILLS##* }
  for d in $DRILLS; do
    # FINAL_HEAL=0: the rig is torn down next, so the last drill skips healing
    if [ "$d" = "$last" ] && [ "${FINAL_HEAL:-1}" = 0 ]; then run_drill "$d" noheal; else run_drill "$d"; fi
  done
  print_table
}

print_table() {
  python3 - "$STATE/results" $DRILLS <<'PY'
import json, os, sys
d = sys.argv[1]
print("| drill | fault → first acked write | errors by SQLSTATE (all clients) | acked | lost | alert | notes |")
print("|---|---|---|---|---|---|---|")
for name in sys.argv[2:]:
    p = os.path.join(d, name + ".json")
    if not os.path.exists(p):
        continue
    r = json.load(open(p))
    fmt = lambda codes: ", ".join(f"{c}×{n}" for c, n in sorted(codes.items())) or "none"
    targets = r.get("errors_by_target", {})
    if len(targets) > 1:
        errs = "; ".join(f"via {t}: {fmt(c)}" for t, c in sorted(targets.items()))
    else:
        errs = fmt(r["error_totals"])
    rec = r.get("recovery_s")
    rec = "—" if rec is None else f"{rec:.2f} s"
    note = r["note"] + (f"; {r['stuck_writes']}" if r.get("stuck_writes") else "")
    print(f"| {name} | {rec} | {errs} | {r['acked']} | {r['lost']} | {r['alert']} | {note} |")
PY
}
