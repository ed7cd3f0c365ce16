#!/usr/bin/env bash
# CI stage: the e2e tests that exercise cgroups, resources, OOM and the pod
# lifecycle, run inside the cgroup v2 VM, once with runc and once with crun
# as the default OCI runtime, in one boot. Builds what they need first.
#   test/vm/ci.sh [--init none|systemd]
# CRIUS_VM_TESTS overrides the ctest -R regex of the subset.
set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
build=${CRIUS_BUILD_DIR:-$top/build}
init=none
[ "${1:-}" = --init ] && init=$2

# The tagged subset: kept small, since every fork+exec costs ~13x under TCG.
tests=${CRIUS_VM_TESTS:-'^(ConfigE2E\.(AContainerOverItsMemoryLimit|CgroupLimits|AnUpdatedMemoryLimit)|ContainerE2E\.(RunsToCompletion|ExecSyncStop|RunningContainersSurvive)|SharedPidE2E\.|SandboxE2E\.(StopThenRemove|RemovingAPodKeepsTheCgroup|PodsKeepRunningAcross))'}
targets=(criusd crius-pause e2e_container_config_test e2e_container_test e2e_sandbox_test)

cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)" --target "${targets[@]}"

start=$SECONDS
CRIUS_CI_TESTS=$tests CRIUS_BUILD_DIR=$build "$top/test/vm/run.sh" --init "$init" --timeout 900 -- \
  bash -c '
    rc=0
    for handler in runc crun; do
      echo "=== cgroup v2, default handler $handler"
      CRIUS_TEST_DEFAULT_HANDLER=$handler ctest --test-dir "$CRIUS_BUILD_DIR" -L e2e \
        -R "$CRIUS_CI_TESTS" --output-on-failure --timeout 300 || rc=1
    done
    exit $rc'
echo "vm ci: $((SECONDS - start)) s in the VM stage" >&2
