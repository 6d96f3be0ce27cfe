#!/usr/bin/env bash
# The project's tests on a fresh Debian 12 machine, as root: installs what it needs
# (apt packages, a venv), then ruff, mypy --strict and the whole pytest suite against real
# sshd servers the tests start themselves. Extra arguments go to pytest. Then tests/unit and
# tests/plugin once more in a second venv ($FABRICPLUS_MIN_VENV, default .venv-min) holding the
# lowest versions pyproject.toml declares (constraints/minimum.txt); FABRICPLUS_MIN_TESTS=0
# skips that step.
set -euo pipefail
cd "$(dirname "$0")/.."
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
log "docs: sphinx-build -W (any warning, a broken cross-reference included, fails)"
"$PY" -m sphinx -W --keep-going -q -b html docs docs/_build/html
log "pytest"
# pytest's own exit code is the result: 5 (no tests collected) fails this command too
"$PY" -m pytest "$@"

if [ "${FABRICPLUS_MIN_TESTS:-1}" != 0 ]; then
  log "pytest tests/unit tests/plugin at the minimum versions (constraints/minimum.txt)"
  make_min_venv
  # set -e: any non-zero exit fails the command, 5 (no tests collected) included
  "$MIN_VENV/bin/python" -m pytest -p no:cacheprovider tests/unit tests/plugin
fi
