#!/usr/bin/env bash
# Builds crius and runs every test tier (unit, e2e, fault) with ctest.
# Needs root: the e2e and fault tiers start real daemons, namespaces and
# mounts. Extra arguments go to ctest (e.g. -L unit, -R Version).
# CRIUS_BENCH=OFF leaves the benchmarks (bench/) out of the build.
# At the end it prints how many tests of each tier ran, passed, failed and
# skipped, so a run with fewer tests than the last one is visible. Under CI
# (.ci/run exports CRIUS_TEST_NO_SKIP=1) a skipped test fails
# (test/support/no_skip_in_ci.cc).
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${CRIUS_BUILD_DIR:-$top/build}
# A new build dir gets Ninja, lld and line-table debug info (-g1: backtraces
# keep file:line, the objects are a third the size); ccache when installed.
# An existing build dir keeps the generator it was made with.
args=(-DCMAKE_BUILD_TYPE=RelWithDebInfo -DCRIUS_BENCH="${CRIUS_BENCH:-ON}")
if [[ ! -f $build/CMakeCache.txt ]] && command -v ninja >/dev/null; then
  args+=(-G Ninja)
fi
if command -v ld.lld >/dev/null; then
  args+=(-DCRIUS_LINKER=lld)
fi
if command -v ccache >/dev/null; then
  args+=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_C_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$top" -B "$build" "${args[@]}" >/dev/null
cmake --build "$build" -j"$(nproc)"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
set +e
ctest --test-dir "$build" --output-on-failure -j"$(nproc)" --timeout 600 "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
set -e

# ctest's result line per test: "  3/57 Test  #3: <name> ....   Passed  0.01 sec"
# (failures "***Failed", skips "***Skipped", "***Not Run", "***Timeout").
echo
echo "Tests per tier:"
total_run=0
for tier in unit e2e fault; do
  ctest --test-dir "$build" -N -L "^${tier}\$" "$@" 2>/dev/null |
    sed -n 's/^ *Test *#[0-9]*: //p' | sed 's/  # GetParam() = .*$//' >"$log.names"
  counts=$(awk -v names="$log.names" '
    BEGIN { while ((getline n < names) > 0) want[n] = 1 }
    / Test +#[0-9]+: / {
      line = $0
      sub(/^.* Test +#[0-9]+: /, "", line)
      name = line; sub(/ .*$/, "", name)
      if (!(name in want)) next
      if (line ~ /\*\*\*Skipped|Not Run/) skipped++
      else if (line ~ / Passed /) passed++
      else failed++
    }
    END { printf "%d %d %d %d", length(want), passed, failed, skipped }' "$log")
  read -r selected passed failed skipped <<<"$counts"
  run=$((passed + failed))
  total_run=$((total_run + run))
  printf '  %-6s %5d run (%d passed, %d failed), %d skipped, of %d selected\n' \
    "$tier" "$run" "$passed" "$failed" "$skipped" "$selected"
done
rm -f "$log.names"
echo "  total  $total_run run"
exit "$rc"
