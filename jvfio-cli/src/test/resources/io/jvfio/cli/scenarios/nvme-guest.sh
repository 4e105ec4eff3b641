# Guest side of the NVMe scenario (busybox sh, run by the harness's /init): Linux's nvme driver
# binds to the Java controller; its namespaces appear as nvme0n1 and nvme0n2 (Linux scans them in
# parallel, so which is which is read from their nsid): namespace 1 an image, namespace 2 a null
# namespace. 8 MiB of random data written to namespace 1 read back with the same checksum after
# the page cache is dropped; 8 MiB written at 40 MiB are discarded (Dataset Management: the host
# sees them as a hole); then fio writes and verifies, if the rootfs has it.
set -e
trap 'dmesg | grep -i nvme | while read -r line; do echo "JVFIO-RESULT: dmesg $line"; done' EXIT
i=0
while [ ! -b /dev/nvme0n2 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done   # the namespace scan is asynchronous
[ -b /dev/nvme0n2 ] || { echo "no nvme0n2; block devices: $(ls /sys/block)"; exit 1; }
echo "JVFIO-RESULT: namespaces $(ls -d /sys/block/nvme0n* | wc -l)"
for ns in /sys/block/nvme0n*; do
  case "$(cat "$ns/nsid")" in
    1) dev=/dev/$(basename "$ns") ;;
    2) null=/dev/$(basename "$ns") ;;
  esac
done
ctrl=/sys/class/nvme/nvme0
echo "JVFIO-RESULT: driver $(basename "$(readlink $ctrl/device/driver)")"
echo "JVFIO-RESULT: model $(cat $ctrl/model)"
echo "JVFIO-RESULT: serial $(cat $ctrl/serial)"
echo "JVFIO-RESULT: firmware $(cat $ctrl/firmware_rev)"
echo "JVFIO-RESULT: sectors $(cat /sys/block/"${dev#/dev/}"/size)"
echo "JVFIO-RESULT: null sectors $(cat /sys/block/"${null#/dev/}"/size)"
echo "JVFIO-RESULT: queues $(ls /sys/block/"${dev#/dev/}"/mq | wc -l)"

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

if [ -x /usr/bin/fio ]; then
  for depth in 1 16; do
    echo "JVFIO-RESULT: fio qd$depth starts"   # the host counts doorbells from here to "passed"
    /usr/bin/fio --name=verify-qd$depth --filename="$dev" --ioengine=libaio --direct=1 --rw=randwrite --bs=4k \
      --offset=16m --size=8m --iodepth=$depth --verify=crc32c --do_verify=1 --verify_fatal=1 --output-format=terse \
      --terse-version=3 > /tmp/fio.out
    echo "JVFIO-RESULT: fio verify qd$depth passed"
  done
fi
