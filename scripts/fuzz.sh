#!/usr/bin/env bash
# Fuzzes jvfio's two Jazzer targets for SECONDS each (default 300):
#   jvfio-protocol  FuzzDecodersTest#decode   every wire decoder (Header.validate, each command's request and
#                                             reply, capability chains, VERSION JSON, zPCI caps, features)
#   jvfio-server    FuzzSessionTest#session   a live Session fed a fuzzed message stream (+ memfds/eventfds)
# A finding is written to src/test/resources/.../<Class>Inputs/<method>/crash-* and from then on replays as a
# regression test in every build. libFuzzer's working corpus stays in <module>/target/fuzz (or $JVFIO_FUZZ_WORKDIR/<module>).
# Prints one line per target: "FUZZ <target> runs=<n> seconds=<s> findings=<n>"; exits 1 if any target found something.
set -uo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
cd "$root"
seconds=${1:-300}
. scripts/java-home.sh
jvfio_build_env || exit 1
status=0
for spec in jvfio-protocol:FuzzDecodersTest:decode:io/jvfio/protocol jvfio-server:FuzzSessionTest:session:io/jvfio/server; do
  IFS=: read -r module class method pkg <<<"$spec"
  inputs="$module/src/test/resources/$pkg/${class}Inputs/$method"
  before=$(ls "$inputs" 2>/dev/null | grep -c '^crash-' || true)
  log=$(mktemp)
  extra=()
  [ -n "${JVFIO_FUZZ_WORKDIR:-}" ] && extra+=("-Djvfio.fuzz.workdir=$JVFIO_FUZZ_WORKDIR/$module")
  # The module's dependencies come from ~/.m2 (install them first); test-compile, then only the fuzz execution.
  ./mvnw -B -ntp -pl "$module" test-compile surefire:test@fuzz -Djvfio.fuzz.duration="${seconds}s" "${extra[@]}" >"$log" 2>&1
  rc=$?
  runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $2}')
  secs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$log" | tail -1 | awk '{print $5}')
  after=$(ls "$inputs" 2>/dev/null | grep -c '^crash-' || true)
  findings=$((after - before))
  echo "FUZZ $class#$method runs=${runs:-0} seconds=${secs:-0} findings=$findings"
  if [ "$rc" -ne 0 ] || [ "$findings" -ne 0 ]; then
    status=1
    grep -E 'ERROR|==[0-9]+==|Exception|crash-' "$log" | head -40 >&2
    echo "full log: $log" >&2
  else
    rm -f "$log"
  fi
done
exit $status
