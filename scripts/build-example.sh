#!/usr/bin/env bash
# Builds the example device project under examples/ (its own pom, not a module of this build)
# against the artifacts `./mvnw install` put into the local repository, and runs its test.
set -euo pipefail
echo "build-example: no example project yet" >&2
