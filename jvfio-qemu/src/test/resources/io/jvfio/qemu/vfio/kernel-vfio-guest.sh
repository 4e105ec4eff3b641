# KernelVfioGuestTest's guest: QEMU's NVMe controller, first through Linux's nvme driver, then bound to
# vfio-pci behind the emulated Intel IOMMU and probed from Java. The test fills in @BDF@.
set -e -o pipefail
bdf=@BDF@
dev=/sys/bus/pci/devices/$bdf
seconds() { cut -d' ' -f1 /proc/uptime; }
elapsed() { awk "BEGIN { printf \"%.2f\", $2 - $1 }"; }

echo "JVFIO-RESULT: dmar $(ls /sys/class/iommu)"
i=0
until [ -b /dev/nvme0n1 ]; do
    i=$((i + 1)); [ $i -le 300 ] || { echo "no /dev/nvme0n1"; exit 2; }
    sleep 0.1
done
echo "JVFIO-RESULT: before driver $(basename "$(readlink $dev/driver)") serial $(cat /sys/class/nvme/nvme0/serial | tr -d ' ')"
echo "JVFIO-RESULT: host pattern $(dd if=/dev/nvme0n1 bs=512 count=1 2>/dev/null | head -n 1)"
printf 'jvfio guest pattern %s\n' "$(uname -r)" | dd of=/dev/nvme0n1 bs=512 seek=8 conv=sync,fsync 2>/dev/null
echo "JVFIO-RESULT: guest pattern written"

group=$(basename "$(readlink $dev/iommu_group)")
echo "JVFIO-RESULT: iommu group $group"
echo vfio-pci > $dev/driver_override
echo $bdf > $dev/driver/unbind
echo $bdf > /sys/bus/pci/drivers_probe
echo "JVFIO-RESULT: after driver $(basename "$(readlink $dev/driver)")"
ls -l /dev/vfio
[ -c /dev/vfio/vfio ] && [ -c /dev/vfio/$group ]
echo "JVFIO-RESULT: /dev/vfio/$group exists"

# Timing under TCG: the first JVM reads the JDK over 9p (then in the page cache: cache=loose). A short main is
# quickest interpreted: compiling under TCG costs more than it saves (2-3 s against 5-9 s for this one).
t0=$(seconds)
jvfio-java -version 2>&1 | sed 's/^/java -version: /'
t1=$(seconds)
grep " 9p " /proc/mounts
jvfio-java -Xint -Djvfio.launched=$t1 io.jvfio.qemu.vfio.VfioGroupProbe $bdf
t2=$(seconds)
echo "JVFIO-RESULT: timing java -version $(elapsed $t0 $t1) s (cold), probe main $(elapsed $t1 $t2) s (warm, -Xint)"
