#!/usr/bin/env bash
# Puts a built crius in place on a Debian node:
#   deploy/install.sh [BUILD_DIR]   (default: build)
# Binaries go to /usr/local/bin; the default config, crictl.yaml and the
# sample CNI network are installed only where none exists yet, so a re-run
# never overwrites an operator's files.
set -euo pipefail
top=$(cd "$(dirname "$0")/.." && pwd)
build=${1:-$top/build}

install -D -m 0755 "$build/server/criusd" /usr/local/bin/criusd
install -D -m 0755 "$build/client/criusctl" /usr/local/bin/criusctl
# The pause binary for pods that share one PID namespace (pod.infra_path).
install -D -m 0755 "$build/sandbox/pause/crius-pause" /usr/local/libexec/crius/crius-pause

install_once() {  # SRC DEST MODE
  if [ -e "$2" ]; then
    echo "install: keeping existing $2"
  else
    install -D -m "$3" "$1" "$2"
    echo "install: $2"
  fi
}
install_once "$top/deploy/crius.yaml" /etc/crius/crius.yaml 0644
mkdir -p /etc/crius/crius.d
install_once "$top/deploy/crictl.yaml" /etc/crictl.yaml 0644
# A node that already has a pod network keeps it.
if ! ls /etc/cni/net.d/*.conflist /etc/cni/net.d/*.conf /etc/cni/net.d/*.json >/dev/null 2>&1; then
  install -D -m 0644 "$top/deploy/cni/10-crius-bridge.conflist" /etc/cni/net.d/10-crius-bridge.conflist
  install -D -m 0644 "$top/deploy/cni/99-loopback.conf" /etc/cni/net.d/99-loopback.conf
  echo "install: sample CNI network in /etc/cni/net.d"
fi
if [ -d /run/systemd/system ]; then
  install -D -m 0644 "$top/deploy/criusd.service" /etc/systemd/system/criusd.service
  systemctl daemon-reload
  echo "install: /etc/systemd/system/criusd.service"
fi
