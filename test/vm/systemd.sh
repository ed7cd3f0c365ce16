#!/usr/bin/env bash
# The systemd cgroup driver, proven in the cgroup v2 VM with systemd as PID 1:
# criusd runs as criusd.service (deploy/) with its default config, which picks
# the systemd cgroup manager (deploy/install.sh wants criusctl too); test/e2e/systemd_test.cc then drives it with runc
# and with crun (pod slice, container and conmon scopes, memory.max, the pod
# slice resized by UpdatePodSandboxResources, `systemctl restart criusd`,
# nothing left after removal). Not in ctest (a VM boot is longer than a
# unit of CI should be); CI runs the same test in test/vm/ci.sh's boot.
#   test/vm/systemd.sh
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${CRIUS_BUILD_DIR:-$top/build}
ninja -C "$build" -j2 criusd criusctl crius-pause e2e_systemd_test >/dev/null
start=$SECONDS
CRIUS_BUILD_DIR=$build "$top/test/vm/run.sh" --init systemd --cgroup v2 --timeout 900 -- \
  "$build/test/e2e/e2e_systemd_test"
echo "vm systemd: $((SECONDS - start)) s" >&2
