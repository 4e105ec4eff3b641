# Guest side of the NVMe scenario (busybox sh, run by the harness's /init). Linux's nvme driver binds
# to the Java controller; its namespaces appear as nvme0n1..3 (Linux scans them in parallel, so which
# is which is read from their nsid): 1 an image, 2 a null namespace, 3 a second image for ext4.
# Boot 1: the identity in sysfs and through nvme-cli (list, id-ctrl, id-ns, smart-log, get-feature);
# 8 MiB of random data written to namespace 1 read back with the same checksum after the page cache
# is dropped, and again after a controller reset; 8 MiB written at 40 MiB are discarded (Dataset
# Management: the host sees a hole); ext4 on namespace 3 with files and their checksums; fio writes
# and verifies at several depths, on several queues (the nvme module's write_queues and poll_queues
# give a write queue, read queues and a polled queue); then a reboot. Boot 2: e2fsck finds the file
# system clean and the files match their checksums; fio verify passes while the controller is reset
# from sysfs under it.
# Data exchanged with the host's Java NVMe driver (the test prepends java_lba, guest_lba and
# pattern_blocks): before boot 1 the driver wrote a pattern at java_lba of namespace 1, which boot 1
# reads past the page cache and compares with the same pattern made here; boot 1 then writes a
# pattern of its own at guest_lba, which the driver reads once the guest has powered off. A pattern
# is a 512-byte block per LBA: "jvfio WRITER lba N", blank-padded, ending in a newline.
set -e
nvme_dmesg() { dmesg | grep -i nvme | while read -r line; do echo "JVFIO-RESULT: dmesg $line"; done; }
trap nvme_dmesg EXIT
step() { echo "JVFIO-RESULT: step $1 boot $JVFIO_BOOT at $(cut -d' ' -f1 /proc/uptime) s"; }   # timings for the log
# The value of an nvme-cli "name : value" line on stdin, trailing blanks dropped.
field() { sed -n "s/^$1[[:space:]]*:[[:space:]]*//p" | sed 's/[[:space:]]*$//'; }
# fio write-then-verify of 4 KiB blocks on namespace 1; extra options follow.
verify() {
  /usr/bin/fio --name=verify --filename="$dev" --direct=1 --rw=randwrite --bs=4k --verify=crc32c --do_verify=1 \
    --verify_fatal=1 --output-format=terse --terse-version=3 "$@" > /tmp/fio.out
}

i=0
while [ ! -b /dev/nvme0n3 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done   # the namespace scan is asynchronous
[ -b /dev/nvme0n3 ] || { echo "no nvme0n3; block devices: $(ls /sys/block)"; exit 1; }
for ns in /sys/block/nvme0n*; do
  case "$(cat "$ns/nsid")" in
    1) dev=/dev/$(basename "$ns") ;;
    2) null=/dev/$(basename "$ns") ;;
    3) fs=/dev/$(basename "$ns") ;;
  esac
done
ctrl=/sys/class/nvme/nvme0
mkdir -p /mnt
step probed

pattern() {
  awk -v writer="$1" -v first="$2" -v n="$pattern_blocks" \
    'BEGIN { for (i = 0; i < n; i++) printf "%-511s\n", "jvfio " writer " lba " (first + i) }'
}

if [ "$JVFIO_BOOT" = 1 ]; then
  # O_DIRECT in 64 KiB requests from an LBA that is not 4 KiB-aligned: the commands reach the controller.
  pattern java "$java_lba" > /tmp/java-expected
  dd if="$dev" of=/tmp/java-read bs=64k iflag=direct,skip_bytes,count_bytes skip=$((java_lba * 512)) \
    count=$((pattern_blocks * 512)) 2>/dev/null
  cmp /tmp/java-expected /tmp/java-read && echo "JVFIO-RESULT: java driver's pattern read"
  pattern guest "$guest_lba" > /tmp/guest-pattern
  dd if=/tmp/guest-pattern of="$dev" bs=64k oflag=direct,seek_bytes seek=$((guest_lba * 512)) conv=fsync 2>/dev/null
  echo "JVFIO-RESULT: guest's pattern written"
  step exchange

  echo "JVFIO-RESULT: namespaces $(ls -d /sys/block/nvme0n* | wc -l)"
  echo "JVFIO-RESULT: driver $(basename "$(readlink $ctrl/device/driver)")"
  echo "JVFIO-RESULT: model $(cat $ctrl/model)"
  echo "JVFIO-RESULT: serial $(cat $ctrl/serial)"
  echo "JVFIO-RESULT: firmware $(cat $ctrl/firmware_rev)"
  echo "JVFIO-RESULT: sectors $(cat /sys/block/"${dev#/dev/}"/size)"
  echo "JVFIO-RESULT: null sectors $(cat /sys/block/"${null#/dev/}"/size)"
  echo "JVFIO-RESULT: queues $(ls /sys/block/"${dev#/dev/}"/mq | wc -l)"
  echo "JVFIO-RESULT: io_poll $(cat /sys/block/"${dev#/dev/}"/queue/io_poll)"

  # nvme-cli: what the controller says of itself, through the admin ioctls.
  nvme list | while read -r line; do echo "JVFIO-RESULT: nvme list $line"; done
  nvme id-ctrl /dev/nvme0 > /tmp/id-ctrl
  for f in mn sn fr oacs; do echo "JVFIO-RESULT: id-ctrl $f $(field $f < /tmp/id-ctrl)"; done
  head -24 /tmp/id-ctrl   # for the log: the controller as nvme-cli and lspci show it
  lspci -vv -d ::0108
  for d in "$dev" "$fs"; do
    nvme id-ns "$d" > /tmp/id-ns
    echo "JVFIO-RESULT: id-ns $(cat /sys/block/"${d#/dev/}"/nsid) nsze $(($(field nsze < /tmp/id-ns))) lbads $(sed -n 's/.*lbads:\([0-9]*\).*in use.*/\1/p' /tmp/id-ns)"
  done
  nvme smart-log /dev/nvme0 > /tmp/smart
  for f in critical_warning temperature available_spare; do echo "JVFIO-RESULT: smart-log $f $(field $f < /tmp/smart)"; done
  current() { nvme get-feature /dev/nvme0 -f "$1" | sed -n 's/.*Current value: *\(0x[0-9a-fA-F]*\).*/\1/p'; }
  queues=$(current 7)
  echo "JVFIO-RESULT: get-feature queues sq $(((queues & 0xffff) + 1)) cq $(((queues >> 16) + 1))"
  echo "JVFIO-RESULT: get-feature volatile write cache $(($(current 6) & 1))"
  step nvme-cli

  head -c 8388608 /dev/urandom > /tmp/data
  dd if=/tmp/data of="$dev" bs=1M seek=3 conv=fsync 2>/dev/null
  echo 3 > /proc/sys/vm/drop_caches
  dd if="$dev" of=/tmp/back bs=1M skip=3 count=8 2>/dev/null
  written=$(sha256sum < /tmp/data | cut -d' ' -f1)
  read_back=$(sha256sum < /tmp/back | cut -d' ' -f1)
  echo "JVFIO-RESULT: sha256 written $written"
  echo "JVFIO-RESULT: sha256 read $read_back"
  [ "$written" = "$read_back" ] && echo "JVFIO-RESULT: checksums match"

  # A controller reset (CC.EN 1->0, queues rebuilt): the data is still there afterwards.
  echo 1 > $ctrl/reset_controller
  i=0
  while [ "$(cat $ctrl/state)" != live ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
  echo "JVFIO-RESULT: state after reset $(cat $ctrl/state)"
  echo 3 > /proc/sys/vm/drop_caches
  dd if="$dev" of=/tmp/back bs=1M skip=3 count=8 2>/dev/null
  [ "$(sha256sum < /tmp/back | cut -d' ' -f1)" = "$written" ] && echo "JVFIO-RESULT: checksums match after reset"

  dd if="$null" of=/tmp/zeros bs=64k count=4 2>/dev/null
  [ "$(tr -d '\000' < /tmp/zeros | wc -c)" = 0 ] && echo "JVFIO-RESULT: null namespace reads zeros"

  dd if=/tmp/data of="$dev" bs=1M seek=40 conv=fsync 2>/dev/null
  blkdiscard -o 41943040 -l 8388608 "$dev"
  echo "JVFIO-RESULT: discarded 40m 8m"
  step dd

  /usr/sbin/mke2fs -q -F -t ext4 "$fs"   # e2fsprogs, not the busybox applet
  mount -t ext4 "$fs" /mnt
  for size in 1 4096 65537 1048576 4194304; do
    head -c "$size" /dev/urandom > "/mnt/file-$size"
  done
  (cd /mnt && sha256sum file-* > SHA256SUMS)
  echo "JVFIO-RESULT: ext4 files $(wc -l < /mnt/SHA256SUMS)"
  umount /mnt
  echo "JVFIO-RESULT: ext4 unmounted"
  step ext4

  for depth in 1 16; do
    echo "JVFIO-RESULT: fio qd$depth starts"   # the host counts doorbells from here to "passed"
    verify --ioengine=libaio --offset=16m --size=8m --iodepth=$depth
    echo "JVFIO-RESULT: fio verify qd$depth passed"
  done
  # Two jobs, one per CPU: each CPU's read queue and the write queue.
  verify --ioengine=libaio --offset=16m --size=4m --offset_increment=4m --iodepth=32 --numjobs=2 \
    --cpus_allowed=0-1 --cpus_allowed_policy=split --group_reporting
  echo "JVFIO-RESULT: fio verify qd32 2 jobs passed"
  # Terse v3: field 5 errors, 6-8 read KiB, KiB/s, IOPS (the verify pass), 47-49 the same for writes.
  awk -F';' 'END {printf "JVFIO-RESULT: fio qd32 2 jobs summary: wrote %d KiB at %d IOPS, verified %d KiB at %d IOPS, errors %d\n", $47, $49, $6, $8, $5}' /tmp/fio.out
  # Polled I/O (io_uring with hipri): the poll queue, whose completion queue never interrupts.
  verify --ioengine=io_uring --hipri --offset=16m --size=4m --iodepth=8
  echo "JVFIO-RESULT: fio verify polled qd8 passed"
  step fio
  nvme_dmesg
  echo "JVFIO-RESULT: rebooting"
  reboot -f
  exit 0
fi

echo "JVFIO-RESULT: rebooted namespaces $(ls -d /sys/block/nvme0n* | wc -l)"
/usr/sbin/e2fsck -fn "$fs" > /tmp/fsck.out && echo "JVFIO-RESULT: e2fsck clean boot=$JVFIO_BOOT"
mount -t ext4 "$fs" /mnt
(cd /mnt && sha256sum -c SHA256SUMS > /dev/null) && echo "JVFIO-RESULT: checksums match boot=$JVFIO_BOOT"
umount /mnt
step fsck

# fio verify while the controller is reset under it: commands in flight are cancelled and retried.
# The rate limit keeps fio writing for a second at least, however fast the machine; the reset comes
# as soon as the first writes are counted.
writes() { set -- $(cat /sys/block/"${dev#/dev/}"/stat); echo "$5"; }
before=$(writes)
verify --ioengine=libaio --offset=16m --size=4m --iodepth=16 --rate_iops=1000 &
fio=$!
i=0
while [ "$(writes)" = "$before" ] && [ $i -lt 300 ]; do sleep 0.05; i=$((i + 1)); done
kill -0 $fio && echo "JVFIO-RESULT: reset while fio runs"
echo 1 > $ctrl/reset_controller
i=0
while [ "$(cat $ctrl/state)" != live ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
echo "JVFIO-RESULT: state after reset under fio $(cat $ctrl/state)"
wait $fio && echo "JVFIO-RESULT: fio verify across reset passed"
step reset-under-fio
