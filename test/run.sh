#!/usr/bin/env bash
# Builds crius and runs every test tier (unit, e2e, fault) with ctest.
# Needs root: the e2e and fault tiers start real daemons, namespaces and
# mounts. Extra arguments go to ctest (e.g. -L unit, -R Version).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${CRIUS_BUILD_DIR:-$top/build}
cmake -S "$top" -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$build" -j"$(nproc)"
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600 "$@"
