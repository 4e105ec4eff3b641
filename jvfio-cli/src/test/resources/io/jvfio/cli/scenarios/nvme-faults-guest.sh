# Guest side of the NVMe fault scenarios (busybox sh, run by the harness's /init; the test prepends the
# LBA ranges its fault rules cover). Linux's nvme driver, loaded with a short nvme_core.io_timeout, meets
# faults the Java controller injects on namespace 1, one step each; after each step the kernel's new log
# lines are printed as "dmesg STEP ..." for the test to assert on.
# media:   reads of LBAs media_first..media_last complete with Unrecovered Read Error (DNR): a read of
#          exactly that range, and of its first and last block, fails (ENODATA: Linux's BLK_STS_MEDIUM);
#          the blocks either side read.
# abort:   a few reads during a fio verify run over abort_first..abort_last are never completed: the
#          driver times out, aborts them, the controller honours the Aborts, the reads are retried.
# reset:   the host refuses Aborts (the script asks for it through the mailbox, see below), then a read
#          of reset_lba is never completed: the Abort does not help, the second timeout resets the
#          controller and the read is retried after the reset.
# fatal:   a read of fatal_lba sets CSTS.CFS and is never completed: at the timeout the driver finds the
#          controller down, resets it, and the read returns the data written before.
# attach:  the host attaches namespace 2 when it sees "waiting for namespace 2"; the driver gets the
#          Namespace Attribute Changed event, rescans, nvme0n2 appears; once it has been read the host
#          detaches it and it goes away.
# Mailbox: the host answers a request by writing a line into block mailbox_lba of namespace 1 (its image
# file); the script polls that block with O_DIRECT reads.
set -e
dmesg_seen=0
# The kernel's log lines since the last call, as "dmesg STEP line".
new_dmesg() {
  dmesg > /tmp/dmesg
  tail -n +$((dmesg_seen + 1)) /tmp/dmesg | while read -r line; do echo "JVFIO-RESULT: dmesg $1 $line"; done
  dmesg_seen=$(wc -l < /tmp/dmesg)
}
trap 'new_dmesg exit' EXIT
step() { echo "JVFIO-RESULT: step $1 at $(cut -d' ' -f1 /proc/uptime) s"; }
# Reads LBA count blocks of $dev with O_DIRECT in one request; dd's error goes to /tmp/dd.err.
read_blocks() {
  dd if="$dev" of=/tmp/blocks bs=$(($2 * 512)) count=1 iflag=direct,skip_bytes skip=$(($1 * 512)) 2>/tmp/dd.err
}
# Waits for the host to write "$1" into the mailbox block.
await_host() {
  i=0
  until dd if="$dev" bs=512 count=1 iflag=direct,skip_bytes skip=$((mailbox_lba * 512)) 2>/dev/null | grep -q "$1"; do
    [ $i -lt 600 ] || { echo "JVFIO-RESULT: the host never wrote '$1'"; exit 1; }
    sleep 0.2; i=$((i + 1))
  done
}
live() {
  i=0
  while [ "$(cat /sys/class/nvme/nvme0/state)" != live ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
  cat /sys/class/nvme/nvme0/state
}
namespace() {   # the block device of namespace $1, or nothing
  for ns in /sys/block/nvme0n*; do
    [ -e "$ns/nsid" ] && [ "$(cat "$ns/nsid")" = "$1" ] && echo "/dev/$(basename "$ns")"
  done
  return 0
}

i=0
while [ ! -b /dev/nvme0n1 ] && [ $i -lt 300 ]; do sleep 0.1; i=$((i + 1)); done
dev=$(namespace 1)
[ -n "$dev" ] || { echo "no namespace 1; block devices: $(ls /sys/block)"; exit 1; }
echo "JVFIO-RESULT: io_timeout $(cat /sys/module/nvme_core/parameters/io_timeout) max_retries $(cat /sys/module/nvme_core/parameters/max_retries)"
new_dmesg boot > /dev/null
step probed

# media: an unrecovered read error on exactly media_first..media_last.
blocks=$((media_last - media_first + 1))
read_blocks "$media_first" "$blocks" && echo "JVFIO-RESULT: media range read" \
  || echo "JVFIO-RESULT: media range: $(sed -n 's/.*: //p' /tmp/dd.err | head -1)"
read_blocks "$media_first" 1 || echo "JVFIO-RESULT: media first block: $(sed -n 's/.*: //p' /tmp/dd.err | head -1)"
read_blocks "$media_last" 1 || echo "JVFIO-RESULT: media last block: $(sed -n 's/.*: //p' /tmp/dd.err | head -1)"
read_blocks $((media_first - 1)) 1 && echo "JVFIO-RESULT: media block before reads"
read_blocks $((media_last + 1)) 1 && echo "JVFIO-RESULT: media block after reads"
read_blocks $((media_first - 16)) 16 && echo "JVFIO-RESULT: media 16 blocks before read"
read_blocks $((media_last + 1)) 16 && echo "JVFIO-RESULT: media 16 blocks after read"
new_dmesg media
step media

# abort: fio writes the range, then verifies it; some of the verifying reads are never completed.
/usr/bin/fio --name=abort --filename="$dev" --direct=1 --ioengine=libaio --iodepth=8 --rw=randwrite --bs=4k \
  --offset=$((abort_first * 512)) --size=$(((abort_last - abort_first + 1) * 512)) --verify=crc32c --do_verify=1 \
  --verify_fatal=1 --randrepeat=1 > /tmp/fio.out 2>&1 && echo "JVFIO-RESULT: abort fio verify passed" || cat /tmp/fio.out
echo "JVFIO-RESULT: abort state $(live)"
new_dmesg abort
step abort

# Data for the reset and fatal steps, written before the host arms anything that concerns it.
head -c 4096 /dev/urandom > /tmp/reset-data
head -c 4096 /dev/urandom > /tmp/fatal-data
dd if=/tmp/reset-data of="$dev" bs=4096 oflag=direct,seek_bytes seek=$((reset_lba * 512)) 2>/dev/null
dd if=/tmp/fatal-data of="$dev" bs=4096 oflag=direct,seek_bytes seek=$((fatal_lba * 512)) 2>/dev/null

# reset: the host refuses Aborts from now on; the read of reset_lba is never completed.
echo "JVFIO-RESULT: refuse aborts please"
await_host "aborts refused"
read_blocks "$reset_lba" 8 && cmp -s /tmp/blocks /tmp/reset-data && echo "JVFIO-RESULT: reset read returned the data"
echo "JVFIO-RESULT: reset state $(live)"
new_dmesg reset
step reset

# fatal: the read of fatal_lba sets CSTS.CFS.
read_blocks "$fatal_lba" 8 && cmp -s /tmp/blocks /tmp/fatal-data && echo "JVFIO-RESULT: fatal read returned the data"
echo "JVFIO-RESULT: fatal state $(live)"
new_dmesg fatal
step fatal

# attach: namespace 2 comes and goes at the host's hand.
echo "JVFIO-RESULT: waiting for namespace 2"
i=0
while [ -z "$(namespace 2)" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
ns2=$(namespace 2)
if [ -n "$ns2" ]; then
  echo "JVFIO-RESULT: namespace 2 appeared sectors $(cat /sys/block/"${ns2#/dev/}"/size)"
  echo "JVFIO-RESULT: namespace 2 reads $(dd if="$ns2" bs=512 count=1 iflag=direct 2>/dev/null | head -1)"
fi
echo "JVFIO-RESULT: namespace 2 done"
i=0
while [ -n "$(namespace 2)" ] && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -z "$(namespace 2)" ] && echo "JVFIO-RESULT: namespace 2 gone, namespaces $(ls -d /sys/block/nvme0n* | wc -l)"
new_dmesg attach
step attach
