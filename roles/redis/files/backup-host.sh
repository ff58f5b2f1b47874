# On the Docker host, as root (`raw`): the host side of tasks/backup.yml.
#   $1 = move: move the RDB redis-cli wrote in the data directory to backups/<id>.rdb.partial,
#        refuse it unless it starts with the RDB magic, hash it, then rename it to
#        backups/<id>.rdb. Prints dbvend-sha256:<hex> dbvend-size:<bytes>.
#   $1 = clean: remove every file of this backup from the host (run also on failure).
# $2 = instance directory, $3 = backup id (checked by the role: ^b-[a-z0-9]{6,40}$).
set -u
umask 077
dir=$2
id=$3
written="$dir/data/.dbvend-backup-$id.rdb.partial"
partial="$dir/backups/$id.rdb.partial"
final="$dir/backups/$id.rdb"
case $1 in
move)
  mkdir -p -- "$dir/backups" || exit 1
  mv -f -- "$written" "$partial" || exit 1
  # "REDIS00" and two decimal digits (the RDB version; 10 on Redis 7.0).
  case $(head -c 9 -- "$partial" | od -An -tx1 | tr -d ' \n') in
    524544495330303[0-9]3[0-9]) ;;
    *) echo "dbvend-error: $partial is not an RDB file" >&2; exit 1 ;;
  esac
  sum=$(sha256sum < "$partial" | cut -c1-64) || exit 1
  size=$(stat -c %s -- "$partial") || exit 1
  mv -f -- "$partial" "$final" || exit 1
  echo "dbvend-sha256:$sum dbvend-size:$size"
  ;;
clean)
  rm -f -- "$written" "$partial" "$final"
  rmdir -- "$dir/backups" 2> /dev/null
  echo dbvend-cleaned
  ;;
esac
