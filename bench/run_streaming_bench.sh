#!/usr/bin/env bash
# The streaming benchmark, side by side in one run: criusd and containerd's
# CRI plugin, same busybox image (pulled by both from docker-registry on
# loopback, served by crius_container_bench serve), same runc and CNI
# plugins, one pod on a bridge per runtime. The client is the same for both:
# test/interop's crius-stream-client (Go, client-go's spdystream) for the
# streams and test/interop/cri_driver.py for the CRI calls.
#
#   exec: in R rounds, the runtimes taking turns in a rotating order, N/R x
#     (Exec RPC + `true` through the Go client over SPDY, one round trip as
#     kubectl exec makes it) and N/R x ExecSync `true`, alternating; ms.
#   port-forward: T transfers per runtime, alternating, of B bytes (default
#     1 GiB) from the client through a PortForward session over SPDY to
#     `nc -ll -p 5000 -e sh -c 'head -c B >/dev/null; echo done'` in the pod;
#     timed from the upgrade until the listener's "done" came back, MiB/s.
#
# usage: run_streaming_bench.sh --criusd PATH --pause PATH --bench PATH --client PATH [options]
#   --bench PATH     crius_container_bench (image server)
#   --client PATH    crius-stream-client (build/test/interop/)
#   --n N            exec round trips per kind per runtime (default 200)
#   --rounds R       (default 5)
#   --bytes B        per port-forward transfer (default 1073741824)
#   --transfers T    per runtime (default 3)
#   --skip-crius, --skip-containerd
#   --out DIR        keep results (JSON, logs) there
# Needs root, containerd, runc, conmon, docker-registry, the CNI plugins in
# /usr/lib/cni, iproute2, iptables, jq, gcc, python3-grpcio, python3-protobuf.
# A benchmark run by hand, never a test.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
bench_name=run_streaming_bench
# shellcheck source=bench/lib_containerd.sh
source "$here/lib_containerd.sh"
driver="$here/../test/interop/cri_driver.py"

criusd="" pause="" bench="" client=""
n=200 rounds=5 bytes=1073741824 transfers=3 skip_crius=0 skip_containerd=0 out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --criusd) criusd=$(realpath "$2"); shift 2 ;;
    --pause) pause=$(realpath "$2"); shift 2 ;;
    --bench) bench=$(realpath "$2"); shift 2 ;;
    --client) client=$(realpath "$2"); shift 2 ;;
    --n) n=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --bytes) bytes=$2; shift 2 ;;
    --transfers) transfers=$2; shift 2 ;;
    --skip-crius) skip_crius=1; shift ;;
    --skip-containerd) skip_containerd=1; shift ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
usable=1
[[ -x $bench && -x $client ]] || usable=0
((skip_crius)) || [[ -x $criusd && -x $pause ]] || usable=0
((usable)) || {
  echo "usage: $0 --criusd PATH --pause PATH --bench PATH --client PATH [options] (see the header)" >&2
  exit 2
}
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }
for tool in containerd ctr runc conmon jq ip iptables-save gcc docker-registry; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done

# Names and subnets of this benchmark only.
crius_net=crsbench crius_bridge=crsbench0 crius_subnet=10.88.188.0/24
ctr_net=ctrsbench ctr_bridge=ctrsbench0 ctr_subnet=10.88.189.0/24
pause_image=localhost/crius-bench/pause:1.0
run_id=$(printf '%08x' $((RANDOM * 65536 + RANDOM)))
T=$(mktemp -d /tmp/crsb-XXXXXX)
criusd_pid="" serve_pid=""
results=${out:-$T/results}
mkdir -p "$results" "$T/crius" "$T/ctr" "$T/logs" "$T/run"
declare -A pod ctr

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  local who
  for who in "${!pod[@]}"; do cri "$who" rmp "${pod[$who]}" >/dev/null 2>&1; done
  stop_pid "$criusd_pid" criusd
  stop_pid "$ctr_pid" containerd
  clean_cri_run
  exec 9>&- 2>/dev/null
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
cri() { local who=$1; shift; /usr/bin/python3 "$driver" --endpoint "$(endpoint_of "$who")" "$@"; }

mkfifo "$T/serve.in"
"$bench" serve --info "$T/info.json" --rootfs-tar "$T/rootfs.tar" <"$T/serve.in" \
  2>"$results/serve.log" &
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

runtimes=()
if ((!skip_crius)); then
  mkdir -p "$T/crius/net.d"
  write_conflist "$T/crius/net.d/10-$crius_net.conflist" "$crius_net" "$crius_bridge" \
    "$crius_subnet" "$T/crius/ipam"
  start_bench_criusd "$T/crius" "$T/run/c" "pod:
  infra_path: $pause
"
  runtimes+=(crius)
fi
((skip_containerd)) || { start_containerd; runtimes+=(containerd); }

listener="head -c $bytes >/dev/null; echo done"
for who in "${runtimes[@]}"; do
  cri "$who" pull "$image" >/dev/null
  pod[$who]=$(cri "$who" runp "stream-bench-$run_id" --log-dir "$T/logs")
  ctr[$who]=$(cri "$who" run "${pod[$who]}" sleeper "$image" --log-dir "$T/logs" -- sleep 86400)
  cri "$who" run "${pod[$who]}" listener "$image" --log-dir "$T/logs" -- \
    nc -ll -p 5000 -e sh -c "$listener" >/dev/null
  # Warm-up, and proof that both paths work before anything is timed.
  cri "$who" bench-exec "${ctr[$who]}" --client "$client" --n 3 --json "$T/warm-$who.json"
  log "$who: pod ${pod[$who]}, warm"
done

per_round=$(((n + rounds - 1) / rounds))
for ((r = 0; r < rounds; r++)); do
  for ((k = 0; k < ${#runtimes[@]}; k++)); do
    who=${runtimes[$(((k + r) % ${#runtimes[@]}))]}
    cri "$who" bench-exec "${ctr[$who]}" --client "$client" --n "$per_round" \
      --json "$results/exec-$who-$r.json"
  done
  log "exec round $((r + 1))/$rounds done"
done

pf_json=()
for ((t = 0; t < transfers; t++)); do
  for ((k = 0; k < ${#runtimes[@]}; k++)); do
    who=${runtimes[$(((k + t) % ${#runtimes[@]}))]}
    url=$(cri "$who" portforward-url "${pod[$who]}" 5000)
    got=$("$client" -mode portforward -port 5000 -send-bytes "$bytes" -stats -timeout 30m \
      -url "$url" 2>"$T/pf.err") || { log "$who: port-forward failed"; cat "$T/pf.err" >&2; exit 1; }
    [[ $got == "done" ]] || { log "$who: listener answered '$got'"; exit 1; }
    stats=$(grep '^{' "$T/pf.err")
    pf_json+=("$(jq -c --arg who "$who" '. + {runtime: $who}' <<<"$stats")")
    log "$who: transfer $((t + 1)): $(jq -r '.sent / 1048576 / .seconds | floor' <<<"$stats") MiB/s"
  done
done
printf '%s\n' "${pf_json[@]}" >"$results/portforward.jsonl"

# Merge the rounds and print the comparison.
# shellcheck disable=SC2016  # jq's own variables
jq -n --slurpfile pf "$results/portforward.jsonl" --argjson bytes "$bytes" \
  "$bench_jq_lib"'
  def mibs: .sent / 1048576 / .seconds;
  [inputs | {file: input_filename, doc: .}] as $docs
  | ($docs | map(.file | capture("exec-(?<w>[a-z]+)-").w) | unique) as $who
  | reduce $who[] as $w ({};
      .[$w] = {
        streaming_exec_true: ([$docs[] | select(.file | test("exec-" + $w + "-")) |
                               .doc.streaming_exec_true.samples_ms] | add | summary | del(.samples_ms)),
        execsync_true: ([$docs[] | select(.file | test("exec-" + $w + "-")) |
                         .doc.execsync_true.samples_ms] | add | summary | del(.samples_ms)),
        portforward_mib_s: ([$pf[] | select(.runtime == $w) | mibs] | sort
                            | {n: length, median: .[(length - 1) / 2 | floor], min: .[0], max: .[-1]})
      })
  | . + {transfer_bytes: $bytes}' "$results"/exec-*.json | tee "$results/summary.json"
if [[ ${#runtimes[@]} -eq 2 ]]; then
  jq -r '"crius/containerd: streaming exec p50 \(.crius.streaming_exec_true.p50_ms / .containerd.streaming_exec_true.p50_ms * 100 | round / 100), ExecSync p50 \(.crius.execsync_true.p50_ms / .containerd.execsync_true.p50_ms * 100 | round / 100), port-forward MiB/s \(.crius.portforward_mib_s.median / .containerd.portforward_mib_s.median * 100 | round / 100)"' \
    "$results/summary.json"
fi
