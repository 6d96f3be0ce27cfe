#!/usr/bin/env bash
# Shared set-up for the README's commands, on a fresh Debian 12 machine (as root):
# apt packages, a virtualenv with the project installed, and (optionally) a Docker daemon.
# Source it: `. scripts/setup.sh`. Idempotent and quick when everything is already there.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${FABRICPLUS_VENV:-$ROOT/.venv}"
# the second virtualenv: the project at the lowest versions it declares (constraints/minimum.txt)
MIN_VENV="${FABRICPLUS_MIN_VENV:-$ROOT/.venv-min}"
MIN_CONSTRAINTS="$ROOT/constraints/minimum.txt"
# Every Python that requires-python allows is tested: the main venv's runs the whole suite,
# each other one tests/unit and tests/plugin (scripts/run-tests.sh). The floors run on the
# oldest Python, so one job covers oldest Python and oldest pytest; the others get the newest
# releases. Interpreters: $FABRICPLUS_PYTHON_3_10 (and so on), pythonX.Y on PATH, or pyenv's.
SUPPORTED_PYTHONS=(3.10 3.11 3.12 3.13)
MIN_PYTHON="${SUPPORTED_PYTHONS[0]}"
# zsh: a login shell the persistent remote shell leaves to exec channels (a test user has it)
APT_PACKAGES=(openssh-server openssh-client sudo iproute2 procps python3 python3-venv zsh)
[ "${FABRICPLUS_NEED_DOCKER:-0}" = 1 ] && APT_PACKAGES+=(docker.io debootstrap)
# headless Chromium opens the HTML compliance report in tests/unit/test_html_report.py
[ "${FABRICPLUS_NEED_CHROMIUM:-0}" = 1 ] && APT_PACKAGES+=(chromium)
# MITRE's inspecjs (the control statuses Heimdall and the SAF CLI compute) reads our InSpec
# JSON in tests/unit/test_inspec_report.py; installed into $FABRICPLUS_NODE_DIR (.node)
INSPECJS_VERSION=2.12.6
NODE_DIR="${FABRICPLUS_NODE_DIR:-$ROOT/.node}"
# (only where no npm is on PATH: a machine with NodeSource's nodejs has npm without Debian's
# npm package, and installing that one would fight it)
if [ "${FABRICPLUS_NEED_INSPECJS:-0}" = 1 ] && ! command -v npm >/dev/null 2>&1; then
  APT_PACKAGES+=(nodejs npm)
fi

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

# install_venv DIR PIP_ARGS...: a virtualenv in DIR with `pip install PIP_ARGS` done in it.
# Idempotent: a stamp in DIR records a hash of pyproject.toml, the arguments and the content
# of every argument that is a file (a constraints file); the install runs again only when
# that changes. With INSTALL_VENV_FRESH=1 a changed stamp recreates DIR from scratch, so no
# package left over from an earlier install (e.g. a pin since removed) stays in it.
install_venv() {
  local venv="$1"
  shift
  local py="${PYTHON:-python3}"
  local stamp="$venv/.fabricplus-installed"
  local want arg
  want="$(
    {
      "$py" -c 'import sys; print(sys.version)'  # another interpreter: another install
      cat "$ROOT/pyproject.toml"
      for arg in "$@"; do
        printf '%s\n' "$arg"
        if [ -f "$arg" ]; then cat "$arg"; fi
      done
    } | sha256sum | cut -d' ' -f1
  )"
  if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then
    return 0
  fi
  if [ "${INSTALL_VENV_FRESH:-0}" = 1 ] && [ -f "$venv/pyvenv.cfg" ]; then
    log "recreating virtualenv $venv (its install is out of date)"
    rm -rf "$venv"
  fi
  if [ ! -x "$venv/bin/python" ]; then
    log "creating virtualenv $venv"
    "$py" -m venv "$venv"
  fi
  log "installing into $venv: pip install $*"
  if [ "${INSTALL_VENV_UPGRADE_PIP:-1}" = 1 ]; then
    "$venv/bin/python" -m pip install -q --upgrade pip >/dev/null
  fi
  "$venv/bin/python" -m pip install -q "$@"
  echo "$want" > "$stamp"
}

make_venv() {
  install_venv "$VENV" -e "$ROOT[dev]"
}

# The project and its dev tools with every declared dependency at its floor: what a user who
# installs the lowest allowed versions gets, on the oldest supported Python (or, where that
# one is missing and no interpreter is required, on python3). venv's own pip is recent
# enough (no upgrade: quicker).
make_min_venv() {
  local py=python3
  if need_python "$MIN_PYTHON"; then py="$FOUND_PYTHON"; fi
  PYTHON="$py" INSTALL_VENV_FRESH=1 INSTALL_VENV_UPGRADE_PIP=0 \
    install_venv "$MIN_VENV" -c "$MIN_CONSTRAINTS" -e "$ROOT[dev]"
}

# find_python X.Y: the path of a Python X.Y interpreter, or a non-zero exit. Looks at
# $FABRICPLUS_PYTHON_X_Y, then pythonX.Y on PATH, then pyenv's versions/X.Y.*.
find_python() {
  local version="$1" var="FABRICPLUS_PYTHON_${1//./_}" candidate
  for candidate in "${!var:-}" "$(command -v "python$version" 2>/dev/null || true)" \
    "${PYENV_ROOT:-$HOME/.pyenv}/versions/$version".*/bin/python; do
    [ -n "$candidate" ] && [ -x "$candidate" ] || continue
    # a pyenv shim exists for versions that are not installed: ask the interpreter itself
    if [ "$("$candidate" -c 'import sys; print("%d.%d" % sys.version_info[:2])' 2>/dev/null)" \
      = "$version" ]; then
      printf '%s\n' "$candidate"
      return 0
    fi
  done
  return 1
}

# need_python X.Y: find_python into $FOUND_PYTHON, and when there is none, say so: under
# FABRICPLUS_NEED_PYTHONS=1 (CI: .ci/run sets it) an error that stops the run, else a
# warning and a non-zero return. Call it directly, not in $(...): the exit must stop the run.
need_python() {
  local version="$1"
  if FOUND_PYTHON="$(find_python "$version")"; then return 0; fi
  local what="no Python $version found (set FABRICPLUS_PYTHON_${version//./_}, put python$version on PATH"
  what+=" or install it: pyenv install $version)"
  if [ "${FABRICPLUS_NEED_PYTHONS:-0}" = 1 ]; then
    echo "error: $what; FABRICPLUS_NEED_PYTHONS=1 says every supported Python must be tested" >&2
    exit 1
  fi
  log "SKIPPED: $what (FABRICPLUS_NEED_PYTHONS=1 makes this a failure)"
  return 1
}

# The supported versions other than the main venv's and the floors' (those two run anyway).
other_pythons() {
  local main version
  main="$("$VENV/bin/python" -c 'import sys; print("%d.%d" % sys.version_info[:2])')"
  for version in "${SUPPORTED_PYTHONS[@]}"; do
    [ "$version" = "$main" ] || [ "$version" = "$MIN_PYTHON" ] || printf '%s\n' "$version"
  done
}

# make_python_venv X.Y: $ROOT/.venv-pyX.Y with the project and its dev tools at their newest
# releases on Python X.Y, its directory in $PYTHON_VENV (non-zero: no such Python, see
# need_python; call it directly, not in $(...)).
make_python_venv() {
  local version="$1"
  PYTHON_VENV="$ROOT/.venv-py$version"
  need_python "$version" || return 1
  PYTHON="$FOUND_PYTHON" INSTALL_VENV_FRESH=1 install_venv "$PYTHON_VENV" -e "$ROOT[dev]"
}

install_inspecjs() {
  local have="$NODE_DIR/node_modules/inspecjs/package.json"
  if [ -f "$have" ] && grep -q "\"version\": \"$INSPECJS_VERSION\"" "$have"; then return 0; fi
  log "installing inspecjs@$INSPECJS_VERSION into $NODE_DIR"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --silent "inspecjs@$INSPECJS_VERSION" >&2
}

# MITRE Heimdall Lite (a static viewer, served on 127.0.0.1 and opened in Chromium) and the SAF
# CLI (`saf summary`, `saf validate threshold`) read our InSpec JSON in
# tests/integration/test_mitre_tools.py; FABRICPLUS_NEED_HEIMDALL=1 / FABRICPLUS_NEED_SAF=1 install
# them into $NODE_DIR/heimdall and $NODE_DIR/saf (each ~15 s / ~70 s from a cold npm cache;
# both declare node >= 22 but run on Debian's node 18/20). Needs npm (FABRICPLUS_NEED_INSPECJS=1).
HEIMDALL_VERSION=2.12.6
SAF_VERSION=1.5.3
install_mitre_tools() {
  local dir spec name version
  for dir in heimdall saf; do
    if [ "$dir" = heimdall ]; then
      [ "${FABRICPLUS_NEED_HEIMDALL:-0}" = 1 ] || continue
      spec="@mitre/heimdall-lite@$HEIMDALL_VERSION"
    else
      [ "${FABRICPLUS_NEED_SAF:-0}" = 1 ] || continue
      spec="@mitre/saf@$SAF_VERSION"
    fi
    name="${spec%@*}" version="${spec##*@}"
    if grep -qs "\"version\": \"$version\"" "$NODE_DIR/$dir/node_modules/$name/package.json"; then
      continue
    fi
    command -v npm >/dev/null 2>&1 || { echo "npm is missing: set FABRICPLUS_NEED_INSPECJS=1" >&2; return 1; }
    log "installing $spec into $NODE_DIR/$dir"
    npm install --prefix "$NODE_DIR/$dir" --no-audit --no-fund --silent --ignore-scripts "$spec" >&2
  done
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
  if [ "${FABRICPLUS_NEED_INSPECJS:-0}" = 1 ]; then
    install_inspecjs
  fi
  install_mitre_tools
  if [ "${FABRICPLUS_NEED_DOCKER:-0}" = 1 ]; then
    ensure_docker
    if [ "$FABRICPLUS_DOCKER_PULL" = 0 ]; then
      # the builder shipped in the package (pip users run the same command)
      "$VENV/bin/python" -m pytest_fabricplus build-base >&2
    fi
  fi
}
