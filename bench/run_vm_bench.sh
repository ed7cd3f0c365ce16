#!/usr/bin/env bash
# The container benchmark (run_container_bench.sh) inside the cgroup v2 VM
# of test/vm/run.sh, with crun beside runc: in one boot and one run, crius
# with runc (its default handler) and with crun (runtime_handler crun),
# containerd's CRI with runc and with crun (its runc shim driving crun), and
# the floor (netns + CNI + runc, nothing between). TCG inflates every
# absolute time ~13x, so only the ratios of the summary mean anything.
#   bench/run_vm_bench.sh [--pods N] [--rounds R] [--build DIR] [--shared-pid]
# The pause binary of containerd's sandbox image is compiled here (the VM has
# no gcc) into a temporary directory shared into the VM, removed afterwards.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
top=$(cd "$here/.." && pwd)
pods=20 rounds=4 build=$top/build extra=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --pods) pods=$2; shift 2 ;;
    --rounds) rounds=$2; shift 2 ;;
    --build) build=$(realpath "$2"); shift 2 ;;
    --shared-pid) extra+=(--shared-pid); shift ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
for f in server/criusd sandbox/pause/crius-pause bench/crius_container_bench; do
  [[ -x $build/$f ]] || { echo "missing $build/$f (build with CRIUS_BENCH=ON)" >&2; exit 2; }
done
tmp=$(mktemp -d /tmp/crius-vm-bench-XXXXXX)
trap 'rm -rf "$tmp"' EXIT
gcc -static -s -O2 -Wall -Wextra -Werror -o "$tmp/pause" "$here/pause.c"
CRIUS_BUILD_DIR=$build "$top/test/vm/run.sh" --init none --cgroup v2 --share "$tmp" --timeout 3000 -- \
  "$here/run_container_bench.sh" --criusd "$build/server/criusd" \
  --pause "$build/sandbox/pause/crius-pause" --bench "$build/bench/crius_container_bench" \
  --pause-binary "$tmp/pause" --crun --pods "$pods" --rounds "$rounds" "${extra[@]}"
