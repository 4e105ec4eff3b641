#!/usr/bin/env bash
# Provision what the guest tests need, idempotently, into a cache outside the work tree:
#   $JVFIO_CACHE/rootfs   Debian trixie (+ trixie-backports) chroot with QEMU 11.1
#   $JVFIO_CACHE/guest    the Debian guest kernel (vmlinuz), its modules, busybox-static
# Re-running is cheap: each step leaves a stamp file and is skipped once done.
set -euo pipefail

CACHE="${JVFIO_CACHE:-$HOME/.cache/jvfio}"
ROOTFS="$CACHE/rootfs"
GUEST="$CACHE/guest"
MIRROR="${JVFIO_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
SUITE=trixie

log() { printf '[provision] %s\n' "$*" >&2; }
need_root() { [ "$(id -u)" = 0 ] || { log "must run as root (debootstrap and chroot need it)"; exit 1; }; }

host_tools() {
  local missing=()
  command -v debootstrap >/dev/null || missing+=(debootstrap)
  command -v xz >/dev/null || missing+=(xz-utils)
  command -v cpio >/dev/null || missing+=(cpio)
  command -v e2fsck >/dev/null || missing+=(e2fsprogs)
  if [ ${#missing[@]} -gt 0 ]; then
    log "installing host tools: ${missing[*]}"
    apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
}

bootstrap_rootfs() {
  [ -f "$ROOTFS/.jvfio-bootstrapped" ] && return
  log "debootstrap $SUITE into $ROOTFS (a few minutes, once)"
  rm -rf "$ROOTFS"
  mkdir -p "$ROOTFS"
  debootstrap --variant=minbase --include=ca-certificates "$SUITE" "$ROOTFS" "$MIRROR" >"$CACHE/debootstrap.log" 2>&1 \
    || { tail -20 "$CACHE/debootstrap.log" >&2; exit 1; }
  cat >"$ROOTFS/etc/apt/sources.list" <<SRC
deb $MIRROR $SUITE main
deb $MIRROR $SUITE-backports main
SRC
  touch "$ROOTFS/.jvfio-bootstrapped"
}

in_chroot() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin DEBIAN_FRONTEND=noninteractive "$@"; }

install_qemu() {
  [ -f "$ROOTFS/.jvfio-qemu" ] && return
  log "installing qemu-system-x86 from $SUITE-backports"
  in_chroot apt-get update -qq
  in_chroot apt-get install -y -qq --no-install-recommends -t "$SUITE-backports" qemu-system-x86 >"$CACHE/qemu-install.log" 2>&1 \
    || { tail -20 "$CACHE/qemu-install.log" >&2; exit 1; }
  in_chroot qemu-system-x86_64 --version | head -1 >&2
  touch "$ROOTFS/.jvfio-qemu"
}

# Programs copied into guest initramfs images (with their libraries): lspci, mkfs.ext4/e2fsck and
# fio for the guest tests and the virtio-blk benchmark, nvme-cli for the NVMe guest test. And libvirt,
# run in the chroot itself: virt-xml-validate (libvirt-clients, with xmllint from libxml2-utils)
# checks dist/libvirt's domain XML against libvirt's schema, libvirtd with its QEMU driver and virsh
# boot it (LibvirtGuestTest); about 9 MB to download, 47 packages, 30 MB installed. A policy-rc.d
# keeps the packages' services (dbus, cron) from starting in the chroot. The stamp names the tool
# set, so a cache provisioned with an older set installs the new packages on the next run.
install_guest_tools() {
  [ -f "$ROOTFS/.jvfio-guest-tools-4" ] && return
  log "installing pciutils, e2fsprogs, fio, nvme-cli and libvirt into the chroot"
  if [ ! -e "$ROOTFS/usr/sbin/policy-rc.d" ]; then
    printf '#!/bin/sh\n# jvfio: no services start inside this chroot\nexit 101\n' >"$ROOTFS/usr/sbin/policy-rc.d"
    chmod 755 "$ROOTFS/usr/sbin/policy-rc.d"
  fi
  in_chroot apt-get update -qq
  in_chroot apt-get install -y -qq --no-install-recommends pciutils e2fsprogs fio nvme-cli \
      libvirt-clients libxml2-utils libvirt-daemon libvirt-daemon-driver-qemu >"$CACHE/guest-tools.log" 2>&1 \
    || { tail -20 "$CACHE/guest-tools.log" >&2; exit 1; }
  touch "$ROOTFS/.jvfio-guest-tools-4"
}

# The guest kernel and busybox are unpacked, not installed: no initramfs hooks run in the chroot.
fetch_guest_parts() {
  [ -f "$GUEST/.jvfio-guest" ] && return
  log "downloading the guest kernel and busybox-static"
  rm -rf "$GUEST"; mkdir -p "$GUEST/debs" "$GUEST/tree"
  in_chroot apt-get update -qq
  local kpkg
  kpkg=$(in_chroot apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
  [ -n "$kpkg" ] || { log "cannot resolve linux-image-amd64"; exit 1; }
  mkdir -p "$ROOTFS/tmp/jvfio-debs"
  (cd "$ROOTFS/tmp/jvfio-debs" && rm -f ./*.deb)
  in_chroot sh -c "cd /tmp/jvfio-debs && apt-get download -qq $kpkg busybox-static"
  mv "$ROOTFS"/tmp/jvfio-debs/*.deb "$GUEST/debs/"
  for deb in "$GUEST"/debs/*.deb; do dpkg-deb -x "$deb" "$GUEST/tree"; done
  local vmlinuz
  vmlinuz=$(ls "$GUEST"/tree/boot/vmlinuz-* | head -1)
  cp "$vmlinuz" "$GUEST/vmlinuz"
  basename "$vmlinuz" | sed 's/^vmlinuz-//' >"$GUEST/kernel-release"
  log "guest kernel $(cat "$GUEST/kernel-release")"
  touch "$GUEST/.jvfio-guest"
}

main() {
  need_root
  mkdir -p "$CACHE"
  host_tools
  bootstrap_rootfs
  install_qemu
  install_guest_tools
  fetch_guest_parts
  log "ready: $CACHE"
}
main "$@"
