#!/usr/bin/env bash
# Builds the example device project under examples/ (its own pom, not a module of this build)
# against the artifacts `./mvnw install` put into the local repository, and runs its test. Offline
# first (the install fetched everything it needs); online if something is missing. Prints one line.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
. scripts/java-home.sh
jvfio_build_env || exit 1

example=examples/led-panel
log=$(mktemp "${TMPDIR:-/tmp}/jvfio-build-example.XXXXXX")
trap 'rm -f "$log"' EXIT
build() { ./mvnw -B -ntp -f "$example/pom.xml" "$@" clean verify >"$log" 2>&1; }

# Online again only when offline lacked an artifact (a failing test fails at once).
if build -o || { grep -q "offline mode" "$log" && build; }; then
  summary=$(sed -n 's/^\[INFO\] Tests run: \([0-9]*\), Failures: 0, Errors: 0, Skipped: \([0-9]*\)$/\1 \2/p' "$log" | tail -1)
  read -r tests skipped <<<"${summary:-0 0}"
  # jvfio's rule for guest tests: under CI (provisioned) a skipped one is a failure.
  if [ -n "${CI:-}" ] && [ "$skipped" != 0 ]; then
    grep -E "Skipped: [1-9]" "$log" >&2 || true
    echo "build-example: FAIL $example ($skipped of $tests tests skipped under CI)" >&2
    exit 1
  fi
  echo "build-example: PASS $example ($tests tests, $skipped skipped; $example/target/led-panel.jar)"
else
  cat "$log" >&2
  echo "build-example: FAIL $example (did ./mvnw install run first? the build's output is above)" >&2
  exit 1
fi
