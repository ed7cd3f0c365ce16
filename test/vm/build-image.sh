#!/usr/bin/env bash
# Builds (once) what the test VM boots: a Debian kernel taken out of its .deb
# and a Debian 12 root filesystem image made with debootstrap.
#   test/vm/build-image.sh CACHE_DIR
# Prints the directory holding vmlinuz, rootfs.ext4 and kernel.release. The
# directory is named after a hash of every input (this script, the package
# list, the mirror, the kernel package), so a changed input builds a new image
# and an unchanged one is reused. Nothing is installed on the host, and
# nothing stays mounted: debootstrap's own proc/sys mounts are undone even
# when it fails.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
cache=${1:?usage: build-image.sh CACHE_DIR}
suite=bookworm

# The Debian mirror this machine's apt uses (only Debian's archive is
# reachable); CRIUS_VM_MIRROR overrides it.
mirror() {
  if [ -n "${CRIUS_VM_MIRROR:-}" ]; then
    echo "$CRIUS_VM_MIRROR"
    return
  fi
  local uri
  uri=$(grep -hsE '^(URIs:|deb )' /etc/apt/sources.list /etc/apt/sources.list.d/*.sources \
    /etc/apt/sources.list.d/*.list 2>/dev/null |
    grep -oE 'https?://[^ ]*/debian/?( |$)' | head -n1 | tr -d ' ')
  echo "${uri:-http://deb.debian.org/debian}"
}

# The versioned kernel package linux-image-amd64 currently points to.
kernel_package() {
  apt-cache depends linux-image-amd64 2>/dev/null |
    awk '/Depends: linux-image-[0-9]/{print $2; exit}'
}

mirror_uri=$(mirror)
kpkg=$(kernel_package)
[ -n "$kpkg" ] || { echo "build-image: no linux-image-amd64 in apt's lists (run apt-get update)" >&2; exit 1; }
kver=$(apt-cache policy "$kpkg" | awk '/Candidate:/{print $2}')
mapfile -t pkgs < <(grep -v '^\s*#' "$here/packages.txt" | grep -v '^\s*$')
key=$( { cat "$0" "$here/packages.txt"; echo "$mirror_uri $kpkg $kver $suite"; } | sha256sum | cut -c1-16)
out=$cache/image-$key
if [ -f "$out/rootfs.ext4" ]; then
  echo "$out"
  exit 0
fi

mkdir -p "$cache"
exec 9>"$cache/build.lock"
flock 9
# Another run may have built it while this one waited for the lock.
if [ -f "$out/rootfs.ext4" ]; then
  echo "$out"
  exit 0
fi

work=$(mktemp -d "$cache/build-$key.XXXXXX")
root=$work/root
undo_mounts() {
  # Deepest first, so nested mounts go before their parents.
  local m
  for m in $(findmnt -rn -o TARGET | grep -F "$work/" | sort -r); do
    umount -l "$m" || true
  done
}
cleanup() {
  undo_mounts
  rm -rf "$work"
}
trap cleanup EXIT
start=$SECONDS

# The kernel: vmlinuz and modules straight out of the .deb.
echo "build-image: kernel $kpkg $kver" >&2
(cd "$work" && apt-get download "$kpkg" >/dev/null 2>&1) ||
  { echo "build-image: cannot download $kpkg" >&2; exit 1; }
mkdir "$work/kernel"
dpkg-deb -x "$work"/"$kpkg"_*.deb "$work/kernel"
release=${kpkg#linux-image-}

# The root: minbase plus the packages the tests need.
echo "build-image: debootstrap $suite from $mirror_uri (${#pkgs[@]} packages)" >&2
include=$(IFS=,; echo "${pkgs[*]}")
if ! debootstrap --variant=minbase --include="$include" "$suite" "$root" "$mirror_uri" \
  >"$work/debootstrap.log" 2>&1; then
  tail -n 30 "$work/debootstrap.log" >&2
  [ -f "$root/debootstrap/debootstrap.log" ] && tail -n 30 "$root/debootstrap/debootstrap.log" >&2
  exit 1
fi
undo_mounts

# Modules: everything a node uses (filesystems, netfilter, bridges, veth,
# virtio), without the hardware drivers a VM never sees.
mkdir -p "$root/lib/modules"
cp -a "$work/kernel/lib/modules/$release" "$root/lib/modules/"
kd=$root/lib/modules/$release/kernel
rm -rf "$kd/sound" "$kd/drivers/"{gpu,media,infiniband,scsi,usb,iio,staging,hwmon,hid,input,platform,comedi,isdn,bluetooth,mtd} \
  "$kd/drivers/net/"{wireless,ethernet,usb,can}
chroot "$root" depmod "$release"

# A node's small things: names, no services the tests would trip over.
echo crius-vm >"$root/etc/hostname"
printf '127.0.0.1 localhost\n::1 localhost\n127.0.1.1 crius-vm\n' >"$root/etc/hosts"
: >"$root/etc/machine-id"
# The distro registry would take :5000; tests start their own.
chroot "$root" systemctl mask docker-registry.service >/dev/null 2>&1 || true
chroot "$root" systemctl mask apt-daily.timer apt-daily-upgrade.timer e2scrub_all.timer \
  fstrim.timer systemd-timesyncd.service >/dev/null 2>&1 || true
rm -rf "$root/var/cache/apt/archives/"*.deb "$root/var/lib/apt/lists/"*

# Pack it: the image has room to spare for the tests' images and layers (the
# VM writes to a throw-away snapshot, never to this file).
mkdir -p "$work/out"
used=$(du -sm "$root" | cut -f1)
size=$((used + 3072))
mkfs.ext4 -q -L crius-root -d "$root" "$work/out/rootfs.ext4" "${size}M"
cp "$work/kernel/boot/vmlinuz-$release" "$work/out/vmlinuz"
echo "$release" >"$work/out/kernel.release"
# The initramfs takes its modules from here at every boot.
mkdir -p "$work/out/modules"
cp -a "$root/lib/modules/$release" "$work/out/modules/"
mv "$work/out" "$out"
echo "build-image: built $out in $((SECONDS - start)) s (root ${used} MB)" >&2
echo "$out"
