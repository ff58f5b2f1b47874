#!/usr/bin/env bash
# The database clients `dbvend connect` runs (redis-cli, mariadb), from Debian, for the CLI
# tests and for people using the CLI on this machine; sysbench for bench/tls.py's MySQL load
# (redis-tools' redis-benchmark has --tls: Debian builds it with OpenSSL).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"
if command -v redis-cli >/dev/null && command -v mariadb >/dev/null && command -v sysbench >/dev/null; then
  exit 0
fi
apt_install redis-tools mariadb-client sysbench
log "database clients: $(redis-cli --version), $(mariadb --version)"
