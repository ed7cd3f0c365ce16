#!/usr/bin/env bash
# Runs a command as root inside a cgroup v2 (or v1) Debian 12 VM and exits
# with its status:
#   test/vm/run.sh [--cgroup v2|v1] [--init none|systemd] [--timeout SECONDS]
#                  [--mem MB] [--smp N] [--share DIR]... -- COMMAND...
# e.g. test/vm/run.sh -- ctest --test-dir build -L e2e -R Container
#
# The checkout (and every --share DIR) shows at the same path inside, backed
# by a read-only 9p share with a throw-away overlay on top; the command runs
# in the current directory. --init none (default) boots straight into a small
# init that runs the command (fast); --init systemd boots systemd, installs
# criusd from the build with deploy/install.sh and runs it as criusd.service,
# then runs the command from a unit. The root image (debootstrap, cached in
# CRIUS_VM_CACHE, default /var/cache/crius-vm) is built on first use.
# CRIUS_VM_REGISTRY=127.0.0.1:PORT forwards a registry on the host's loopback
# into the VM (as 10.0.2.100:PORT, the only address the VM can reach outside);
# under --init systemd it becomes criusd's mirror for the usual registries.
# CRIUS_*, GTEST_* and CTEST_* variables are passed to the command.
# Nothing stays behind: qemu is killed by its PID on timeout or interrupt and
# the per-run directory is removed.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/../.." && pwd)

cgroup=v2 init=none timeout=3600 mem=4096 smp=2
shares=("$top")
while [ $# -gt 0 ]; do
  case "$1" in
    --cgroup) cgroup=$2; shift 2 ;;
    --init) init=$2; shift 2 ;;
    --timeout) timeout=$2; shift 2 ;;
    --mem) mem=$2; shift 2 ;;
    --smp) smp=$2; shift 2 ;;
    --share) shares+=("$(cd "$2" && pwd)"); shift 2 ;;
    --) shift; break ;;
    *) echo "run.sh: unknown option $1 (the command goes after --)" >&2; exit 2 ;;
  esac
done
[ $# -gt 0 ] || { echo "usage: run.sh [options] -- COMMAND..." >&2; exit 2; }
case "$cgroup" in v1 | v2) ;; *) echo "run.sh: --cgroup v1|v2" >&2; exit 2 ;; esac
case "$init" in none | systemd) ;; *) echo "run.sh: --init none|systemd" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "run.sh: needs root (debootstrap, 9p as root)" >&2; exit 2; }
for tool in qemu-system-x86_64 debootstrap cpio mkfs.ext4 busybox; do
  command -v "$tool" >/dev/null || { echo "run.sh: $tool missing (deploy/deps.sh)" >&2; exit 2; }
done

build=${CRIUS_BUILD_DIR:-$top/build}
build=$(cd "$build" 2>/dev/null && pwd || echo "$build")
case "$build/" in "$top/"*) ;; *) [ -d "$build" ] && shares+=("$build") ;; esac
cwd=$(pwd)
inside=0
for s in "${shares[@]}"; do
  case "$cwd/" in "$s/"*) inside=1 ;; esac
done
[ "$inside" = 1 ] || cwd=$top

t0=$SECONDS
img=$("$here/build-image.sh" "${CRIUS_VM_CACHE:-/var/cache/crius-vm}")
t_image=$((SECONDS - t0))
release=$(cat "$img/kernel.release")

run=$(mktemp -d /tmp/crius-vm-run.XXXXXX)
qpid= wpid=
cleanup() {
  if [ -n "$wpid" ]; then
    kill "$wpid" 2>/dev/null || true
    wait "$wpid" 2>/dev/null || true
  fi
  if [ -n "$qpid" ] && kill -0 "$qpid" 2>/dev/null; then
    kill "$qpid" 2>/dev/null
    wait "$qpid" 2>/dev/null || true
  fi
  rm -rf "$run"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# The modules (and what they depend on, dependencies first) that reach the
# root disk; 9p, overlay and the rest load from the root once it is mounted.
moddir=$img/modules/$release
declare -A loaded=()
order=()
add_module() {
  local name=$1 line path dep
  line=$(grep -E "(^|/)${name}\.ko(\.[a-z]+)?:" "$moddir/modules.dep") || {
    grep -qE "/${name}\.ko" "$moddir/modules.builtin" && return 0
    echo "run.sh: module $name not in $moddir" >&2
    return 1
  }
  path=${line%%:*}
  [ -n "${loaded[$path]:-}" ] && return 0
  for dep in ${line#*:}; do
    add_module "$(basename "$dep" | sed -E 's/\.ko(\.[a-z]+)?$//')"
  done
  loaded[$path]=1
  order+=("$path")
}
# ext4 asks the crypto API for crc32c at mount time (a soft dependency that
# modules.dep does not list).
for m in virtio_pci virtio_blk crc32c_generic ext4; do add_module "$m"; done

rd=$run/initrd
mkdir -p "$rd"/{bin,dev,proc,sys,modules,newroot}
cp "$(command -v busybox)" "$rd/bin/busybox"
cp "$here/initramfs-init.sh" "$rd/init"
cp "$here/guest-init.sh" "$rd/crius-vm-init"
cp "$here/crius-vm.service" "$rd/crius-vm.service"
chmod 0755 "$rd/init" "$rd/crius-vm-init"
for p in "${order[@]}"; do
  cp "$moddir/$p" "$rd/modules/"
  basename "$p" >>"$rd/modules.list"
done
(cd "$rd" && find . | cpio -o -H newc --quiet | gzip -1) >"$run/initrd.gz"
rm -rf "$rd"

# What the guest needs to know, as shell it sources.
{
  printf 'CRIUS_VM_TOP=%q\n' "$top"
  printf 'CRIUS_VM_BUILD=%q\n' "$build"
  printf 'CRIUS_VM_CWD=%q\n' "$cwd"
  printf 'CRIUS_VM_SHARES=('
  printf '%q ' "${shares[@]}"
  printf ')\n'
  if [ -n "${CRIUS_VM_REGISTRY:-}" ]; then
    printf 'export CRIUS_VM_REGISTRY=%q\n' "10.0.2.100:${CRIUS_VM_REGISTRY##*:}"
  fi
  # Everything is ~13x slower under TCG: the tests' own deadlines stretch.
  printf 'export CRIUS_TEST_TIMEOUT_SCALE=%q\n' "${CRIUS_TEST_TIMEOUT_SCALE:-10}"
  while IFS='=' read -r name _; do
    case "$name" in
      CRIUS_VM_* | CRIUS_TEST_TIMEOUT_SCALE) ;;
      CRIUS_* | GTEST_* | CTEST_*) printf 'export %s=%q\n' "$name" "${!name}" ;;
    esac
  done < <(env)
} >"$run/vm.env"
{
  printf 'exec'
  printf ' %q' "$@"
  printf '\n'
} >"$run/cmd"

netdev=user,id=n0,restrict=on
if [ -n "${CRIUS_VM_REGISTRY:-}" ]; then
  rhost=${CRIUS_VM_REGISTRY%:*} rport=${CRIUS_VM_REGISTRY##*:}
  case "$rhost" in
    127.* | localhost) ;;
    *) echo "run.sh: CRIUS_VM_REGISTRY must be on the host's loopback" >&2; exit 2 ;;
  esac
  netdev+=",guestfwd=tcp:10.0.2.100:$rport-tcp:$rhost:$rport"
fi

append="console=ttyS0 panic=-1 quiet loglevel=3 crius.init=$init crius.cgroup=$cgroup"
if [ "$cgroup" = v2 ]; then
  append+=" systemd.unified_cgroup_hierarchy=1 cgroup_no_v1=all"
else
  append+=" systemd.unified_cgroup_hierarchy=0 systemd.legacy_systemd_cgroup_controller=0"
fi
append+=" systemd.show_status=0 systemd.mask=serial-getty@ttyS0.service systemd.mask=getty.target"

args=(-accel tcg,thread=multi -cpu max -smp "$smp" -m "$mem"
  -nodefaults -no-reboot -display none -monitor none -serial stdio
  -kernel "$img/vmlinuz" -initrd "$run/initrd.gz" -append "$append"
  -drive "file=$img/rootfs.ext4,format=raw,if=virtio,snapshot=on,cache=unsafe"
  -virtfs "local,path=$run,mount_tag=crius_run,security_model=none"
  -netdev "$netdev" -device virtio-net-pci,netdev=n0)
i=0
for s in "${shares[@]}"; do
  args+=(-virtfs "local,path=$s,mount_tag=crius_s$i,security_model=none,readonly=on")
  i=$((i + 1))
done

t1=$SECONDS
qemu-system-x86_64 "${args[@]}" </dev/null &
qpid=$!
# The deadline: a sleep by its own PID; whichever of the two ends first
# decides, and qemu is killed by its PID if the command hangs.
sleep "$timeout" &
wpid=$!
status=0
finished=
wait -n -p finished "$qpid" "$wpid" || status=$?
if [ "$finished" = "$wpid" ]; then
  echo "run.sh: timeout after ${timeout}s, stopping the VM" >&2
  kill "$qpid" 2>/dev/null || true
  wait "$qpid" 2>/dev/null || true
else
  kill "$wpid" 2>/dev/null || true
  wait "$wpid" 2>/dev/null || true
fi
qpid= wpid=
if [ -f "$run/rc" ]; then
  rc=$(cat "$run/rc")
else
  echo "run.sh: the VM ended without the command's status (qemu status $status)" >&2
  rc=125
fi
echo "run.sh: image ${t_image}s, VM $((SECONDS - t1))s, exit $rc" >&2
exit "$rc"
