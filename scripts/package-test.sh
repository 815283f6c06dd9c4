#!/usr/bin/env bash
# The Debian package's test: builds it (scripts/package.sh; SHARDWIRE_BIN
# as there), installs it with dpkg into a clean Debian bookworm root in a
# container (the compose rig's debootstrap base image, built here when
# missing), and runs there: `shardwire --version`, `shardwire check-config
# /etc/shardwire/shardwire.toml`, and checks the shardwire system user, the
# conffile, the unit and the man page. Skipped with a message where Docker
# is missing. Prints `package-test: N passed, 0 failed` at the end.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
if ! docker info >/dev/null 2>&1; then
  echo "package-test: skipped: docker not available (docker info failed)"
  exit 0
fi
t0=$SECONDS
image=shardwire-compose/base:bookworm
if ! docker image inspect "$image" >/dev/null 2>&1; then
  if ! command -v debootstrap >/dev/null; then
    echo "package-test: installing debootstrap (apt-get) for the base image"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null 2>&1 \
      || { apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -q debootstrap >/dev/null; }
  fi
  echo "package-test: building $image (debootstrap, as the compose rig does)"
  work=$(mktemp -d /var/tmp/shardwire-package-base.XXXXXX)
  bash compose/images/base/make-base.sh "$work"
  rm -rf "$work"
fi
deb=$(bash scripts/package.sh)
echo "package-test: contents of $(basename "$deb"):"
dpkg-deb -c "$deb" | awk '{print "  " $1, $2, $6}'
name=shardwire-package-test-$$
trap 'docker rm -f "$name" >/dev/null 2>&1 || true' EXIT
# The rig's base keeps no man pages (dpkg path-exclude): the test allows
# them for this install, to see the page land.
out=$(docker run --rm --name "$name" --network none -v "$deb:/tmp/shardwire.deb:ro" "$image" bash -c '
  set -e
  rm -f /etc/dpkg/dpkg.cfg.d/90rig-nodoc
  dpkg -i /tmp/shardwire.deb
  echo "--- shardwire --version"; shardwire --version
  echo "--- shardwire check-config /etc/shardwire/shardwire.toml"
  shardwire check-config /etc/shardwire/shardwire.toml
  echo "--- checks"
  pass=0
  check() { if eval "$2"; then echo "ok: $1"; pass=$((pass + 1)); else echo "FAILED: $1"; fi; }
  check "shardwire is a system user" "[ \"\$(id -u shardwire)\" -lt 1000 ]"
  check "the config is a conffile" "grep -qx /etc/shardwire/shardwire.toml /var/lib/dpkg/info/shardwire.conffiles"
  check "the config is root:shardwire 0640" "[ \"\$(stat -c %U:%G:%a /etc/shardwire/shardwire.toml)\" = root:shardwire:640 ]"
  check "the unit runs /usr/bin/shardwire as shardwire" "grep -q \"^ExecStart=/usr/bin/shardwire run\" /lib/systemd/system/shardwire.service && grep -q ^User=shardwire /lib/systemd/system/shardwire.service"
  check "the man page is installed" "zcat /usr/share/man/man1/shardwire.1.gz | grep -q \"^.TH shardwire 1\""
  check "the service user can read the config" "su -s /bin/sh shardwire -c \"shardwire check-config /etc/shardwire/shardwire.toml\" >/dev/null"
  dpkg -r shardwire >/dev/null
  check "removal keeps the conffile" "[ -f /etc/shardwire/shardwire.toml ]"
  dpkg -P shardwire >/dev/null
  check "purge removes it" "[ ! -e /etc/shardwire/shardwire.toml ]"
  echo "checks passed: $pass"
' 2>&1) || { echo "$out"; echo "package-test: 0 passed, 1 failed (the install in the container failed)"; exit 1; }
echo "$out" | sed 's/^/  /'
passed=$(echo "$out" | sed -n 's/^checks passed: //p')
failed=$(echo "$out" | grep -c '^FAILED' || true)
echo "package-test: took $((SECONDS - t0)) s"
echo "package-test: $((passed + 2)) passed, $failed failed"
[ "$failed" -eq 0 ]
