#!/usr/bin/env bash
# The main job: the example compliance suite (examples/compliance) against local SSH
# targets that this command starts itself (real sshd processes on 127.0.0.1 with a real
# test user), printing per-host results. Run as root on a fresh Debian 12 machine.
# Extra arguments go to pytest (e.g. -n 2, --junitxml=report.xml).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/setup.sh
setup_all

TARGETS="$(mktemp -d /tmp/fabricplus-example.XXXXXX)"
cleanup() {
  "$VENV/bin/python" -m tests.support.sshd stop "$TARGETS" || true
  rm -rf "$TARGETS"
  stop_docker_if_started
}
trap cleanup EXIT INT TERM

log "starting 3 local sshd targets"
"$VENV/bin/python" -m tests.support.sshd start "$TARGETS" --count 3 >/dev/null
"$VENV/bin/python" -m pytest -c examples/compliance/pytest.ini examples/compliance \
  --hosts="$TARGETS/inventory.ini" \
  --known-hosts="$TARGETS/known_hosts" \
  --ssh-identity-file="$TARGETS/keys/id_fptest" \
  -v "$@"
