# Inside the container, as root, as the host-local account (files/cli.sh reads its secret): wait
# up to DBVEND_WAIT seconds until the server has loaded its data (INFO persistence
# loading:0), then print dbvend-keys:<keys in every database>.
set -euf
deadline=$(($(date +%s) + DBVEND_WAIT))
until cli INFO persistence 2> /dev/null | grep -q '^loading:0'; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "dbvend-error: the server did not finish loading within $DBVEND_WAIT s" >&2
    exit 124
  fi
  sleep 0.2
done
keys=$(cli INFO keyspace | sed -n 's/^db[0-9]*:keys=\([0-9]*\),.*/\1/p' | awk '{ n += $1 } END { print n + 0 }')
echo "dbvend-keys:$keys"
