# Inside the container, as root, as the host-local account (files/cli.sh reads its secret).
# Makes DBVEND_USER's passwords exactly DBVEND_HASH (+ DBVEND_GRACE_HASH if not empty).
# /data/config/rotation-started holds when the current rotation began (the first run that
# brought DBVEND_HASH in); a run without a grace hash finishes it: connections of the
# account at least as old as that moment are ended (Redis does not record which password a
# connection authenticated with; its age is all there is), then the file goes.
# Prints dbvend-acl-set, dbvend-killed:<id>, dbvend-rotation-finished; nothing secret.
set -euf
umask 077
started=/data/config/rotation-started
line=$(cli ACL LIST | grep -F "user $DBVEND_USER " || true)
[ -n "$line" ] || { echo "dbvend-error: no account $DBVEND_USER" >&2; exit 1; }
have=$(printf '%s\n' $line | sed -n 's/^#\([0-9a-f]\{64\}\)$/\1/p' | sort | tr '\n' ' ')
want=$(printf '%s\n' $DBVEND_HASH $DBVEND_GRACE_HASH | sort | tr '\n' ' ')
if [ "$have" != "$want" ]; then
  case " $have" in
    *" $DBVEND_HASH "*) ;;
    *) date +%s > "$started.new" && mv -f "$started.new" "$started" ;;
  esac
  if [ -n "$DBVEND_GRACE_HASH" ]; then
    answer=$(cli ACL SETUSER "$DBVEND_USER" resetpass "#$DBVEND_HASH" "#$DBVEND_GRACE_HASH")
  else
    answer=$(cli ACL SETUSER "$DBVEND_USER" resetpass "#$DBVEND_HASH")
  fi
  [ "$answer" = OK ] || { echo "dbvend-error: ACL SETUSER: $answer" >&2; exit 1; }
  echo dbvend-acl-set
fi
if [ -z "$DBVEND_GRACE_HASH" ] && [ -f "$started" ]; then
  oldest=$(( $(date +%s) - $(cat "$started") ))
  for id in $(cli CLIENT LIST | awk -v user="$DBVEND_USER" -v oldest="$oldest" '
      { id = ""; age = -1; u = ""
        for (i = 1; i <= NF; i++) {
          n = index($i, "="); k = substr($i, 1, n - 1); v = substr($i, n + 1)
          if (k == "id") id = v; else if (k == "age") age = v + 0; else if (k == "user") u = v
        }
        if (u == user && age >= oldest) print id }'); do
    cli CLIENT KILL ID "$id" > /dev/null
    echo "dbvend-killed:$id"
  done
  rm -f "$started"
  echo dbvend-rotation-finished
fi
