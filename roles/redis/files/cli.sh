# Put before each of the role's scripts that talk to the server inside the container (the
set -euf
# tasks join them): `cli` runs redis-cli as the host-local account (its secret is read here,
# never passed in) over the container's loopback, in TLS when the server listens in TLS
# (tls=required closes the plain port). The server is asked, not a file: during a change of
# mode redis.conf and the running server differ. No certificate check on this loopback:
# nothing sits between redis-cli and the server in the container's network namespace, and an
# expired or replaced certificate must not lock the role out of the server it has to fix.
REDISCLI_AUTH=$(cat /data/config/local.secret)
export REDISCLI_AUTH
# dbvend_tls: yes | no | empty (no answer yet: asked again at the next call).
dbvend_listener() {
  if [ "$(redis-cli --no-auth-warning --user "$DBVEND_LOCAL_USER" PING 2> /dev/null)" = PONG ]; then
    dbvend_tls=no
  elif [ "$(redis-cli --tls --insecure --no-auth-warning --user "$DBVEND_LOCAL_USER" PING 2> /dev/null)" = PONG ]; then
    dbvend_tls=yes
  else
    dbvend_tls=
  fi
}
cli() {
  [ -n "$dbvend_tls" ] || dbvend_listener
  if [ "$dbvend_tls" = yes ]; then
    redis-cli --tls --insecure --no-auth-warning --user "$DBVEND_LOCAL_USER" "$@"
  else
    redis-cli --no-auth-warning --user "$DBVEND_LOCAL_USER" "$@"
  fi
}
dbvend_listener
