#!/usr/bin/env bash
# CI stage (.ci/run runs it after the host suite): one boot of the cgroup v2
# VM with systemd as PID 1 and criusd installed as criusd.service from
# deploy/ (its default config, so the systemd cgroup manager), then
#   1. e2e_systemd_test: the systemd driver with runc and with crun (pod
#      slice, container and conmon scopes, resources, the pod slice resized,
#      `systemctl restart criusd` keeping containers, nothing left after);
#   2. the e2e subset that exercises cgroups, resources, OOM, stats, pod
#      resize and recovery, against the tests' own daemons (cgroupfs driver
#      on v2), once with runc and once with crun as the default handler.
#   test/vm/ci.sh [--init systemd|none]
# CRIUS_VM_TESTS overrides the ctest -R regex of the subset. Builds what it
# needs first (a no-op after test/run.sh).
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${CRIUS_BUILD_DIR:-$top/build}
init=systemd
[ "${1:-}" = --init ] && init=$2

# The tagged subset: kept small, since every fork+exec costs ~13x under TCG.
tests=${CRIUS_VM_TESTS:-'^(ConfigE2E\.(AContainerOverItsMemoryLimit|CgroupLimits|AnUpdatedMemoryLimit)|ContainerE2E\.(RunsToCompletion|ExecSyncStop|RunningContainersSurvive)|SharedPidE2E\.|SandboxE2E\.(StopThenRemove|RemovingAPodKeepsTheCgroup|PodsKeepRunningAcross)|StatsE2E\.(MemoryLimitedContainerShowsAvailableBytes|CreatedContainerHasZeroCpuAndMemoryButAWritableLayer|PodStatsCoverTheContainersInThePodCgroup|MetricsRpcsReturnTheCadvisorSeries)|ResizeE2E\.)'}
targets=(criusd criusctl crius-pause e2e_container_config_test e2e_container_test
  e2e_sandbox_test e2e_stats_test e2e_resize_test e2e_systemd_test)

if [[ -f $build/CMakeCache.txt ]]; then
  cmake --build "$build" -j"$(nproc)" --target "${targets[@]}" >/dev/null
else
  cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
  cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"
fi

start=$SECONDS
CRIUS_CI_TESTS=$tests CRIUS_BUILD_DIR=$build "$top/test/vm/run.sh" --init "$init" --cgroup v2 \
  --timeout 900 -- bash -c '
    rc=0
    t=$SECONDS
    if [ -S /run/crius/crius.sock ]; then
      echo "=== the systemd cgroup driver (criusd.service), runc and crun"
      "$CRIUS_BUILD_DIR/test/e2e/e2e_systemd_test" || rc=1
      echo "=== systemd driver: $((SECONDS - t)) s"
    fi
    for handler in runc crun; do
      t=$SECONDS
      echo "=== cgroup v2, cgroupfs driver, default handler $handler"
      CRIUS_TEST_DEFAULT_HANDLER=$handler ctest --test-dir "$CRIUS_BUILD_DIR" -L e2e \
        -R "$CRIUS_CI_TESTS" --output-on-failure --timeout 300 || rc=1
      echo "=== $handler: $((SECONDS - t)) s"
    done
    exit $rc'
echo "vm ci: $((SECONDS - start)) s in the VM stage" >&2
