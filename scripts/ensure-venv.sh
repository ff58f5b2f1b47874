#!/usr/bin/env bash
# Create .venv with dbvend and its dev tools, pinned by requirements.lock.
# Skips pip entirely when pyproject.toml and the lock have not changed.
#
# Recovers from an interrupted earlier run, whenever it was stopped: a venv without a
# working pip (venv creation cut short) or one whose install never finished (the
# `installing` marker is still there) is made again from scratch; the stamp that lets the
# next run skip everything is written last, only after pip and an import check succeeded.
# DBVEND_VENV overrides the venv's path (tests of this script, or a venv kept elsewhere).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"

venv="${DBVEND_VENV:-$DBVEND_ROOT/.venv}"
stamp="$venv/.dbvend-deps"
installing="$venv/.dbvend-installing"
want=$(cat "$DBVEND_ROOT/pyproject.toml" "$DBVEND_ROOT/requirements.lock" | sha256sum | cut -c1-16)

works() { "$venv/bin/python" -m pip --version >/dev/null 2>&1; }
# A venv, or what `python -m venv` leaves when stopped before it wrote pyvenv.cfg.
venv_like() {
  [ -e "$venv/pyvenv.cfg" ] && return 0
  local entry
  for entry in "$venv"/* "$venv"/.[!.]*; do
    [ -e "$entry" ] || continue
    case "${entry##*/}" in bin | include | lib | lib64 | .dbvend-*) ;; *) return 1 ;; esac
  done
}
ready() { [ "$(cat "$stamp" 2>/dev/null)" = "$want" ] && [ ! -e "$installing" ] && works; }

ready && exit 0
# Two setups at once would install over each other: the second waits, then looks again.
if command -v flock >/dev/null 2>&1; then
  mkdir -p "$DBVEND_STATE_DIR"
  exec 9>"$DBVEND_STATE_DIR/venv.lock"
  flock 9
  ready && exit 0
fi

python=${PYTHON:-python3}
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3-venv
fi

if [ -e "$venv" ] && { [ -e "$installing" ] || ! works; }; then
  if ! venv_like; then
    log "$venv exists but is not a Python venv; move it away and run this again"
    exit 1
  fi
  log "$venv is incomplete (an earlier setup was interrupted); making it again"
  rm -rf "$venv"
fi

log "installing Python dependencies into $venv"
if [ ! -e "$venv" ]; then
  "$python" -m venv "$venv"
fi
# From here until the stamp, an interruption leaves this marker: the next run starts over.
touch "$installing"
rm -f "$stamp"
"$venv/bin/python" -m pip install -q --disable-pip-version-check --upgrade pip
"$venv/bin/python" -m pip install -q --disable-pip-version-check \
  -c "$DBVEND_ROOT/requirements.lock" -e "$DBVEND_ROOT[dev]"
"$venv/bin/python" -c 'import service.app, ansible_runner, pytest' >/dev/null
echo "$want" >"$stamp.tmp"
mv "$stamp.tmp" "$stamp"
rm -f "$installing"
log "$venv is ready"
