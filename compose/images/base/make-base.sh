#!/usr/bin/env bash
# compose/images/base/make-base.sh — owns the rig's root image.
#
# Builds a minimal Debian bookworm root filesystem with debootstrap (from
# deb.debian.org, no container registry involved) and imports it as the
# image shardwire-compose/base:bookworm. Every other rig image is built
# FROM it. Usage: make-base.sh WORKDIR
set -euo pipefail
work=${1:?usage: make-base.sh WORKDIR}
mirror=${DEBIAN_MIRROR:-http://deb.debian.org/debian}
image=shardwire-compose/base:bookworm
root="$work/rootfs"
command -v debootstrap >/dev/null || { echo "debootstrap missing: apt-get install debootstrap" >&2; exit 1; }
rm -rf "$root"; mkdir -p "$root"
debootstrap --variant=minbase --include=ca-certificates,iproute2,procps,netbase \
    bookworm "$root" "$mirror" >"$work/debootstrap.log" 2>&1 \
  || { tail -30 "$work/debootstrap.log" >&2; exit 1; }
# Keep images small: no package cache, no docs, apt never asks questions.
rm -rf "$root"/var/cache/apt/archives/*.deb "$root"/var/lib/apt/lists/*
cat >"$root/etc/apt/apt.conf.d/90rig" <<'APT'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Dpkg::Options { "--force-confdef"; "--force-confold"; };
APT
# No fsync per unpacked file: each image's packages are installed once,
# inside `docker build`, whose layer is written when the step ends.
cat >"$root/etc/dpkg/dpkg.cfg.d/90rig-nodoc" <<'DPKG'
force-unsafe-io
path-exclude /usr/share/doc/*
path-exclude /usr/share/man/*
path-exclude /usr/share/locale/*
DPKG
echo "deb $mirror bookworm main" >"$root/etc/apt/sources.list"
echo "deb $mirror bookworm-updates main" >>"$root/etc/apt/sources.list"
echo "deb ${mirror%/debian}/debian-security bookworm-security main" >>"$root/etc/apt/sources.list"
tar -C "$root" -c . | docker import \
    -c 'ENV DEBIAN_FRONTEND=noninteractive LANG=C.UTF-8' \
    -c 'CMD ["/bin/bash"]' - "$image" >/dev/null
rm -rf "$root"
echo "imported $image"
