# Guest side of FaultsGuestTest's unplug (busybox sh): one Java virtio-blk disk on a hot-plug slot.
# Has the kernel print all its messages on the console from here on (so they are out before QEMU
# may die), says "unplug-ready", and waits for the host's device_del (over QMP) to take the disk away.
disk=$(basename "$(ls -d /sys/block/vd* | head -1)")
slot=$(basename "$(dirname "$(readlink -f "/sys/block/$disk/device")")")
echo "JVFIO-RESULT: disk $disk at $slot"
dmesg -c > /dev/null
echo 8 > /proc/sys/kernel/printk
echo "JVFIO-RESULT: unplug-ready $slot"
bound=yes
for i in $(seq 1 1200); do    # 0.1 s steps: see how far the unplug gets
  if [ -n "$bound" ] && [ ! -e "/sys/bus/pci/devices/$slot/driver" ]; then
    bound=""
    echo "JVFIO-RESULT: driver unbound from $slot"
  fi
  if [ ! -e "/sys/bus/pci/devices/$slot" ]; then
    echo "JVFIO-RESULT: unplugged $slot"
    [ -e "/sys/block/$disk" ] || echo "JVFIO-RESULT: $disk gone"
    exit 0
  fi
  usleep 100000
done
echo "JVFIO-RESULT: not unplugged $slot"
exit 1
