# Inside the container, as root: CONFIG SET each of DBVEND_SETTINGS (name=value, separated
# by blanks; values have no blanks) whose running value differs, as the host-local account
# (its secret is read here, never passed in). Prints dbvend-set:<name> per change.
set -euf
REDISCLI_AUTH=$(cat /data/config/local.secret)
export REDISCLI_AUTH
cli() { redis-cli --no-auth-warning --user "$DBVEND_LOCAL_USER" "$@"; }
for pair in $DBVEND_SETTINGS; do
  name=${pair%%=*}
  want=${pair#*=}
  have=$(cli CONFIG GET "$name" | sed -n 2p)
  if [ "$have" != "$want" ]; then
    answer=$(cli CONFIG SET "$name" "$want")
    if [ "$answer" != OK ]; then
      echo "dbvend-error: CONFIG SET $name $want: $answer" >&2
      exit 1
    fi
    echo "dbvend-set:$name"
  fi
done
