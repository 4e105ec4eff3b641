# The kernel-VFIO NVMe tests' guest: QEMU's NVMe controller, a jvfio controller behind vfio-user-pci (and in
# KernelVfioNvmeGuestTest two more of QEMU's behind a PCI bridge, one IOMMU group), all first held by Linux's nvme
# driver, then driven from Java through vfio-pci (KernelNvmeProbe, which binds them, runs the CLI and the NVMe
# driver, and gives them back). KernelNvmeGuest fills in the placeholders below (no others in this comment, which
# would be filled in too): the controller's address, how many NVMe controllers the guest has, shell lines of the
# test's own, the JVM's options and the probe's arguments.
set -e -o pipefail
seconds() { cut -d' ' -f1 /proc/uptime; }

echo "JVFIO-RESULT: dmar $(ls /sys/class/iommu)"
echo "JVFIO-RESULT: kernel $(uname -r)"
@PRELUDE@
# Linux's nvme driver probes asynchronously: wait until it holds every controller, so that the Java side meets
# a driver to unbind rather than one still probing.
i=0
until [ "$(cat /sys/class/nvme/nvme*/state 2>/dev/null | grep -c live)" = @CONTROLLERS@ ]; do
    i=$((i + 1)); [ $i -le 600 ] || { echo "nvme controllers not live: $(cat /sys/class/nvme/nvme*/state)"; exit 2; }
    sleep 0.1
done
echo "JVFIO-RESULT: nvme controllers live at $(seconds) s"
if [ -d /sys/module/iommufd ] || [ -c /dev/iommu ]; then echo "JVFIO-RESULT: iommufd present"; fi

t0=$(seconds)
jvfio-java @JAVA_OPTIONS@ io.jvfio.cli.scenarios.KernelNvmeProbe @BDF@ @PROBE_ARGS@
t1=$(seconds)
echo "JVFIO-RESULT: probe took $(awk "BEGIN { printf \"%.1f\", $t1 - $t0 }") s"
dmesg | grep -iE "vfio|dmar|nvme" | tail -40 | sed 's/^/dmesg: /'
