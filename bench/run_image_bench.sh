#!/usr/bin/env bash
# The image pull benchmark, side by side in one run: criusd's PullImage,
# containerd's CRI PullImage and the floor (curl + tar), all pulling the
# same ~50 MiB, 5-layer image from the same docker-registry on loopback.
#
# crius_image_bench serve builds the image (busybox layer + 4 layers of
# 12 MiB random files, gzip) and keeps the registry up while this script
# runs the rounds. Every round gives each daemon a brand-new root (started,
# pulled once, stopped, root removed), so nothing is cached; only the
# PullImage call itself is timed, by crius_image_bench pull. The floor
# fetches manifest, config and the 5 layers with curl in parallel, each
# layer piped into its own tar -xz into a fresh dir.
#
# usage: run_image_bench.sh --criusd PATH --image-bench PATH [--rounds R]
#                           [--layers N] [--layer-mib M] [--out DIR]
# Needs root, containerd, docker-registry, curl, jq.
set -euo pipefail
bench_name=run_image_bench
# shellcheck source=bench/lib_containerd.sh (which sources lib_bench.sh)
source "$(dirname "$0")/lib_containerd.sh"

criusd=""
image_bench=""
rounds=3
layers=4
layer_mib=12
out=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --criusd) criusd=$(realpath "$2"); shift 2 ;;
    --image-bench) image_bench=$(realpath "$2"); shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --layers) layers=$2; shift 2 ;;
    --layer-mib) layer_mib=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $criusd && -x $image_bench ]] || {
  echo "usage: $0 --criusd PATH --image-bench PATH [--rounds R] (see the header)" >&2
  exit 2
}
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }
for tool in containerd curl jq tar; do
  command -v "$tool" >/dev/null || { echo "missing $tool" >&2; exit 2; }
done

T=$(mktemp -d /tmp/crius-imgbench-XXXXXX)
serve_pid=""
daemon_pid=""
mkdir -p "$T/results"

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  stop_pid "$daemon_pid" daemon
  # Closing the helper's stdin makes it stop the registry and exit; a
  # signal would end it before it could (so it is only the last resort).
  exec 9>&- 2>/dev/null
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -n $serve_pid ]] && kill -0 "$serve_pid" 2>/dev/null || break
    sleep 0.1
  done
  stop_pid "$serve_pid" crius_image_bench
  # Overlay mounts containerd may have left under the tree.
  umount_under "$T"
  if [[ -n $out ]]; then mkdir -p "$out" && cp -r "$T/results/." "$out/"; fi
  rm -rf "$T"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

now_ms() { date +%s%3N; }

# The registry, fed by a fifo held open on fd 9 until cleanup.
mkfifo "$T/serve.in"
"$image_bench" serve --info "$T/info.json" --layers "$layers" --layer-mib "$layer_mib" \
  <"$T/serve.in" 2>"$T/results/serve.log" &
serve_pid=$!
exec 9>"$T/serve.in"
for ((i = 0; i < 600; i++)); do
  [[ -f $T/info.json ]] && break
  kill -0 "$serve_pid" 2>/dev/null || { log "serve failed"; cat "$T/results/serve.log" >&2; exit 1; }
  sleep 0.1
done
[[ -f $T/info.json ]] || { log "serve did not start"; exit 1; }
cp "$T/info.json" "$T/results/"
image=$(jq -r .image "$T/info.json")
reg=$(jq -r .registry "$T/info.json")
host=$(jq -r .host "$T/info.json")
repo=$(jq -r .repo "$T/info.json")
mib=$(jq -r '.compressed_bytes / 1048576 | floor' "$T/info.json")
log "image $image, $mib MiB compressed, registry $reg"

run_crius() {  # round
  local d=$T/crius-$1 ms
  criusd_log_level=debug start_bench_criusd "$d" "$d/run"
  daemon_pid=$criusd_pid
  ms=$("$image_bench" pull --endpoint "unix://$d/crius.sock" --image "$image")
  stop_pid "$daemon_pid" criusd
  daemon_pid=""
  cp "$d/criusd.log" "$T/results/criusd-$1.log"
  rm -rf "$d"
  echo "$ms"
}

run_containerd() {  # round
  local d=$T/ctr-$1 ms
  mkdir -p "$d/net.d"
  {
    containerd_toml_head "$d" "$d/run"
    cat <<EOF2
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_selinux = false
  # criusd's default is 4 parallel layer downloads, containerd's 3: use 4
  # on both so the comparison is of the pull code, not of a setting.
  max_concurrent_downloads = 4
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = "/usr/lib/cni"
    conf_dir = "$d/net.d"
  [plugins."io.containerd.grpc.v1.cri".registry.mirrors."$host"]
    endpoint = ["$reg"]
EOF2
  } >"$d/config.toml"
  containerd --config "$d/config.toml" >"$d/containerd.log" 2>&1 &
  daemon_pid=$!
  wait_for_socket "$d/containerd.sock" "$daemon_pid" containerd
  ms=$("$image_bench" pull --endpoint "unix://$d/containerd.sock" --image "$image")
  stop_pid "$daemon_pid" containerd
  daemon_pid=""
  awk -v t="$d/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  cp "$d/containerd.log" "$T/results/containerd-$1.log"
  rm -rf "$d"
  echo "$ms"
}

# The floor: every blob fetched in parallel, each layer streamed into its
# own tar -xz (separate dirs, as an overlay snapshotter would have them).
run_floor() {  # round
  local d=$T/floor-$1 t0 t1 i=0 l pids=()
  mkdir -p "$d"
  t0=$(now_ms)
  curl -sf -o "$d/manifest" -H 'Accept: application/vnd.oci.image.manifest.v1+json' \
    "$reg/v2/$repo/manifests/$(jq -r .manifest "$T/info.json")"
  curl -sf -o "$d/config" "$reg/v2/$repo/blobs/$(jq -r .config "$T/info.json")" & pids+=($!)
  for l in $(jq -r '.layers[]' "$T/info.json"); do
    mkdir -p "$d/l$i"
    ( curl -sfL "$reg/v2/$repo/blobs/$l" | tar -xzf - -C "$d/l$i" ) & pids+=($!)
    i=$((i + 1))
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(now_ms)
  rm -rf "$d"
  echo $((t1 - t0))
}

# The floor split in two: parallel fetch to files only, then the tar -xz of
# each file alone (sequential), to show how the time divides.
run_floor_split() {  # round -> "fetch_ms extract_ms"
  local d=$T/split-$1 t0 t1 t2 i=0 l pids=()
  mkdir -p "$d"
  t0=$(now_ms)
  for l in $(jq -r '.layers[]' "$T/info.json"); do
    curl -sfL -o "$d/$i.tgz" "$reg/v2/$repo/blobs/$l" & pids+=($!)
    i=$((i + 1))
  done
  for p in "${pids[@]}"; do wait "$p"; done
  t1=$(now_ms)
  for ((j = 0; j < i; j++)); do
    mkdir -p "$d/l$j"
    tar -xzf "$d/$j.tgz" -C "$d/l$j"
  done
  t2=$(now_ms)
  rm -rf "$d"
  echo "$((t1 - t0)) $((t2 - t1))"
}

median() { sort -n | awk '{ a[NR] = $1 } END { if (NR % 2) print a[(NR + 1) / 2]; else print (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

: >"$T/results/crius.txt"; : >"$T/results/containerd.txt"; : >"$T/results/floor.txt"
: >"$T/results/fetch.txt"; : >"$T/results/extract.txt"
for ((r = 1; r <= rounds; r++)); do
  # Warm the registry's page cache once before anything is timed.
  [[ $r -eq 1 ]] && run_floor 0 >/dev/null
  f=$(run_floor "$r"); echo "$f" >>"$T/results/floor.txt"
  c=$(run_crius "$r"); echo "$c" >>"$T/results/crius.txt"
  k=$(run_containerd "$r"); echo "$k" >>"$T/results/containerd.txt"
  read -r fe ex < <(run_floor_split "$r")
  echo "$fe" >>"$T/results/fetch.txt"; echo "$ex" >>"$T/results/extract.txt"
  log "round $r: floor $f ms, crius $c ms, containerd $k ms (floor split: fetch $fe ms, extract $ex ms)"
done

mc=$(median <"$T/results/crius.txt")
mk=$(median <"$T/results/containerd.txt")
mf=$(median <"$T/results/floor.txt")
mfe=$(median <"$T/results/fetch.txt")
mex=$(median <"$T/results/extract.txt")
{
  echo "image: $image ($mib MiB compressed, $((layers + 1)) layers), $rounds rounds, medians in ms"
  printf '  %-28s %8s   rounds: %s\n' "crius PullImage" "$mc" "$(paste -sd' ' "$T/results/crius.txt")"
  printf '  %-28s %8s   rounds: %s\n' "containerd CRI PullImage" "$mk" "$(paste -sd' ' "$T/results/containerd.txt")"
  printf '  %-28s %8s   rounds: %s\n' "floor (curl | tar -xz)" "$mf" "$(paste -sd' ' "$T/results/floor.txt")"
  printf '  %-28s %8s   rounds: %s\n' "floor split: fetch only" "$mfe" "$(paste -sd' ' "$T/results/fetch.txt")"
  printf '  %-28s %8s   rounds: %s\n' "floor split: tar -xz only" "$mex" "$(paste -sd' ' "$T/results/extract.txt")"
  awk -v c="$mc" -v k="$mk" -v f="$mf" 'BEGIN { printf "  crius/containerd %.2f   crius/floor %.2f   containerd/floor %.2f\n", c / k, c / f, k / f }'
} | tee "$T/results/summary.txt"
