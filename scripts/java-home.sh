#!/usr/bin/env bash
# Prints the JAVA_HOME of a JDK 25 or newer: $JAVA_HOME if it qualifies, else the newest one
# found under the usual install roots. Exits 1 with a clear message when there is none.
# Sourced (as ./jvfio and the build scripts do) it only defines jvfio_java_home and jvfio_build_env.

_jvfio_feature_version() { # sets _jvfio_v to the feature number of the JDK at $1, or to nothing
  local release="$1/release" line
  _jvfio_v=
  [ -x "$1/bin/javac" ] && [ -f "$release" ] || return 0
  while IFS= read -r line || [ -n "$line" ]; do
    if [[ $line =~ ^JAVA_VERSION=\"([0-9]+) ]]; then
      _jvfio_v=${BASH_REMATCH[1]}
      return 0
    fi
  done <"$release"
}

jvfio_java_home() {
  local best= best_v=0 home v
  for home in "${JAVA_HOME:-}" /usr/lib/jvm/* /opt/java/* /opt/jdk* "$HOME"/.jdks/* "$HOME"/.sdkman/candidates/java/*; do
    [ -n "$home" ] && [ -d "$home" ] || continue
    _jvfio_feature_version "$home"
    v=$_jvfio_v
    [ -n "$v" ] || continue
    if [ "$home" = "${JAVA_HOME:-}" ] && [ "$v" -ge 25 ]; then best=$home; break; fi
    if [ "$v" -ge 25 ] && [ "$v" -gt "$best_v" ]; then best=$home best_v=$v; fi
  done
  if [ -z "$best" ]; then
    echo "jvfio needs a JDK 25 or newer; none found in \$JAVA_HOME, /usr/lib/jvm, /opt or ~/.jdks." >&2
    echo "Install one (e.g. Temurin 25) or set JAVA_HOME to it." >&2
    return 1
  fi
  (CDPATH= cd -P -- "$best" && pwd) # its real path, like readlink -f, without starting a process
}

# What every script that runs Maven sets first: JAVA_HOME at a JDK 25, and the MAVEN_OPTS it needs.
jvfio_build_env() {
  JAVA_HOME=$(jvfio_java_home) || return 1
  export JAVA_HOME
  # Maven 3.9 (guice) still touches sun.misc.Unsafe; JDK 25 warns about it on every build.
  export MAVEN_OPTS="${MAVEN_OPTS:-} --sun-misc-unsafe-memory-access=allow"
}

if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -euo pipefail
  jvfio_java_home
fi
