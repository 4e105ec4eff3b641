#!/usr/bin/env bash
# Runs every test of jvfio, guest tests included: provisions QEMU 11.1 and the guest kernel into
# the cache (idempotent), then runs the Maven build with its tests on JDK 25.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
JAVA_HOME=$(scripts/java-home.sh)
export JAVA_HOME
scripts/provision-guest.sh
exec ./mvnw -B -ntp verify "$@"
