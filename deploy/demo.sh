#!/usr/bin/env bash
# Shows a running criusd doing its job, with nothing from the internet:
# builds a small image from Debian's busybox-static, serves it from a
# registry on loopback, pulls it through crius, and runs a pod on the CNI
# network. Everything it starts is stopped again (by PID) and removed.
#   deploy/demo.sh [criusctl]      (criusd must be serving /run/crius/crius.sock)
set -euo pipefail
ctl=${1:-criusctl}
work=$(mktemp -d /tmp/crius-demo-XXXXXX)
reg_pid=""
pod=""
cleanup() {
  [ -n "$pod" ] && { "$ctl" stopp "$pod" >/dev/null 2>&1 || true; "$ctl" rmp "$pod" >/dev/null 2>&1 || true; }
  [ -n "$reg_pid" ] && { kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; }
  rm -rf "$work"
}
trap cleanup EXIT

# 1. A registry on a free loopback port (a random one; another is tried if
#    it turns out to be taken).
for _ in 1 2 3 4 5; do
  port=$((20000 + RANDOM % 20000))
  cat > "$work/registry.yml" <<YML
version: 0.1
storage:
  filesystem:
    rootdirectory: $work/registry
http:
  addr: 127.0.0.1:$port
log:
  level: error
YML
  docker-registry serve "$work/registry.yml" >"$work/registry.log" 2>&1 &
  reg_pid=$!
  for _ in $(seq 1 100); do
    curl -fs "http://127.0.0.1:$port/v2/" >/dev/null && break 2
    kill -0 "$reg_pid" 2>/dev/null || break
    sleep 0.1
  done
  kill "$reg_pid" 2>/dev/null || true; wait "$reg_pid" 2>/dev/null || true; reg_pid=""
done
[ -n "$reg_pid" ] || { echo "demo: could not start a registry" >&2; cat "$work/registry.log" >&2; exit 1; }

# 2. An OCI image: busybox-static and its applets, as one gzip layer.
root="$work/rootfs"
mkdir -p "$root/bin" "$root/etc"
cp /bin/busybox "$root/bin/busybox"
for a in sh echo cat ls sleep hostname ip id env; do ln -s busybox "$root/bin/$a"; done
echo "root:x:0:0:root:/root:/bin/sh" > "$root/etc/passwd"
echo "root:x:0:" > "$root/etc/group"
layout="$work/oci"
mkdir -p "$layout/blobs/sha256"
tar --sort=name --owner=0 --group=0 --numeric-owner -C "$root" -cf "$work/layer.tar" .
diff_id=$(sha256sum "$work/layer.tar" | cut -d' ' -f1)
gzip -n -c "$work/layer.tar" > "$work/layer.tgz"
layer=$(sha256sum "$work/layer.tgz" | cut -d' ' -f1); layer_size=$(stat -c %s "$work/layer.tgz")
mv "$work/layer.tgz" "$layout/blobs/sha256/$layer"
printf '{"architecture":"amd64","os":"linux","config":{"Cmd":["/bin/sh"],"Env":["PATH=/bin"]},"rootfs":{"type":"layers","diff_ids":["sha256:%s"]}}' "$diff_id" > "$work/config.json"
config=$(sha256sum "$work/config.json" | cut -d' ' -f1); config_size=$(stat -c %s "$work/config.json")
mv "$work/config.json" "$layout/blobs/sha256/$config"
printf '{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"sha256:%s","size":%s},"layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"sha256:%s","size":%s}]}' \
  "$config" "$config_size" "$layer" "$layer_size" > "$work/manifest.json"
manifest=$(sha256sum "$work/manifest.json" | cut -d' ' -f1); manifest_size=$(stat -c %s "$work/manifest.json")
mv "$work/manifest.json" "$layout/blobs/sha256/$manifest"
printf '{"schemaVersion":2,"manifests":[{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"sha256:%s","size":%s,"annotations":{"org.opencontainers.image.ref.name":"latest"}}]}' \
  "$manifest" "$manifest_size" > "$layout/index.json"
echo '{"imageLayoutVersion":"1.0.0"}' > "$layout/oci-layout"
image="127.0.0.1:$port/crius/busybox:latest"
skopeo copy --quiet --dest-tls-verify=false "oci:$layout:latest" "docker://$image"

# 3. crius pulls it and runs a pod on the node's CNI network.
echo "== criusctl pull $image"; "$ctl" pull "$image"
echo; echo "== criusctl images"; "$ctl" images
cat > "$work/pod.json" <<JSON
{"metadata": {"name": "demo", "namespace": "default", "uid": "demo-$(date +%s%N)", "attempt": 0},
 "hostname": "demo", "log_directory": "$work/logs", "labels": {"app": "demo"}}
JSON
echo; echo "== criusctl runp pod.json"; pod=$("$ctl" runp "$work/pod.json"); echo "$pod"
echo; echo "== criusctl pods"; "$ctl" pods
echo; echo "== the pod's network"
"$ctl" inspectp "$pod" | grep -A3 '"network"' || true

cat > "$work/ctr.json" <<JSON
{"metadata": {"name": "hello"}, "image": {"image": "$image"},
 "command": ["/bin/sh", "-c", "echo hello from a crius container; hostname; sleep 3600"],
 "log_path": "hello.log"}
JSON
echo; echo "== criusctl create / start"
ctr=$("$ctl" create "$pod" "$work/ctr.json" "$work/pod.json"); echo "$ctr"
"$ctl" start "$ctr"
echo; echo "== criusctl ps"; "$ctl" ps
for _ in $(seq 1 50); do [ -s "$work/logs/hello.log" ] && break; sleep 0.1; done
echo; echo "== criusctl logs"; "$ctl" logs "$ctr"
echo; echo "== criusctl exec $ctr ls /"; "$ctl" exec "$ctr" ls /
echo; echo "(the demo pod, its container and the registry are removed again on exit)"
