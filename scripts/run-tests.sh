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
export FABRICPLUS_NEED_HEIMDALL=1  # our InSpec JSON is loaded into Heimdall Lite in Chromium: none is a failure
export FABRICPLUS_NEED_SAF=1  # the SAF CLI summarises and thresholds our InSpec JSON: none is a failure
. scripts/setup.sh
setup_all
trap stop_docker_if_started EXIT

# The other interpreters' jobs: tests/unit and tests/plugin on each other supported Python,
# two xdist workers each, under --import-mode=importlib (the suite imports its helpers from
# testing/, never relies on pytest putting test directories on sys.path). They run in the
# background, one after another, while the main suite runs: it spends most of its time
# waiting on sshd, su, timeouts and subprocesses, so they use the idle core. Each job writes
# .test-logs/JOB.log; their results are shown after the main suite's.
# (FABRICPLUS_OTHER_TESTS: other paths or node ids, space-separated, for a quick local check)
read -r -a OTHER_TESTS <<<"${FABRICPLUS_OTHER_TESTS:-tests/unit tests/plugin}"
OTHER_RUN=(-p no:cacheprovider --import-mode=importlib -n "${FABRICPLUS_OTHER_WORKERS:-2}")
# not the container tests (marker `docker`, tests/plugin/test_docker_targets.py): they start and
# remove containers on the one Docker daemon while the main suite's container tests run, and a
# main-suite run lost its ubuntu target mid-run once (fresh-clone CI, session 7); the main
# suite runs them
OTHER_RUN+=(-m "not docker")
# an interpreter between the floors' and the newest runs tests/unit only: tests/plugin's
# pytester runs on the oldest and the newest Python bracket it, and the whole job kept
# .ci/run past its 20 minutes on 2 cores (FABRICPLUS_MIDDLE_TESTS: other paths)
read -r -a MIDDLE_TESTS <<<"${FABRICPLUS_MIDDLE_TESTS:-tests/unit}"
LOGS="$ROOT/.test-logs"
mkdir -p "$LOGS"
rm -f "$LOGS"/*.log

# run_job NAME VENV [PATH...]: the other interpreters' run in VENV (of OTHER_TESTS, or the
# paths given), its output in .test-logs/NAME.log
run_job() {
  local name="$1" venv="$2"
  shift 2
  local tests=("$@")
  [ "${#tests[@]}" -gt 0 ] || tests=("${OTHER_TESTS[@]}")
  log "$name: pytest ${tests[*]} on $("$venv/bin/python" -V) ($venv)"
  # set -e does not apply inside `if`: the exit status is the job's result (5, no tests, fails)
  if "$venv/bin/python" -m pytest "${OTHER_RUN[@]}" "${tests[@]}" >"$LOGS/$name.log" 2>&1; then
    log "$name: $(tail -n 1 "$LOGS/$name.log")"
  else
    log "$name: FAILED (exit $?): $(tail -n 1 "$LOGS/$name.log")"
    return 1
  fi
}

other_jobs() {
  local status=0 version
  if [ "${FABRICPLUS_MIN_TESTS:-1}" != 0 ]; then
    # the lowest versions pyproject.toml declares (constraints/minimum.txt), oldest Python
    make_min_venv
    run_job min "$MIN_VENV" || status=1
  fi
  if [ "${FABRICPLUS_OTHER_PYTHONS:-1}" != 0 ]; then
    local versions=() newest=""
    read -r -a versions <<<"$(other_pythons | tr '\n' ' ')"
    if [ "${#versions[@]}" -gt 0 ]; then
      newest="${versions[${#versions[@]}-1]}"
    fi
    for version in "${versions[@]}"; do
      make_python_venv "$version" || continue # no such Python: said so (or stopped the job)
      if [ "$version" = "$newest" ]; then
        run_job "py$version" "$PYTHON_VENV" || status=1
      else
        run_job "py$version" "$PYTHON_VENV" "${MIDDLE_TESTS[@]}" || status=1
      fi
    done
  fi
  return "$status"
}

PY="$VENV/bin/python"
log "ruff"
"$PY" -m ruff check .
"$PY" -m ruff format --check .
log "mypy --strict"
"$PY" -m mypy --strict pytest_fabricplus
log "docs: sphinx-build -W (any warning, a broken cross-reference included, fails)"
"$PY" -m sphinx -W --keep-going -q -b html docs docs/_build/html

# the other interpreters' jobs start now, in a process group of their own (set -m): an
# interrupt of this script reaches them as SIGINT (pytest tears down, its sshd servers
# stop) and is waited for; from here on, this script waits for them before it exits
set -m
other_jobs >"$LOGS/other-jobs.log" 2>&1 &
OTHER_JOBS_PID=$!
set +m
trap 'kill -INT -- "-$OTHER_JOBS_PID" 2>/dev/null || true; wait "$OTHER_JOBS_PID" || true; exit 130' INT TERM
log "pytest"
# tests/plugin's non-container tests run in the jobs above on the oldest Python (floors) and
# the newest; with both on and no paths given, the main run leaves them to those jobs
# (conftest.py: FABRICPLUS_PLUGIN_TESTS_ELSEWHERE; listed as deselected): one pass of them
# fewer kept .ci/run within its 20 minutes on 2 cores
if [ $# -eq 0 ] && [ "${FABRICPLUS_MIN_TESTS:-1}" != 0 ] && [ "${FABRICPLUS_OTHER_PYTHONS:-1}" != 0 ] \
  && [ -z "${FABRICPLUS_OTHER_TESTS:-}" ]; then
  export FABRICPLUS_PLUGIN_TESTS_ELSEWHERE=1
  log "pytest: tests/plugin's non-container tests run in the other interpreters' jobs"
fi
# pytest's own exit code is the result: 5 (no tests collected) fails this command too
MAIN_STATUS=0
"$PY" -m pytest "$@" || MAIN_STATUS=$?
unset FABRICPLUS_PLUGIN_TESTS_ELSEWHERE

log "waiting for the other interpreters' jobs (.test-logs/)"
OTHER_STATUS=0
wait "$OTHER_JOBS_PID" || OTHER_STATUS=$?
cat "$LOGS/other-jobs.log" >&2
for job_log in "$LOGS"/*.log; do
  case "$job_log" in */other-jobs.log) continue ;; esac
  if ! tail -n 1 "$job_log" | grep -Eq '^=+ [0-9]+ passed'; then
    printf '\n----- %s -----\n' "$job_log" >&2
    cat "$job_log" >&2
  fi
done
if [ "$MAIN_STATUS" != 0 ]; then
  echo "the main pytest run failed (exit $MAIN_STATUS)" >&2
  exit "$MAIN_STATUS"
fi
if [ "$OTHER_STATUS" != 0 ]; then
  echo "an other interpreter's job failed (exit $OTHER_STATUS; logs above, in $LOGS)" >&2
  exit 1
fi
