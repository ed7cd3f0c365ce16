# shellcheck shell=bash
# What every benchmark driver (run_pod_bench.sh, run_container_bench.sh,
# run_image_bench.sh) needs: logging, ending a child by PID, waiting for a
# daemon's socket, unmounting what is left under the temp tree, and a criusd
# of the run's own. Sourced, never run. The caller may set bench_name (the
# log prefix) first.

bench_name=${bench_name:-bench}
criusd_pid=""

log() { printf '[%s %(%H:%M:%S)T] %s\n' "$bench_name" -1 "$*" >&2; }

stop_pid() {  # pid name: SIGTERM, wait up to 30 s, then SIGKILL
  local pid=$1 i
  [[ -n $pid ]] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < 300; i++)); do
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.1
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "$2 ($pid) ignored SIGTERM; killing it"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}

wait_for_socket() {  # path pid name
  local i
  for ((i = 0; i < 300; i++)); do
    [[ -S $1 ]] && return 0
    kill -0 "$2" 2>/dev/null || { log "$3 exited during startup"; return 1; }
    sleep 0.1
  done
  log "$3 did not create $1 within 30 s"
  return 1
}

# Mounts left under the temp tree (pins, shm, rootfs), deepest first.
umount_under() {  # dir
  awk -v t="$1/" 'index($5, t) == 1 { print $5 }' /proc/self/mountinfo | sort -r |
    while read -r m; do umount -l "$m" 2>/dev/null; done
  return 0
}

# A criusd of the run's own in <dir>: root, CNI conf dir and cache, socket
# and log there; volatile state at <state> (keep it short: container attach
# sockets live under it); plugins from /usr/lib/cni; metrics off; log level
# $criusd_log_level (default info); extra YAML appended verbatim. Needs
# $criusd (the binary); sets criusd_pid.
start_bench_criusd() {  # dir state [extra-yaml]
  local d=$1
  mkdir -p "$d/crius.d" "$d/net.d"
  {
    cat <<EOF
root: $d/root
state: $2
log_level: ${criusd_log_level:-info}
cni:
  conf_dir: $d/net.d
  cache_dir: $d/cni-cache
  bin_dirs: [/usr/lib/cni]
metrics:
  enabled: false
EOF
    printf '%s' "${3:-}"
  } >"$d/crius.yaml"
  "$criusd" --config "$d/crius.yaml" --config-dir "$d/crius.d" --listen "unix://$d/crius.sock" \
    >"$d/criusd.log" 2>&1 &
  criusd_pid=$!
  wait_for_socket "$d/crius.sock" "$criusd_pid" criusd
}
