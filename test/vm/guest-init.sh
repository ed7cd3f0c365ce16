#!/bin/bash
# The test VM's guest side (run.sh puts it in the initramfs, the initramfs
# copies it to /usr/local/sbin/crius-vm-init in the throw-away root).
#   crius-vm-init           as PID 1 (--init none): mounts what a node has,
#                           the cgroup hierarchy of crius.cgroup=, the shares,
#                           runs the command, powers off.
#   crius-vm-init systemd   from crius-vm.service (--init systemd): mounts the
#                           shares, installs criusd with deploy/install.sh,
#                           starts criusd.service, runs the command.
# The command's exit status goes to /run/crius-vm/rc on the host's run share;
# everything it prints goes to the serial console run.sh prints.
set -uo pipefail
export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
mode=${1:-pid1}
run=/run/crius-vm

say() { echo "crius-vm: $*" >&2; }

# Whatever happens, the VM ends: run.sh reads no rc file as a failure.
finish() {
  sync
  if [ "$mode" = systemd ]; then
    systemctl poweroff -ff
  fi
  # The root has no sysvinit poweroff; busybox's powers off directly.
  busybox poweroff -f
  # poweroff -f does not return; if it did, PID 1 must not exit.
  while :; do sleep 1000; done
}

cmdline_arg() {  # NAME DEFAULT
  local a
  for a in $(cat /proc/cmdline); do
    case "$a" in "$1="*) echo "${a#*=}"; return ;; esac
  done
  echo "$2"
}

mount_node_fs() {
  mount -t proc proc /proc
  mount -t sysfs sysfs /sys
  mountpoint -q /dev || mount -t devtmpfs devtmpfs /dev
  mkdir -p /dev/pts /dev/shm /dev/mqueue
  mount -t devpts -o gid=5,mode=620,ptmxmode=666 devpts /dev/pts
  mount -t tmpfs -o mode=1777,nosuid,nodev shm /dev/shm
  mount -t mqueue mqueue /dev/mqueue
  mount -t tmpfs -o mode=755,nosuid,nodev tmpfs /run
  mkdir -p /run/lock /run/netns
  mount -o remount,rw /
  # Containers need shared propagation on / (runc's rootfs pivot relies on
  # it, as on a systemd node).
  mount --make-rshared /
  mount -t securityfs securityfs /sys/kernel/security 2>/dev/null || true
  mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null || true
  ln -sf /proc/self/fd /dev/fd
  ln -sf /proc/self/fd/0 /dev/stdin
  ln -sf /proc/self/fd/1 /dev/stdout
  ln -sf /proc/self/fd/2 /dev/stderr
  hostname crius-vm
}

# v2: one unified hierarchy with every controller enabled for the children
# of the root, as systemd leaves it. v1: the hybrid layout this project's
# host machine has (a tmpfs of v1 controllers plus an empty unified mount).
mount_cgroups() {
  local version=$1
  if [ "$version" = v2 ]; then
    mount -t cgroup2 -o nsdelegate cgroup2 /sys/fs/cgroup
    local c
    for c in $(cat /sys/fs/cgroup/cgroup.controllers); do
      echo "+$c" >/sys/fs/cgroup/cgroup.subtree_control || say "cannot enable $c"
    done
  else
    mount -t tmpfs -o mode=755 cgroup /sys/fs/cgroup
    local line name
    while read -r name _ _ enabled; do
      [ "$name" = "#subsys_name" ] || [ "$enabled" != 1 ] && continue
      mkdir -p "/sys/fs/cgroup/$name"
      mount -t cgroup -o "$name" cgroup "/sys/fs/cgroup/$name"
    done </proc/cgroups
    mkdir -p /sys/fs/cgroup/unified
    mount -t cgroup2 cgroup2 /sys/fs/cgroup/unified
  fi
}

mount_run_share() {
  mkdir -p "$run"
  mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144 crius_run "$run"
}

# Each host directory shows at its own path. The 9p share is read-only; an
# overlay on top takes the writes (ctest's Testing/ and the like) on the
# guest's throw-away disk, so the host's checkout is never written.
mount_shares() {
  local i=0 path lower ovl
  for path in "${CRIUS_VM_SHARES[@]}"; do
    lower=/var/lib/crius-vm/share$i
    ovl=/var/lib/crius-vm/ovl$i
    mkdir -p "$lower" "$ovl/upper" "$ovl/work" "$path"
    mount -t 9p -o trans=virtio,version=9p2000.L,msize=262144,cache=loose,ro "crius_s$i" "$lower"
    if ! mount -t overlay overlay \
      -o "lowerdir=$lower,upperdir=$ovl/upper,workdir=$ovl/work" "$path"; then
      say "overlay on $path failed; sharing it read-only"
      mount --bind "$lower" "$path"
    fi
    i=$((i + 1))
  done
}

# qemu's user network: the guest is 10.0.2.15, the host 10.0.2.2. run.sh
# starts it restricted, so only the forwarded registry port leads anywhere.
setup_network() {
  ip link set lo up
  modprobe virtio_net 2>/dev/null || true
  local dev
  dev=$(ls /sys/class/net | grep -v '^lo$' | head -n1)
  if [ -n "$dev" ]; then
    ip link set "$dev" up
    ip addr add 10.0.2.15/24 dev "$dev"
    ip route add default via 10.0.2.2
  fi
}

# Under systemd: criusd as a node runs it, from the shared build.
start_criusd() {
  "$CRIUS_VM_TOP/deploy/install.sh" "$CRIUS_VM_BUILD" >&2 || return 1
  if [ -n "${CRIUS_VM_REGISTRY:-}" ]; then
    mkdir -p /etc/crius/crius.d
    {
      echo "image:"
      echo "  registries:"
      local h
      for h in docker.io registry.k8s.io gcr.io quay.io; do
        echo "    - host: $h"
        echo "      mirrors: [\"http://$CRIUS_VM_REGISTRY\"]"
      done
      echo "    - host: $CRIUS_VM_REGISTRY"
      echo "      insecure: true"
    } >/etc/crius/crius.d/50-vm-registry.yaml
  fi
  systemctl start criusd.service || { journalctl -u criusd --no-pager >&2; return 1; }
  local i
  for i in $(seq 1 600); do
    [ -S /run/crius/crius.sock ] && return 0
    systemctl is-active -q criusd.service || break
    sleep 0.1
  done
  say "criusd did not come up"
  journalctl -u criusd --no-pager >&2
  return 1
}

main() {
  if [ "$mode" = pid1 ]; then
    mount_node_fs
    mount_cgroups "$(cmdline_arg crius.cgroup v2)"
    modprobe overlay 2>/dev/null || true
  fi
  # Console output without carriage returns.
  stty -F /dev/console -onlcr 2>/dev/null || true
  modprobe 9pnet_virtio
  mount_run_share || { say "cannot mount the run share"; finish; }
  # shellcheck source=/dev/null
  source "$run/vm.env"
  mount_shares || { echo 125 >"$run/rc"; finish; }
  [ "$mode" = pid1 ] && setup_network
  if [ "$mode" = systemd ]; then
    if ! start_criusd; then
      echo 125 >"$run/rc"
      finish
    fi
  fi
  local rc
  (
    cd "$CRIUS_VM_CWD" || exit 125
    exec bash "$run/cmd"
  ) </dev/null
  rc=$?
  echo "$rc" >"$run/rc.tmp" && mv "$run/rc.tmp" "$run/rc"
  finish
}

main
