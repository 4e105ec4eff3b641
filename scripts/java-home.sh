#!/usr/bin/env bash
# Prints the JAVA_HOME of a JDK 25 or newer: $JAVA_HOME if it qualifies, else the newest one
# found under the usual install roots. Exits 1 with a clear message when there is none.
set -euo pipefail

feature_version() { # the feature number of the JDK at $1, or nothing
  local release="$1/release" v
  [ -x "$1/bin/javac" ] && [ -f "$release" ] || return 0
  v=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$release")
  echo "${v:-}"
}

best= best_v=0
for home in "${JAVA_HOME:-}" /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.jdks/* "$HOME"/.sdkman/candidates/java/*; do
  [ -n "$home" ] && [ -d "$home" ] || continue
  v=$(feature_version "$home")
  [ -n "$v" ] || continue
  if [ "$home" = "${JAVA_HOME:-}" ] && [ "$v" -ge 25 ]; then best=$home; break; fi
  if [ "$v" -ge 25 ] && [ "$v" -gt "$best_v" ]; then best=$home best_v=$v; fi
done
if [ -z "$best" ]; then
  echo "jvfio needs a JDK 25 or newer; none found in \$JAVA_HOME, /usr/lib/jvm, /opt or ~/.jdks." >&2
  echo "Install one (e.g. Temurin 25) or set JAVA_HOME to it." >&2
  exit 1
fi
readlink -f "$best"
