# Guest side of the GPIO scenario (busybox sh, run by the harness's /init).
# Finds the PCI-IDIO-16, shows it with lspci, checks Linux's driver bound to it, sets outputs
# 0, 2 and 15, reads the 16 inputs, then arms an edge interrupt on input 0 and waits for the
# host to toggle it.
set -e
slot=""
for d in /sys/bus/pci/devices/*; do
  if [ "$(cat "$d/vendor")" = 0x494f ] && [ "$(cat "$d/device")" = 0x0dc8 ]; then slot=$(basename "$d"); fi
done
[ -n "$slot" ] || { echo "no PCI-IDIO-16 (494f:0dc8) in the guest"; exit 1; }
lspci -nn -k -s "$slot" 2>/dev/null
lspci -vv -s "$slot" 2>/dev/null
drv=$(basename "$(readlink "/sys/bus/pci/devices/$slot/driver")")
echo "JVFIO-RESULT: driver $drv"
[ "$drv" = pci-idio-16 ]

base=""
for c in /sys/class/gpio/gpiochip*; do
  if [ "$(cat "$c/label")" = "$slot" ]; then base=$(cat "$c/base"); fi
done
[ -n "$base" ] || { echo "no gpiochip for $slot"; exit 1; }
# Exports line $1 of the chip; sysfs names it after the driver's line name (OUT0-15, IIN0-15).
gpio() {
  if [ "$1" -lt 16 ]; then name=OUT$1; else name=IIN$(($1 - 16)); fi
  [ -d "/sys/class/gpio/$name" ] || echo $((base + $1)) > /sys/class/gpio/export
  echo "/sys/class/gpio/$name"
}

for i in 0 2 15; do
  echo 1 > "$(gpio $i)/value"
done
echo "JVFIO-RESULT: outputs-set boot=$JVFIO_BOOT"

v=0
for i in $(seq 0 15); do
  b=$(cat "$(gpio $((16 + i)))/value")
  v=$((v | (b << i)))
done
printf 'JVFIO-RESULT: inputs 0x%04x\n' "$v"

# Interrupts delivered on the card's line: the /proc/interrupts rows that name the device.
irqs() {
  awk -v s="$slot" 'index($0, s) { for (i = 2; i <= NF && $i ~ /^[0-9]+$/; i++) t += $i } END { print t + 0 }' /proc/interrupts
}
echo both > "$(gpio 16)/edge"
before=$(irqs)
echo "JVFIO-RESULT: irq-armed boot=$JVFIO_BOOT"
n=0
while [ $(($(irqs) - before)) -lt 1 ] && [ $n -lt 300 ]; do sleep 0.1; n=$((n + 1)); done
echo "JVFIO-RESULT: interrupts $(($(irqs) - before)) boot=$JVFIO_BOOT"
[ $(($(irqs) - before)) -ge 1 ]

# A reboot test asks for one reboot on the kernel command line.
if grep -q 'jvfio.reboot-once' /proc/cmdline && [ "$JVFIO_BOOT" = 1 ]; then
  echo "JVFIO-RESULT: rebooting"
  reboot -f
fi
