#!/usr/bin/env bash
# The floor for RunPodSandbox: what starting a pod's network needs at the
# least, with no runtime in between. Each iteration times
#   ip netns add <ns>
#   CNI ADD of the loopback plugin (both runtimes attach "lo" this way)
#   CNI ADD of every plugin of the conflist in order (bridge runs host-local
#     itself), each given the previous plugin's result, as libcni does
# and then, separately, the teardown: DEL in reverse order, ip netns del.
# Plugins run directly with the CNI_* environment and the conflist's plugin
# configs on stdin, exactly what a runtime would hand them.
#
# By default all N pods are started, then all are torn down, the way
# crius_pod_bench's phases run: each start then sees the pods before it
# still present (veths on the bridge, one masquerade chain each), which
# slows the bridge plugin's iptables work as N grows. --interleaved tears
# each pod down before starting the next (one pod present at a time).
#
# usage: floor_pod.sh --conflist FILE [--iterations N] [--warmup W]
#                     [--interleaved] [--cni-path DIR] [--json OUT]
# Needs root, jq (only to split the conflist, outside the timed part) and
# bash >= 5 (EPOCHREALTIME: timing without forking `date`).
#
# Sourced (bench/floor_container.sh does), it only defines the functions:
# floor_load_conflist, start_pod, stop_pod, ms_since, stats.

# Each plugin's config as the runtime hands it over: the plugin's own object
# plus the list's name and cniVersion. prevResult is appended per call.
floor_load_conflist() {  # conflist
  net_name=$(jq -r .name "$1")
  mapfile -t plugin_types < <(jq -r '.plugins[].type' "$1")
  mapfile -t plugin_confs < <(jq -c '. as $l | .plugins[] | . + {name: $l.name, cniVersion: $l.cniVersion}' "$1")
}
lo_conf='{"cniVersion":"0.3.1","name":"cni-loopback","type":"loopback"}'
cni_path=${cni_path:-/usr/lib/cni}

declare -A live=()     # namespaces started and not yet torn down
declare -A results=()  # "<ns> <plugin index>" -> that plugin's ADD result

# Config with prevResult spliced in before the closing brace; plain bash so
# the timed part forks nothing but ip and the plugins.
with_prev() {  # conf prev
  if [[ -z $2 ]]; then
    printf '%s' "$1"
  else
    printf '%s,"prevResult":%s}' "${1%\}}" "$2"
  fi
}

cni() {  # command type netns ifname container_id config; prints the plugin's stdout
  CNI_COMMAND=$1 CNI_CONTAINERID=$5 CNI_NETNS=$3 CNI_IFNAME=$4 CNI_PATH=$cni_path \
    CNI_ARGS="IgnoreUnknown=1;K8S_POD_NAMESPACE=floor;K8S_POD_NAME=$5;K8S_POD_INFRA_CONTAINER_ID=$5" \
    "$cni_path/$2" <<<"$6"
}

start_pod() {  # name
  local ns=$1 path=/run/netns/$1 prev="" i out
  ip netns add "$ns"
  live[$ns]=1
  cni ADD loopback "$path" lo "$ns" "$lo_conf" >/dev/null
  for i in "${!plugin_confs[@]}"; do
    out=$(cni ADD "${plugin_types[$i]}" "$path" eth0 "$ns" "$(with_prev "${plugin_confs[$i]}" "$prev")")
    results["$ns $i"]=$out
    prev=$out
  done
}

stop_pod() {  # name
  local ns=$1 path=/run/netns/$1 i prev
  for ((i = ${#plugin_confs[@]} - 1; i >= 0; i--)); do
    prev=${results["$ns $i"]:-}
    cni DEL "${plugin_types[$i]}" "$path" eth0 "$ns" "$(with_prev "${plugin_confs[$i]}" "$prev")" >/dev/null
    unset 'results["$ns $i"]'
  done
  cni DEL loopback "$path" lo "$ns" "$lo_conf" >/dev/null
  ip netns del "$ns"
  unset 'live[$ns]'
}

ms_since() {  # start_us end_us
  printf '%d.%03d' $((($2 - $1) / 1000)) $((($2 - $1) % 1000))
}

# Nearest-rank percentiles, as crius_pod_bench computes them.
stats() {
  printf '%s\n' "$@" | sort -n | awk '
    { v[NR] = $1; sum += $1 }
    function pct(p,  r) { r = int((p / 100) * NR); if (r < (p / 100) * NR) r++; if (r < 1) r = 1; return v[r] }
    END { printf "{\"n\":%d,\"p50_ms\":%.3f,\"p90_ms\":%.3f,\"p99_ms\":%.3f,\"mean_ms\":%.3f,\"min_ms\":%.3f,\"max_ms\":%.3f",
                 NR, pct(50), pct(90), pct(99), sum / NR, v[1], v[NR] }'
  # The samples in the order they were taken, as crius_pod_bench lists them.
  printf ',"samples_ms":[%s]}' "$(IFS=,; echo "$*")"
}

floor_pod_cleanup() {
  # Pods an interrupted run left: DEL accepts what never happened.
  local ns
  for ns in "${!live[@]}"; do
    stop_pod "$ns" 2>/dev/null || ip netns del "$ns" 2>/dev/null || true
  done
}

floor_pod_main() {
  conflist=""
  iterations=100
  warmup=3
  json_out=""
  interleaved=0
  while [[ $# -gt 0 ]]; do
    case $1 in
      --conflist) conflist=$2; shift 2 ;;
      --iterations) iterations=$2; shift 2 ;;
      --warmup) warmup=$2; shift 2 ;;
      --cni-path) cni_path=$2; shift 2 ;;
      --json) json_out=$2; shift 2 ;;
      --interleaved) interleaved=1; shift ;;
      *) echo "unknown argument $1" >&2; exit 2 ;;
    esac
  done
  [[ -n $conflist ]] || { echo "--conflist is required" >&2; exit 2; }

  floor_load_conflist "$conflist"
  tag="floorbench-$$"
  trap floor_pod_cleanup EXIT
  trap 'exit 130' INT TERM

  declare -a start_ms=() stop_ms=()
  for ((n = 0; n < warmup; n++)); do
    start_pod "$tag-w$n"
    stop_pod "$tag-w$n"
  done
  if ((interleaved)); then
    for ((n = 0; n < iterations; n++)); do
      t0=${EPOCHREALTIME/./}
      start_pod "$tag-$n"
      t1=${EPOCHREALTIME/./}
      stop_pod "$tag-$n"
      t2=${EPOCHREALTIME/./}
      start_ms+=("$(ms_since "$t0" "$t1")")
      stop_ms+=("$(ms_since "$t1" "$t2")")
    done
  else
    for ((n = 0; n < iterations; n++)); do
      t0=${EPOCHREALTIME/./}
      start_pod "$tag-$n"
      t1=${EPOCHREALTIME/./}
      start_ms+=("$(ms_since "$t0" "$t1")")
    done
    for ((n = 0; n < iterations; n++)); do
      t0=${EPOCHREALTIME/./}
      stop_pod "$tag-$n"
      t1=${EPOCHREALTIME/./}
      stop_ms+=("$(ms_since "$t0" "$t1")")
    done
  fi

  start_json=$(stats "${start_ms[@]}")
  stop_json=$(stats "${stop_ms[@]}")
  doc=$(printf '{"name":"floor","network":"%s","plugins":["loopback"%s],"iterations":%d,"mode":"%s","calls":{"start (netns add + CNI ADD)":%s,"teardown (CNI DEL + netns del)":%s}}' \
    "$net_name" "$(printf ',"%s"' "${plugin_types[@]}")" "$iterations" \
    "$( ((interleaved)) && echo interleaved || echo batch)" "$start_json" "$stop_json")

  printf 'floor: ip netns add + CNI ADD (loopback, %s), %d iterations, %s\n' "${plugin_types[*]}" \
    "$iterations" "$( ((interleaved)) && echo "one pod at a time" || echo "all started, then all torn down")"
  printf '%-34s %6s %9s %9s %9s %9s %9s\n' "step" "n" "p50 ms" "p90 ms" "p99 ms" "mean ms" "max ms"
  jq -r '.calls | to_entries[] | [.key, .value.n, .value.p50_ms, .value.p90_ms, .value.p99_ms, .value.mean_ms, .value.max_ms] | @tsv' <<<"$doc" |
    while IFS=$'\t' read -r k n a b c d e; do
      printf '%-34s %6d %9.2f %9.2f %9.2f %9.2f %9.2f\n' "$k" "$n" "$a" "$b" "$c" "$d" "$e"
    done
  if [[ -n $json_out ]]; then
    jq . <<<"$doc" >"$json_out"
  fi
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  set -euo pipefail
  floor_pod_main "$@"
fi
