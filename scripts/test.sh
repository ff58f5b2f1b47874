#!/usr/bin/env bash
# `make test`: set up like `make run`, run the linters, then the whole test suite
# against real PostgreSQL, a real Docker engine and real MariaDB/Redis containers.
#
# pytest runs on DBVEND_TEST_WORKERS pytest-xdist workers (default: one per core; a third
# worker on two cores made the run slower, not faster, on 2026-12-07); the
# plan (tests/scheduling.py) is printed before the tests start. Arguments go to pytest
# (`make test -- tests/api -k login`, or `bash scripts/test.sh tests/api`); with any
# argument the linters are skipped unless DBVEND_TEST_LINT=1. At the end: the wall time of
# each phase and the 25 slowest tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"
cd "$DBVEND_ROOT"
venv="$DBVEND_ROOT/.venv/bin"

phases=()
phase() {  # phase NAME COMMAND...: runs it, keeps its wall time for the table at the end
  local name=$1 start rc=0 tenths
  shift
  log "$name"
  start=$(date +%s%N)
  "$@" || rc=$?
  tenths=$((($(date +%s%N) - start) / 100000000))
  phases+=("$(printf '%-16s %5d.%d s' "$name" $((tenths / 10)) $((tenths % 10)))$([ "$rc" = 0 ] || echo "  FAILED ($rc)")")
  return "$rc"
}
summary() {
  local rc=$?
  printf '\n[dbvend-test] wall time per phase\n' >&2
  printf '  %s\n' "${phases[@]}" >&2
  exit "$rc"
}
trap summary EXIT

phase setup bash "$here/setup.sh"
if [ "$#" -eq 0 ]; then
  # The image of dbvend itself (tests/deploy/test_service_image.py) takes minutes to build on
  # a fresh machine, mostly downloads: built meanwhile, the test finds it current.
  mkdir -p "$DBVEND_STATE_DIR/logs"
  DBVEND_SERVICE_IMAGE=dbvend/service:test DBVEND_BUILD_PYTHON="$venv/python" \
    bash "$here/build-service-image.sh" >"$DBVEND_STATE_DIR/logs/service-image.log" 2>&1 &
fi
if [ "$#" -eq 0 ] || [ "${DBVEND_TEST_LINT:-0}" = 1 ]; then
  phase ruff "$venv/ruff" check service tests bench
  phase "ruff format" "$venv/ruff" format --check service tests bench
  phase mypy "$venv/mypy"
  phase "import contracts" "$venv/lint-imports"
  phase ansible-lint "$venv/ansible-lint" -q playbooks roles
fi
workers=${DBVEND_TEST_WORKERS:-$(nproc)}
parallel=()
if [ "$workers" -gt 1 ]; then
  parallel=(-n "$workers")
fi
phase pytest "$venv/pytest" -p no:cacheprovider "${parallel[@]}" --durations=25 --durations-min=1 "$@"
