#!/usr/bin/env bash
# Make sure the MySQL (MariaDB 10.11) and Redis 7.0 images dbvend deploys exist locally.
#
# First choice: pull the official mariadb:10.11 / redis:7.0 and tag them dbvend/*.
# Where no registry answers, build equivalents from Debian bookworm packages
# (debootstrap -> docker import -> a small Dockerfile per engine with the official
# images' env contract). A label holds a hash of images/, so a re-run with nothing
# changed builds nothing.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"

MYSQL_IMAGE=${DBVEND_MYSQL_IMAGE:-dbvend/mariadb:10.11}
REDIS_IMAGE=${DBVEND_REDIS_IMAGE:-dbvend/redis:7.0}
BASE_IMAGE=dbvend/debian-db-base:bookworm
recipe_hash=$(cd "$DBVEND_ROOT/images" && find . -type f -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -c1-16)

image_label() { docker image inspect -f '{{ index .Config.Labels "dbvend.recipe" }}' "$1" 2>/dev/null || true; }
have_image() { docker image inspect "$1" >/dev/null 2>&1; }

up_to_date() {
  local image=$1
  have_image "$image" || return 1
  local label
  label=$(image_label "$image")
  # A pulled official image carries no recipe label and is always current.
  [ -z "$label" ] || [ "$label" = "$recipe_hash" ]
}

try_pull() {
  local official=$1 target=$2
  [ "${DBVEND_SKIP_PULL:-0}" = 1 ] && return 1
  timeout 20 docker pull -q "$official" >/dev/null 2>&1 || return 1
  docker tag "$official" "$target"
  log "using official $official as $target"
}

debian_mirror() {
  # The mirror apt already uses, so the build reaches what this machine reaches.
  local uri=""
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    uri=$(awk '/^URIs:/ {print $2; exit}' /etc/apt/sources.list.d/debian.sources)
  fi
  if [ -z "$uri" ] && [ -f /etc/apt/sources.list ]; then
    uri=$(awk '$1 == "deb" && $0 !~ /security/ {print $2; exit}' /etc/apt/sources.list)
  fi
  printf '%s' "$uri"
}

build_base() {
  have_image "$BASE_IMAGE" && return 0
  apt_install debootstrap
  local rootfs="$DBVEND_STATE_DIR/images/rootfs"
  rm -rf "$rootfs"
  mkdir -p "$rootfs"
  local mirror
  mirror=$(debian_mirror)
  log "debootstrap bookworm with mariadb-server and redis-server (about 70 s)"
  debootstrap --variant=minbase --include=mariadb-server,mariadb-client,redis-server \
    bookworm "$rootfs" ${mirror:+"$mirror"} >"$DBVEND_STATE_DIR/images/debootstrap.log" 2>&1 || {
      tail -n 30 "$DBVEND_STATE_DIR/images/debootstrap.log" >&2; return 1; }
  rm -rf "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/lib/apt/lists/* "$rootfs"/usr/share/doc/* \
    "$rootfs"/usr/share/man/* "$rootfs"/usr/share/locale/*
  tar -C "$rootfs" -c . | docker import \
    --change 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin' \
    --change 'ENV LANG=C.UTF-8' - "$BASE_IMAGE" >/dev/null
  rm -rf "$rootfs"
}

build_engine() {
  local dir=$1 target=$2
  log "building $target from Debian packages"
  docker build -q --label "dbvend.recipe=$recipe_hash" --build-arg "BASE=$BASE_IMAGE" \
    -t "$target" "$DBVEND_ROOT/images/$dir" >/dev/null
}

need_mysql=1; need_redis=1
up_to_date "$MYSQL_IMAGE" && need_mysql=0
up_to_date "$REDIS_IMAGE" && need_redis=0
[ $need_mysql = 0 ] && [ $need_redis = 0 ] && exit 0

if [ $need_mysql = 1 ] && try_pull mariadb:10.11 "$MYSQL_IMAGE"; then need_mysql=0; fi
if [ $need_redis = 1 ] && try_pull redis:7.0 "$REDIS_IMAGE"; then need_redis=0; fi
[ $need_mysql = 0 ] && [ $need_redis = 0 ] && exit 0

mkdir -p "$DBVEND_STATE_DIR/images"
build_base
[ $need_mysql = 1 ] && build_engine mariadb "$MYSQL_IMAGE"
[ $need_redis = 1 ] && build_engine redis "$REDIS_IMAGE"
log "images ready: $MYSQL_IMAGE $REDIS_IMAGE"
