#!/usr/bin/env bash
# The stats benchmark, side by side in one run: ListContainerStats and
# ListPodSandboxStats of criusd and of containerd's CRI plugin, each with N
# running pods (one container each, on a CNI bridge, in pod cgroups), the
# same runc, CNI plugins and busybox image.
#
# crius_container_bench serves the image and starts the pods on both
# daemons (untimed); crius_stats_bench then times each call type (warm-up,
# then --calls back to back) and reads the CPU time that the runtime spent
# meanwhile: criusd alone; containerd plus its shims (which gather the task
# metrics for it). The daemons take turns over --rounds rounds in a rotating
# order and the rounds are merged. Everything is removed at the end, also
# on failure; daemons and leftovers are ended by PID.
#
# usage: run_stats_bench.sh --criusd PATH --pause PATH --bench PATH --stats-bench PATH [options]
#   --bench PATH        crius_container_bench   --stats-bench PATH  crius_stats_bench
#   --pause PATH        crius-pause (criusd's pod.infra_path)
#   --pods N            running pods per runtime (default 100)
#   --calls N           timed calls per call type per round (default 100)
#   --rounds R          (default 3)
#   --skip-containerd
#   --out DIR           keep results (JSON, logs) there
# Needs root, containerd, runc, conmon, docker-registry, the CNI plugins in
# /usr/lib/cni, iproute2, iptables, jq, gcc.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench_name=run_stats_bench
# shellcheck source=bench/lib_containerd.sh
source "$here/lib_containerd.sh"

criusd="" pause="" bench="" stats_bench="" pods=100 calls=100 rounds=3 skip_containerd=0 out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --criusd) criusd=$(realpath "$2"); shift 2 ;;
    --pause) pause=$(realpath "$2"); shift 2 ;;
    --bench) bench=$(realpath "$2"); shift 2 ;;
    --stats-bench) stats_bench=$(realpath "$2"); shift 2 ;;
    --pods) pods=$2; shift 2 ;;
    --calls) calls=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --skip-containerd) skip_containerd=1; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $criusd && -x $pause && -x $bench && -x $stats_bench ]] || {
  echo "usage: $0 --criusd PATH --pause PATH --bench PATH --stats-bench PATH [options] (see the header)" >&2
  exit 2
}
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }
for tool in containerd ctr runc conmon jq ip iptables-save gcc docker-registry; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done

# Names and subnets of this benchmark only (pod bench .180/.181, container
# bench .182/.183).
crius_net=crsbench crius_bridge=crsbench0 crius_subnet=10.88.184.0/24
ctr_net=ctrsbench ctr_bridge=ctrsbench0 ctr_subnet=10.88.185.0/24
pause_image=localhost/crius-bench/pause:1.0
run_id=$(printf '%08x' $((RANDOM * 65536 + RANDOM)))

T=$(mktemp -d /tmp/crsb-XXXXXX)
criusd_pid="" ctr_pid="" serve_pid=""
results=${out:-$T/results}
mkdir -p "$results/rounds" "$T/crius" "$T/ctr" "$T/logs" "$T/run"

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  if [[ -n $criusd_pid ]] && kill -0 "$criusd_pid" 2>/dev/null; then
    "$bench" cleanup --endpoint "unix://$T/crius/crius.sock" --run-id "$run_id"
  fi
  if [[ -n $ctr_pid ]] && kill -0 "$ctr_pid" 2>/dev/null; then
    "$bench" cleanup --endpoint "unix://$T/ctr/containerd.sock" --run-id "$run_id"
  fi
  stop_pid "$criusd_pid" criusd
  stop_pid "$ctr_pid" containerd
  clean_cri_run
  exec 9>&- 2>/dev/null
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -n $serve_pid ]] && kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  stop_pid "$serve_pid" crius_container_bench
  [[ -n $out ]] && cp "$T/crius/criusd.log" "$T/ctr/containerd.log" "$results/" 2>/dev/null
  rm -rf "$T"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

endpoint_of() {
  case $1 in
    crius) echo "unix://$T/crius/crius.sock" ;;
    containerd) echo "unix://$T/ctr/containerd.sock" ;;
  esac
}

# The PIDs whose CPU a runtime's stats calls cost: criusd; containerd and
# the shims of this tree (their argv names its socket).
runtime_pids() {
  case $1 in
    crius) echo "$criusd_pid" ;;
    containerd)
      echo "$ctr_pid"
      local p
      for p in /proc/[0-9]*; do
        [[ $(cat "$p/comm" 2>/dev/null) == containerd-shim* ]] || continue
        tr '\0' ' ' <"$p/cmdline" 2>/dev/null | grep -q "$T/ctr/" && echo "${p#/proc/}"
      done
      ;;
  esac
}

log "temp tree $T, run $run_id, results in $results"
mount -t tmpfs -o size=2g,mode=0755 crius-bench-run "$T/run"
log "machine: $(nproc) cores, kernel $(uname -r), load $(cut -d' ' -f1-3 /proc/loadavg)"
mkdir -p "$T/crius/net.d"
write_conflist "$T/crius/net.d/10-$crius_net.conflist" "$crius_net" "$crius_bridge" "$crius_subnet" \
  "$T/crius/ipam"
mkfifo "$T/serve.in"
"$bench" serve --info "$T/info.json" --rootfs-tar "$T/rootfs.tar" <"$T/serve.in" 2>"$results/serve.log" &
serve_pid=$!
exec 9>"$T/serve.in"
for ((i = 0; i < 600; i++)); do
  [[ -f $T/info.json ]] && break
  kill -0 "$serve_pid" 2>/dev/null || { log "serve failed"; cat "$results/serve.log" >&2; exit 1; }
  sleep 0.1
done
image=$(jq -r .image "$T/info.json")
host=$(jq -r .host "$T/info.json")
ctr_extra_toml="  [plugins.\"io.containerd.grpc.v1.cri\".registry.mirrors.\"$host\"]
    endpoint = [\"$(jq -r .registry "$T/info.json")\"]"

daemons=()
start_bench_criusd "$T/crius" "$T/run/c" "pod:
  infra_path: $pause
"
daemons+=(crius)
((skip_containerd)) || { start_containerd; daemons+=(containerd); }
for who in "${daemons[@]}"; do
  "$bench" pull --endpoint "$(endpoint_of "$who")" --image "$image" >/dev/null
  log "$who: starting $pods pods"
  "$bench" start --endpoint "$(endpoint_of "$who")" --image "$image" --pods "$pods" \
    --state "$T/state-$who.jsonl" --run-id "$run_id" --tag "$who-" --log-dir "$T/logs" \
    --json "$results/$who-start.json" >/dev/null
done
sleep 5

for ((r = 1; r <= rounds; r++)); do
  n=${#daemons[@]}
  for ((k = 0; k < n; k++)); do
    who=${daemons[$(((k + r - 1) % n))]}
    pid_args=()
    for p in $(runtime_pids "$who"); do pid_args+=(--pid "$p"); done
    log "round $r/$rounds: $who (${#pid_args[@]} pid args, load $(cut -d' ' -f1 /proc/loadavg))"
    "$stats_bench" --endpoint "$(endpoint_of "$who")" "${pid_args[@]}" --calls "$calls" \
      --json "$results/rounds/$who-$r.json"
  done
done

merge() {  # runtime
  local files=("$results"/rounds/"$1"-[0-9]*.json)
  [[ -f ${files[0]} ]] || return 0
  jq -s "$bench_jq_lib"'. as $docs | {name: "'"$1"'", calls: merge_calls($docs; .calls_by_type),
      cpu_ms_per_call: (reduce ($docs[0].calls_by_type | keys_unsorted[]) as $k ({};
        .[$k] = ([$docs[] | .calls_by_type[$k].cpu_seconds_total] | add) * 1000 / ([$docs[] | .calls] | add))),
      items: ($docs[0].calls_by_type | map_values(.items))}' "${files[@]}" >"$results/$1.json"
}
for who in "${daemons[@]}"; do merge "$who"; done
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "null" || b == "null" || b == 0) print "n/a"; else printf "%.3f", a / b }'; }
v() { [[ -f $results/$1.json ]] && jq -r "$2 // null" "$results/$1.json" || echo null; }
{
  echo "run $run_id: $pods pods per runtime, $rounds rounds x $calls calls per call type"
  echo "crius $("$criusd" --version 2>/dev/null | head -1), $(containerd --version), $(runc --version | head -1)"
  echo
  printf '%-22s %-10s %6s %9s %9s %9s %12s\n' call runtime items "p50 ms" "p90 ms" "p99 ms" "cpu ms/call"
  for call in ListContainerStats ListPodSandboxStats; do
    for who in crius containerd; do
      printf '%-22s %-10s %6s %9s %9s %9s %12s\n' "$call" "$who" "$(v "$who" ".items[\"$call\"]")" \
        "$(v "$who" ".calls[\"$call\"].p50_ms")" "$(v "$who" ".calls[\"$call\"].p90_ms")" \
        "$(v "$who" ".calls[\"$call\"].p99_ms")" \
        "$(v "$who" ".cpu_ms_per_call[\"$call\"] | . * 1000 | round / 1000")"
    done
  done
  echo
  echo "targets (same run, crius/containerd, <= 0.5):"
  for call in ListContainerStats ListPodSandboxStats; do
    for stat in p50_ms p99_ms; do
      echo "  $call $stat: $(ratio "$(v crius ".calls[\"$call\"].$stat")" "$(v containerd ".calls[\"$call\"].$stat")")"
    done
    echo "  $call cpu/call: $(ratio "$(v crius ".cpu_ms_per_call[\"$call\"]")" "$(v containerd ".cpu_ms_per_call[\"$call\"]")")"
  done
  echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$results/summary.txt"
for who in "${daemons[@]}"; do
  "$bench" stop --endpoint "$(endpoint_of "$who")" --state "$T/state-$who.jsonl" --pods "$pods" >/dev/null
done
