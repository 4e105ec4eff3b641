# Guest side of the virtio-blk scenario (busybox sh, run by the harness's /init).
# Boot 1: checks that virtio_blk bound to the Java disk as /dev/vda, makes an ext4 file system,
# writes files of several sizes, records their SHA-256 sums, syncs and unmounts. With
# jvfio.reboot-once it then reboots; boot 2 checks the file system with e2fsck and the files
# against their sums. With jvfio.blk=kill it stops after the sync and waits: the host kills the
# server there.
set -e
dev=/dev/vda
[ -b "$dev" ] || { echo "no $dev; block devices: $(ls /sys/block)"; exit 1; }
echo "JVFIO-RESULT: driver $(basename "$(readlink /sys/block/vda/device/driver)")"
echo "JVFIO-RESULT: sectors $(cat /sys/block/vda/size)"
echo "JVFIO-RESULT: serial $(cat /sys/block/vda/serial)"
echo "JVFIO-RESULT: queues $(ls /sys/block/vda/mq | wc -l)"
mkdir -p /mnt

if [ "$JVFIO_BOOT" = 1 ]; then
  /usr/sbin/mke2fs -q -F -t ext4 "$dev"   # e2fsprogs, not the busybox applet
  mount -t ext4 "$dev" /mnt
  for size in 1 4096 65537 1048576 8388608; do
    head -c "$size" /dev/urandom > "/mnt/file-$size"
  done
  (cd /mnt && sha256sum file-* > SHA256SUMS)
  while read -r sum name; do echo "JVFIO-RESULT: sha256 $name $sum"; done < /mnt/SHA256SUMS
  sync
  echo "JVFIO-RESULT: synced"
  if grep -q 'jvfio.blk=kill' /proc/cmdline; then
    sleep 600   # the host kills the server now, then this QEMU
    exit 1
  fi
  umount /mnt
  echo "JVFIO-RESULT: unmounted"
  if grep -q 'jvfio.reboot-once' /proc/cmdline; then
    echo "JVFIO-RESULT: rebooting"
    reboot -f
  fi
else
  /usr/sbin/e2fsck -fn "$dev" && echo "JVFIO-RESULT: e2fsck clean boot=$JVFIO_BOOT"
  mount -t ext4 "$dev" /mnt
  (cd /mnt && sha256sum -c SHA256SUMS) && echo "JVFIO-RESULT: checksums match boot=$JVFIO_BOOT"
  umount /mnt
fi
