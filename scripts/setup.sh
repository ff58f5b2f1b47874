#!/usr/bin/env bash
# Everything dbvend needs on this machine, each step skipped when already done:
# Python venv, embedded PostgreSQL (unless DATABASE_URL is set), Docker engine, images,
# Prometheus and Alertmanager for the monitoring tests, the redis-cli and mariadb clients,
# chromium for the console tests.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
bash "$here/ensure-venv.sh"
bash "$here/ensure-postgres.sh"
bash "$here/ensure-docker.sh"
bash "$here/ensure-images.sh"
bash "$here/ensure-monitoring-tools.sh"
bash "$here/ensure-clients.sh"
bash "$here/ensure-browser.sh"
