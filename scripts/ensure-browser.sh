#!/usr/bin/env bash
# Debian's chromium (and its driver) for the web console's browser tests (tests/console):
# Playwright's Python package drives it through executable_path (it cannot download its own
# browser builds here).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"

apt_install chromium chromium-driver
