#!/usr/bin/env bash
# Builds shardwire's Debian package with dpkg-deb from a staged tree (no
# packaging tool to compile): the release binary as /usr/bin/shardwire, the
# systemd unit (packaging/shardwire.service), /etc/shardwire/shardwire.toml
# as a conffile (packaging/shardwire.toml, a commented single-shard example
# that check-config accepts), the man page generated from the CLI
# (`shardwire man`), the docs, and the maintainer scripts that create the
# `shardwire` system user (packaging/debian/).
#
#   scripts/package.sh [OUTDIR]    default OUTDIR: target/debian
#
# Environment: SHARDWIRE_BIN packages that binary instead of building the
# release one (CI packages the debug binary the tests built: the package's
# layout and scripts are what its test checks); PACKAGE_COMPRESSION (xz,
# default, or gzip: faster for a large debug binary). Prints the .deb's path last.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
cd "$ROOT"
out=${1:-${CARGO_TARGET_DIR:-$ROOT/target}/debian}
target=${CARGO_TARGET_DIR:-$ROOT/target}

if [ -n "${SHARDWIRE_BIN:-}" ]; then
  bin=$SHARDWIRE_BIN
else
  echo "package: building the release binary (cargo build --release -p shardwire)" >&2
  cargo build --release -p shardwire >&2
  bin=$target/release/shardwire
fi
[ -x "$bin" ] || { echo "package: no shardwire binary at $bin" >&2; exit 1; }

version=$(sed -n 's/^version = "\(.*\)"/\1/p' Cargo.toml | head -1)
arch=$(dpkg --print-architecture)
stage=$(mktemp -d "${TMPDIR:-/tmp}/shardwire-deb.XXXXXX")
trap 'rm -rf "$stage"' EXIT
pkg=$stage/shardwire_${version}_${arch}

install -d "$pkg/DEBIAN" "$pkg/usr/bin" "$pkg/lib/systemd/system" "$pkg/etc/shardwire" \
  "$pkg/usr/share/man/man1" "$pkg/usr/share/doc/shardwire"
# No debug info in the package (the release profile keeps some for profiling).
objcopy --strip-debug "$bin" "$pkg/usr/bin/shardwire" 2>/dev/null || cp "$bin" "$pkg/usr/bin/shardwire"
chmod 0755 "$pkg/usr/bin/shardwire"
install -m 0644 packaging/shardwire.service "$pkg/lib/systemd/system/shardwire.service"
install -m 0640 packaging/shardwire.toml "$pkg/etc/shardwire/shardwire.toml"
"$pkg/usr/bin/shardwire" man | gzip -9n >"$pkg/usr/share/man/man1/shardwire.1.gz"
chmod 0644 "$pkg/usr/share/man/man1/shardwire.1.gz"
shopt -s nullglob
for page in docs/*.md; do
  install -m 0644 "$page" "$pkg/usr/share/doc/shardwire/"
done
shopt -u nullglob
install -m 0644 config.example.toml "$pkg/usr/share/doc/shardwire/config.example.toml"
cat >"$pkg/usr/share/doc/shardwire/copyright" <<EOF
Format: https://www.debian.org/doc/packaging-manuals/copyright-format/1.0/
Upstream-Name: shardwire

Files: *
License: Apache-2.0
 On Debian systems the full text of the Apache License 2.0 is in
 /usr/share/common-licenses/Apache-2.0.
EOF
for script in postinst prerm postrm; do
  install -m 0755 "packaging/debian/$script" "$pkg/DEBIAN/$script"
done
echo /etc/shardwire/shardwire.toml >"$pkg/DEBIAN/conffiles"

# Depends: the C libraries the binary links (ldd), with the newest glibc
# symbol version it uses.
glibc=$(objdump -T "$pkg/usr/bin/shardwire" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1)
depends="libc6 (>= ${glibc:-2.31})"
if ldd "$pkg/usr/bin/shardwire" 2>/dev/null | grep -q libgcc_s; then depends="$depends, libgcc-s1"; fi
size=$(du -sk --exclude=DEBIAN "$pkg" | cut -f1)
cat >"$pkg/DEBIAN/control" <<EOF
Package: shardwire
Version: $version
Architecture: $arch
Maintainer: shardwire developers <shardwire@localhost>
Installed-Size: $size
Depends: $depends, passwd
Section: database
Priority: optional
Description: shard-aware PostgreSQL proxy and connection pooler
 shardwire speaks PostgreSQL's wire protocol to applications, pools server
 connections (transaction or session pooling), routes each statement to
 the shard that owns its key, sends leaderboard reads to a lag-aware
 replica cluster, and fails a shard over to its best standby when its
 primary dies. It has a PgBouncer-style admin console and Prometheus
 metrics. This package installs the binary, a systemd unit, an example
 configuration in /etc/shardwire and the shardwire system user.
EOF

mkdir -p "$out"
deb=$out/shardwire_${version}_${arch}.deb
dpkg-deb --root-owner-group "-Z${PACKAGE_COMPRESSION:-xz}" --build "$pkg" "$deb" >/dev/null
echo "package: $(du -h "$deb" | cut -f1) $(basename "$deb") (depends: $depends, passwd)" >&2
echo "$deb"
