#!/usr/bin/env bash
# The pod sandbox benchmark, side by side: criusd, containerd's CRI plugin
# and the floor (bench/floor_pod.sh), on the same CNI plugins, in one run.
#
# It builds nothing: give it a Release criusd and crius_pod_bench. It starts
# criusd and containerd on a fresh temp tree (own roots, states, sockets, CNI
# conf dirs, bridges and subnets), runs crius_pod_bench against each and the
# floor script in alternating rounds, merges the rounds, prints each table
# and the ratios, then stops both daemons by PID and removes everything it
# made, also when a step fails. With --out, the merged and per-round JSON
# and both daemons' logs are kept.
#
# usage: run_pod_bench.sh --criusd PATH --pod-bench PATH [options]
#   --pods N              pods per lifecycle phase (default 100)
#   --parallel P          callers in the parallel phase (default 8)
#   --list-pods L         pods present for the ListPodSandbox test (default 1000)
#   --list-calls K        ListPodSandbox calls timed per variant (default 50)
#   --list-stopped        stop the list pods before listing (less memory for
#                         containerd's 1,000 shims)
#   --floor-iterations N  (default 100)
#   --rounds R            split the pods and floor iterations into R rounds in
#                         which floor, crius and containerd take turns
#                         (default 5)
#   --state-fs tmpfs|disk where both daemons' volatile state dirs live: a tmpfs
#                         mounted in the temp tree, as /run is on a real node
#                         (default), or the temp tree's own filesystem
#   --criusd-log-level L  (default info; debug logs every CNI exec)
#   --skip-containerd, --skip-floor, --skip-crius
#   --pod-steps PATH      also run crius_pod_steps (Create's steps timed one by
#                         one) on crius's network
#   --out DIR             keep results (JSON, daemon logs) there
# Needs root, containerd (apt-get install containerd), runc, the CNI plugins
# in /usr/lib/cni, iproute2, iptables, jq, gcc (for the pause image).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench_name=run_pod_bench
# log, stop_pid, wait_for_socket, write_conflist, clean_iptables,
# start_containerd and the clean-up helpers.
# shellcheck source=bench/lib_containerd.sh
source "$here/lib_containerd.sh"
criusd=""
pod_bench=""
pods=100
parallel=8
list_pods=1000
list_stopped=""
list_calls=50
floor_iterations=100
rounds=5
state_fs=tmpfs
criusd_log_level=info
skip_containerd=0
skip_floor=0
skip_crius=0
out=""
pod_steps=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --criusd) criusd=$(realpath "$2"); shift 2 ;;
    --pod-bench) pod_bench=$(realpath "$2"); shift 2 ;;
    --pods) pods=$2; shift 2 ;;
    --parallel) parallel=$2; shift 2 ;;
    --list-pods) list_pods=$2; shift 2 ;;
    --list-calls) list_calls=$2; shift 2 ;;
    --list-stopped) list_stopped=--list-stopped; shift ;;
    --floor-iterations) floor_iterations=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --state-fs) state_fs=$2; shift 2 ;;
    --criusd-log-level) criusd_log_level=$2; shift 2 ;;
    --skip-containerd) skip_containerd=1; shift ;;
    --skip-floor) skip_floor=1; shift ;;
    --skip-crius) skip_crius=1; shift ;;
    --pod-steps) pod_steps=$(realpath "$2"); shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $criusd && -x $pod_bench ]] || {
  echo "usage: $0 --criusd PATH --pod-bench PATH [options] (see the header)" >&2
  exit 2
}
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }
[[ $state_fs == tmpfs || $state_fs == disk ]] || { echo "--state-fs is tmpfs or disk" >&2; exit 2; }
for tool in containerd ctr runc jq ip iptables-save gcc; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done

# Names and subnets of this benchmark only, apart from the deploy default
# (10.88.0.0/16, crius0) and from each other.
crius_net=crbench crius_bridge=crbench0 crius_subnet=10.88.180.0/24
ctr_net=ctrbench ctr_bridge=ctrbench0 ctr_subnet=10.88.181.0/24
pause_image=localhost/crius-bench/pause:1.0
run_id=$(printf '%08x' $((RANDOM * 65536 + RANDOM)))

T=$(mktemp -d /tmp/crius-podbench-XXXXXX)
criusd_pid=""
results=${out:-$T/results}
mkdir -p "$results" "$T/crius" "$T/ctr" "$T/logs" "$T/run"

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  # Pods first, while the daemons still answer: a clean run left none.
  if [[ -n $criusd_pid ]] && kill -0 "$criusd_pid" 2>/dev/null; then
    "$pod_bench" --endpoint "unix://$T/crius/crius.sock" --cleanup "$run_id" || true
  fi
  if [[ -n $ctr_pid ]] && kill -0 "$ctr_pid" 2>/dev/null; then
    "$pod_bench" --endpoint "unix://$T/ctr/containerd.sock" --cleanup "$run_id" || true
  fi
  stop_pid "$criusd_pid" criusd
  stop_pid "$ctr_pid" containerd
  clean_cri_run
  if [[ -n $out ]]; then
    cp "$T/crius/criusd.log" "$T/ctr/containerd.log" "$results/" 2>/dev/null
  fi
  rm -rf "$T"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

start_criusd() {
  start_bench_criusd "$T/crius" "$T/run/crius"
  log "criusd $criusd_pid on unix://$T/crius/crius.sock"
}

# One pod through its lifecycle: proves RunPodSandbox works (and creates the
# bridge) before anything is timed.
smoke() {  # endpoint name
  "$pod_bench" --endpoint "$1" --name "$2" --pods 1 --parallel 1 --list-pods 0 \
    --run-id "$run_id" --log-dir "$T/logs" >/dev/null
}

# One round of one runner; the lifecycle phases only (the list test runs once
# at the end).
run_round() {  # runner round
  local r=$2 f=$results/rounds/$1-$2
  case $1 in
    floor)
      "$here/floor_pod.sh" --conflist "$T/crius/net.d/10-$crius_net.conflist" \
        --iterations "$floor_per_round" --warmup 1 --json "$f.json" >"$f.txt"
      ;;
    crius | containerd)
      "$pod_bench" --endpoint "$(endpoint_of "$1")" --name "$1" --pods "$pods_per_round" \
        --parallel "$parallel" --list-pods 0 --run-id "$run_id" --tag "r$r-" \
        --log-dir "$T/logs" --json "$f.json" >"$f.txt"
      ;;
  esac
}

endpoint_of() {
  case $1 in
    crius) echo "unix://$T/crius/crius.sock" ;;
    containerd) echo "unix://$T/ctr/containerd.sock" ;;
  esac
}

log "temp tree $T, run $run_id, results in $results"
# Volatile state (criusd's pod dirs and pins, containerd's task state) sits
# under $T/run; on a real node that is /run, a tmpfs.
if [[ $state_fs == tmpfs ]]; then
  mount -t tmpfs -o size=2g,mode=0755 crius-bench-run "$T/run"
fi
log "state dirs on $(stat -f -c %T "$T/run"), roots on $(stat -f -c %T "$T")"
log "machine: $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
# crius's network; the floor runs on the same file.
mkdir -p "$T/crius/net.d" "$results/rounds"
write_conflist "$T/crius/net.d/10-$crius_net.conflist" "$crius_net" "$crius_bridge" "$crius_subnet" \
  "$T/crius/ipam"
runners=()
((skip_floor)) || runners+=(floor)
((skip_crius)) || { start_criusd; runners+=(crius); }
((skip_containerd)) || { start_containerd; runners+=(containerd); }
((skip_crius)) || smoke "$(endpoint_of crius)" crius
((skip_containerd)) || smoke "$(endpoint_of containerd)" containerd

# The runners take turns, in a rotating order, so that a burst of load from
# elsewhere on the machine falls on all of them alike; their samples are
# merged afterwards. Ratios are therefore taken in the same run and, round
# by round, in the same minute.
pods_per_round=$(((pods + rounds - 1) / rounds))
floor_per_round=$(((floor_iterations + rounds - 1) / rounds))
for ((r = 1; r <= rounds; r++)); do
  n=${#runners[@]}
  for ((k = 0; k < n; k++)); do
    who=${runners[$(((k + r - 1) % n))]}
    log "round $r/$rounds: $who"
    run_round "$who" "$r"
  done
done
if ((list_pods > 0)); then
  for who in crius containerd; do
    [[ " ${runners[*]} " == *" $who "* ]] || continue
    log "list test: $who with $list_pods host-network pods"
    "$pod_bench" --endpoint "$(endpoint_of "$who")" --name "$who" --no-lifecycle \
      --list-pods "$list_pods" --list-calls "$list_calls" $list_stopped --parallel "$parallel" \
      --run-id "$run_id" --log-dir "$T/logs" --json "$results/rounds/$who-list.json" \
      >"$results/rounds/$who-list.txt"
  done
fi
if [[ -n $pod_steps ]]; then
  log "crius_pod_steps: Create's steps one by one, $floor_iterations iterations"
  mkdir -p "$T/run/steps"
  "$pod_steps" --conflist "$T/crius/net.d/10-$crius_net.conflist" --iterations "$floor_iterations" \
    --state-dir "$T/run/steps" >"$results/crius-steps.txt"
fi

# Merging: every call's samples from all rounds, summarised again with the
# same nearest-rank percentiles crius_pod_bench uses.
jq_lib=$bench_jq_lib
merge_runtime() {  # name
  local files=("$results"/rounds/"$1"-[0-9]*.json) list=$results/rounds/$1-list.json
  [[ -f ${files[0]} ]] || return 0
  jq -s "$jq_lib"'
    . as $docs | $docs[0] as $d
    | {name: $d.name, runtime_name: $d.runtime_name, runtime_version: $d.runtime_version,
       runtime_api_version: $d.runtime_api_version, rounds: ($docs | length),
       phases: ({sequential: "sequential", parallel: "parallel"} | map_values(. as $p | {
         pods: ([$docs[].phases[$p].pods] | add),
         concurrency: $d.phases[$p].concurrency,
         calls: merge_calls($docs; .phases[$p].calls),
         wall_seconds: (reduce ($docs[].phases[$p].wall | to_entries[]) as $e
                          ({}; .[$e.key] += $e.value.seconds))}))}
    ' "${files[@]}" >"$results/$1.json"
  if [[ -f $list ]]; then
    jq --slurpfile l "$list" '.phases.list = $l[0].phases.list' "$results/$1.json" >"$results/$1.tmp"
    mv "$results/$1.tmp" "$results/$1.json"
  fi
}
merge_floor() {
  local files=("$results"/rounds/floor-[0-9]*.json)
  [[ -f ${files[0]} ]] || return 0
  jq -s "$jq_lib"'. as $docs | {name: "floor", mode: $docs[0].mode, plugins: $docs[0].plugins,
      rounds: length, calls: merge_calls($docs; .calls)}' "${files[@]}" >"$results/floor.json"
}
merge_runtime crius
merge_runtime containerd
merge_floor

print_runtime() {  # name
  local f=$results/$1.json
  [[ -f $f ]] || return 0
  jq -r '"\(.name): \(.runtime_name) \(.runtime_version), \(.rounds) rounds merged"' "$f"
  printf '%-16s %-28s %6s %9s %9s %9s %9s %9s\n' phase call n "p50 ms" "p90 ms" "p99 ms" "mean ms" "max ms"
  jq -r '.phases | to_entries[] | .key as $p
    | (if .value.concurrency then "\($p) x\(.value.concurrency)" else "\($p) @\(.value.pods)" end) as $row
    | .value.calls | to_entries[]
    | [$row, .key, .value.n, .value.p50_ms, .value.p90_ms, .value.p99_ms, .value.mean_ms, .value.max_ms]
    | @tsv' "$f" |
    while IFS=$'\t' read -r a b c d e g h i; do
      printf '%-16s %-28s %6d %9.2f %9.2f %9.2f %9.2f %9.2f\n' "$a" "$b" "$c" "$d" "$e" "$g" "$h" "$i"
    done
  echo
}
print_runtime crius
print_runtime containerd
if [[ -f $results/floor.json ]]; then
  jq -r '"floor: ip netns add + CNI ADD (\(.plugins | join(", "))), \(.mode), \(.rounds) rounds merged"' \
    "$results/floor.json"
  jq -r '.calls | to_entries[] | [.key, .value.n, .value.p50_ms, .value.p90_ms, .value.p99_ms] | @tsv' \
    "$results/floor.json" |
    while IFS=$'\t' read -r a b c d e; do
      printf '%-34s %6d  p50 %8.2f  p90 %8.2f  p99 %8.2f ms\n' "$a" "$b" "$c" "$d" "$e"
    done
  echo
fi
[[ -f $results/crius-steps.txt ]] && { cat "$results/crius-steps.txt"; echo; }

# The comparison: RunPodSandbox p50 (the issue's target: crius at most half
# of containerd's), and the other calls' ratios for context.
p50() {  # file phase call
  [[ -f $1 ]] || { echo null; return; }
  jq -r --arg p "$2" --arg c "$3" '.phases[$p].calls[$c].p50_ms // null' "$1"
}
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b == 0) print "n/a"; else printf "%.3f", a / b }'; }
floor_p50=null
[[ -f $results/floor.json ]] && floor_p50=$(jq -r '.calls["start (netns add + CNI ADD)"].p50_ms' "$results/floor.json")
echo "comparison (p50 ms; ratios crius/containerd and crius/floor)"
printf '%-12s %-22s %10s %10s %10s %8s %8s\n' phase call crius containerd floor c/ctr c/floor
for phase in sequential parallel; do
  for call in RunPodSandbox PodSandboxStatus StopPodSandbox RemovePodSandbox; do
    a=$(p50 "$results/crius.json" $phase $call)
    b=$(p50 "$results/containerd.json" $phase $call)
    f=-
    fr=-
    if [[ $call == RunPodSandbox ]]; then f=$floor_p50; fr=$(ratio "$a" "$f"); fi
    printf '%-12s %-22s %10s %10s %10s %8s %8s\n' $phase $call "$a" "$b" "$f" "$(ratio "$a" "$b")" "$fr"
  done
done
for call in "ListPodSandbox" "ListPodSandbox(label)"; do
  a=$(p50 "$results/crius.json" list "$call")
  b=$(p50 "$results/containerd.json" list "$call")
  printf '%-12s %-22s %10s %10s %10s %8s %8s\n' "list@$list_pods" "$call" "$a" "$b" - "$(ratio "$a" "$b")" -
done
# Round by round, the spread of the headline ratio.
if [[ -f $results/crius.json && -f $results/containerd.json ]]; then
  per_round=""
  for ((r = 1; r <= rounds; r++)); do
    a=$(jq -r '.phases.sequential.calls.RunPodSandbox.p50_ms' "$results/rounds/crius-$r.json")
    b=$(jq -r '.phases.sequential.calls.RunPodSandbox.p50_ms' "$results/rounds/containerd-$r.json")
    per_round+=" $(ratio "$a" "$b")"
  done
  echo "RunPodSandbox p50 crius/containerd, sequential, per round:$per_round"
fi
a=$(p50 "$results/crius.json" sequential RunPodSandbox)
b=$(p50 "$results/containerd.json" sequential RunPodSandbox)
r=$(ratio "$a" "$b")
if [[ $r != n/a ]]; then
  if awk -v r="$r" 'BEGIN { exit !(r <= 0.5) }'; then verdict=met; else verdict=missed; fi
  echo "target (crius RunPodSandbox p50 <= 0.5 x containerd's, sequential): $r -> $verdict"
fi
