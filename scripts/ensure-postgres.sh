#!/usr/bin/env bash
# Start the project-local PostgreSQL cluster under $DBVEND_STATE_DIR/pg (the embedded
# default used when DATABASE_URL is unset). initdb refuses root, so the cluster runs as
# the unprivileged system user `dbvend`. Prints nothing and returns fast when it is up.
# Writes the connection URL to $DBVEND_STATE_DIR/database_url (mode 0600).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"

if [ -n "${DATABASE_URL:-}" ]; then
  exit 0  # an external PostgreSQL was given; nothing to run here
fi

PG_PORT=${DBVEND_PG_PORT:-54329}
PG_USER=dbvend
pgdir="$DBVEND_STATE_DIR/pg"
data="$pgdir/data"
url_file="$DBVEND_STATE_DIR/database_url"

find_bin() {
  local dir
  dir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [ -n "$dir" ] && [ -x "$dir/initdb" ] && printf '%s' "$dir"
}

bindir=$(find_bin || true)
if [ -z "$bindir" ]; then
  apt_install postgresql
  bindir=$(find_bin)
fi

as_pg() {
  if [ "$(id -u)" -eq 0 ]; then
    setpriv --reuid="$PG_USER" --regid="$PG_USER" --init-groups -- "$@"
  else
    "$@"
  fi
}

if [ "$(id -u)" -eq 0 ] && ! id "$PG_USER" >/dev/null 2>&1; then
  useradd --system --no-create-home --shell /usr/sbin/nologin "$PG_USER"
fi

mkdir -p "$pgdir"
chmod 0755 "$DBVEND_STATE_DIR"
[ "$(id -u)" -eq 0 ] && chown "$PG_USER:$PG_USER" "$pgdir"
chmod 0700 "$pgdir"

if [ ! -f "$data/PG_VERSION" ]; then
  log "initializing PostgreSQL cluster in $data"
  password=$(head -c 32 /dev/urandom | base64 | tr -dc 'A-Za-z0-9' | head -c 32)
  pwfile="$pgdir/.pw"
  (umask 077; printf '%s' "$password" >"$pwfile")
  [ "$(id -u)" -eq 0 ] && chown "$PG_USER:$PG_USER" "$pwfile"
  as_pg "$bindir/initdb" -D "$data" -U "$PG_USER" --pwfile="$pwfile" --auth-local=peer \
    --auth-host=scram-sha-256 -E UTF8 --locale=C.UTF-8 >"$pgdir/initdb.log" 2>&1
  rm -f "$pwfile"
  cat >>"$data/postgresql.conf" <<EOF
# dbvend embedded cluster
listen_addresses = '127.0.0.1'
port = $PG_PORT
unix_socket_directories = '$pgdir'
max_connections = 200
shared_buffers = 128MB
fsync = on
EOF
  (umask 077; printf 'postgresql://%s:%s@127.0.0.1:%s/dbvend\n' "$PG_USER" "$password" "$PG_PORT" >"$url_file")
  started_new=1
fi

if ! as_pg "$bindir/pg_ctl" -D "$data" status >/dev/null 2>&1; then
  as_pg "$bindir/pg_ctl" -D "$data" -l "$pgdir/postgresql.log" -w -t 60 start >/dev/null
fi

if [ "${started_new:-0}" = 1 ]; then
  as_pg "$bindir/createdb" -h "$pgdir" -p "$PG_PORT" -U "$PG_USER" dbvend
fi
