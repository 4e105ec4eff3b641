# Guest side of the live-upgrade scenario (busybox sh, run by the harness's /init; the test prepends
# mailbox_lba, fio_jobs, fio_job_bytes and fio_depth). fio writes and verifies (crc32c, direct I/O) the
# start of the Java virtio-blk disk (/dev/vda) and of the Java NVMe namespace (/dev/nvme0n1) round after
# round, both at once, while the host replaces each device's server process again and again. Each round
# prints its fio's largest completion latency ("clat max"), which includes any upgrade's pause. When
# the host writes "upgrades done" into the mailbox block of /dev/vda (past fio's region) the rounds
# under way finish; then what the last round wrote is read back and verified once more on both devices,
# its SHA-256 printed for the host to compare with the image files, and the kernel's log lines since
# fio started are printed ("dmesg ...").
set -e
region_bytes=$((fio_jobs * fio_job_bytes))

i=0
while { [ ! -b /dev/vda ] || [ ! -b /dev/nvme0n1 ]; } && [ $i -lt 600 ]; do sleep 0.1; i=$((i + 1)); done
[ -b /dev/vda ] && [ -b /dev/nvme0n1 ] || { echo "no vda or nvme0n1; block devices: $(ls /sys/block)"; exit 1; }
echo "JVFIO-RESULT: drivers $(basename "$(readlink /sys/block/vda/device/driver)") $(basename "$(readlink /sys/class/nvme/nvme0/device/driver)")"
dmesg_seen=$(dmesg | wc -l)

# One write-then-verify run of fio on $1 (named $2); more fio options after those.
fio_run() {
  dev=$1 name=$2
  shift 2
  /usr/bin/fio --name="$name" --filename="$dev" --direct=1 --ioengine=libaio --rw=randwrite --bs=4k \
    --iodepth="$fio_depth" --numjobs="$fio_jobs" --size="$fio_job_bytes" --offset_increment="$fio_job_bytes" \
    --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=1 --group_reporting --output-format=json "$@" \
    > "/tmp/$name.json" 2> "/tmp/$name.err"
}
# The largest completion latency in a fio JSON report, in microseconds (reads and writes).
clat_max_us() {
  awk '/"clat_ns"/ { in_clat = 1; next }
       in_clat && /"max"/ { gsub(/[^0-9]/, "", $3); if ($3 + 0 > max) max = $3 + 0; in_clat = 0 }
       END { printf "%d\n", max / 1000 }' "$1"
}
# Rounds on $1 (named $2) until /tmp/stop exists; the last line of /tmp/$2.rounds is "ROUNDS CLAT_MAX_US".
rounds() {
  dev=$1 name=$2 round=0 worst=0
  while [ ! -e /tmp/stop ]; do
    round=$((round + 1))
    if ! fio_run "$dev" "$name"; then
      echo "JVFIO-RESULT: fio $name round $round failed"
      tail -n 40 "/tmp/$name.err" "/tmp/$name.json"
      return 1
    fi
    max=$(clat_max_us "/tmp/$name.json")
    [ "$max" -gt "$worst" ] && worst=$max
    echo "JVFIO-RESULT: fio $name round $round passed clat max $max us"
  done
  echo "$round $worst" > "/tmp/$name.rounds"
}

echo "JVFIO-RESULT: fio starts"
rounds /dev/vda vda & blk=$!
rounds /dev/nvme0n1 nvme & nvme=$!
set +e
until dd if=/dev/vda bs=512 count=1 iflag=direct,skip_bytes skip=$((mailbox_lba * 512)) 2>/dev/null | grep -q "upgrades done"; do
  # A round that failed ends its loop: stop waiting for the host.
  kill -0 $blk 2>/dev/null && kill -0 $nvme 2>/dev/null || break
  sleep 0.5
done
touch /tmp/stop
wait $blk; blk_status=$?
wait $nvme; nvme_status=$?
set -e
[ $blk_status -eq 0 ] && [ $nvme_status -eq 0 ] || exit 1
for name in vda nvme; do
  read -r count worst < "/tmp/$name.rounds"
  echo "JVFIO-RESULT: fio $name verify passed rounds $count clat max $worst us"
done

# After the last upgrade: the last round's data read back and verified again, then its checksum.
fio_run /dev/vda vda --verify_only=1 && echo "JVFIO-RESULT: vda verified after the upgrades"
fio_run /dev/nvme0n1 nvme --verify_only=1 && echo "JVFIO-RESULT: nvme verified after the upgrades"
for dev in vda nvme0n1; do
  echo "JVFIO-RESULT: sha256 $dev $(dd if=/dev/$dev bs=$region_bytes count=1 iflag=direct 2>/dev/null | sha256sum | cut -d' ' -f1)"
done
echo "JVFIO-RESULT: nvme state $(cat /sys/class/nvme/nvme0/state)"
dmesg | tail -n +$((dmesg_seen + 1)) | while read -r line; do echo "JVFIO-RESULT: dmesg $line"; done
