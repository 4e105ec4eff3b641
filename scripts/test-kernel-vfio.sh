#!/usr/bin/env bash
# The kernel-VFIO guests that need a kernel of our own: iommufd (/dev/iommu, VFIO cdevs) and no-IOMMU
# mode, which Debian's kernels leave out. Builds that kernel once into ~/.cache/jvfio/kernel-vfio
# (scripts/build-guest-kernel.sh: ~35-40 min cold on 2 cores, too long for CI's budget, hence this
# script of its own), then runs KernelVfioCustomKernelGuestTest: the Java NVMe driver through the
# iommufd backend (QEMU's nvme and the full circle through a jvfio controller) and in no-IOMMU mode.
# scripts/test.sh runs the same class too, and it skips itself while the kernel is not built.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
. scripts/java-home.sh
jvfio_build_env || exit 1
scripts/provision-guest.sh
scripts/build-guest-kernel.sh
exec ./mvnw -B -ntp verify -pl jvfio-cli -am -Dtest=KernelVfioCustomKernelGuestTest -Dsurefire.failIfNoSpecifiedTests=false "$@"
