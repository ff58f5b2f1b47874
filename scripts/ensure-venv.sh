#!/usr/bin/env bash
# Create .venv with dbvend and its dev tools, pinned by requirements.lock.
# Skips pip entirely when pyproject.toml and the lock have not changed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"

venv="$DBVEND_ROOT/.venv"
stamp="$venv/.dbvend-deps"
want=$(cat "$DBVEND_ROOT/pyproject.toml" "$DBVEND_ROOT/requirements.lock" | sha256sum | cut -c1-16)
if [ -x "$venv/bin/python" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]; then
  exit 0
fi
python=${PYTHON:-python3}
if ! "$python" -c 'import venv, ensurepip' >/dev/null 2>&1; then
  apt_install python3-venv
fi
log "installing Python dependencies into .venv"
[ -x "$venv/bin/python" ] || "$python" -m venv "$venv"
"$venv/bin/pip" install -q --disable-pip-version-check --upgrade pip
"$venv/bin/pip" install -q --disable-pip-version-check -c "$DBVEND_ROOT/requirements.lock" -e "$DBVEND_ROOT[dev]"
echo "$want" >"$stamp"
