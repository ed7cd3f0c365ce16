#!/usr/bin/env bash
# The floor for pod+container start (RunPodSandbox + CreateContainer +
# StartContainer): what starting a pod with one container needs at the
# least, with no runtime in between. Each iteration times
#   the pod's network, exactly as floor_pod.sh does it (sourced from there):
#     ip netns add, CNI ADD of loopback and of each plugin of the conflist
#   the container: mkdir of an upper and work dir, mount -t overlay over the
#     unpacked image layer, config.json written from a template (netns path,
#     cgroup, hostname filled in), `runc create`, `runc start`
# and then, separately, the teardown: `runc delete --force`, umount, rm,
# CNI DEL in reverse order, ip netns del. The output names the whole start
# "pod+container start", its two parts "network part" and "container part",
# and the rest "teardown".
#
# The container is the benchmark's: busybox running
#   sh -c 'trap "exit 0" TERM; sleep 86400 & wait'
# in its own PID, mount, IPC and UTS namespaces and the pod's network
# namespace, cgroup <cgroup parent>/floor<n>. All N are started, then all
# are torn down (the benchmark's phases do the same).
#
# usage: floor_container.sh --conflist FILE --rootfs-tar TAR --work-dir DIR
#          --state-dir DIR [--iterations N] [--warmup W]
#          [--cgroup-parent /crius-bench-X] [--runc PATH] [--json OUT]
#   --work-dir   the image layer is unpacked here (untimed) and the overlays'
#                upper/work dirs live here: a disk, as the runtimes' roots
#   --state-dir  bundles (config.json) and runc's --root: a tmpfs, as /run
# Needs root, runc, jq, iproute2, the CNI plugins, bash >= 5.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source=bench/floor_pod.sh
source "$here/floor_pod.sh"

conflist=""
rootfs_tar=""
work=""
state=""
iterations=100
warmup=2
cgroup_parent="/crius-bench-floor-$$"
runc=$(command -v runc || true)
json_out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --conflist) conflist=$2; shift 2 ;;
    --rootfs-tar) rootfs_tar=$2; shift 2 ;;
    --work-dir) work=$2; shift 2 ;;
    --state-dir) state=$2; shift 2 ;;
    --iterations) iterations=$2; shift 2 ;;
    --warmup) warmup=$2; shift 2 ;;
    --cgroup-parent) cgroup_parent=$2; shift 2 ;;
    --runc) runc=$2; shift 2 ;;
    --json) json_out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -n $conflist && -f $rootfs_tar && -n $work && -n $state && -x $runc ]] || {
  echo "usage: $0 --conflist FILE --rootfs-tar TAR --work-dir DIR --state-dir DIR [options]" >&2
  exit 2
}

floor_load_conflist "$conflist"
tag="floorc-$$"
W=$work/$tag
S=$state/$tag
runc_root=$S/runc
declare -A ctr_live=()  # containers created and not yet deleted

stop_container() {  # name
  local id=$1
  "$runc" --root "$runc_root" delete --force "$id" >/dev/null 2>&1 || true
  umount "$W/$id/rootfs" 2>/dev/null || umount -l "$W/$id/rootfs" 2>/dev/null || true
  rm -rf "${W:?}/$id" "${S:?}/$id"
  unset 'ctr_live[$id]'
}

cleanup() {
  local status=$? id cg
  set +e
  trap - EXIT INT TERM
  for id in "${!ctr_live[@]}"; do stop_container "$id"; done
  floor_pod_cleanup
  # runc removed each container's cgroup; the parent is ours.
  for cg in /sys/fs/cgroup/*"$cgroup_parent" /sys/fs/cgroup/*/"${cgroup_parent#/}"; do
    [[ -d $cg ]] && find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  # Zombies of the containers' init processes are reparented to init; the
  # overlays are gone with the containers.
  if [[ -n ${W:-} && -d $W ]]; then
    awk -v t="$W/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
      while read -r m; do umount -l "$m" 2>/dev/null; done
    rm -rf "$W"
  fi
  [[ -n ${S:-} ]] && rm -rf "$S"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

mkdir -p "$W/lower" "$S" "$runc_root"
tar -xf "$rootfs_tar" -C "$W/lower"

# The template: runc's default spec, with the benchmark's process and the
# pod's namespaces; @NAME@, @NETNS@, @CGROUP@ and @ROOT@ are filled in per pod
# (bash substitution: the timed part forks only ip, the plugins and runc).
(cd "$S" && "$runc" spec)
template=$(jq -c '
  .process.terminal = false
  | .process.args = ["/bin/sh", "-c", "trap \"exit 0\" TERM; sleep 86400 & wait"]
  | .process.env += ["KUBERNETES_SERVICE_HOST=10.96.0.1"]
  | .root = {path: "@ROOT@", readonly: false}
  | .hostname = "@NAME@"
  | .linux.cgroupsPath = "@CGROUP@"
  | .linux.namespaces = [{type: "pid"}, {type: "ipc"}, {type: "uts"}, {type: "mount"},
                         {type: "network", path: "@NETNS@"}]
' "$S/config.json")
rm -f "$S/config.json"

start_container() {  # name
  local id=$1 b=$S/$1 c=$W/$1 spec
  mkdir -p "$c/upper" "$c/work" "$c/rootfs" "$b"
  mount -t overlay overlay -o "lowerdir=$W/lower,upperdir=$c/upper,workdir=$c/work" "$c/rootfs"
  ctr_live[$id]=1
  spec=${template//@NAME@/$id}
  spec=${spec//@NETNS@//run/netns/$id}
  spec=${spec//@CGROUP@/$cgroup_parent/floor$id}
  spec=${spec//@ROOT@/$c/rootfs}
  printf '%s' "$spec" >"$b/config.json"
  # The container keeps these as its stdio; runc's own errors go to the log.
  "$runc" --root "$runc_root" create --bundle "$b" "$id" </dev/null >/dev/null 2>>"$S/runc.log" ||
    { cat "$S/runc.log" >&2; return 1; }
  "$runc" --root "$runc_root" start "$id"
}

declare -a total_ms=() net_ms=() ctr_ms=() down_ms=()
for ((n = 0; n < warmup; n++)); do
  start_pod "$tag-w$n"
  start_container "$tag-w$n"
  stop_container "$tag-w$n"
  stop_pod "$tag-w$n"
done
for ((n = 0; n < iterations; n++)); do
  t0=${EPOCHREALTIME/./}
  start_pod "$tag-$n"
  t1=${EPOCHREALTIME/./}
  start_container "$tag-$n"
  t2=${EPOCHREALTIME/./}
  total_ms+=("$(ms_since "$t0" "$t2")")
  net_ms+=("$(ms_since "$t0" "$t1")")
  ctr_ms+=("$(ms_since "$t1" "$t2")")
done
for ((n = 0; n < iterations; n++)); do
  t0=${EPOCHREALTIME/./}
  stop_container "$tag-$n"
  stop_pod "$tag-$n"
  t1=${EPOCHREALTIME/./}
  down_ms+=("$(ms_since "$t0" "$t1")")
done

doc=$(printf '{"name":"floor","network":"%s","plugins":["loopback"%s],"iterations":%d,"calls":{"pod+container start":%s,"network part":%s,"container part":%s,"teardown":%s}}' \
  "$net_name" "$(printf ',"%s"' "${plugin_types[@]}")" "$iterations" \
  "$(stats "${total_ms[@]}")" "$(stats "${net_ms[@]}")" "$(stats "${ctr_ms[@]}")" "$(stats "${down_ms[@]}")")
printf 'floor: netns + CNI (loopback, %s) + overlay + runc create + start, %d iterations\n' \
  "${plugin_types[*]}" "$iterations"
printf '%-52s %6s %9s %9s %9s %9s\n' "step" "n" "p50 ms" "p90 ms" "p99 ms" "mean ms"
jq -r '.calls | to_entries[] | [.key, .value.n, .value.p50_ms, .value.p90_ms, .value.p99_ms, .value.mean_ms] | @tsv' <<<"$doc" |
  while IFS=$'\t' read -r k n a b c d; do
    printf '%-52s %6d %9.2f %9.2f %9.2f %9.2f\n' "$k" "$n" "$a" "$b" "$c" "$d"
  done
if [[ -n $json_out ]]; then
  jq . <<<"$doc" >"$json_out"
fi
