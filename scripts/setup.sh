#!/usr/bin/env bash
# Shared set-up for the README's commands, on a fresh Debian 12 machine (as root):
# apt packages, a virtualenv with the project installed, and (optionally) a Docker daemon.
# Source it: `. scripts/setup.sh`. Idempotent and quick when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FABRICPLUS_VENV:-$ROOT/.venv}"
APT_PACKAGES=(openssh-server openssh-client sudo iproute2 procps python3 python3-venv)
[ "${FABRICPLUS_NEED_DOCKER:-0}" = 1 ] && APT_PACKAGES+=(docker.io debootstrap)

log() { printf '\033[1m[setup]\033[0m %s\n' "$*" >&2; }

need_root() {
  if [ "$(id -u)" != 0 ]; then
    echo "this command installs packages and creates test users: run it as root (or with sudo)" >&2
    exit 2
  fi
}

install_apt_packages() {
  local missing=()
  for pkg in "${APT_PACKAGES[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  if [ "${#missing[@]}" -gt 0 ]; then
    log "installing ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  mkdir -p /run/sshd
}

make_venv() {
  local py="${PYTHON:-python3}"
  if [ ! -x "$VENV/bin/python" ]; then
    log "creating virtualenv $VENV"
    "$py" -m venv "$VENV"
  fi
  local stamp="$VENV/.fabricplus-installed"
  local want
  want="$(sha256sum "$ROOT/pyproject.toml" | cut -d' ' -f1)"
  if [ ! -f "$stamp" ] || [ "$(cat "$stamp")" != "$want" ]; then
    log "installing pytest-fabricplus[dev] into $VENV"
    "$VENV/bin/python" -m pip install -q --upgrade pip >/dev/null
    "$VENV/bin/python" -m pip install -q -e "$ROOT[dev]"
    echo "$want" > "$stamp"
  fi
}

STARTED_DOCKERD=""
ensure_docker() {
  if docker info >/dev/null 2>&1; then return 0; fi
  log "no Docker daemon answers: starting dockerd"
  dockerd >/var/log/fabricplus-dockerd.log 2>&1 &
  STARTED_DOCKERD=$!
  for _ in $(seq 1 60); do
    docker info >/dev/null 2>&1 && return 0
    sleep 1
  done
  echo "dockerd did not start within 60 s; see /var/log/fabricplus-dockerd.log" >&2
  return 1
}

stop_docker_if_started() {
  if [ -n "$STARTED_DOCKERD" ]; then
    log "stopping the dockerd this run started"
    kill "$STARTED_DOCKERD" 2>/dev/null || true
    wait "$STARTED_DOCKERD" 2>/dev/null || true
  fi
}

# Container targets without a registry: never try to pull (no traffic leaves the machine);
# build the base image from Debian's archive instead (cached: instant when it exists).
# With a registry, run with FABRICPLUS_DOCKER_PULL=1 to use the real ubuntu:22.04/centos:7.
export FABRICPLUS_DOCKER_PULL="${FABRICPLUS_DOCKER_PULL:-0}"

setup_all() {
  need_root
  install_apt_packages
  make_venv
  if [ "${FABRICPLUS_NEED_DOCKER:-0}" = 1 ]; then
    ensure_docker
    if [ "$FABRICPLUS_DOCKER_PULL" = 0 ]; then
      # the builder shipped in the package (pip users run the same command)
      "$VENV/bin/python" -m pytest_fabricplus build-base >&2
    fi
  fi
}
