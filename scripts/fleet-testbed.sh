#!/usr/bin/env bash
# A fleet of fake Docker hosts on this machine, for tests and demos of dbvend's multi-host
# mode (playbooks over SSH, one dockerd per host).
#
#   scripts/fleet-testbed.sh up N     make hosts h1..hN (idempotent), write the inventory
#   scripts/fleet-testbed.sh status   each host: does SSH answer, does its dockerd answer
#   scripts/fleet-testbed.sh down     stop everything `up` started, delete it and the state
#
# Host hN (of the default testbed) is the network namespace dbvf-hN with address 10.251.0.(10+N)/24 on a veth whose
# other end is on the bridge dbvf-br0 (10.251.0.1/24, root namespace). No host has a default
# route: the hosts reach the root namespace and each other, nothing else. In the namespace:
#   sshd     own config, host key, PidFile; root by key only (a test key made here)
#   dockerd  own data-root, exec-root, pidfile, socket unix:///run/dbvf-hN/docker.sock,
#            cgroup parent /dbvf-hN, bridge 10.251.(100+N).1/24, config file (not
#            /etc/docker/daemon.json), and its own containerd (own root, state, sockets);
#            both in a mount namespace of their own (see scripts/fleet/hostd.sh)
# The filesystem is shared with this machine: packages installed here are installed "on"
# every host. State: ${DBVEND_STATE_DIR:-<repo>/.state}/fleet (inventory.yml, keys,
# known_hosts, hN/{docker,containerd,data,ssh,log}); runtime files: /run/dbvf-hN.
# The default Docker engine and its containers are never touched.
#
# DBVEND_FLEET_ID=K (1-9) makes another testbed beside the default one (0): namespaces
# dbfK-hN, addresses 10.(251-K).x.y, state under .state/fleet-K, so two checkouts (or a
# benchmark and the tests) each have a fleet of their own.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=scripts/common.sh
. "$here/common.sh"

FLEET_ID=${DBVEND_FLEET_ID:-0}
[[ "$FLEET_ID" =~ ^[0-9]$ ]] || { echo "DBVEND_FLEET_ID must be one digit, 0-9" >&2; exit 2; }
if [ "$FLEET_ID" = 0 ]; then
  TAG=dbvf FLEET=$DBVEND_STATE_DIR/fleet
else
  TAG=dbf$FLEET_ID FLEET=$DBVEND_STATE_DIR/fleet-$FLEET_ID
fi
OCTET=$((251 - FLEET_ID))  # 10.OCTET.0.0/16 holds every address of this testbed
export TAG OCTET
BRIDGE=$TAG-br0
NET=10.$OCTET.0
MAX_HOSTS=50
PORT_RANGE="[20000, 20999]"
CAPACITY_MB=${DBVEND_FLEET_CAPACITY_MB:-4096}

flog() { printf '[fleet-testbed] %s\n' "$*" >&2; }
die() { flog "error: $*"; exit 1; }

host_ip() { echo "$NET.$((10 + $1))"; }
host_run() { echo "/run/$TAG-h$1"; }
host_sock() { echo "unix:///run/$TAG-h$1/docker.sock"; }

# --- processes ------------------------------------------------------------------------------

# pid from a pidfile, only when that process is alive and its command line contains $2
# (a pidfile left behind must never make us signal an unrelated process).
pid_of() {
  local pidfile=$1 expect=$2 pid
  [ -s "$pidfile" ] || return 1
  pid=$(cat "$pidfile")
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  [ -r "/proc/$pid/cmdline" ] || return 1
  tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$expect" || return 1
  echo "$pid"
}

# Running, and not a zombie: daemons are reparented to PID 1, which may reap them late.
alive() {
  local stat
  stat=$(cat "/proc/$1/stat" 2>/dev/null) || return 1
  [ "$(echo "${stat##*) }" | cut -d' ' -f1)" != Z ]
}

# TERM, wait up to $2 seconds, then KILL.
stop_pid() {
  local pid=$1 timeout=${2:-20} i
  kill -TERM "$pid" 2>/dev/null || return 0
  [ -z "${STOPPED:-}" ] || echo "$pid" >>"$STOPPED"
  for ((i = 0; i < timeout * 10; i++)); do
    alive "$pid" || return 0
    sleep 0.1
  done
  flog "pid $pid did not stop within ${timeout}s: KILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 50; i++)); do alive "$pid" || return 0; sleep 0.1; done
}

stop_pidfile() {
  local pid
  pid=$(pid_of "$1" "$2") || { rm -f "$1"; return 0; }
  stop_pid "$pid" "${3:-20}"
  rm -f "$1"
}

# --- packages -------------------------------------------------------------------------------

ensure_packages() {
  local missing=() pkg
  for pkg in openssh-server openssh-client python3 python3-requests iproute2 iptables docker.io containerd; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
  done
  [ "${#missing[@]}" -eq 0 ] && return 0
  # Keep package scripts from starting services (the system sshd must stay off).
  local policy=/usr/sbin/policy-rc.d made_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' >"$policy"
    chmod 0755 "$policy"
    made_policy=1
  fi
  apt_install "${missing[@]}" || { [ "$made_policy" = 1 ] && rm -f "$policy"; return 1; }
  [ "$made_policy" = 1 ] && rm -f "$policy"
  return 0
}

# --- network --------------------------------------------------------------------------------

ensure_bridge() {
  if ! ip link show "$BRIDGE" >/dev/null 2>&1; then
    if ip -4 route show "$NET.0/24" | grep -q .; then
      die "$NET.0/24 is already routed here: $(ip -4 route show "$NET.0/24")"
    fi
    ip link add "$BRIDGE" type bridge
  fi
  ip -4 addr show dev "$BRIDGE" | grep -q "inet $NET.1/24" || ip addr add "$NET.1/24" dev "$BRIDGE"
  ip link set "$BRIDGE" up
  # With br_netfilter loaded, frames between two ports of a bridge pass the FORWARD chain,
  # whose policy the default engine sets to DROP: let host-to-host traffic through. (Root
  # namespace <-> host traffic is local to the bridge and needs neither this nor ip_forward.)
  if iptables -S FORWARD 2>/dev/null | grep -q -- '-P FORWARD DROP'; then
    iptables -C FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment $TAG-testbed -j ACCEPT 2>/dev/null ||
      iptables -I FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment $TAG-testbed -j ACCEPT
  fi
}

ensure_netns() {
  local n=$1 ns=$TAG-h$1 ip vr=$TAG-h$1r vn=$TAG-h$1n
  ip=$(host_ip "$n")
  ip netns list | grep -qw "^$ns" || ip netns add "$ns"
  if ! ip -n "$ns" link show eth0 >/dev/null 2>&1; then
    ip link del "$vr" 2>/dev/null || true
    ip link add "$vr" type veth peer name "$vn"
    ip link set "$vn" netns "$ns"
    ip -n "$ns" link set "$vn" name eth0
  fi
  ip link set "$vr" master "$BRIDGE"
  ip link set "$vr" up
  ip -n "$ns" -4 addr show dev eth0 | grep -q "inet $ip/24" || ip -n "$ns" addr add "$ip/24" dev eth0
  ip -n "$ns" link set lo up
  ip -n "$ns" link set eth0 up
}

# --- keys, sshd -----------------------------------------------------------------------------

ensure_client_key() {
  [ -s "$FLEET/id_ed25519" ] || ssh-keygen -q -t ed25519 -N '' -C dbvend-fleet-testbed -f "$FLEET/id_ed25519"
  install -m 0600 "$FLEET/id_ed25519.pub" "$FLEET/authorized_keys"
}

ensure_sshd() {
  local n=$1 h=$FLEET/h$1 run ip
  run=$(host_run "$n")
  ip=$(host_ip "$n")
  mkdir -p "$h/ssh" "$h/log" /run/sshd
  chmod 0700 "$h/ssh"
  [ -s "$h/ssh/ssh_host_ed25519_key" ] ||
    ssh-keygen -q -t ed25519 -N '' -C "$TAG-h$n" -f "$h/ssh/ssh_host_ed25519_key"
  # StrictModes is off: the checkout (and so authorized_keys, mode 0600, root's) may sit
  # under a world-writable directory such as /tmp, which StrictModes refuses.
  cat >"$h/ssh/sshd_config" <<EOF
# sshd of fleet test host h$n (scripts/fleet-testbed.sh); runs in netns $TAG-h$n.
ListenAddress $ip:22
HostKey $h/ssh/ssh_host_ed25519_key
PidFile $run/sshd.pid
PermitRootLogin prohibit-password
AllowUsers root
PubkeyAuthentication yes
AuthorizedKeysFile $FLEET/authorized_keys
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
X11Forwarding no
PrintMotd no
MaxStartups 100:30:200
Subsystem sftp internal-sftp
EOF
  pid_of "$run/sshd.pid" "$h/ssh/sshd_config" >/dev/null && return 0
  /usr/sbin/sshd -t -f "$h/ssh/sshd_config"
  nsenter --net="/run/netns/$TAG-h$n" -- /usr/sbin/sshd -f "$h/ssh/sshd_config" -E "$h/log/sshd.log"
}

# --- containerd, dockerd --------------------------------------------------------------------

write_daemon_configs() {
  local n=$1 h=$FLEET/h$1 run
  run=$(host_run "$n")
  # The data root ($h/data) is left to playbooks/prepare_host.yml, as on a real host.
  mkdir -p "$h/docker" "$h/containerd" "$h/log" "$run/containerd"
  cat >"$h/containerd.toml" <<EOF
# containerd of fleet test host h$n (scripts/fleet-testbed.sh).
version = 2
root = "$h/containerd"
state = "$run/containerd"
disabled_plugins = ["io.containerd.grpc.v1.cri"]
[grpc]
  address = "$run/containerd/containerd.sock"
[ttrpc]
  address = "$run/containerd/containerd.sock.ttrpc"
[debug]
  address = ""
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$h/containerd/opt"
EOF
  # Settings are flags (scripts/fleet/hostd.sh). This file keeps dockerd off
  # /etc/docker/daemon.json, and gives it its own identity key (the engine ID): dockerd
  # 20.10 keeps it in /etc/docker/key.json whatever the config file, unless told here.
  printf '{"deprecated-key-path": "%s/key.json"}\n' "$h" >"$h/daemon.json"
}

start_dockerd() {
  local n=$1 h=$FLEET/h$1 run
  run=$(host_run "$n")
  if pid_of "$run/dockerd.pid" "$run/docker.sock" >/dev/null; then
    return 0
  fi
  # A containerd without its dockerd (dockerd crashed): stop it and start the pair again.
  stop_pidfile "$run/containerd.pid" "$h/containerd.toml"
  write_daemon_configs "$n"
  setsid unshare --mount --propagation slave nsenter --net="/run/netns/$TAG-h$n" -- \
    bash "$here/fleet/hostd.sh" "$n" "$h" </dev/null >>"$h/log/hostd.log" 2>&1 &
}

docker_answers() { timeout 5 docker -H "$(host_sock "$1")" version --format '{{.Server.Version}}' >/dev/null 2>&1; }
ssh_answers() {
  timeout 10 ssh -o "UserKnownHostsFile=$FLEET/known_hosts" -o StrictHostKeyChecking=yes \
    -o IdentitiesOnly=yes -o BatchMode=yes -o ConnectTimeout=5 -i "$FLEET/id_ed25519" \
    "root@$(host_ip "$1")" true </dev/null >/dev/null 2>&1
}

wait_host() {
  local n=$1 i
  for ((i = 0; i < 600; i++)); do
    docker_answers "$n" && break
    sleep 0.1
  done
  docker_answers "$n" || {
    tail -n 20 "$FLEET/h$n/log/dockerd.log" "$FLEET/h$n/log/containerd.log" "$FLEET/h$n/log/hostd.log" >&2 || true
    die "dockerd of h$n did not answer within 60 s (logs above)"
  }
  for ((i = 0; i < 100; i++)); do
    ssh_answers "$n" && return 0
    sleep 0.1
  done
  tail -n 20 "$FLEET/h$n/log/sshd.log" >&2 || true
  die "sshd of h$n did not answer"
}

# --- inventory ------------------------------------------------------------------------------

write_known_hosts() {
  local n tmp=$FLEET/known_hosts.tmp
  : >"$tmp"
  for n in $(existing_hosts); do
    printf '%s %s\n' "$(host_ip "$n")" "$(cut -d' ' -f1,2 "$FLEET/h$n/ssh/ssh_host_ed25519_key.pub")" >>"$tmp"
  done
  mv "$tmp" "$FLEET/known_hosts"
}

write_inventory() {
  local n tmp=$FLEET/inventory.yml.tmp
  {
    echo "# Fleet test hosts made by scripts/fleet-testbed.sh (regenerated by 'up', deleted by 'down')."
    echo "# group_vars/ next to this file links to the repository's inventory/group_vars (images...)."
    echo "dbvend_hosts:"
    echo "  hosts:"
    for n in $(existing_hosts); do
      cat <<EOF
    h$n:
      ansible_host: $(host_ip "$n")
      ansible_connection: ssh
      ansible_user: root
      ansible_ssh_private_key_file: $FLEET/id_ed25519
      ansible_ssh_common_args: "-o UserKnownHostsFile=$FLEET/known_hosts -o StrictHostKeyChecking=yes -o IdentitiesOnly=yes"
      ansible_python_interpreter: /usr/bin/python3
      dbvend_address: $(host_ip "$n")
      dbvend_bind_address: $(host_ip "$n")
      dbvend_port_range: $PORT_RANGE
      dbvend_capacity_mb: $CAPACITY_MB
      dbvend_data_root: $FLEET/h$n/data
      dbvend_docker_host: $(host_sock "$n")
EOF
    done
  } >"$tmp"
  mv "$tmp" "$FLEET/inventory.yml"
  ln -sfn "$DBVEND_ROOT/inventory/group_vars" "$FLEET/group_vars"
}

# Host numbers with a state directory or a namespace, ascending.
existing_hosts() {
  {
    for d in "$FLEET"/h*; do [ -d "$d" ] && basename "$d"; done
    ip netns list 2>/dev/null | awk '{print $1}' | grep "^$TAG-h" | sed "s/^$TAG-//"
    for d in /run/"$TAG"-h*; do [ -d "$d" ] && basename "$d" | sed "s/^$TAG-//"; done
  } | grep -E '^h[0-9]+$' | sed 's/^h//' | sort -nu
}

# --- commands -------------------------------------------------------------------------------

preflight() {
  [ "$(id -u)" -eq 0 ] || die "must run as root (network namespaces, daemons)"
  ip netns list >/dev/null 2>&1 || die "'ip netns' does not work here"
}

cmd_up() {
  local count=${1:-}
  if ! [[ "$count" =~ ^[0-9]+$ ]] || [ "$count" -lt 1 ] || [ "$count" -gt "$MAX_HOSTS" ]; then
    die "usage: $0 up N (1 <= N <= $MAX_HOSTS)"
  fi
  preflight
  ensure_packages
  mkdir -p "$FLEET"
  chmod 0700 "$FLEET"
  ensure_client_key
  ensure_bridge
  local n
  for n in $(seq 1 "$count"); do
    mkdir -p "$(host_run "$n")" "$FLEET/h$n"
    ensure_netns "$n"
    ensure_sshd "$n"
    start_dockerd "$n"
  done
  write_known_hosts
  for n in $(seq 1 "$count"); do wait_host "$n"; done
  write_inventory
  local extra
  extra=$(existing_hosts | awk -v c="$count" '$1 > c' | tr '\n' ' ')
  [ -z "$extra" ] || flog "hosts beyond h$count are still up (in the inventory too): $extra"
  flog "up: $(existing_hosts | sed 's/^/h/' | tr '\n' ' ')- inventory: $FLEET/inventory.yml"
}

down_host() {
  local n=$1 h=$FLEET/h$1 run ns=$TAG-h$1 pid pids i
  run=$(host_run "$n")
  # containerd shims exit by themselves once their container is removed; wait for them too.
  pgrep -f -- "-address $run/containerd/containerd.sock" >>"$STOPPED" 2>/dev/null || true
  # Containers first, while their dockerd can still remove them cleanly.
  if docker_answers "$n"; then
    local ids
    ids=$(timeout 60 docker -H "$(host_sock "$n")" ps -aq 2>/dev/null || true)
    # shellcheck disable=SC2086
    [ -z "$ids" ] || timeout 120 docker -H "$(host_sock "$n")" rm -f -v $ids >/dev/null 2>&1 || true
  fi
  stop_pidfile "$run/dockerd.pid" "$run/docker.sock" 30
  stop_pidfile "$run/containerd.pid" "$h/containerd.toml" 20
  stop_pidfile "$run/sshd.pid" "$h/ssh/sshd_config" 10
  # Whatever is left in the namespace: SSH sessions, containerd shims (with their container,
  # if a dockerd could not remove it), a hostd.sh that never got to exec dockerd.
  if ip netns list | grep -qw "^$ns"; then
    for ((i = 0; i < 3; i++)); do
      pids=$(ip netns pids "$ns" 2>/dev/null || true)
      [ -z "$pids" ] && break
      for pid in $pids; do
        echo "$pid" >>"$STOPPED"
        # A shim's children are container inits in other network namespaces.
        pkill -KILL -P "$pid" 2>/dev/null || true
        kill -"$([ "$i" = 0 ] && echo TERM || echo KILL)" "$pid" 2>/dev/null || true
      done
      sleep 0.5
    done
    ip netns del "$ns" 2>/dev/null || true
  fi
  ip link del "$TAG-h${n}r" 2>/dev/null || true
  # Empty cgroups runc made under the host's cgroup parent, deepest first.
  local cg
  for cg in /sys/fs/cgroup/*/"$TAG"-h"$n"; do
    if [ -d "$cg" ]; then find "$cg" -depth -type d -exec rmdir {} \; 2>/dev/null || true; fi
  done
  rm -rf "$run"
  remove_tree "$h"
}

# rm -rf, after unmounting anything still mounted below (it would be deleted through the
# mount). Normally nothing is: the daemons' mounts lived in their own mount namespace.
remove_tree() {
  [ -d "$1" ] || return 0
  local mnt
  awk -v p="$1/" 'index($5, p) == 1 {print $5}' /proc/self/mountinfo | sort -r |
    while read -r mnt; do umount -l "$mnt" 2>/dev/null || true; done
  rm -rf --one-file-system "$1"
}

cmd_down() {
  preflight
  local n
  # Pids signalled, to wait at the end until PID 1 has reaped them: no <defunct> dockerd or
  # sshd is left for `pgrep` to find once `down` returns.
  STOPPED=$(mktemp)
  # Hosts in parallel: each takes a few seconds (dockerd and containerd shut down cleanly).
  local pids=()
  for n in $(existing_hosts); do
    down_host "$n" &
    pids+=($!)
  done
  for n in "${pids[@]}"; do wait "$n" || true; done
  local pid i
  while read -r pid; do
    for ((i = 0; i < 50; i++)); do [ -e "/proc/$pid" ] || break; sleep 0.1; done
  done <"$STOPPED"
  rm -f "$STOPPED"
  while iptables -D FORWARD -i "$BRIDGE" -o "$BRIDGE" -m comment --comment $TAG-testbed -j ACCEPT 2>/dev/null; do :; done
  ip link del "$BRIDGE" 2>/dev/null || true
  remove_tree "$FLEET"
  flog "down: fleet removed"
}

cmd_status() {
  local n any=0 ssh_state docker_state root
  for n in $(existing_hosts); do
    any=1
    ssh_state=down
    docker_state=down
    [ -s "$FLEET/known_hosts" ] && ssh_answers "$n" && ssh_state=up
    if docker_answers "$n"; then
      root=$(timeout 5 docker -H "$(host_sock "$n")" info --format '{{.DockerRootDir}}' 2>/dev/null || true)
      docker_state="up ($root)"
    fi
    printf 'h%s  %-12s ssh %-4s docker %s  %s\n' "$n" "$(host_ip "$n")" "$ssh_state" "$docker_state" "$(host_sock "$n")"
  done
  [ "$any" = 1 ] || echo "no fleet hosts"
  [ ! -s "$FLEET/inventory.yml" ] || echo "inventory: $FLEET/inventory.yml"
}

case "${1:-}" in
  up) shift; cmd_up "$@" ;;
  down) cmd_down ;;
  status) cmd_status ;;
  *) echo "usage: $0 up N | down | status" >&2; exit 2 ;;
esac
