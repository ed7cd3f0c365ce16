#!/usr/bin/env bash
# Builds the pause image containerd's CRI needs for RunPodSandbox, without a
# registry: bench/pause.c compiled static, as the only file of a one-layer
# OCI image, written as an OCI image-layout tarball that
# `ctr -n k8s.io images import` accepts.
#
# usage: make_pause_image.sh OUT.tar IMAGE_NAME
#   IMAGE_NAME is the full reference containerd will know it by, e.g.
#   localhost/crius-bench/pause:1.0 (the same string goes to sandbox_image).
set -euo pipefail

if [[ $# -ne 2 ]]; then
  echo "usage: $0 OUT.tar IMAGE_NAME" >&2
  exit 2
fi
out=$1
name=$2
here=$(cd "$(dirname "$0")" && pwd)

work=$(mktemp -d /tmp/crius-pause-image-XXXXXX)
trap 'rm -rf "$work"' EXIT

mkdir -p "$work/rootfs" "$work/oci/blobs/sha256"
# CRIUS_BENCH_PAUSE_BINARY: one built beforehand (where there is no gcc, as
# in the test VM), else bench/pause.c compiled here.
if [[ -n ${CRIUS_BENCH_PAUSE_BINARY:-} ]]; then
  install -m 0755 "$CRIUS_BENCH_PAUSE_BINARY" "$work/rootfs/pause"
else
  gcc -static -s -O2 -Wall -Wextra -Werror -o "$work/rootfs/pause" "$here/pause.c"
fi

# Fixed owner and mtime so the same source always gives the same digest.
tar --numeric-owner --owner=0 --group=0 --mtime=@0 --format=posix \
  --pax-option=delete=atime,delete=ctime -C "$work/rootfs" -cf "$work/layer.tar" pause

blob() {  # stores stdin as a blob; prints "<digest> <size>"
  local tmp="$work/blob.tmp" d
  cat >"$tmp"
  d=$(sha256sum "$tmp" | cut -d' ' -f1)
  mv "$tmp" "$work/oci/blobs/sha256/$d"
  echo "sha256:$d $(stat -c %s "$work/oci/blobs/sha256/$d")"
}

read -r layer_digest layer_size < <(blob <"$work/layer.tar")
arch=$(dpkg --print-architecture 2>/dev/null || echo amd64)

# An uncompressed layer's digest is also its diff id.
read -r config_digest config_size < <(printf '%s' \
  "{\"architecture\":\"$arch\",\"os\":\"linux\",\"config\":{\"Entrypoint\":[\"/pause\"],\"WorkingDir\":\"/\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[\"$layer_digest\"]}}" |
  blob)

read -r manifest_digest manifest_size < <(printf '%s' \
  "{\"schemaVersion\":2,\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"config\":{\"mediaType\":\"application/vnd.oci.image.config.v1+json\",\"digest\":\"$config_digest\",\"size\":$config_size},\"layers\":[{\"mediaType\":\"application/vnd.oci.image.layer.v1.tar\",\"digest\":\"$layer_digest\",\"size\":$layer_size}]}" |
  blob)

tag=${name##*:}
printf '%s' '{"imageLayoutVersion":"1.0.0"}' >"$work/oci/oci-layout"
printf '%s' \
  "{\"schemaVersion\":2,\"manifests\":[{\"mediaType\":\"application/vnd.oci.image.manifest.v1+json\",\"digest\":\"$manifest_digest\",\"size\":$manifest_size,\"annotations\":{\"io.containerd.image.name\":\"$name\",\"org.opencontainers.image.ref.name\":\"$tag\"}}]}" \
  >"$work/oci/index.json"

tar --numeric-owner --owner=0 --group=0 -C "$work/oci" -cf "$out" oci-layout index.json blobs
echo "$out: $name ($manifest_digest)"
