#!/usr/bin/env bash
# Checks the interop clients (crius-stream-client, ws_client.py) against an
# independent CRI streaming server: Debian's containerd, whose CRI plugin
# serves exec/attach/port-forward with Kubernetes' own streaming code. What
# passes here is the clients speaking the protocols right, so the same
# clients can then judge crius's server (test/e2e/streaming_interop_test.cc).
# Run by hand, as root:
#
#   test/interop/containerd_check.sh --client PATH/crius-stream-client
#
# A private containerd on a temp tree (bench/lib_containerd.sh), the busybox
# image imported with ctr, one pod on a private bridge and one on the host
# network; everything is removed at exit, also on failure. Prints one line
# per case and exits non-zero if any failed.
set -euo pipefail

interop=$(cd "$(dirname "$0")" && pwd)
repo=$(cd "$interop/../.." && pwd)
here=$repo/bench  # lib_containerd.sh finds make_pause_image.sh there
bench_name=containerd_check
# shellcheck source=bench/lib_containerd.sh
source "$repo/bench/lib_containerd.sh"
client=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --client) client=$(realpath "$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $client ]] || { echo "usage: $0 --client PATH/crius-stream-client" >&2; exit 2; }
[[ $(id -u) -eq 0 ]] || { echo "needs root" >&2; exit 2; }

py=/usr/bin/python3
driver="$interop/cri_driver.py"
wsclient="$interop/ws_client.py"
image=localhost/crius-interop/busybox:1.0
pause_image=localhost/crius-interop/pause:1.0
ctr_net=ctrsinterop ctr_bridge=ctrsint0 ctr_subnet=10.88.187.0/24
crius_net=none crius_bridge=none
run_id=$(printf '%08x' $((RANDOM * 65536 + RANDOM)))
T=$(mktemp -d /tmp/crsi-XXXXXX)
mkdir -p "$T/ctr" "$T/run" "$T/logs" "$T/out"
pods=()
failed=0

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  for p in "${pods[@]}"; do cri rmp "$p" >/dev/null 2>&1; done
  stop_pid "$ctr_pid" containerd
  clean_cri_run
  rm -rf "$T"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

cri() { "$py" "$driver" --endpoint "unix://$T/ctr/containerd.sock" "$@"; }

# check NAME EXPECTED_RC EXPECTED_STDOUT_REGEX EXPECTED_STDERR_REGEX -- CLIENT ARGS
# (stdin of the case comes from $case_in, default empty)
check() {
  local name=$1 want_rc=$2 want_out=$3 want_err=$4 rc=0 out err
  shift 5
  "$@" <"${case_in:-/dev/null}" >"$T/out/stdout" 2>"$T/out/stderr" || rc=$?
  out=$(cat "$T/out/stdout") err=$(cat "$T/out/stderr")
  if [[ $rc == "$want_rc" && $out =~ $want_out && $err =~ $want_err ]]; then
    printf 'PASS %s\n' "$name"
  else
    printf 'FAIL %s: rc %s (want %s)\n  stdout %q\n  stderr %q\n' "$name" "$rc" "$want_rc" \
      "$out" "$err"
    failed=$((failed + 1))
  fi
}

start_containerd
cri image-tar "$T/busybox.tar" "$image"
ctr -a "$T/ctr/containerd.sock" -n k8s.io images import "$T/busybox.tar" >/dev/null

pod=$(cri runp "interop-$run_id" --log-dir "$T/logs"); pods+=("$pod")
hostpod=$(cri runp "interop-host-$run_id" --host-network --log-dir "$T/logs"); pods+=("$hostpod")
sleeper=$(cri run "$pod" sleeper "$image" --log-dir "$T/logs" -- sleep 86400)
catter=$(cri run "$pod" catter "$image" --stdin --stdin-once --log-dir "$T/logs" -- cat)
# httpd serves the pod's /www on 8080 in the pod network, 18000+ on the host.
host_port=$((18000 + RANDOM % 2000))
cri run "$pod" web "$image" --log-dir "$T/logs" -- \
  sh -c 'mkdir -p /www && echo interop-pod >/www/index.html && exec httpd -f -p 8080 -h /www' \
  >/dev/null
cri run "$hostpod" web "$image" --log-dir "$T/logs" -- \
  sh -c "mkdir -p /www && echo interop-host >/www/index.html && exec httpd -f -p $host_port -h /www" \
  >/dev/null

url() { cri "$@"; }
sc=("$client")

check "spdy exec hello" 0 '^hello$' '^$' -- \
  "${sc[@]}" -url "$(url exec-url "$sleeper" -- printf hello)"
check "ws exec hello (v4)" 0 '^hello$' '^$' -- \
  "${sc[@]}" -transport ws -url "$(url exec-url "$sleeper" -- printf hello)"
check "spdy exec stderr" 0 '^$' '^oops$' -- \
  "${sc[@]}" -url "$(url exec-url "$sleeper" -- sh -c 'echo oops >&2')"
case_in=<(printf 'line one\nline two\n') check "spdy exec stdin cat" 0 \
  $'^line one\nline two$' '^$' -- \
  "${sc[@]}" -stdin -url "$(url exec-url "$sleeper" --stdin -- cat)"
check "spdy exec exit 7" 7 '^$' '^$' -- \
  "${sc[@]}" -url "$(url exec-url "$sleeper" -- sh -c 'exit 7')"
check "ws exec exit 42" 42 '^$' '^$' -- \
  "${sc[@]}" -transport ws -url "$(url exec-url "$sleeper" -- sh -c 'exit 42')"
check "spdy exec tty" 0 '^/dev/pts/[0-9]+' '^$' -- \
  "${sc[@]}" -tty -url "$(url exec-url "$sleeper" --tty -- tty)"
# shellcheck disable=SC2016  # expanded by the container's shell
resize_script='w() { i=0; while [ "$(stty size)" != "$1" ] && [ $i -lt 100 ]; do i=$((i+1)); sleep 0.05; done; echo "size $(stty size) mark"; }; w "40 100"; w "50 120"'
check "spdy exec tty resize" 0 $'size 40 100 mark.*size 50 120 mark' '^$' -- \
  "${sc[@]}" -tty -resize 100x40,120x50 -resize-mark mark \
  -url "$(url exec-url "$sleeper" --tty -- sh -c "$resize_script")"
# containerd's WebSocket exec (kubelet's wsstream) cuts a session without
# stdin short after the first output; with stdin open it streams to the end.
check "ws exec tty" 0 '^/dev/pts/[0-9]+' '^$' -- \
  "${sc[@]}" -transport ws -stdin -tty -url "$(url exec-url "$sleeper" --stdin --tty -- tty)"
check "ws exec tty resize" 0 $'size 40 100 mark.*size 50 120 mark' '^$' -- \
  "${sc[@]}" -transport ws -stdin -tty -resize 100x40,120x50 -resize-mark mark \
  -url "$(url exec-url "$sleeper" --stdin --tty -- sh -c "$resize_script")"
used=$(url exec-url "$sleeper" -- true)
check "token first use" 0 '^$' '^$' -- "${sc[@]}" -url "$used"
check "token reuse refused" 126 '^$' 'http-status: 404' -- "${sc[@]}" -url "$used"
case_in=<(printf 'attached\n') check "spdy attach stdin (stdin_once)" 0 '^attached$' '^$' -- \
  "${sc[@]}" -stdin -url "$(url attach-url "$catter" --stdin)"
case_in=<(printf 'GET / HTTP/1.0\r\n\r\n') check "spdy port-forward pod network" 0 \
  'HTTP/1.[01] 200.*interop-pod' '^$' -- \
  "${sc[@]}" -mode portforward -port 8080 -url "$(url portforward-url "$pod" 8080)"
case_in=<(printf 'GET / HTTP/1.0\r\n\r\n') check "spdy port-forward host network" 0 \
  'HTTP/1.[01] 200.*interop-host' '^$' -- \
  "${sc[@]}" -mode portforward -port "$host_port" -url "$(url portforward-url "$hostpod" "$host_port")"
case_in=<(printf 'GET / HTTP/1.0\r\n\r\n') check "ws port-forward pod network" 0 \
  'HTTP/1.[01] 200.*interop-pod' '^$' -- \
  "${sc[@]}" -transport ws -mode portforward -port 8080 -url "$(url portforward-url "$pod" 8080)"
for v in v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io; do
  check "spdy exec hello ($v)" 0 '^hello$' '^$' -- \
    "${sc[@]}" -protocols "$v" -url "$(url exec-url "$sleeper" -- printf hello)"
done
check "ws exec hello (go, base64.channel.k8s.io)" 0 '^hello$' '^$' -- \
  "${sc[@]}" -transport ws -protocols base64.channel.k8s.io \
  -url "$(url exec-url "$sleeper" -- printf hello)"
case_in=<(printf 'GET / HTTP/1.0\r\n\r\n') check "spdy port-forward closed port" 125 '^$' \
  'forwarding port 8099' -- \
  "${sc[@]}" -mode portforward -port 8099 -url "$(url portforward-url "$pod" 8099)"
# -listen: one session, several local connections (each its own stream pair).
: >"$T/listen.out"
"$client" -mode portforward -port 8080 -listen 127.0.0.1:0 -connections 2 \
  -url "$(url portforward-url "$pod" 8080)" >"$T/listen.out" 2>"$T/listen.err" &
listen_pid=$!
for ((i = 0; i < 100; i++)); do grep -q listening "$T/listen.out" && break; sleep 0.1; done
addr=$(sed -n 's/^listening on //p' "$T/listen.out")
check "spdy port-forward -listen, connection 1" 0 'interop-pod' '' -- busybox wget -q -O - "http://$addr/"
check "spdy port-forward -listen, connection 2" 0 'interop-pod' '' -- busybox wget -q -O - "http://$addr/"
wait "$listen_pid" || { echo "FAIL -listen client exited $?"; failed=$((failed + 1)); }
if [[ -f $wsclient ]]; then
  check "python ws exec hello" 0 '^hello$' '^$' -- \
    "$py" "$wsclient" --url "$(url exec-url "$sleeper" -- printf hello)"
  check "python ws exec exit 3" 3 '^$' '^$' -- \
    "$py" "$wsclient" --url "$(url exec-url "$sleeper" -- sh -c 'exit 3')"
  check "python ws base64 exec" 0 '^hello$' '^$' -- \
    "$py" "$wsclient" --protocol base64.channel.k8s.io \
    --url "$(url exec-url "$sleeper" -- printf hello)"
fi
if [[ -n ${CHECK_HOLD:-} ]]; then  # debugging: keep containerd up until the file is removed
  printf 'endpoint=unix://%s/ctr/containerd.sock sleeper=%s pod=%s\n' "$T" "$sleeper" "$pod" >"$CHECK_HOLD"
  while [[ -f $CHECK_HOLD ]]; do sleep 1; done
fi
log "$failed case(s) failed"
[[ $failed -eq 0 ]]
