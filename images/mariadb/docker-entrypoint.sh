#!/bin/bash
# Entrypoint with the official mariadb image's contract, for images built from Debian packages.
set -eo pipefail

log() { printf '%s [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# VAR or VAR_FILE, with the MYSQL_ spelling as a fallback for MARIADB_.
env_value() {
  local name=$1 alt=${1/MARIADB_/MYSQL_} var
  for var in "$name" "$alt"; do
    if [ -n "${!var:-}" ]; then printf '%s' "${!var}"; return; fi
    local file_var="${var}_FILE"
    if [ -n "${!file_var:-}" ]; then cat "${!file_var}"; return; fi
  done
}
sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\\\'}"; }
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

if [ "${1:0:1}" = '-' ]; then set -- mariadbd "$@"; fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
  datadir=/var/lib/mysql
  mkdir -p /run/mysqld
  if [ "$(id -u)" = 0 ]; then chown -R mysql:mysql "$datadir" /run/mysqld; fi
  if [ ! -d "$datadir/mysql" ]; then
    root_password=$(env_value MARIADB_ROOT_PASSWORD)
    if [ -z "$root_password" ] && [ -z "$(env_value MARIADB_ALLOW_EMPTY_ROOT_PASSWORD)" ]; then
      die "database is uninitialized and MARIADB_ROOT_PASSWORD is not set"
    fi
    database=$(env_value MARIADB_DATABASE)
    user=$(env_value MARIADB_USER)
    password=$(env_value MARIADB_PASSWORD)
    root_host=$(env_value MARIADB_ROOT_HOST); root_host=${root_host:-%}
    log "initializing database files"
    mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
      --auth-root-authentication-method=normal --skip-name-resolve >/dev/null
    log "starting temporary server"
    "$@" --skip-networking --socket=/run/mysqld/init.sock --wsrep-on=OFF &
    pid=$!
    for _ in $(seq 1 60); do
      mariadb --protocol=socket -uroot -S /run/mysqld/init.sock -e 'SELECT 1' >/dev/null 2>&1 && break
      sleep 0.25
    done
    {
      echo "SET @@SESSION.SQL_LOG_BIN=0;"
      # Like the official entrypoint: drop root's extra host entries. Keep mariadb.sys: it is
      # the definer of the mysql.user view (re-creating it without grants breaks the view).
      echo "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1';"
      echo "EXECUTE IMMEDIATE CONCAT('DROP USER IF EXISTS root@\\'', @@hostname, '\\'');"
      echo "ALTER USER 'root'@'localhost' IDENTIFIED BY $(sql_string "$root_password");"
      if [ "$root_host" != localhost ]; then
        echo "CREATE USER 'root'@$(sql_string "$root_host") IDENTIFIED BY $(sql_string "$root_password");"
        echo "GRANT ALL ON *.* TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;"
      fi
      if [ -n "$database" ]; then
        echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$database");"
      fi
      if [ -n "$user" ] && [ -n "$password" ]; then
        echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
        if [ -n "$database" ]; then
          echo "GRANT ALL ON $(sql_ident "${database//_/\\_}").* TO $(sql_string "$user")@'%';"
        fi
      fi
      echo "FLUSH PRIVILEGES;"
    } | mariadb --protocol=socket -uroot -S /run/mysqld/init.sock
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh) log "running $f"; . "$f" ;;
        *.sql) log "running $f"; mariadb --protocol=socket -uroot -p"$root_password" -S /run/mysqld/init.sock "${database:-mysql}" <"$f" ;;
        *) ;;
      esac
    done
    kill "$pid"; wait "$pid" || true
    log "initialization done"
  fi
fi
exec "$@"
