# Inside the container, as root, as the host-local account (files/cli.sh reads its secret).
# DBVEND_ACTION=bind: DBVEND_USER gets exactly the application account's rule (the
# arguments: files/app-acl.rules) and the one password DBVEND_HASH, on the running server.
# DBVEND_ACTION=unbind: its connections end (CLIENT KILL USER) and the user goes (ACL DELUSER).
# users.acl is the role's to write (tasks/bind.yml did), so no ACL SAVE here.
# Prints dbvend-bound, dbvend-killed:<n>, dbvend-unbound or dbvend-unchanged; nothing secret.
set -euf
umask 077
before=$(cli ACL LIST | grep -F "user $DBVEND_USER " || true)
if [ "$DBVEND_ACTION" = bind ]; then
  answer=$(cli ACL SETUSER "$DBVEND_USER" reset on "#$DBVEND_HASH" '~*' '&*' "$@")
  [ "$answer" = OK ] || { echo "dbvend-error: ACL SETUSER: $answer" >&2; exit 1; }
  after=$(cli ACL LIST | grep -F "user $DBVEND_USER " || true)
  if [ "$before" = "$after" ]; then echo dbvend-unchanged; else echo dbvend-bound; fi
  exit 0
fi
[ -n "$before" ] || { echo dbvend-unchanged; exit 0; }
killed=$(cli CLIENT KILL USER "$DBVEND_USER")
echo "dbvend-killed:$killed"
answer=$(cli ACL DELUSER "$DBVEND_USER")
[ "$answer" = 1 ] || { echo "dbvend-error: ACL DELUSER: $answer" >&2; exit 1; }
echo dbvend-unbound
