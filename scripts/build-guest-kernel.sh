#!/usr/bin/env bash
# Build a guest kernel with what Debian's leaves out for the kernel VFIO tests: IOMMUFD (/dev/iommu),
# VFIO_DEVICE_CDEV (/dev/vfio/devices/vfioN) and VFIO_NOIOMMU (enable_unsafe_noiommu_mode).
#
#   $JVFIO_CACHE/kernel-<debian version>/vmlinuz, kernel-release, tree/usr/lib/modules/<release>/, config, build.log
#   $JVFIO_CACHE/kernel-vfio -> kernel-<debian version>       (GuestToolchain.withKernel(Path.of("kernel-vfio")))
#
# Source: Debian's linux-source package of the same version as the guest kernel (provision-guest.sh), so the
# base config is that kernel's own (guest/tree/boot/config-*) and `olddefconfig` meets no new symbol. The build is
# kept small by `localmodconfig` against the modules the guests load (GUEST_MODULES below; a module missing there
# is missing in the kernel), and no debug info, BTF, module signing or module compression.
# Needs root (chroot), scripts/provision-guest.sh first, ~3 GB free during the build (the tree is deleted after,
# unless KEEP_BUILD=1), and build tools, which are installed into the rootfs chroot (stamp .jvfio-kernel-tools-2).
# JOBS=n sets make's parallelism (default: all CPUs); the build runs at nice 19. Idempotent: a finished kernel
# directory is kept; FORCE=1 rebuilds.
set -euo pipefail

CACHE="${JVFIO_CACHE:-$HOME/.cache/jvfio}"
ROOTFS="$CACHE/rootfs"
GUEST="$CACHE/guest"
JOBS="${JOBS:-$(nproc)}"
# Every module a kernel-VFIO guest loads: the NVMe controller (nvme for the rebinding), vfio-pci with the legacy
# container and iommufd, the 9p share that carries the JDK, virtio-iommu as the second vIOMMU, and the disk guests'.
GUEST_MODULES=(nvme nvme_core vfio vfio_pci vfio_pci_core vfio_iommu_type1 irqbypass iommufd
  9p 9pnet 9pnet_virtio netfs virtio_iommu virtio_blk ext4 jbd2 mbcache crc16 crc32c_generic)
# What the tests need beyond Debian's config; LOCALVERSION names the release (6.12.117-jvfio). Lockdown goes too: it
# selects MODULE_SIG.
CONFIG_FRAGMENT=(
  --module IOMMUFD --enable VFIO_DEVICE_CDEV --enable VFIO_NOIOMMU --disable IOMMUFD_VFIO_CONTAINER
  --set-str LOCALVERSION -jvfio --disable LOCALVERSION_AUTO
  --disable DEBUG_INFO --disable DEBUG_INFO_DWARF5 --disable DEBUG_INFO_DWARF_TOOLCHAIN_DEFAULT
  --enable DEBUG_INFO_NONE --disable DEBUG_INFO_BTF
  --disable SECURITY_LOCKDOWN_LSM --disable SECURITY_LOCKDOWN_LSM_EARLY --disable MODULE_SIG --disable MODULE_SIG_ALL
  --set-str SYSTEM_TRUSTED_KEYS "" --set-str SYSTEM_REVOCATION_KEYS ""
  --disable MODULE_COMPRESS
)

log() { printf '[build-guest-kernel] %s\n' "$*" >&2; }
in_chroot() { chroot "$ROOTFS" /usr/bin/env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root DEBIAN_FRONTEND=noninteractive "$@"; }

[ "$(id -u)" = 0 ] || { log "must run as root (chroot)"; exit 1; }
[ -f "$GUEST/.jvfio-guest" ] || { log "no guest toolchain in $CACHE: run scripts/provision-guest.sh first"; exit 1; }
DEBIAN_RELEASE=$(cat "$GUEST/kernel-release")              # 6.12.117+deb13-amd64
UPSTREAM=${DEBIAN_RELEASE%%+*}                              # 6.12.117
SERIES=$(echo "$UPSTREAM" | cut -d. -f1,2)                  # 6.12
BASE_CONFIG="$GUEST/tree/boot/config-$DEBIAN_RELEASE"
[ -f "$BASE_CONFIG" ] || { log "missing $BASE_CONFIG"; exit 1; }

install_tools() {
  [ -f "$ROOTFS/.jvfio-kernel-tools-2" ] && return
  log "installing build tools into the chroot"
  in_chroot apt-get update -qq
  # libelf-dev must match the libelf the chroot has (QEMU from trixie-backports may have brought a newer one).
  local elf
  elf=$(in_chroot dpkg-query -W -f='${Version}' libelf1t64 2>/dev/null || true)
  in_chroot apt-get install -y -qq --no-install-recommends gcc make bc bison flex libssl-dev "libelf-dev${elf:+=$elf}" perl \
      cpio kmod xz-utils zstd python3 >"$CACHE/kernel-tools.log" 2>&1 || { tail -20 "$CACHE/kernel-tools.log" >&2; exit 1; }
  touch "$ROOTFS/.jvfio-kernel-tools-2"
}

# linux-source-<series> at the guest kernel's Debian version, e.g. 6.12.117-1 for 6.12.117+deb13-amd64.
source_version() {
  in_chroot apt-cache madison "linux-source-$SERIES" | awk -v up="$UPSTREAM" '$3 ~ "^" up "-" {print $3; exit}'
}

main() {
  install_tools
  local version
  version=$(source_version)
  [ -n "$version" ] || { log "no linux-source-$SERIES of version $UPSTREAM-* in the chroot's apt lists (apt-get update?)"; exit 1; }
  local out="$CACHE/kernel-$version"
  if [ -f "$out/.jvfio-kernel" ] && [ -z "${FORCE:-}" ]; then
    log "already built: $out ($(cat "$out/kernel-release"))"; ln -sfn "kernel-$version" "$CACHE/kernel-vfio"; return
  fi
  local build=/usr/src/jvfio-kernel-build          # inside the chroot
  local host_build="$ROOTFS$build"
  rm -rf "$host_build" "$out"; mkdir -p "$host_build" "$out"
  log "linux-source-$SERIES $version: downloading and unpacking"
  in_chroot sh -c "cd $build && apt-get download -qq linux-source-$SERIES=$version && dpkg-deb -x linux-source-*.deb pkg \
      && tar -xaf pkg/usr/src/linux-source-$SERIES.tar.xz && rm -rf pkg linux-source-*.deb"
  local src="$build/linux-source-$SERIES"
  cp "$BASE_CONFIG" "$ROOTFS$src/.config"
  printf 'Module Size Used by\n' >"$host_build/modules.lsmod"
  printf '%s 0 0\n' "${GUEST_MODULES[@]}" >>"$host_build/modules.lsmod"
  local started=$SECONDS
  log "configuring: Debian's $DEBIAN_RELEASE config, localmodconfig for ${#GUEST_MODULES[@]} modules, the fragment"
  in_chroot sh -c "cd $src && yes '' | make -s LSMOD=$build/modules.lsmod localmodconfig" >"$out/build.log" 2>&1
  in_chroot "$src/scripts/config" --file "$src/.config" "${CONFIG_FRAGMENT[@]}"
  in_chroot make -s -C "$src" olddefconfig >>"$out/build.log" 2>&1
  for want in CONFIG_IOMMUFD=m CONFIG_VFIO_DEVICE_CDEV=y CONFIG_VFIO_NOIOMMU=y CONFIG_VFIO_PCI=m CONFIG_NET_9P_VIRTIO=m; do
    grep -qx "$want" "$ROOTFS$src/.config" || { log "config lacks $want after olddefconfig"; exit 1; }
  done
  for unwanted in CONFIG_DEBUG_INFO=y CONFIG_DEBUG_INFO_BTF=y CONFIG_MODULE_SIG=y; do
    ! grep -qx "$unwanted" "$ROOTFS$src/.config" || { log "config still has $unwanted after olddefconfig"; exit 1; }
  done
  log "configured: $(grep -c '=m$' "$ROOTFS$src/.config") modules, $(grep -c '=y$' "$ROOTFS$src/.config") built-in options"
  log "building with $JOBS jobs (log: $out/build.log)"
  in_chroot nice -n 19 make -C "$src" -j"$JOBS" bzImage modules >>"$out/build.log" 2>&1 \
    || { tail -30 "$out/build.log" >&2; exit 1; }
  in_chroot make -s -C "$src" INSTALL_MOD_PATH="$build/install/usr" INSTALL_MOD_STRIP=1 modules_install >>"$out/build.log" 2>&1
  local release
  release=$(in_chroot make -s -C "$src" kernelrelease)
  cp "$ROOTFS$src/arch/x86/boot/bzImage" "$out/vmlinuz"
  cp "$ROOTFS$src/.config" "$out/config"
  echo "$release" >"$out/kernel-release"
  mkdir -p "$out/tree/usr/lib/modules"
  cp -a "$host_build/install/usr/lib/modules/$release" "$out/tree/usr/lib/modules/"
  rm -f "$out/tree/usr/lib/modules/$release/build" "$out/tree/usr/lib/modules/$release/source"
  [ -n "${KEEP_BUILD:-}" ] || rm -rf "$host_build"
  touch "$out/.jvfio-kernel"
  ln -sfn "kernel-$version" "$CACHE/kernel-vfio"
  log "built $release in $(( (SECONDS - started) / 60 )) min $(( (SECONDS - started) % 60 )) s: $out ($(du -sh "$out" | cut -f1))"
}
main "$@"
