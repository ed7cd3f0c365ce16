# shellcheck shell=bash
# Shared by the benchmark drivers (run_pod_bench.sh, run_container_bench.sh):
# a private containerd with its CRI plugin on a temp tree, the CNI conflist
# both runtimes get, and the clean-up of what CNI, runc and containerd's
# shims leave behind. Sourced, never run.
#
# The caller sets, before calling start_containerd:
#   here          the bench/ directory (for make_pause_image.sh)
#   T             the run's temp tree; containerd lives in $T/ctr, its state
#                 in $T/run/containerd
#   ctr_net ctr_bridge ctr_subnet   containerd's network
#   pause_image   the sandbox image to build and import
#   ctr_extra_toml (optional) appended to the config, e.g. registry mirrors
# and gets ctr_pid (containerd's PID).

# shellcheck source=bench/lib_bench.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib_bench.sh"
ctr_pid=""

# The deploy conflist's shape: bridge with isGateway, ipMasq, hairpinMode;
# host-local; portmap. (loopback is attached by the runtimes themselves.)
write_conflist() {  # path name bridge subnet ipam_dir
  cat >"$1" <<EOF
{
  "cniVersion": "1.0.0",
  "name": "$2",
  "plugins": [
    {
      "type": "bridge",
      "bridge": "$3",
      "isGateway": true,
      "ipMasq": true,
      "hairpinMode": true,
      "ipam": {
        "type": "host-local",
        "dataDir": "$5",
        "routes": [{ "dst": "0.0.0.0/0" }],
        "ranges": [[{ "subnet": "$4" }]]
      }
    },
    { "type": "portmap", "capabilities": { "portMappings": true } }
  ]
}
EOF
}

# Removes the iptables rules and chains CNI left for one network: the bridge
# plugin's per-pod masquerade chains are jumped to from POSTROUTING with a
# comment naming the network.
clean_iptables() {  # network name
  local net=$1 rule chain
  while read -r rule; do
    chain=$(sed -n 's/.* -j \(CNI-[0-9a-f]*\)$/\1/p' <<<"$rule")
    # shellcheck disable=SC2086  # the rule is iptables-save's own words
    eval "iptables -t nat ${rule/-A /-D }" 2>/dev/null || true
    if [[ -n $chain ]]; then
      iptables -t nat -F "$chain" 2>/dev/null || true
      iptables -t nat -X "$chain" 2>/dev/null || true
    fi
  done < <(iptables-save -t nat | grep -F -- "-A POSTROUTING" | grep -F "name: \\\"$net\\\"" || true)
}

# The start of a private containerd's config.toml: root, sockets and opt
# dir under <dir>, state at <state>, unused snapshotters off, debug and
# metrics endpoints off; ends inside the CRI plugin's table, so the caller
# appends the rest of its settings.
containerd_toml_head() {  # dir state
  local d=$1
  cat <<EOF
version = 2
root = "$d/root"
state = "$2"
disabled_plugins = ["io.containerd.snapshotter.v1.btrfs", "io.containerd.snapshotter.v1.zfs",
                    "io.containerd.snapshotter.v1.devmapper", "io.containerd.snapshotter.v1.aufs"]
[grpc]
  address = "$d/containerd.sock"
[ttrpc]
  address = "$d/containerd.sock.ttrpc"
[debug]
  address = ""
  level = "info"
[metrics]
  address = ""
[plugins."io.containerd.internal.v1.opt"]
  path = "$d/opt"
[plugins."io.containerd.grpc.v1.cri"]
EOF
}

start_containerd() {
  local d=$T/ctr
  mkdir -p "$d/net.d"
  write_conflist "$d/net.d/10-$ctr_net.conflist" "$ctr_net" "$ctr_bridge" "$ctr_subnet" "$d/ipam"
  # restrict_oom_score_adj: the sandbox's -998 needs CAP_SYS_RESOURCE, which
  # this machine lacks (runc would fail); criusd clamps the same way.
  # A "crun" runtime too where crun is installed: containerd's runc shim
  # drives any runc-compatible binary.
  local crun_toml=""
  if command -v crun >/dev/null; then
    crun_toml="    [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun]
      runtime_type = \"io.containerd.runc.v2\"
      [plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.crun.options]
        SystemdCgroup = false
        BinaryName = \"$(command -v crun)\"
"
  fi
  {
    containerd_toml_head "$d" "$T/run/containerd"
    cat <<EOF
  sandbox_image = "$pause_image"
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  restrict_oom_score_adj = true
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        SystemdCgroup = false
        BinaryName = "$(command -v runc)"
${crun_toml}  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/net.d"
    max_conf_num = 1
${ctr_extra_toml:-}
EOF
  } >"$d/config.toml"
  containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
  ctr_pid=$!
  wait_for_socket "$d/containerd.sock" "$ctr_pid" containerd
  "$here/make_pause_image.sh" "$T/pause.tar" "$pause_image" >/dev/null
  ctr -a "$d/containerd.sock" -n k8s.io images import "$T/pause.tar" >/dev/null
  log "containerd $ctr_pid on unix://$d/containerd.sock, sandbox image $pause_image imported"
}

# Processes of this tree that outlive their daemon, each ended by PID:
# containerd's shims (their argv names its socket under $T/ctr/) and
# crius's conmons (their argv names their bundles under $T/).
end_leftover() {  # argv-substring tree-substring what
  local p cmd
  for p in /proc/[0-9]*; do
    cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
    if [[ $cmd == *"$1"* && $cmd == *"$2"* ]]; then
      log "ending leftover $3 ${p#/proc/}"
      kill -KILL "${p#/proc/}" 2>/dev/null
    fi
  done
  return 0
}

# Pod cgroups of one run (crius removes its own; runc leaves the parents
# containerd was given): end what is still inside, then remove deepest
# first.
clean_bench_cgroups() {  # run id
  local cg d p
  for cg in /sys/fs/cgroup/*/crius-bench-"$1" /sys/fs/cgroup/crius-bench-"$1"; do
    [[ -d $cg ]] || continue
    while read -r d; do
      while read -r p; do [[ -n $p ]] && kill -KILL "$p" 2>/dev/null; done <"$d/cgroup.procs"
    done < <(find "$cg" -type d)
    find "$cg" -depth -type d -exec rmdir {} + 2>/dev/null
  done
  return 0
}

# What a crius-vs-containerd run may leave once both daemons are stopped:
# shims, conmons of the tree (their argv names its bundles; each ended by
# PID), the run's pod cgroups, mounts, crius's pinned netns, both bridges and
# their iptables rules, and containerd's entries in libcni's default cache
# dir. Uses T, run_id, crius_net/crius_bridge and ctr_net/ctr_bridge.
clean_cri_run() {
  end_leftover containerd-shim "$T/ctr/" shim
  end_leftover /conmon "$T/" conmon
  clean_bench_cgroups "$run_id"
  umount_under "$T"
  remove_crius_netns "$T/crius/root"
  ip link del "$crius_bridge" 2>/dev/null
  ip link del "$ctr_bridge" 2>/dev/null
  clean_iptables "$crius_net"
  clean_iptables "$ctr_net"
  rm -f /var/lib/cni/results/"$ctr_net"-* 2>/dev/null
  return 0
}

# Network namespaces pinned by criusd's pods whose records are in a root.
remove_crius_netns() {  # criusd root
  local f ns
  for f in "$1"/sandboxes/*.json; do
    [[ -f $f ]] || continue
    ns=$(jq -r '.namespaces.net // empty' "$f")
    if [[ -n $ns && -e $ns ]]; then
      umount -l "$ns" 2>/dev/null; rm -f "$ns"
    fi
  done
  return 0
}

# VmRSS of a process in kB, and the sum of Pss over some processes in kB.
vm_rss_kb() { awk '/^VmRSS:/ { print $2 }' "/proc/$1/status" 2>/dev/null || echo 0; }
pss_kb() {  # pids...
  local p sum=0 v
  for p in "$@"; do
    v=$(awk '/^Pss:/ { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null) || v=0
    sum=$((sum + ${v:-0}))
  done
  echo "$sum"
}

# jq definitions for merging rounds: nearest-rank percentiles as the bench
# programs compute them, and the samples of every call merged over docs.
# shellcheck disable=SC2016  # jq's own variables
bench_jq_lib='
def pct($s; $p): ($s | length) as $n | (($p / 100 * $n) | ceil) as $r
  | $s[(if $r < 1 then 1 else $r end) - 1];
def summary: sort as $s
  | {n: ($s | length), p50_ms: pct($s; 50), p90_ms: pct($s; 90), p99_ms: pct($s; 99),
     mean_ms: (($s | add) / ($s | length) * 1000 | round / 1000), min_ms: $s[0], max_ms: $s[-1]};
def merge_calls($docs; sel):
  reduce ($docs[0] | sel | keys_unsorted[]) as $k
    ({}; .[$k] = ([$docs[] | sel | .[$k].samples_ms // empty] | add | summary));
'
