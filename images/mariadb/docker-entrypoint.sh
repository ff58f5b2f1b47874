#!/bin/bash
# Entrypoint with the official mariadb image's contract, for images built from Debian packages:
# MARIADB_ROOT_PASSWORD or MARIADB_ROOT_PASSWORD_HASH, MARIADB_ROOT_HOST (default %),
# MARIADB_DATABASE, MARIADB_USER, MARIADB_PASSWORD or MARIADB_PASSWORD_HASH (each also as
# _FILE, and MYSQL_ for MARIADB_ where the official image has it), /docker-entrypoint-initdb.d.
# A *_HASH is a mysql_native_password hash ('*' and 40 hex digits): no password in the env.
set -eo pipefail

log() { printf '%s [Entrypoint]: %s\n' "$(date --rfc-3339=seconds)" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

# env_into NAME OUT: OUT = NAME's value, else the contents of NAME_FILE (one final newline
# dropped), trying the MYSQL_ spelling too. No command substitution: it would strip trailing
# newlines, and a name checked after that ("mysql\n" -> "mysql") is not the name given.
env_into() {
  local name=$1 out=$2 alt var file_var content
  alt=${name/MARIADB_/MYSQL_}
  for var in "$name" "$alt"; do
    if [ -n "${!var:-}" ]; then printf -v "$out" '%s' "${!var}"; return; fi
    file_var="${var}_FILE"
    if [ -n "${!file_var:-}" ]; then
      IFS= read -r -d '' content <"${!file_var}" || true
      printf -v "$out" '%s' "${content%$'\n'}"
      return
    fi
  done
  printf -v "$out" '%s' ''
}
sql_string() { local s=${1//\\/\\\\}; printf "'%s'" "${s//\'/\\\'}"; }
sql_ident() { printf '`%s`' "${1//\`/\`\`}"; }

# The rules dbvend's API and role apply (ASCII spelled out: ranges follow the locale).
letters=ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789
database_rule="^[${letters}_]{1,64}\$"
user_rule="^[${letters}_.-]{1,80}\$"
hash_rule="^\\*[0123456789ABCDEFabcdef]{40}\$"
check_names() {
  if [ -n "$database" ]; then
    [[ $database =~ $database_rule ]] || die "MARIADB_DATABASE must be 1-64 ASCII letters, digits or underscores"
    case "${database,,}" in
      mysql | information_schema | performance_schema | sys) die "MARIADB_DATABASE may not be a system database" ;;
    esac
  fi
  if [ -n "$user" ]; then
    [[ $user =~ $user_rule ]] || die "MARIADB_USER must be 1-80 ASCII letters, digits, '_', '.' or '-'"
    case "${user,,}" in
      root | mariadb.sys | mysql | healthcheck | dbvend_monitor) die "MARIADB_USER may not be a system account" ;;
    esac
  fi
  if [ -n "$root_hash" ] && ! [[ $root_hash =~ $hash_rule ]]; then die "MARIADB_ROOT_PASSWORD_HASH is not a mysql_native_password hash"; fi
  if [ -n "$password_hash" ] && ! [[ $password_hash =~ $hash_rule ]]; then die "MARIADB_PASSWORD_HASH is not a mysql_native_password hash"; fi
}

if [ "${1:0:1}" = '-' ]; then set -- mariadbd "$@"; fi

if [ "$1" = mariadbd ] || [ "$1" = mysqld ]; then
  datadir=/var/lib/mysql
  mkdir -p /run/mysqld
  if [ "$(id -u)" = 0 ]; then chown -R mysql:mysql "$datadir" /run/mysqld; fi
  if [ ! -d "$datadir/mysql" ]; then
    env_into MARIADB_ROOT_PASSWORD root_password
    env_into MARIADB_ROOT_PASSWORD_HASH root_hash
    env_into MARIADB_ALLOW_EMPTY_ROOT_PASSWORD allow_empty
    env_into MARIADB_DATABASE database
    env_into MARIADB_USER user
    env_into MARIADB_PASSWORD password
    env_into MARIADB_PASSWORD_HASH password_hash
    env_into MARIADB_ROOT_HOST root_host
    root_host=${root_host:-%}
    if [ -z "$root_password" ] && [ -z "$root_hash" ] && [ -z "$allow_empty" ]; then
      die "database is uninitialized and neither MARIADB_ROOT_PASSWORD nor MARIADB_ROOT_PASSWORD_HASH is set"
    fi
    check_names
    if [ -n "$root_hash" ]; then root_auth="BY PASSWORD '$root_hash'"; else root_auth="BY $(sql_string "$root_password")"; fi
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
      # With a hash, root@localhost gets it after the init files (as the official image does).
      if [ -z "$root_hash" ]; then
        echo "ALTER USER 'root'@'localhost' IDENTIFIED $root_auth;"
      fi
      if [ "$root_host" != localhost ]; then
        echo "CREATE USER 'root'@$(sql_string "$root_host") IDENTIFIED $root_auth;"
        echo "GRANT ALL ON *.* TO 'root'@$(sql_string "$root_host") WITH GRANT OPTION;"
      fi
      if [ -n "$database" ]; then
        echo "CREATE DATABASE IF NOT EXISTS $(sql_ident "$database");"
      fi
      if [ -n "$user" ] && { [ -n "$password" ] || [ -n "$password_hash" ]; }; then
        if [ -n "$password_hash" ]; then
          echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY PASSWORD '$password_hash';"
        else
          echo "CREATE USER $(sql_string "$user")@'%' IDENTIFIED BY $(sql_string "$password");"
        fi
        if [ -n "$database" ]; then
          echo "GRANT ALL ON $(sql_ident "${database//_/\\_}").* TO $(sql_string "$user")@'%';"
        fi
      fi
      echo "FLUSH PRIVILEGES;"
    } | mariadb --protocol=socket -uroot -S /run/mysqld/init.sock
    for f in /docker-entrypoint-initdb.d/*; do
      case "$f" in
        *.sh) log "running $f"; . "$f" ;;
        *.sql) log "running $f"; MYSQL_PWD=$root_password mariadb --protocol=socket -uroot -S /run/mysqld/init.sock "${database:-mysql}" <"$f" ;;
        *) ;;
      esac
    done
    if [ -n "$root_hash" ]; then
      printf "SET @@SESSION.SQL_LOG_BIN=0;\nSET PASSWORD FOR 'root'@'localhost' = '%s';\n" "$root_hash" \
        | mariadb --protocol=socket -uroot -S /run/mysqld/init.sock
    fi
    kill "$pid"; wait "$pid" || true
    log "initialization done"
  fi
fi
exec "$@"
