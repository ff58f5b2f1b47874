# Inside the container, as root, as the host-local account (files/cli.sh reads its secret).
# Waits up to DBVEND_WAIT seconds (default 0) for the server to answer, then:
# CONFIG SET each of DBVEND_SETTINGS (name=value, separated by blanks; values have no blanks)
# whose running value differs; prints dbvend-set:<name> per change.
# TLS, DBVEND_TLS (off | required; DBVEND_TLS_RELOAD=1: this run wrote a new certificate or CA
# bundle): the certificate files loaded (again; dbvend-tls-reloaded), then the listener
# switched in one CONFIG SET (dbvend-set:tls): port and tls-port are the same container port,
# so the one is closed and the other opened in the same command; connections open on the old
# one stay up. Nothing printed is secret.
set -euf
deadline=$(($(date +%s) + ${DBVEND_WAIT:-0}))
while [ -z "$dbvend_tls" ]; do
  if [ "$(date +%s)" -ge "$deadline" ]; then
    echo "dbvend-error: the server does not answer, in plain or TLS" >&2
    exit 1
  fi
  sleep 0.2
  dbvend_listener
done
set_config() {
  answer=$(cli CONFIG SET "$@")
  if [ "$answer" != OK ]; then
    echo "dbvend-error: CONFIG SET $1: $answer" >&2
    exit 1
  fi
}
for pair in ${DBVEND_SETTINGS:-}; do
  name=${pair%%=*}
  want=${pair#*=}
  have=$(cli CONFIG GET "$name" | sed -n 2p)
  if [ "$have" != "$want" ]; then
    set_config "$name" "$want"
    echo "dbvend-set:$name"
  fi
done
tls=/data/config/tls
if [ "${DBVEND_TLS:-off}" = required ]; then
  if [ "$dbvend_tls" = no ] || [ "${DBVEND_TLS_RELOAD:-0}" = 1 ]; then
    set_config tls-cert-file "$tls/server.pem" tls-key-file "$tls/server.pem" \
      tls-ca-cert-file "$tls/ca.pem" tls-auth-clients no
    [ "$dbvend_tls" = no ] || echo dbvend-tls-reloaded
  fi
  if [ "$dbvend_tls" = no ]; then
    set_config port 0 tls-port 6379
    dbvend_tls=yes
    echo dbvend-set:tls
  fi
elif [ "$dbvend_tls" = yes ]; then
  set_config tls-port 0 port 6379
  dbvend_tls=no
  echo dbvend-set:tls
fi
