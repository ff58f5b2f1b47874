#!/usr/bin/env bash
# Make sure a Docker engine answers on this machine: install docker.io and start
# dockerd when none does. Idempotent and quick when the engine is already up.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"

if docker info >/dev/null 2>&1; then
  exit 0
fi

apt_install docker.io iptables
if docker info >/dev/null 2>&1; then
  exit 0
fi

log "starting dockerd (log: $DBVEND_STATE_DIR/dockerd.log)"
mkdir -p "$DBVEND_STATE_DIR"
if command -v systemctl >/dev/null 2>&1 && systemctl is-system-running >/dev/null 2>&1; then
  systemctl start docker || true
fi
if ! docker info >/dev/null 2>&1; then
  # No init system here (containers, CI sandboxes): run the daemon detached.
  setsid nohup dockerd >"$DBVEND_STATE_DIR/dockerd.log" 2>&1 </dev/null &
fi
for _ in $(seq 1 60); do
  docker info >/dev/null 2>&1 && exit 0
  sleep 0.5
done
log "dockerd did not answer within 30 s; last lines of its log:"
tail -n 20 "$DBVEND_STATE_DIR/dockerd.log" >&2 || true
exit 1
