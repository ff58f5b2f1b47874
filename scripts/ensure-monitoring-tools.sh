#!/usr/bin/env bash
# Prometheus, promtool and Alertmanager from Debian, for the monitoring tests (they start
# their own instances with generated configs on 127.0.0.1). The packaged services are
# not used: they stay stopped and disabled where an init system would start them.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"
if command -v promtool >/dev/null && command -v prometheus >/dev/null \
  && command -v prometheus-alertmanager >/dev/null; then
  exit 0
fi
apt_install prometheus prometheus-alertmanager
for unit in prometheus prometheus-alertmanager; do
  if command -v systemctl >/dev/null && [ -d /run/systemd/system ]; then
    systemctl disable --now "$unit" >/dev/null 2>&1 || true
  elif [ -x "/etc/init.d/$unit" ]; then
    "/etc/init.d/$unit" stop >/dev/null 2>&1 || true
  fi
done
log "monitoring tools: $(prometheus --version 2>&1 | head -1)"
