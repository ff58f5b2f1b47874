#!/usr/bin/env bash
# `make test`: set up like `make run`, run the linters, then the whole test suite
# against real PostgreSQL, a real Docker engine and real MariaDB/Redis containers.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"
bash "$here/setup.sh"
cd "$DBVEND_ROOT"
venv="$DBVEND_ROOT/.venv/bin"
log "ruff"; "$venv/ruff" check service tests bench
log "ruff format"; "$venv/ruff" format --check service tests bench
log "mypy (strict, service/)"; "$venv/mypy"
log "import contracts"; "$venv/lint-imports"
log "ansible-lint"; "$venv/ansible-lint" -q playbooks roles
log "pytest"
exec "$venv/pytest" -p no:cacheprovider "$@"
