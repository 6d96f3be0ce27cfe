#!/usr/bin/env bash
# Build the registry-free base image for the container targets under containers/.
#
# Run it as `python -m pytest_fabricplus build-base [--force]` (it ships in the wheel as
# package data); from a checkout, `sudo bash containers/base/build-base-image.sh` does the same.
#
# On machines without an image registry (`docker pull` fails) the Dockerfiles in
# containers/ cannot use their default bases (ubuntu:22.04, centos:7).  This
# script builds a minimal Debian base from Debian's apt archive with
# `debootstrap --variant=minbase` and imports it with `docker import`, so both
# Dockerfiles can be built with `--build-arg BASE_IMAGE=fabricplus-base/debian:bookworm`.
#
# Idempotent: if the tag already exists nothing is done (a second run is instant).
# Use --force to rebuild.  The debootstrap rootfs lives outside the repository,
# under $FABRICPLUS_CACHE_DIR (default /var/cache/fabricplus).
#
# Environment:
#   FABRICPLUS_BASE_TAG     image tag to produce   (default fabricplus-base/debian:bookworm)
#   FABRICPLUS_SUITE        Debian suite           (default bookworm)
#   FABRICPLUS_MIRROR       Debian mirror          (default http://deb.debian.org/debian)
#   FABRICPLUS_CACHE_DIR    work/cache directory   (default /var/cache/fabricplus)
#
# Needs: root (debootstrap), debootstrap, docker CLI with a reachable daemon.
set -euo pipefail

SUITE="${FABRICPLUS_SUITE:-bookworm}"
TAG="${FABRICPLUS_BASE_TAG:-fabricplus-base/debian:${SUITE}}"
MIRROR="${FABRICPLUS_MIRROR:-http://deb.debian.org/debian}"
CACHE_DIR="${FABRICPLUS_CACHE_DIR:-/var/cache/fabricplus}"
FORCE=0

usage() {
    sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'
    echo "usage: $0 [--force]"
}

for arg in "$@"; do
    case "$arg" in
        --force) FORCE=1 ;;
        -h|--help) usage; exit 0 ;;
        *) echo "error: unknown argument '$arg'" >&2; usage >&2; exit 2 ;;
    esac
done

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.1f", b - a }'; }
START="$(now)"

if ! docker info >/dev/null 2>&1; then
    echo "error: no Docker daemon answers. Start one (e.g. 'sudo systemctl start docker'" >&2
    echo "       or 'sudo dockerd >/tmp/dockerd.log 2>&1 &') and run this again." >&2
    exit 1
fi

if [ "$FORCE" -eq 0 ] && docker image inspect "$TAG" >/dev/null 2>&1; then
    echo "base image $TAG already exists (cached); nothing to do [$(elapsed "$START")s]"
    exit 0
fi

if ! command -v debootstrap >/dev/null 2>&1; then
    echo "error: debootstrap not found; install it (apt-get install debootstrap)" >&2
    exit 1
fi
if [ "$(id -u)" -ne 0 ]; then
    echo "error: debootstrap needs root; run this script as root (sudo)" >&2
    exit 1
fi

mkdir -p "$CACHE_DIR"
ROOTFS="$CACHE_DIR/rootfs-$SUITE"
TMP_ROOTFS="$ROOTFS.tmp.$$"
cleanup() { rm -rf --one-file-system "$TMP_ROOTFS"; }
trap cleanup EXIT

if [ "$FORCE" -eq 1 ] || [ ! -f "$ROOTFS/.fabricplus-complete" ]; then
    echo "debootstrap --variant=minbase $SUITE from $MIRROR into $ROOTFS ..."
    T0="$(now)"
    rm -rf --one-file-system "$ROOTFS"
    debootstrap --variant=minbase "$SUITE" "$TMP_ROOTFS" "$MIRROR"
    # Trim what a container never needs; keep apt working.
    rm -rf "$TMP_ROOTFS"/var/cache/apt/archives/*.deb \
           "$TMP_ROOTFS"/var/lib/apt/lists/* \
           "$TMP_ROOTFS"/var/log/*.log \
           "$TMP_ROOTFS"/tmp/* 2>/dev/null || true
    # Include the -updates suite so packages match what the mirror serves today.
    cat > "$TMP_ROOTFS/etc/apt/sources.list" <<SOURCES
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-updates main
SOURCES
    # Smaller, quieter apt inside the image.
    cat > "$TMP_ROOTFS/etc/apt/apt.conf.d/90fabricplus" <<'APTCONF'
APT::Install-Recommends "false";
APT::Install-Suggests "false";
Acquire::Retries "3";
APTCONF
    # The host's resolv.conf/hostname leak in via debootstrap; docker provides its own.
    : > "$TMP_ROOTFS/etc/resolv.conf"
    : > "$TMP_ROOTFS/etc/hostname"
    touch "$TMP_ROOTFS/.fabricplus-complete"
    mv "$TMP_ROOTFS" "$ROOTFS"
    echo "debootstrap done [$(elapsed "$T0")s]"
else
    echo "reusing debootstrap rootfs $ROOTFS"
fi

echo "docker import -> $TAG ..."
T0="$(now)"
tar --numeric-owner --exclude=./.fabricplus-complete -C "$ROOTFS" -c . \
    | docker import \
        --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
        --change 'ENV LANG=C.UTF-8' \
        --change 'CMD ["/bin/bash"]' \
        --message "debootstrap --variant=minbase $SUITE ($MIRROR)" \
        - "$TAG" >/dev/null
echo "docker import done [$(elapsed "$T0")s]"
docker image ls "$TAG"
echo "base image $TAG built [total $(elapsed "$START")s]"
