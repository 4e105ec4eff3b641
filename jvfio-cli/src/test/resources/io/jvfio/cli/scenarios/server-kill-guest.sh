# Guest side of the server-kill scenario (busybox sh, run by the harness's /init). Linux's nvme driver
# (nvme_core io_timeout and admin_timeout shortened by the test) on a jvfio NVMe namespace.
# jvfio.kill=write:  writes 8 MiB of random bytes at offset 0 with O_DIRECT and fsync (a FLUSH), prints
#                    their sum, starts a writer that keeps O_DIRECT writes in flight at 32 MiB, and says
#                    "writing": the host SIGKILLs the server process then. The script records what the
#                    guest sees: how the writer ends, the controller's state, a read, the kernel's log.
# jvfio.kill=verify: with a fresh server on the same image, reads the first 8 MiB back and prints the sum.
set -e
uptime_s() { cut -d' ' -f1 /proc/uptime; }
# Waits up to $2 tenths of a second for file $1 (a background job's last act; busybox sh leaves ended
# jobs as zombies, so kill -0 cannot tell); prints "ended" or "blocked".
await_file() {
  i=0
  while [ ! -e "$1" ] && [ $i -lt "$2" ]; do sleep 0.1; i=$((i + 1)); done
  if [ -e "$1" ]; then echo ended; else echo blocked; fi
}

i=0
while [ ! -b /dev/nvme0n1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
dev=/dev/nvme0n1
[ -b "$dev" ] || { echo "no $dev; block devices: $(ls /sys/block)"; exit 1; }

if grep -q 'jvfio.kill=verify' /proc/cmdline; then
  dd if="$dev" of=/tmp/synced bs=1M count=8 iflag=direct 2>/dev/null
  echo "JVFIO-RESULT: read back sha256 $(sha256sum < /tmp/synced | cut -d' ' -f1)"
  exit 0
fi

head -c 8388608 /dev/urandom > /tmp/synced
dd if=/tmp/synced of="$dev" bs=1M oflag=direct conv=fsync 2>/dev/null
echo "JVFIO-RESULT: synced sha256 $(sha256sum < /tmp/synced | cut -d' ' -f1)"
(
  rounds=0
  while dd if=/dev/urandom of="$dev" bs=1M count=16 seek=32 oflag=direct 2>/tmp/writer.err; do rounds=$((rounds + 1)); done
  echo "JVFIO-RESULT: writer failed after $rounds rounds at $(uptime_s) s: $(head -n 1 /tmp/writer.err)"
  touch /tmp/writer.done
) &
sleep 2
echo "JVFIO-RESULT: writing at $(uptime_s) s"
# The host kills the server now.
echo "JVFIO-RESULT: writer $(await_file /tmp/writer.done 300) at $(uptime_s) s"
echo "JVFIO-RESULT: controller state $(cat /sys/class/nvme/nvme0/state 2>/dev/null || echo gone)"
(
  if dd if="$dev" of=/tmp/read bs=1M count=1 iflag=direct 2>/tmp/read.err; then
    echo "JVFIO-RESULT: read after the kill returned $(wc -c < /tmp/read) bytes, as synced: $([ "$(sha256sum < /tmp/read | cut -d' ' -f1)" = "$(head -c 1048576 /tmp/synced | sha256sum | cut -d' ' -f1)" ] && echo yes || echo no)"
  else
    echo "JVFIO-RESULT: read after the kill failed: $(head -n 1 /tmp/read.err)"
  fi
  touch /tmp/read.done
) &
echo "JVFIO-RESULT: reader $(await_file /tmp/read.done 200) at $(uptime_s) s"
echo "JVFIO-RESULT: block devices $(ls /sys/block | tr '\n' ' ')"
dmesg | while read -r line; do echo "JVFIO-RESULT: dmesg $line"; done
