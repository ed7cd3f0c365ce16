#!/usr/bin/env bash
# Points the interop clients (crius-stream-client, ws_client.py) at crius's
# own streaming server with the fake backend (crius-streaming-testserver):
# the wire format of streaming/ checked against client-go's SPDY library,
# gorilla/websocket and python3-websockets without a daemon or containers.
# The same clients pass test/interop/containerd_check.sh against
# containerd. Run by hand (no root needed):
#
#   test/interop/testserver_check.sh --client PATH/crius-stream-client \
#       --server PATH/crius-streaming-testserver
#
# Prints one line per case; exits non-zero if any failed.
set -euo pipefail

interop=$(cd "$(dirname "$0")" && pwd)
client="" server=""
while [[ $# -gt 0 ]]; do
  case $1 in
    --client) client=$(realpath "$2"); shift 2 ;;
    --server) server=$(realpath "$2"); shift 2 ;;
    *) echo "unknown argument $1" >&2; exit 2 ;;
  esac
done
[[ -x $client && -x $server ]] || {
  echo "usage: $0 --client PATH/crius-stream-client --server PATH/crius-streaming-testserver" >&2
  exit 2
}
py=/usr/bin/python3
wsclient="$interop/ws_client.py"
T=$(mktemp -d /tmp/crsi-ts-XXXXXX)
httpd_pid=""
failed=0

cleanup() {
  local status=$?
  set +e
  trap - EXIT INT TERM
  [[ -n ${TS_PID:-} ]] && kill "$TS_PID" 2>/dev/null && wait "$TS_PID" 2>/dev/null
  [[ -n $httpd_pid ]] && kill "$httpd_pid" 2>/dev/null && wait "$httpd_pid" 2>/dev/null
  rm -rf "$T"
  exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

coproc TS { "$server" 2>"$T/server.log"; }
read -r -t 30 ready base <&"${TS[0]}"
[[ $ready == ready ]] || { echo "server did not start: $ready $base" >&2; exit 1; }
echo "server at $base"

# url REQUEST...: one request line in, one URL out.
url() {
  local u
  echo "$*" >&"${TS[1]}"
  read -r -t 30 u <&"${TS[0]}"
  [[ $u == http* ]] || echo "testserver answered: $u" >&2
  echo "$u"
}

check() {  # NAME RC STDOUT_RE STDERR_RE -- CMD...   (stdin from $case_in)
  local name=$1 want_rc=$2 want_out=$3 want_err=$4 rc=0 out err
  shift 5
  "$@" <"${case_in:-/dev/null}" >"$T/stdout" 2>"$T/stderr" || rc=$?
  out=$(cat "$T/stdout") err=$(cat "$T/stderr")
  if [[ $rc == "$want_rc" && $out =~ $want_out && $err =~ $want_err ]]; then
    printf 'PASS %s\n' "$name"
  else
    printf 'FAIL %s: rc %s (want %s)\n  stdout %q\n  stderr %q\n' "$name" "$rc" "$want_rc" \
      "$out" "$err"
    failed=$((failed + 1))
  fi
}

c=("$client")
for t in spdy ws; do
  check "$t exec echo" 0 '^hello$' '^$' -- "${c[@]}" -transport "$t" -url "$(url exec echo hello)"
  check "$t exec exit 7" 7 '^$' '^$' -- "${c[@]}" -transport "$t" -url "$(url exec exit 7)"
  check "$t exec tty" 0 '^/dev/pts/0' '^$' -- "${c[@]}" -transport "$t" -tty -url "$(url exec -t tty)"
  check "$t exec resize" 0 '^40 100' '^$' -- \
    "${c[@]}" -transport "$t" -tty -resize 100x40 -url "$(url exec -t size)"
  check "$t exec unknown command" 125 '^$' 'not found' -- \
    "${c[@]}" -transport "$t" -url "$(url exec nosuchcommand)"
done
case_in=<(printf 'one\ntwo\n') check "spdy exec stdin cat" 0 $'^one\ntwo$' '^$' -- \
  "${c[@]}" -stdin -url "$(url exec -i cat)"
case_in=<(printf 'one\ntwo\n') check "ws v5 exec stdin cat" 0 $'^one\ntwo$' '^$' -- \
  "${c[@]}" -transport ws -protocols v5.channel.k8s.io -stdin -url "$(url exec -i cat)"
check "ws v4 exec exit 9" 9 '^$' '^$' -- \
  "${c[@]}" -transport ws -protocols v4.channel.k8s.io -url "$(url exec exit 9)"
for v in v3.channel.k8s.io v2.channel.k8s.io channel.k8s.io; do
  check "spdy exec echo ($v)" 0 '^hello$' '^$' -- "${c[@]}" -protocols "$v" -url "$(url exec echo hello)"
done
check "ws base64 exec echo (go)" 0 '^hello$' '^$' -- \
  "${c[@]}" -transport ws -protocols base64.channel.k8s.io -url "$(url exec echo hello)"
case_in=<(printf 'attached\n') check "spdy attach stdin" 0 '^attached$' '^$' -- \
  "${c[@]}" -mode attach -stdin -url "$(url attach -i)"
used=$(url exec echo once)
check "token first use" 0 '^once$' '^$' -- "${c[@]}" -url "$used"
check "token reuse 404 (spdy)" 126 '^$' 'http-status: 404' -- "${c[@]}" -url "$used"
check "token reuse 404 (ws)" 126 '^$' 'http-status: 404' -- "${c[@]}" -transport ws -url "$used"

mkdir -p "$T/www" && echo interop-fake >"$T/www/index.html"
port=$((20000 + RANDOM % 20000))
busybox httpd -f -p "127.0.0.1:$port" -h "$T/www" &
httpd_pid=$!
for ((i = 0; i < 100; i++)); do busybox wget -q -O /dev/null "http://127.0.0.1:$port/" 2>/dev/null && break; sleep 0.1; done
for t in spdy ws; do
  case_in=<(printf 'GET / HTTP/1.0\r\n\r\n') check "$t port-forward" 0 'interop-fake' '^$' -- \
    "${c[@]}" -transport "$t" -mode portforward -port "$port" -url "$(url portforward "$port")"
done

if [[ -f $wsclient ]]; then
  check "python ws exec echo" 0 '^hello$' '^$' -- "$py" "$wsclient" --url "$(url exec echo hello)"
  check "python ws exit 3" 3 '^$' '^$' -- "$py" "$wsclient" --url "$(url exec exit 3)"
  check "python ws base64" 0 '^hello$' '^$' -- \
    "$py" "$wsclient" --protocol base64.channel.k8s.io --url "$(url exec echo hello)"
  case_in=<(printf 'py\n') check "python ws v5 stdin" 0 '^py$' '^$' -- \
    "$py" "$wsclient" --stdin --url "$(url exec -i cat)"
  check "python ws resize" 0 '^30 90' '^$' -- \
    "$py" "$wsclient" --resize 90x30 --url "$(url exec -t size)"
fi
echo "$failed case(s) failed"
[[ $failed -eq 0 ]]
