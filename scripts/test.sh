#!/usr/bin/env bash
# Runs every test of jvfio, guest tests included: provisions QEMU 11.1 and the guest kernel into
# the cache (idempotent), builds and installs every module with its tests on JDK 25, then builds
# what ships beside the modules: the example device project (against the installed artifacts) and
# the self-contained distribution, which is run with no JDK.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
. scripts/java-home.sh
jvfio_build_env || exit 1
scripts/provision-guest.sh
./mvnw -B -ntp install "$@"
scripts/build-example.sh
scripts/dist.sh --check
