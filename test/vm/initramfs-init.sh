#!/bin/busybox sh
# /init of the test VM's initramfs (run.sh builds it per boot): loads the few
# modules the kernel needs to reach its root disk (virtio and ext4 are modules
# in Debian's kernel), mounts the root, puts this boot's guest init into it
# (the root is a throw-away snapshot, so the cached image stays unchanged) and
# switches to it: crius-vm-init itself for crius.init=none, systemd with
# crius-vm.service for crius.init=systemd.
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

fail() {
  echo "crius-vm initramfs: $*" >/dev/console
  poweroff -f
}

for m in $(cat /modules.list); do
  insmod "/modules/$m" || fail "insmod $m failed"
done

# The disk shows up asynchronously once virtio_blk has probed it.
tries=0
while [ ! -b /dev/vda ]; do
  tries=$((tries + 1))
  [ "$tries" -gt 200 ] && fail "no /dev/vda"
  sleep 0.05
done
mkdir -p /newroot
mount -t ext4 -o rw /dev/vda /newroot || fail "cannot mount /dev/vda"

mode=none
for arg in $(cat /proc/cmdline); do
  case "$arg" in
    crius.init=*) mode=${arg#crius.init=} ;;
  esac
done

mkdir -p /newroot/usr/local/sbin
cp /crius-vm-init /newroot/usr/local/sbin/crius-vm-init
chmod 0755 /newroot/usr/local/sbin/crius-vm-init
if [ "$mode" = systemd ]; then
  cp /crius-vm.service /newroot/etc/systemd/system/crius-vm.service
  mkdir -p /newroot/etc/systemd/system/multi-user.target.wants
  ln -sf ../crius-vm.service /newroot/etc/systemd/system/multi-user.target.wants/crius-vm.service
  init=/lib/systemd/systemd
else
  init=/usr/local/sbin/crius-vm-init
fi

umount /proc /sys
mount --move /dev /newroot/dev
exec switch_root /newroot "$init"
