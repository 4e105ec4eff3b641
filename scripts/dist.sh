#!/usr/bin/env bash
# Builds the self-contained distribution, target/dist/jvfio-VERSION-linux-ARCH.tar.gz: a Java
# runtime made by jlink with jvfio and its libraries linked in, the AOT cache recorded with that
# runtime, and bin/jvfio (scripts/dist-launcher.sh). It is made from jvfio-cli/target/lib, the
# module path `./mvnw install` (or package) leaves; run that first.
# With --check, it then unpacks the tarball into a temporary directory and runs it with an empty
# environment (no JAVA_HOME; PATH=/usr/bin:/bin, once nothing on PATH): --version, --help, the JVM
# being the bundled one with its AOT cache, `serve gpio` read by `lspci` and stopped by SIGTERM; and
# prints the sizes, the runtime's modules and the start-up times with and without the cache.
#
# Why jlink links everything: all of jvfio's modules and its libraries (picocli, jackson,
# snakeyaml) are explicit modules, so one image holds them all and a plain `java -m` runs it, with
# no module path to keep beside the runtime.
set -euo pipefail
root=$(cd "$(dirname "$(readlink -f "$0")")/.." && pwd)
check=false
case "${1:-}" in
  --check) check=true ;;
  "") ;;
  *) echo "usage: scripts/dist.sh [--check]" >&2; exit 2 ;;
esac

JAVA_HOME=$(JAVA_HOME=${JAVA_HOME:-} "$root/scripts/java-home.sh")
lib="$root/jvfio-cli/target/lib"
out="$root/target/dist"
cli_jar=$(ls "$lib"/jvfio-cli-*.jar 2>/dev/null || true)
if [ -z "$cli_jar" ]; then
  echo "dist: no $lib/jvfio-cli-*.jar; build the modules first: ./mvnw install (or package)" >&2
  exit 1
fi
# The version javac compiled into the module (Maven's project version), as `jvfio --version` shows.
version=$("$JAVA_HOME/bin/jar" --describe-module --file "$cli_jar" | sed -n '1s/^io\.jvfio\.cli@\([^ ]*\) .*/\1/p')
arch=$(sed -n 's/^OS_ARCH="\(.*\)"$/\1/p' "$JAVA_HOME/release")
feature=$(sed -n 's/^JAVA_VERSION="\([0-9]*\).*/\1/p' "$JAVA_HOME/release")
name="jvfio-$version"
tarball="$out/$name-linux-$arch.tar.gz"
stage="$out/$name"

build() {
  echo "dist: building $tarball with $JAVA_HOME" >&2
  rm -rf "$stage" "$tarball"
  mkdir -p "$stage/bin" "$stage/lib"

  # The JDK modules jvfio's own code uses (jdeps reads the bytecode; the libraries' optional
  # `requires static java.desktop, java.sql` are features jvfio does not use, so only the jvfio
  # jars are asked). jlink adds what their requires need beyond that, e.g. java.logging for jackson.
  local jdk_modules
  jdk_modules=$("$JAVA_HOME/bin/jdeps" --multi-release "$feature" --module-path "$lib" --ignore-missing-deps \
      --print-module-deps "$lib"/jvfio-*.jar | tr , '\n' | grep -E '^(java|jdk)\.' | paste -sd, -)
  # zip-0: the tarball's gzip squeezes an uncompressed image better (22 MB against 27 MB with zip-6),
  # and nothing is inflated when a class loads.
  "$JAVA_HOME/bin/jlink" --module-path "$lib" --add-modules "io.jvfio.cli,$jdk_modules" \
      --strip-debug --no-header-files --no-man-pages --compress zip-0 --output "$stage/runtime"
  # The libraries' own licence and notice files, beside the JDK's in the runtime's legal/.
  local jar module legal
  for jar in "$lib"/*.jar; do
    case ${jar##*/} in jvfio-*) continue ;; esac
    module=$("$JAVA_HOME/bin/jar" --describe-module --file "$jar" --release "$feature" | sed -n '/@/{s/@.*//p;q}')
    legal=$("$JAVA_HOME/bin/jar" tf "$jar" | grep -E '^META-INF/[^/]*(LICENSE|NOTICE)[^/]*$' || true)
    [ -n "$legal" ] || continue
    mkdir -p "$stage/runtime/legal/$module"
    # shellcheck disable=SC2086 # one entry a word: the names have no spaces
    (cd "$stage/runtime/legal/$module" && "$JAVA_HOME/bin/jar" xf "$jar" $legal && mv META-INF/* . && rmdir META-INF)
  done
  install -m 755 "$root/scripts/dist-launcher.sh" "$stage/bin/jvfio"
  cp "$root/README.md" "$root/docs/install.md" "$stage/"
  # The sample systemd units (docs/running-as-a-service.md), whose ExecStart runs /usr/local/bin/jvfio.
  local unit
  for unit in "$root"/dist/*.service "$root"/dist/*.socket; do
    [ -f "$unit" ] || continue # no such units: the pattern itself
    mkdir -p "$stage/systemd"
    cp "$unit" "$stage/systemd/"
  done

  # The AOT cache, from the training ./jvfio records its own with (serve gpio and a client), run
  # through bin/jvfio itself so that the cache's JVM options are those of every later start. No
  # method profiles (-XX:-AOTRecordTraining): see ./jvfio. A JVM without that flag ignores it.
  local training
  training=$(mktemp -d)
  if ! env -i PATH=/usr/bin:/bin JVFIO_AOT=0 JVFIO_JAVA_OPTS="-XX:AOTCacheOutput=$training/jvfio.aot \
      -XX:+IgnoreUnrecognizedVMOptions -XX:+UnlockDiagnosticVMOptions -XX:-AOTRecordTraining" \
      "$stage/bin/jvfio" bench aot-training >"$training/log" 2>&1 || [ ! -f "$training/jvfio.aot" ]; then
    cat "$training/log" >&2
    rm -rf "$training"
    echo "dist: the AOT training run failed" >&2
    exit 1
  fi
  mv "$training/jvfio.aot" "$stage/lib/jvfio.aot"
  rm -rf "$training"

  tar --sort=name --owner=0 --group=0 --numeric-owner -C "$out" -cf - "$name" | gzip -9 >"$tarball"
  echo "dist: $tarball" >&2
}

mib() { # bytes to MiB, one decimal
  awk -v b="$1" 'BEGIN { printf "%.1f MiB", b / 1048576 }'
}

unpacked=
sockets=
server=
cleanup() { # a failed check leaves no server running and nothing unpacked
  [ -z "$server" ] || kill "$server" 2>/dev/null || true
  rm -rf ${unpacked:+"$unpacked"} ${sockets:+"$sockets"}
}

check() {
  # Unpacked beside the tarball, not in /tmp, which may be mounted noexec; the sockets in /tmp,
  # whose short path fits a socket address (108 bytes) wherever the checkout is.
  unpacked=$(mktemp -d "$out/check.XXXXXX")
  sockets=$(mktemp -d)
  trap cleanup EXIT
  tar -C "$unpacked" -xzf "$tarball"
  local home="$unpacked/$name"
  local jvfio="$home/bin/jvfio"
  # An empty environment: no JAVA_HOME; and the JDK that built this, not on PATH either.
  run() { env -i PATH=/usr/bin:/bin LANG=C.UTF-8 "$@"; } # a UTF-8 locale: the bench's table has an arrow
  fail() { echo "dist --check: $*" >&2; exit 1; }

  local got
  got=$(run "$jvfio" --version)
  [[ $got == "jvfio $version on Java "* ]] || fail "--version printed: $got"
  echo "$got"
  # With nothing on PATH at all; and through a symlink from elsewhere.
  got=$(env -i PATH=/nonexistent "$jvfio" --version)
  [[ $got == "jvfio $version on Java "* ]] || fail "--version with an empty PATH printed: $got"
  mkdir "$unpacked/elsewhere"
  ln -s "$jvfio" "$unpacked/elsewhere/jvfio"
  got=$(run "$unpacked/elsewhere/jvfio" --version)
  [[ $got == "jvfio $version on Java "* ]] || fail "--version through a symlink printed: $got"
  # The bundled runtime runs it, and with the AOT cache (AOTMode=on: the JVM exits if it cannot use it).
  got=$(run JVFIO_JAVA_OPTS="-XX:AOTMode=on -XshowSettings:properties" "$jvfio" --version 2>&1) \
      || fail "the AOT cache is unusable: $got"
  grep -qxF "    java.home = $(readlink -f "$home/runtime")" <<<"$got" || fail "not the bundled runtime: $(grep java.home <<<"$got")"
  run "$jvfio" --help | grep -q '^Usage: jvfio ' || fail "--help printed no usage"

  # A real job: serve the GPIO card, read it as a client, stop it with SIGTERM.
  local socket="$sockets/gpio.sock" status=0 lspci="" answered=false
  # Not through run(): $! must be the server itself (env execs bin/jvfio, which execs java).
  env -i PATH=/usr/bin:/bin "$jvfio" serve gpio --socket "$socket" >"$sockets/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 600); do # up to a minute for the server to listen
    if [ -S "$socket" ] && lspci=$(run "$jvfio" lspci -vv "$socket" 2>&1); then
      answered=true
      break
    fi
    kill -0 "$server" 2>/dev/null || { cat "$sockets/serve.log" >&2; fail "serve gpio exited"; }
    sleep 0.1
  done
  $answered || fail "lspci could not read serve gpio's device: $lspci"
  echo "$lspci" | head -3
  # The ACCES PCI-IDIO-16's ids from its config space; its 256-byte BAR 2 from the server's region info.
  grep -q 'Device 494f:0dc8' <<<"$lspci" && grep -q 'Region 2 BAR2: size=256 ' <<<"$lspci" \
      || fail "lspci did not show the GPIO card: $lspci"
  kill -TERM "$server"
  wait "$server" || status=$?
  server=
  [ "$status" = 0 ] || { cat "$sockets/serve.log" >&2; fail "serve exited with $status after SIGTERM"; }
  [ ! -e "$socket" ] || fail "serve left its socket behind"
  echo "serve gpio: listened, answered lspci, exited 0 on SIGTERM"

  echo "tarball: ${tarball##*/} $(mib "$(stat -c %s "$tarball")")"
  echo "unpacked: $(mib $(($(du -sk "$home" | cut -f1) * 1024))) (AOT cache $(mib "$(stat -c %s "$home/lib/jvfio.aot")"))"
  echo "runtime modules: $("$home/runtime/bin/java" --list-modules | sed 's/@.*//' | paste -sd' ' -)"
  run "$jvfio" bench startup --launcher "$jvfio" --runs 5 2>/dev/null
}

build
if $check; then
  check
fi
