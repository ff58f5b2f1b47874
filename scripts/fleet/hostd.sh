#!/usr/bin/env bash
# Docker daemons of one fleet test host, started by scripts/fleet-testbed.sh as
#   setsid unshare --mount --propagation slave nsenter --net=/run/netns/TAG-hN -- hostd.sh N HOSTDIR
# so it runs in the host's network namespace and in a mount namespace of its own.
#
# containerd and dockerd must share that mount namespace: dockerd mounts each container's
# overlay rootfs and hands the path to containerd/runc. The mount namespace keeps those
# mounts out of the root namespace and disappears with the daemons (and their shims).
# (`ip netns exec` is not used: it remounts /sys and so hides the cgroup v1 hierarchies.)
#
# containerd first, with its own config (root, state, sockets), then dockerd, which is
# pointed at it with --containerd: left alone, dockerd would use /run/containerd's system
# containerd whenever one runs, and share its containers with the default engine.
set -euo pipefail
n=$1
hostdir=$2
tag=${TAG:-dbvf}      # set by fleet-testbed.sh (DBVEND_FLEET_ID)
octet=${OCTET:-251}
run=/run/$tag-h$n
sock=$run/containerd/containerd.sock

containerd --config "$hostdir/containerd.toml" >>"$hostdir/log/containerd.log" 2>&1 </dev/null &
echo $! >"$run/containerd.pid"
for _ in $(seq 1 100); do
  [ -S "$sock" ] && break
  kill -0 "$(cat "$run/containerd.pid")" 2>/dev/null || { echo "containerd exited" >&2; exit 1; }
  sleep 0.1
done

# 10.OCTET.(100+N).1/24 for docker0 and 10.OCTET.(200+N).0/24 for user networks: addresses of
# this testbed only, distinct per host although each host's bridges live in its own netns.
exec dockerd \
  --config-file "$hostdir/daemon.json" \
  --data-root "$hostdir/docker" \
  --exec-root "$run/exec" \
  --pidfile "$run/dockerd.pid" \
  -H "unix://$run/docker.sock" \
  --containerd "$sock" \
  --cgroup-parent "/$tag-h$n" \
  --bip "10.$octet.$((100 + n)).1/24" \
  --default-address-pool "base=10.$octet.$((200 + n)).0/24,size=26" \
  --storage-driver overlay2 \
  --log-opt max-size=10m \
  >>"$hostdir/log/dockerd.log" 2>&1 </dev/null
