# Inside the container, as root: a fresh, consistent RDB of the running server, taken the way a
# replica gets one (`redis-cli --rdb`: SYNC with REPLCONF rdb-only, the server forks and streams
# a snapshot; AOF instances included, dump.rdb untouched), as the host-local account (files/cli.sh
# reads its secret, never passed in). Writes DBVEND_FILE (under /data, i.e. the instance's data
# directory on the host); tasks/backup.yml moves it to <instance dir>/backups.
set -euf
umask 077
rm -f -- "$DBVEND_FILE"
cli --rdb "$DBVEND_FILE" > /dev/null
[ -s "$DBVEND_FILE" ] || { echo "dbvend-error: redis-cli --rdb wrote nothing" >&2; exit 1; }
echo dbvend-rdb-written
