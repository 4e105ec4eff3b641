# Guest side of FaultsGuestTest (busybox sh, run by the harness's /init). Two Java virtio-blk disks:
# "jvfio-faulty" on a hot-plug slot, whose sectors BAD..BAD+7 the host made fail with IOERR before
# boot, and "jvfio-err" on the root bus.
#  a. O_DIRECT reads of the 8 sectors before, of the bad ones and of the 8 after: only the bad fail.
#  n. Says "needs-reset-ready"; the host sets the other disk's DEVICE_NEEDS_RESET; shows the status
#     and what the driver did, and whether a read of that disk still returns.
#  b. Says "req-ready"; the host raises the faulty disk's REQ irq; waits 20 s for the disk to leave
#     /sys/bus/pci (were QEMU to ask the guest to unplug it; QEMU 11.1's vfio-user-pci does not).
#  c. Says "err-ready"; the host raises the other disk's ERR irq; QEMU stops the VM, so this waits.
# Each step prints the kernel's own lines about it (dmesg).
BAD=65536          # FaultsGuestTest.BAD_SECTOR
dd=/usr/bin/dd     # coreutils: names the error

disk_with_serial() {
  for b in /sys/block/vd*; do
    [ "$(cat "$b/serial" 2>/dev/null)" = "$1" ] && basename "$b"
  done
}
faulty=$(disk_with_serial jvfio-faulty)
other=$(disk_with_serial jvfio-err)
[ -n "$faulty" ] && [ -n "$other" ] || { echo "disks: $(ls /sys/block)"; exit 1; }
slot=$(basename "$(dirname "$(readlink -f "/sys/block/$faulty/device")")")
echo "JVFIO-RESULT: faulty $faulty at $slot, other $other"
lspci -t 2>/dev/null
dmesg -c > /dev/null

# ---- a. IOERR on a sector range
read_sectors() {   # $1: first sector; prints ok or the error
  if $dd if="/dev/$faulty" of=/dev/null bs=512 skip="$1" count=8 iflag=direct 2>/tmp/dd.err; then
    echo ok
  else
    echo "failed: $(grep -i error /tmp/dd.err | head -1)"
  fi
}
echo "JVFIO-RESULT: read before $(read_sectors $((BAD - 8)))"
echo "JVFIO-RESULT: read bad $(read_sectors $BAD)"
echo "JVFIO-RESULT: read after $(read_sectors $((BAD + 8)))"
dmesg -c | sed 's/^/JVFIO-DMESG ioerr: /'

# ---- n. NEEDS_RESET on the other disk: what Linux does with it
echo "JVFIO-RESULT: needs-reset-ready"
vdev=$(basename "$(readlink -f "/sys/block/$other/device")")
for i in $(seq 1 60); do
  st=$(cat "/sys/bus/virtio/devices/$vdev/status")
  [ $((st & 0x40)) -ne 0 ] && break
  sleep 1
done
echo "JVFIO-RESULT: $other status $st"
sleep 2   # the driver's config work runs on a workqueue
$dd if="/dev/$other" of=/dev/null bs=512 count=1 iflag=direct 2>/dev/null &
ddpid=$!
sleep 5
if kill -0 $ddpid 2>/dev/null; then
  echo "JVFIO-RESULT: read of $other after needs-reset still waiting after 5s"
else
  echo "JVFIO-RESULT: read of $other after needs-reset returned"
fi
dmesg -c | sed 's/^/JVFIO-DMESG needs-reset: /'

# ---- b. REQ: the host asks QEMU to take the faulty disk away
echo "JVFIO-RESULT: req-ready $slot"
gone=""
for i in $(seq 1 20); do   # pciehp's attention button takes ~5 s, ACPI hot-plug less
  if [ ! -e "/sys/bus/pci/devices/$slot" ]; then gone=yes; break; fi
  sleep 1
done
dmesg -c | sed 's/^/JVFIO-DMESG req: /'
if [ -n "$gone" ]; then
  echo "JVFIO-RESULT: unplugged $slot after ${i}s"
  [ -e "/sys/block/$faulty" ] || echo "JVFIO-RESULT: $faulty gone"
else
  echo "JVFIO-RESULT: still present $slot"
fi

# ---- c. ERR: QEMU stops the VM; nothing after this line is expected to run
echo "JVFIO-RESULT: err-ready"
sleep 300
dmesg -c | sed 's/^/JVFIO-DMESG err: /'
echo "JVFIO-RESULT: still running after err"
