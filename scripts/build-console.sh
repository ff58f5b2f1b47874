#!/usr/bin/env bash
# Rebuilds the web console (console/src -> console/dist, which is committed: the service and CI
# need no node). For developers after a change under console/src; needs node and npm.
set -euo pipefail
cd "$(dirname "$0")/../console"
npm ci --no-audit --no-fund
npm run build
