#!/usr/bin/env bash
# The project's tests on a fresh Debian 12 machine, as root: installs what it needs
# (apt packages, a venv), then ruff, mypy --strict and the whole pytest suite against real
# sshd servers the tests start themselves. Extra arguments go to pytest. Then tests/unit and
# tests/plugin on every other supported Python (scripts/setup.sh: SUPPORTED_PYTHONS), each in
# a venv of its own that later runs reuse: the lowest versions pyproject.toml declares
# (constraints/minimum.txt) on the oldest Python ($FABRICPLUS_MIN_VENV, default .venv-min),
# the newest releases on the others (.venv-pyX.Y). FABRICPLUS_MIN_TESTS=0 skips the floors,
# FABRICPLUS_OTHER_PYTHONS=0 the other versions; a missing interpreter is a warning, or an
# error under FABRICPLUS_NEED_PYTHONS=1 (.ci/run sets it).
set -euo pipefail
cd "$(dirname "$0")/.."
export FABRICPLUS_NEED_SSHD=1  # the sshd targets are part of the suite: no root/sshd is a failure
export FABRICPLUS_NEED_DOCKER=1  # container targets are part of the suite: no daemon is a failure
export FABRICPLUS_NEED_CHROMIUM=1  # the HTML report is read back in headless Chromium: none is a failure
export FABRICPLUS_NEED_INSPECJS=1  # our InSpec JSON is scored by MITRE's inspecjs: none is a failure
. scripts/setup.sh
setup_all
trap stop_docker_if_started EXIT

PY="$VENV/bin/python"
log "ruff"
"$PY" -m ruff check .
"$PY" -m ruff format --check .
log "mypy --strict"
"$PY" -m mypy --strict pytest_fabricplus
log "pytest"
# pytest's own exit code is the result: 5 (no tests collected) fails this command too
"$PY" -m pytest "$@"

# The other interpreters' runs: tests/unit and tests/plugin, two xdist workers each, under
# --import-mode=importlib (the suite imports its helpers from testing/, never relies on
# pytest putting test directories on sys.path). set -e: any non-zero exit fails the command,
# 5 (no tests collected) included.
OTHER_RUN=(-p no:cacheprovider --import-mode=importlib -n "${FABRICPLUS_OTHER_WORKERS:-2}")
OTHER_RUN+=(tests/unit tests/plugin)
if [ "${FABRICPLUS_MIN_TESTS:-1}" != 0 ]; then
  make_min_venv
  log "pytest tests/unit tests/plugin at the minimum versions (constraints/minimum.txt)" \
    "on $("$MIN_VENV/bin/python" -V)"
  "$MIN_VENV/bin/python" -m pytest "${OTHER_RUN[@]}"
fi
if [ "${FABRICPLUS_OTHER_PYTHONS:-1}" != 0 ]; then
  for version in $(other_pythons); do
    make_python_venv "$version" || continue  # no such Python: said so (or stopped the run)
    log "pytest tests/unit tests/plugin on Python $version, newest releases ($PYTHON_VENV)"
    "$PYTHON_VENV/bin/python" -m pytest "${OTHER_RUN[@]}"
  done
fi
