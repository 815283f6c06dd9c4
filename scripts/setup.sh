#!/usr/bin/env bash
# Installs what shardwire's demo, tests and benches need on a fresh Debian
# machine: PostgreSQL server binaries (initdb, pg_ctl, psql, pgbench),
# libclang (pg_query, the router's SQL parser, generates bindings with it),
# etcd and protoc (the fleet), promtool (alert rule tests), the driver
# matrix's drivers and toolchains (psycopg 3, asyncpg, pgJDBC with a JDK,
# ruby-pg, Go with pgx v4)
# and, with --bench, pgbouncer. Safe to run again: it installs only what is
# missing. Needs root (or sudo) only when something is missing.
set -euo pipefail

need=()
if ! ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 && ! command -v initdb >/dev/null 2>&1; then
  need+=(postgresql)
fi
command -v psql >/dev/null 2>&1 || need+=(postgresql-client)
dpkg -s libclang-dev >/dev/null 2>&1 || need+=(libclang-dev)
# etcd for the fleet (several instances coordinated through etcd), and
# protoc, which the etcd client crate's build needs.
command -v etcd >/dev/null 2>&1 || need+=(etcd-server)
command -v etcdctl >/dev/null 2>&1 || need+=(etcd-client)
command -v protoc >/dev/null 2>&1 || need+=(protobuf-compiler)
# promtool, for the alert rules' unit tests.
command -v promtool >/dev/null 2>&1 || need+=(prometheus)
# The driver matrix (integration/drivers/): Debian's packages, run with
# Debian's own /usr/bin/python3, ruby and go (offline, GOPATH=/usr/share/gocode).
dpkg -s python3-psycopg >/dev/null 2>&1 || need+=(python3-psycopg)
dpkg -s python3-asyncpg >/dev/null 2>&1 || need+=(python3-asyncpg)
dpkg -s libpostgresql-jdbc-java >/dev/null 2>&1 || need+=(libpostgresql-jdbc-java)
command -v javac >/dev/null 2>&1 || need+=(default-jdk-headless)
dpkg -s ruby-pg >/dev/null 2>&1 || need+=(ruby-pg)
dpkg -s golang-go >/dev/null 2>&1 || need+=(golang-go)
dpkg -s golang-github-jackc-pgx-v4-dev >/dev/null 2>&1 || need+=(golang-github-jackc-pgx-v4-dev)
if [ "${1:-}" = "--bench" ] && ! command -v pgbouncer >/dev/null 2>&1; then
  need+=(pgbouncer)
fi

if [ ${#need[@]} -gt 0 ]; then
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "installing: ${need[*]}"
  $sudo apt-get update -q
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -q "${need[@]}"
  # The Debian package starts a cluster of its own; the rig does not use it.
  $sudo service postgresql stop >/dev/null 2>&1 || true
  # Likewise etcd's: the rig starts its own clusters on free ports.
  $sudo service etcd stop >/dev/null 2>&1 || true
  $sudo service prometheus stop >/dev/null 2>&1 || true
fi
