#!/usr/bin/env bash
# Installs, from Debian's packages, what one purpose needs, and nothing else:
#
#   setup.sh demo    building shardwire and running `shardwire demo` (also
#                    --instances N, the fleet demo): PostgreSQL server and
#                    client, libclang (the router's SQL parser generates its
#                    bindings with it), etcd and protoc (the fleet)
#   setup.sh test    demo's, plus what the test suite runs: promtool (alert
#                    rule tests) and the driver matrix (psycopg 3, asyncpg,
#                    pgJDBC with a JDK, ruby-pg, Go with pgx v4)
#   setup.sh bench   test's, plus the benches' tools: pgbouncer (the
#                    baseline) and valgrind (instruction counts)
#
# (`--bench` is accepted for `bench`.) Prints each package it installs and
# why, one line each; installs only what is missing, so it is safe to run
# again. Needs root (or sudo) only when something is missing.
set -euo pipefail

purpose=${1:-}
[ "$purpose" = "--bench" ] && purpose=bench
case "$purpose" in
  demo | test | bench) ;;
  *)
    echo "usage: scripts/setup.sh demo|test|bench" >&2
    echo "  demo   what the demo needs (PostgreSQL, libclang, etcd, protoc)" >&2
    echo "  test   demo's, plus promtool and the driver matrix" >&2
    echo "  bench  test's, plus pgbouncer and valgrind" >&2
    exit 2
    ;;
esac

need=()   # package names
why=()    # one reason per package, same index

# want PACKAGE REASON: install PACKAGE unless `have` (run just before) said
# it is present.
want() {
  need+=("$1")
  why+=("$2")
}
has_cmd() { command -v "$1" >/dev/null 2>&1; }
has_pkg() { dpkg -s "$1" >/dev/null 2>&1; }

# ---- demo: build + demo + fleet demo
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! has_cmd initdb; then
  want postgresql "PostgreSQL server (initdb, pg_ctl, postgres): the demo's shards and replicas"
fi
has_cmd psql || want postgresql-client "psql and pgbench: to talk to the demo and load it"
has_pkg libclang-dev || want libclang-dev "libclang: the router's SQL parser (pg_query) generates its bindings at build time"
has_cmd etcd || want etcd-server "etcd: coordinates several instances (demo --instances N, fleet tests)"
has_cmd etcdctl || want etcd-client "etcdctl: inspects the fleet's etcd keys"
has_cmd protoc || want protobuf-compiler "protoc: the etcd client crate compiles etcd's protobuf API at build time"

# ---- test: the test suite's own tools
if [ "$purpose" != demo ]; then
  has_cmd promtool || want prometheus "promtool: unit tests of the alert rules (monitoring/alert-tests.yml)"
  # The driver matrix (integration/drivers/): Debian's packages, run with
  # Debian's own /usr/bin/python3, ruby and go (offline, GOPATH=/usr/share/gocode).
  has_pkg python3-psycopg || want python3-psycopg "psycopg 3: a driver of the driver matrix"
  has_pkg python3-asyncpg || want python3-asyncpg "asyncpg: a driver of the driver matrix"
  has_pkg libpostgresql-jdbc-java || want libpostgresql-jdbc-java "pgJDBC: a driver of the driver matrix"
  has_cmd javac || want default-jdk-headless "a JDK: compiles and runs the pgJDBC driver test"
  has_pkg ruby-pg || want ruby-pg "ruby-pg: a driver of the driver matrix"
  has_pkg golang-go || want golang-go "Go: builds the pgx driver test"
  has_pkg golang-github-jackc-pgx-v4-dev || want golang-github-jackc-pgx-v4-dev "pgx v4: a driver of the driver matrix (built offline)"
fi

# ---- bench: the benches' baselines and counters
if [ "$purpose" = bench ]; then
  has_cmd pgbouncer || want pgbouncer "PgBouncer: the baseline of the load and instruction benches"
  has_cmd valgrind || want valgrind "valgrind (callgrind): instructions per transaction"
fi

if [ ${#need[@]} -eq 0 ]; then
  echo "setup ($purpose): everything needed is installed"
  exit 0
fi

echo "setup ($purpose): installing ${#need[@]} package(s) from Debian:"
for i in "${!need[@]}"; do
  printf '  %-32s %s\n' "${need[$i]}" "${why[$i]}"
done
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -q >/dev/null
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}" \
  | grep -E '^(Need to get|After this operation|[0-9]+ upgraded)' || true
# Debian's packages start services of their own; the rig starts its own
# PostgreSQL and etcd on free ports, and nothing here uses these.
for service in postgresql etcd prometheus pgbouncer; do
  $sudo service "$service" stop >/dev/null 2>&1 || true
done
# apt-get's exit code is hidden by the pipe above: check the result.
missing=()
for p in "${need[@]}"; do has_pkg "$p" || missing+=("$p"); done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup ($purpose): failed to install: ${missing[*]}" >&2
  exit 1
fi
echo "setup ($purpose): done"
