#!/usr/bin/env bash
# The container benchmark, side by side in one run: criusd, containerd's
# CRI plugin and the floor (bench/floor_container.sh), on the same CNI
# plugins, runc and busybox image.
#
# crius_container_bench serve builds the image (busybox-static, one layer)
# and serves it from docker-registry on loopback; both daemons pull it from
# there (untimed). Then, in R rounds in which floor, crius and containerd
# take turns in a rotating order:
#   start rounds: each runtime starts N/R more pods, one at a time, each
#     with one container (RunPodSandbox, CreateContainer, StartContainer,
#     timed each and together); its pods stay, so after the last round each
#     runtime has N running pods. The floor starts N/R pods with a container
#     and tears them down again within its round.
#   memory: VmRSS of criusd and containerd, and the Pss of every per-pod
#     process (crius: conmon, infra if any; containerd: shim, pause), with
#     N pods running on each, and idle (before the first pod, after the last)
#   stop rounds: each runtime takes down N/R of its pods: StopContainer,
#     RemoveContainer, StopPodSandbox, RemovePodSandbox, each timed.
# The rounds are merged and the comparison printed. Both daemons are
# stopped by PID and everything the run made is removed, also on failure.
#
# usage: run_container_bench.sh --criusd PATH --pause PATH --bench PATH [options]
#   --pause PATH          crius-pause (criusd's pod.infra_path)
#   --bench PATH          crius_container_bench
#   --pods N              pods (each with one container) per runtime (default 100)
#   --rounds R            (default 5)
#   --floor-iterations N  (default: --pods)
#   --state-fs tmpfs|disk volatile state dirs on a tmpfs (default) or on disk
#   --criusd-log-level L  (default info)
#   --shared-pid          pods share one PID namespace (crius then runs its
#                         infra process); default: one per container, as kubelet
#   --skip-containerd, --skip-floor, --skip-crius
#   --crun                two more runners: crius-crun (the same criusd, pods
#                         with runtime_handler crun) and containerd-crun (a
#                         "crun" runtime of containerd's runc shim with crun as
#                         its binary); the pods' memory is then counted per
#                         daemon, over both of its runners
#   --pause-binary PATH   a static pause binary for containerd's sandbox image
#                         (default: bench/pause.c compiled with gcc)
#   --out DIR             keep results (JSON, logs) there
# Needs root, containerd, runc, conmon, docker-registry, the CNI plugins in
# /usr/lib/cni, iproute2, iptables, jq, gcc (not with --pause-binary), crun
# (with --crun).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench_name=run_container_bench
# shellcheck source=bench/lib_containerd.sh
source "$here/lib_containerd.sh"

criusd="" pause="" bench=""
pods=100 rounds=5 floor_iterations="" state_fs=tmpfs criusd_log_level=info shared_pid=""
skip_containerd=0 skip_floor=0 skip_crius=0 out="" with_crun=0
export CRIUS_BENCH_PAUSE_BINARY=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --criusd) criusd=$(realpath "$2"); shift 2 ;;
    --pause) pause=$(realpath "$2"); shift 2 ;;
    --bench) bench=$(realpath "$2"); shift 2 ;;
    --pods) pods=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --floor-iterations) floor_iterations=$2; shift 2 ;;
    --state-fs) state_fs=$2; shift 2 ;;
    --criusd-log-level) criusd_log_level=$2; shift 2 ;;
    --shared-pid) shared_pid=--shared-pid; shift ;;
    --skip-containerd) skip_containerd=1; shift ;;
    --skip-floor) skip_floor=1; shift ;;
    --skip-crius) skip_crius=1; shift ;;
    --crun) with_crun=1; shift ;;
    --pause-binary) CRIUS_BENCH_PAUSE_BINARY=$(realpath "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $criusd && -x $pause && -x $bench ]] || {
  echo "usage: $0 --criusd PATH --pause PATH --bench PATH [options] (see the header)" >&2
  exit 2
}
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }
[[ $state_fs == tmpfs || $state_fs == disk ]] || { echo "--state-fs is tmpfs or disk" >&2; exit 2; }
tools=(containerd ctr runc conmon jq ip iptables-save docker-registry)
[[ -n $CRIUS_BENCH_PAUSE_BINARY ]] || tools+=(gcc)
((with_crun)) && tools+=(crun)
for tool in "${tools[@]}"; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done
floor_iterations=${floor_iterations:-$pods}

# Names and subnets of this benchmark only (the pod bench uses .180/.181).
crius_net=crcbench crius_bridge=crcbench0 crius_subnet=10.88.182.0/24
ctr_net=ctrcbench ctr_bridge=ctrcbench0 ctr_subnet=10.88.183.0/24
pause_image=localhost/crius-bench/pause:1.0
run_id=$(printf '%08x' $((RANDOM * 65536 + RANDOM)))

# Short: criusd's attach sockets live at <state>/attach/<64-hex id>/attach,
# which must fit the 107 bytes of a unix socket path.
T=$(mktemp -d /tmp/crcb-XXXXXX)
criusd_pid="" serve_pid=""
results=${out:-$T/results}
mkdir -p "$results/rounds" "$T/crius" "$T/ctr" "$T/logs" "$T/run" "$T/floor"

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  # Pods and containers first, while the daemons still answer.
  if [[ -n $criusd_pid ]] && kill -0 "$criusd_pid" 2>/dev/null; then
    "$bench" cleanup --endpoint "unix://$T/crius/crius.sock" --run-id "$run_id"
  fi
  if [[ -n $ctr_pid ]] && kill -0 "$ctr_pid" 2>/dev/null; then
    "$bench" cleanup --endpoint "unix://$T/ctr/containerd.sock" --run-id "$run_id"
  fi
  stop_pid "$criusd_pid" criusd
  stop_pid "$ctr_pid" containerd
  clean_cri_run
  # Closing the helper's stdin makes it stop the registry and exit.
  exec 9>&- 2>/dev/null
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -n $serve_pid ]] && kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  stop_pid "$serve_pid" crius_container_bench
  if [[ -n $out ]]; then
    cp "$T/crius/criusd.log" "$T/ctr/containerd.log" "$results/" 2>/dev/null
  fi
  rm -rf "$T"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_criusd() {
  start_bench_criusd "$T/crius" "$T/run/c" "pod:
  infra_path: $pause
"
  log "criusd $criusd_pid on unix://$T/crius/crius.sock"
}

endpoint_of() {
  case $1 in
    crius | crius-crun) echo "unix://$T/crius/crius.sock" ;;
    containerd | containerd-crun) echo "unix://$T/ctr/containerd.sock" ;;
  esac
}

# The runtime handler a runner's pods ask for ("": the daemon's default, runc).
handler_args() {
  case $1 in
    *-crun) echo "--runtime-handler crun" ;;
  esac
}

# The image and its registry, fed by a fifo held open on fd 9 until cleanup.
serve_image() {
  mkfifo "$T/serve.in"
  "$bench" serve --info "$T/info.json" --rootfs-tar "$T/rootfs.tar" <"$T/serve.in" \
    2>"$results/serve.log" &
  serve_pid=$!
  exec 9>"$T/serve.in"
  local i
  for ((i = 0; i < 600; i++)); do
    [[ -f $T/info.json ]] && break
    kill -0 "$serve_pid" 2>/dev/null || { log "serve failed"; cat "$results/serve.log" >&2; return 1; }
    sleep 0.1
  done
  [[ -f $T/info.json ]] || { log "serve did not start"; return 1; }
  cp "$T/info.json" "$results/"
  image=$(jq -r .image "$T/info.json")
  log "image $image from $(jq -r .registry "$T/info.json")"
}

# Memory of the daemons and of every per-pod process, in kB.
#   crius: conmon (one per container; argv names this tree's bundles) and
#     the infra (crius-pause, only with --shared-pid) in this run's cgroups
#   containerd: containerd-shim-runc-v2 (one per pod; argv names this tree)
#     and the pause processes whose parent is one of those shims
#   the containers' own processes (sh and sleep), for reference
measure_memory() {  # label
  local label=$1 p pid comm cmd ppid
  local -a conmon=() infra=() shim=() pause_k=() workload=()
  local -A is_shim=() parent=()
  for p in /proc/[0-9]*; do
    pid=${p#/proc/}
    comm=$(cat "$p/comm" 2>/dev/null) || continue
    case $comm in
      conmon)
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        [[ $cmd == *"$T/"* ]] && conmon+=("$pid") ;;
      containerd-shim*)
        cmd=$(tr '\0' ' ' 2>/dev/null <"$p/cmdline") || continue
        [[ $cmd == *"$T/ctr/"* ]] && { shim+=("$pid"); is_shim[$pid]=1; } ;;
      crius-pause | pause | sh | sleep)
        grep -q "crius-bench-$run_id" "$p/cgroup" 2>/dev/null || continue
        ppid=$(awk '/^PPid:/ { print $2 }' "$p/status" 2>/dev/null) || continue
        parent[$pid]=$ppid
        case $comm in
          crius-pause) infra+=("$pid") ;;
          pause) : ;;  # decided below, once the shims are known
          *) workload+=("$pid") ;;
        esac ;;
    esac
  done
  # "pause": containerd's sandbox (a child of its pod's shim), or crius's
  # infra, which runs crius-pause bind-mounted as /pause in its own cgroup
  # <pod cgroup>/crius-infra-<id>.
  for pid in "${!parent[@]}"; do
    [[ $(cat "/proc/$pid/comm" 2>/dev/null) == pause ]] || continue
    if [[ -n ${is_shim[${parent[$pid]}]:-} ]]; then
      pause_k+=("$pid")
    elif grep -q "/crius-infra-" "/proc/$pid/cgroup" 2>/dev/null; then
      infra+=("$pid")
    fi
  done
  local rss_sum
  rss_sum() { local s=0 q; for q in "$@"; do s=$((s + $(vm_rss_kb "$q"))); done; echo $s; }
  local c_rss=null k_rss=null c_mem=null k_mem=null
  [[ -n $criusd_pid ]] && { c_rss=$(vm_rss_kb "$criusd_pid"); c_mem=$(daemon_memory "$criusd_pid"); }
  [[ -n $ctr_pid ]] && { k_rss=$(vm_rss_kb "$ctr_pid"); k_mem=$(daemon_memory "$ctr_pid"); }
  jq -n --arg lbl "$label" --argjson c_rss "$c_rss" --argjson k_rss "$k_rss" \
    --argjson c_mem "$c_mem" --argjson k_mem "$k_mem" \
    --argjson c_pods "$(state_pods crius)" --argjson k_pods "$(state_pods containerd)" \
    --argjson conmon "[${#conmon[@]}, $(pss_kb "${conmon[@]}"), $(rss_sum "${conmon[@]}")]" \
    --argjson infra "[${#infra[@]}, $(pss_kb "${infra[@]}"), $(rss_sum "${infra[@]}")]" \
    --argjson shim "[${#shim[@]}, $(pss_kb "${shim[@]}"), $(rss_sum "${shim[@]}")]" \
    --argjson pausek "[${#pause_k[@]}, $(pss_kb "${pause_k[@]}"), $(rss_sum "${pause_k[@]}")]" \
    --argjson work "[${#workload[@]}, $(pss_kb "${workload[@]}"), $(rss_sum "${workload[@]}")]" \
    --arg load "$(cut -d' ' -f1-3 /proc/loadavg)" '
    def procs($a): {count: $a[0], pss_kb: $a[1], rss_kb: $a[2]};
    {label: $lbl, load: $load, criusd_rss_kb: $c_rss, containerd_rss_kb: $k_rss,
     criusd: $c_mem, containerd_daemon: $k_mem,
     crius: {pods: $c_pods, conmon: procs($conmon), infra: procs($infra),
             per_pod_pss_kb: (if $c_pods > 0 then (($conmon[1] + $infra[1]) / $c_pods * 10 | round / 10) else null end)},
     containerd: {pods: $k_pods, shim: procs($shim), pause: procs($pausek),
                  per_pod_pss_kb: (if $k_pods > 0 then (($shim[1] + $pausek[1]) / $k_pods * 10 | round / 10) else null end)},
     container_processes: procs($work)}' >"$results/memory-$label.json"
  log "memory ($label): $(jq -c '{criusd_rss_kb, containerd_rss_kb, c: .crius.per_pod_pss_kb, k: .containerd.per_pod_pss_kb}' "$results/memory-$label.json")"
}

# A daemon's memory beyond VmRSS: Pss (shared library pages divided among
# the processes mapping them), anonymous and file-backed RSS, threads.
daemon_memory() {  # pid
  local pss
  pss=$(awk '/^Pss:/ { print $2 }' "/proc/$1/smaps_rollup" 2>/dev/null) || pss=0
  awk -v pss="${pss:-0}" '/^(RssAnon|RssFile|Threads):/ { v[$1] = $2 }
    END { printf "{\"pss_kb\":%d,\"rss_anon_kb\":%d,\"rss_file_kb\":%d,\"threads\":%d}", pss, v["RssAnon:"], v["RssFile:"], v["Threads:"] }' \
    "/proc/$1/status" 2>/dev/null || echo null
}

# Pods a daemon has running, from its runners' state files (one line per
# pod, one more per container; the pod ids are what counts).
state_pods() {
  local f files=()
  for f in "$T/state-$1.jsonl" "$T/state-$1-crun.jsonl"; do
    [[ -s $f ]] && files+=("$f")
  done
  ((${#files[@]})) || { echo 0; return; }
  jq -r .pod "${files[@]}" | sort -u | wc -l
}

# The runtime's name is in every pod's tag: pod names, uids and so the pod
# cgroups (cgroup_parent holds the uid) of crius and containerd must differ,
# since both keep their pods while the other runs.
start_round() {  # runner round
  local f=$results/rounds/$1-start-$2
  case $1 in
    floor)
      "$here/floor_container.sh" --conflist "$T/crius/net.d/10-$crius_net.conflist" \
        --rootfs-tar "$T/rootfs.tar" --work-dir "$T/floor" --state-dir "$T/run" \
        --cgroup-parent "/crius-bench-$run_id/floor" --iterations "$floor_per_round" --warmup 1 \
        --json "$f.json" >"$f.txt"
      ;;
    crius | containerd | crius-crun | containerd-crun)
      # shellcheck disable=SC2046  # handler_args is zero or two words
      "$bench" start --endpoint "$(endpoint_of "$1")" --image "$image" --pods "$pods_per_round" \
        --state "$T/state-$1.jsonl" --run-id "$run_id" --tag "$1-r$2-" --log-dir "$T/logs" \
        $shared_pid $(handler_args "$1") --json "$f.json" >"$f.txt"
      ;;
  esac
}

stop_round() {  # runner round
  local f=$results/rounds/$1-stop-$2
  "$bench" stop --endpoint "$(endpoint_of "$1")" --state "$T/state-$1.jsonl" --pods "$pods_per_round" \
    --json "$f.json" >"$f.txt"
}

log "temp tree $T, run $run_id, results in $results"
if [[ $state_fs == tmpfs ]]; then
  mount -t tmpfs -o size=2g,mode=0755 crius-bench-run "$T/run"
fi
log "state dirs on $(stat -f -c %T "$T/run"), roots on $(stat -f -c %T "$T")"
log "machine: $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$T/crius/net.d"
write_conflist "$T/crius/net.d/10-$crius_net.conflist" "$crius_net" "$crius_bridge" "$crius_subnet" \
  "$T/crius/ipam"
serve_image
host=$(jq -r .host "$T/info.json")
# containerd pulls from the same registry, over plain HTTP on loopback.
ctr_extra_toml="  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"$host\"]
    endpoint = [\"$(jq -r .registry "$T/info.json")\"]"
daemons=()
runners=()
((skip_floor)) || runners+=(floor)
((skip_crius)) || { start_criusd; daemons+=(crius); runners+=(crius); }
((skip_containerd)) || { start_containerd; daemons+=(containerd); runners+=(containerd); }
# The crun runners take their turns with the daemon they share.
if ((with_crun)); then
  ((skip_crius)) || runners+=(crius-crun)
  ((skip_containerd)) || runners+=(containerd-crun)
fi
# Every runner but the floor (which tears its pods down within its round).
stoppers=()
for who in "${runners[@]}"; do
  [[ $who == floor ]] || stoppers+=("$who")
done
for who in "${daemons[@]}"; do
  "$bench" pull --endpoint "$(endpoint_of "$who")" --image "$image" >"$results/$who-image-ref.txt"
  # One pod with its container through its whole life before anything is
  # timed: proves it works and warms both daemons up.
  "$bench" start --endpoint "$(endpoint_of "$who")" --image "$image" --pods 1 \
    --state "$T/smoke-$who.jsonl" --run-id "$run_id" --tag "$who-smoke-" --log-dir "$T/logs" $shared_pid
  "$bench" stop --endpoint "$(endpoint_of "$who")" --state "$T/smoke-$who.jsonl" --pods 1
  log "$who: image pulled, smoke pod done"
done
sleep 2
measure_memory idle-before

pods_per_round=$(((pods + rounds - 1) / rounds))
floor_per_round=$(((floor_iterations + rounds - 1) / rounds))
for ((r = 1; r <= rounds; r++)); do
  n=${#runners[@]}
  for ((k = 0; k < n; k++)); do
    who=${runners[$(((k + r - 1) % n))]}
    log "start round $r/$rounds: $who (load $(cut -d' ' -f1 /proc/loadavg))"
    start_round "$who" "$r"
  done
done
sleep 5
measure_memory running
for ((r = 1; r <= rounds; r++)); do
  n=${#stoppers[@]}
  for ((k = 0; k < n; k++)); do
    who=${stoppers[$(((k + r - 1) % n))]}
    log "stop round $r/$rounds: $who"
    stop_round "$who" "$r"
  done
done
sleep 2
measure_memory idle-after

# Merging: every call's samples from all rounds, with the same nearest-rank
# percentiles ($bench_jq_lib, lib_containerd.sh).
merge() {  # runner phase -> $results/<runner>-<phase>.json
  local files=("$results"/rounds/"$1"-"$2"-[0-9]*.json)
  [[ -f ${files[0]} ]] || return 0
  jq -s "$bench_jq_lib"'. as $docs | {name: "'"$1"'", rounds: length, calls: merge_calls($docs; .calls)}' \
    "${files[@]}" >"$results/$1-$2.json"
}
for who in crius containerd crius-crun containerd-crun floor; do merge "$who" start; done
for who in crius containerd crius-crun containerd-crun; do merge "$who" stop; done
shown=(crius containerd)
((with_crun)) && shown+=(crius-crun containerd-crun)

p() {  # runner phase call stat
  local f=$results/$1-$2.json
  [[ -f $f ]] || { echo null; return; }
  jq -r --arg c "$3" --arg s "$4" '.calls[$c][$s] // null' "$f"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b == 0) print "n/a"; else printf "%.3f", a / b }'; }

{
  echo "run $run_id: $pods pods per runtime in $rounds rounds, floor $floor_iterations; state on $state_fs; PID namespace $([[ -n $shared_pid ]] && echo "per pod (shared)" || echo "per container")"
  echo "crius $("$criusd" --version 2>/dev/null | head -1), $(containerd --version), $(runc --version | head -1), conmon $(conmon --version | head -1 | awk '{print $3}')"
  echo
  printf '%-28s %-15s %9s %9s %9s %9s\n' call runtime "p50 ms" "p90 ms" "p99 ms" "mean ms"
  for call in RunPodSandbox CreateContainer StartContainer "pod+container start"; do
    for who in "${shown[@]}"; do
      printf '%-28s %-15s %9s %9s %9s %9s\n' "$call" "$who" "$(p "$who" start "$call" p50_ms)" \
        "$(p "$who" start "$call" p90_ms)" "$(p "$who" start "$call" p99_ms)" "$(p "$who" start "$call" mean_ms)"
    done
  done
  for call in StopContainer RemoveContainer StopPodSandbox RemovePodSandbox; do
    for who in "${shown[@]}"; do
      printf '%-28s %-15s %9s %9s %9s %9s\n' "$call" "$who" "$(p "$who" stop "$call" p50_ms)" \
        "$(p "$who" stop "$call" p90_ms)" "$(p "$who" stop "$call" p99_ms)" "$(p "$who" stop "$call" mean_ms)"
    done
  done
  if [[ -f $results/floor-start.json ]]; then
    jq -r '.calls | to_entries[] | [.key, .value.p50_ms, .value.p90_ms, .value.p99_ms, .value.mean_ms] | @tsv' \
      "$results/floor-start.json" |
      while IFS=$'\t' read -r k a b c d; do
        printf '%-28s %-15s %9s %9s %9s %9s\n' "${k:0:28}" floor "$a" "$b" "$c" "$d"
      done
  fi
  echo
  echo "memory (kB): VmRSS of the daemons; per-pod overhead = Pss of the per-pod processes / pods"
  printf '%-12s %6s %12s %14s %10s %10s %12s %12s %10s\n' state pods "criusd RSS" "containerd RSS" conmons infra "c per-pod" shims+pause "k per-pod"
  for label in idle-before running idle-after; do
    jq -r '[."label", .crius.pods, .criusd_rss_kb, .containerd_rss_kb,
            "\(.crius.conmon.count)/\(.crius.conmon.pss_kb)", "\(.crius.infra.count)/\(.crius.infra.pss_kb)",
            .crius.per_pod_pss_kb, "\(.containerd.shim.count)+\(.containerd.pause.count)/\(.containerd.shim.pss_kb + .containerd.pause.pss_kb)",
            .containerd.per_pod_pss_kb] | @tsv' "$results/memory-$label.json" |
      while IFS=$'\t' read -r a b c d e f g h i; do
        printf '%-12s %6s %12s %14s %10s %10s %12s %12s %10s\n' "$a" "$b" "$c" "$d" "$e" "$f" "$g" "$h" "$i"
      done
  done
  echo "  (conmons, infra, shims+pause: count/Pss kB summed)"
  for label in idle-before running idle-after; do
    jq -r '"\(."label"): criusd Pss \(.criusd.pss_kb) anon \(.criusd.rss_anon_kb) file \(.criusd.rss_file_kb) threads \(.criusd.threads); containerd Pss \(.containerd_daemon.pss_kb) anon \(.containerd_daemon.rss_anon_kb) file \(.containerd_daemon.rss_file_kb) threads \(.containerd_daemon.threads)"' \
      "$results/memory-$label.json"
  done
  echo
  cs=$(p crius start "pod+container start" p50_ms)
  ks=$(p containerd start "pod+container start" p50_ms)
  fs=$(p floor start "pod+container start" p50_ms)
  mr=$results/memory-running.json
  mi=$results/memory-idle-before.json
  r1=$(ratio "$cs" "$ks")
  r2=$(ratio "$cs" "$fs")
  r3=$(ratio "$(jq .crius.per_pod_pss_kb "$mr")" "$(jq .containerd.per_pod_pss_kb "$mr")")
  r4=$(ratio "$(jq .criusd_rss_kb "$mi")" "$(jq .containerd_rss_kb "$mi")")
  r5=$(ratio "$(jq .criusd_rss_kb "$mr")" "$(jq .containerd_rss_kb "$mr")")
  r6=$(ratio "$(jq .criusd.rss_anon_kb "$mr")" "$(jq .containerd_daemon.rss_anon_kb "$mr")")
  r7=$(ratio "$(jq .criusd.pss_kb "$mr")" "$(jq .containerd_daemon.pss_kb "$mr")")
  verdict() { awk -v r="$1" -v t="$2" 'BEGIN { if (r == "n/a") print "n/a"; else if (r <= t) print "met"; else print "missed" }'; }
  echo "targets (same run):"
  echo "  pod+container start p50 crius/containerd  $r1  (<= 0.5: $(verdict "$r1" 0.5))"
  echo "  pod+container start p50 crius/floor       $r2  (<= 1.3: $(verdict "$r2" 1.3))"
  echo "  per-pod overhead Pss crius/containerd     $r3  (<= 0.25: $(verdict "$r3" 0.25))"
  echo "  daemon RSS crius/containerd, idle         $r4  (<= 0.25: $(verdict "$r4" 0.25))"
  echo "  daemon RSS crius/containerd, $pods pods    $r5  (<= 0.25: $(verdict "$r5" 0.25))"
  echo "    for context, with $pods pods: anonymous RSS $r6, Pss $r7"
  if ((with_crun)); then
    cc=$(p crius-crun start "pod+container start" p50_ms)
    kc=$(p containerd-crun start "pod+container start" p50_ms)
    echo "  with crun: pod+container start p50 crius-crun/crius (runc) $(ratio "$cc" "$cs"), crius-crun/containerd-crun $(ratio "$cc" "$kc"), containerd-crun/containerd (runc) $(ratio "$kc" "$ks")"
  fi
  if [[ -f $results/crius-start.json && -f $results/containerd-start.json ]]; then
    per_round=""
    for ((r = 1; r <= rounds; r++)); do
      a=$(jq -r '.calls["pod+container start"].p50_ms' "$results/rounds/crius-start-$r.json")
      b=$(jq -r '.calls["pod+container start"].p50_ms' "$results/rounds/containerd-start-$r.json")
      c=null
      [[ -f $results/rounds/floor-start-$r.json ]] &&
        c=$(jq -r '.calls["pod+container start"].p50_ms' "$results/rounds/floor-start-$r.json")
      per_round+=" $(ratio "$a" "$b")/$(ratio "$a" "$c")"
    done
    echo "  per round, crius/containerd / crius/floor:$per_round"
  fi
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$results/summary.txt"
