#!/usr/bin/env bash
# From a fresh Debian 12 machine, as root: install the packages, build crius,
# install it with its default configuration, start criusd and show it serving.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"

bash deploy/deps.sh
cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build build -j"$(nproc)" --target criusd criusctl crius-pause
bash deploy/install.sh build

sock=/run/crius/crius.sock
if [ -d /run/systemd/system ]; then
  systemctl enable --now criusd
else
  # No systemd (a container, a CI runner): run criusd in its own session,
  # logging to /var/log/criusd.log, unless one already serves the socket.
  if ! criusctl -t 2s version >/dev/null 2>&1; then
    setsid /usr/local/bin/criusd >>/var/log/criusd.log 2>&1 < /dev/null &
    echo "started criusd (pid $!), log in /var/log/criusd.log"
  fi
fi
for _ in $(seq 1 100); do
  criusctl -t 2s version >/dev/null 2>&1 && break
  sleep 0.1
done

echo; echo "== criusctl version"; criusctl version
echo; echo "== criusctl info"; criusctl info

echo; echo "== a pod and an image, end to end"
bash deploy/demo.sh criusctl
