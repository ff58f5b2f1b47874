# Shared helpers for the set-up scripts (sourced, not run).
# shellcheck shell=bash
DBVEND_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
export DBVEND_ROOT
export DBVEND_STATE_DIR="${DBVEND_STATE_DIR:-$DBVEND_ROOT/.state}"
export DEBIAN_FRONTEND=noninteractive

log() { printf '[dbvend-setup] %s\n' "$*" >&2; }

# Install Debian packages that are missing; runs `apt-get update` at most once per boot.
apt_install() {
  local missing=()
  local pkg
  for pkg in "$@"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  if [ "$(id -u)" -ne 0 ]; then
    log "need root to install: ${missing[*]}"
    return 1
  fi
  local stamp=/run/dbvend-apt-updated
  if [ ! -e "$stamp" ]; then
    log "apt-get update"
    apt-get update -qq
    touch "$stamp" 2>/dev/null || true
  fi
  log "apt-get install ${missing[*]}"
  # Another apt run (a parallel setup) holds the dpkg lock for a while: wait for it.
  apt-get install -y -qq -o DPkg::Lock::Timeout=600 --no-install-recommends "${missing[@]}" >/dev/null
}
