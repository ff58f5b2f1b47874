#!/usr/bin/env bash
# `make run`: set up, then serve the API on $DBVEND_LISTEN (default 127.0.0.1:8080).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"
bash "$here/setup.sh"
pw_file="$DBVEND_STATE_DIR/admin-password"
if [ -z "${DBVEND_ADMIN_PASSWORD:-}" ]; then
  log "admin user: 'admin'; password file: $pw_file (written on the first start)"
fi
log "API on http://${DBVEND_LISTEN:-127.0.0.1:8080}/api/v1 — docs at /api/docs, web console at /console"
cd "$DBVEND_ROOT"
exec "$DBVEND_ROOT/.venv/bin/python" -m service serve
