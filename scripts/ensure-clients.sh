#!/usr/bin/env bash
# The database clients `dbvend connect` runs (redis-cli, mariadb), from Debian, for the CLI
# tests and for people using the CLI on this machine.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"
if command -v redis-cli >/dev/null && command -v mariadb >/dev/null; then
  exit 0
fi
apt_install redis-tools mariadb-client
log "database clients: $(redis-cli --version), $(mariadb --version)"
