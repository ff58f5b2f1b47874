# On the Docker host, as root (`raw`): the host side of tasks/restore.yml, one step per call.
#   $1 = step, $2 = instance directory, $3 = SHA-256 of the backup (checked by the role).
# Files under the instance directory:
#   restore/<sha>.rdb   the backup, copied from the controller;
#   restore.marker      "<phase> <sha>", written (atomically) before the old data is moved:
#                       swap: the old data is in data/, or in data.previous/ once moved; data/
#                             is then absent, partial or the new data (not known to serve yet);
#                       done: data/ is the new data and it served; data.previous/ only waits
#                             for removal.
#   data.previous/      the old data, kept until the new data serves.
# Steps (each safe to repeat after a crash at any point):
#   prepare   check that the instance has data, print the marker, make restore/: dbvend-prepared.
#   state     whether the staged file is the backup:
#             dbvend-verified | dbvend-mismatch:<sha256 found> | dbvend-not-rdb | dbvend-missing.
#   swap      mark swap, move data/ aside, put the RDB in a new data/ (with appendonly yes in
#             config/redis.conf also as the base of a new AOF, else Redis 7 would load an
#             empty AOF instead): dbvend-swapped. The container must be stopped.
#   done      mark done, remove data.previous/, restore/ and the marker: dbvend-finished.
#   rollback  with a swap marker, put data.previous/ back (container stopped): dbvend-rolled-back;
#             with a done marker, finish instead: dbvend-finished; no marker: dbvend-nothing.
set -u
umask 077
step=$1
dir=$2
sha=$3
marker="$dir/restore.marker"
staged="$dir/restore/$sha.rdb"
fail() { echo "dbvend-error: $*" >&2; exit 1; }
mark() {
  printf '%s %s\n' "$1" "$sha" > "$marker.new" && sync -- "$marker.new" && mv -f -- "$marker.new" "$marker" \
    && sync -- "$dir" || fail "cannot write $marker"
}
finish() {
  mark done
  rm -rf -- "$dir/data.previous" "$dir/data.new" "$dir/restore" || fail "cannot remove the old data"
  rm -f -- "$marker" && echo dbvend-finished
}
case $step in
prepare)
  [ -d "$dir/data" ] || [ -d "$dir/data.previous" ] || fail "no instance directory $dir/data: provision the instance first"
  if [ -f "$marker" ]; then
    read -r phase was < "$marker" || true
    echo "dbvend-marker:${phase:-}:${was:-}"
  fi
  mkdir -p -- "$dir/restore" && echo dbvend-prepared
  ;;
state)
  if [ ! -f "$staged" ]; then
    echo dbvend-missing
    exit 0
  fi
  got=$(sha256sum < "$staged" | cut -c1-64) || fail "cannot read $staged"
  if [ "$got" != "$sha" ]; then
    rm -f -- "$staged"
    echo "dbvend-mismatch:$got"
    exit 0
  fi
  # "REDIS00" and two decimal digits (the RDB version).
  case $(head -c 9 -- "$staged" | od -An -tx1 | tr -d ' \n') in
    524544495330303[0-9]3[0-9]) ;;
    *) rm -f -- "$staged"; echo dbvend-not-rdb; exit 0 ;;
  esac
  # Read-only for the checking container (which runs without capabilities).
  chmod 0644 -- "$staged" && echo dbvend-verified
  ;;
swap)
  [ -f "$staged" ] || fail "the backup is not staged at $staged"
  if [ -f "$marker" ]; then
    read -r phase was < "$marker" || true
    [ "${phase:-} ${was:-}" = "swap $sha" ] || fail "$marker is of another restore (${phase:-} ${was:-})"
  else
    [ ! -e "$dir/data.previous" ] || fail "$dir/data.previous exists without a restore marker: look at it by hand"
    [ -d "$dir/data" ] || fail "no data directory $dir/data"
    mark swap
  fi
  if [ ! -d "$dir/data.previous" ]; then
    mv -- "$dir/data" "$dir/data.previous" || fail "cannot move $dir/data aside"
  fi
  new="$dir/data.new"
  rm -rf -- "$new" && mkdir -- "$new" "$new/config" || fail "cannot make $new"
  ln -- "$staged" "$new/dump.rdb" 2> /dev/null || cp -- "$staged" "$new/dump.rdb" || fail "cannot place the RDB"
  if grep -qx 'appendonly yes' "$dir/config/redis.conf"; then
    mkdir -- "$new/appendonlydir" \
      && ln -- "$new/dump.rdb" "$new/appendonlydir/appendonly.aof.1.base.rdb" \
      && printf 'file appendonly.aof.1.base.rdb seq 1 type b\n' > "$new/appendonlydir/appendonly.aof.manifest" \
      || fail "cannot make the AOF directory"
  fi
  chown -R --reference="$dir/data.previous" -- "$new" && chmod 0600 -- "$new/dump.rdb" || fail "cannot hand $new to the server"
  sync -- "$new/dump.rdb" "$new" || fail "cannot sync $new"
  rm -rf -- "$dir/data" && mv -- "$new" "$dir/data" && sync -- "$dir" || fail "cannot put the new data in place"
  echo dbvend-swapped
  ;;
done)
  finish
  ;;
rollback)
  if [ ! -f "$marker" ]; then
    rm -rf -- "$dir/restore"
    echo dbvend-nothing
    exit 0
  fi
  read -r phase was < "$marker" || true
  if [ "${phase:-}" = done ]; then
    finish
    exit 0
  fi
  if [ -d "$dir/data.previous" ]; then
    rm -rf -- "$dir/data" "$dir/data.new" && mv -- "$dir/data.previous" "$dir/data" && sync -- "$dir" \
      || fail "cannot put the old data back"
  fi
  rm -rf -- "$dir/restore" "$dir/data.new"
  rm -f -- "$marker" && echo dbvend-rolled-back
  ;;
*)
  fail "unknown step $step"
  ;;
esac
