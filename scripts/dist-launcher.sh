#!/bin/sh
# bin/jvfio of the self-contained distribution (built by scripts/dist.sh): runs jvfio on the Java
# runtime bundled beside it, with the AOT cache recorded with that runtime. Needs no JDK, JAVA_HOME
# or java on PATH. JVFIO_AOT=0 starts without the cache; JVFIO_JAVA_OPTS adds JVM options.
set -ef # -f: JVFIO_JAVA_OPTS is split into words below, which are not file name patterns

self=$0
case $self in
  */*) ;;
  *) self=./$self ;; # `sh jvfio` in its own directory
esac
# A symlink (e.g. /usr/local/bin/jvfio) leads to the real bin/jvfio, whose parent is the distribution.
while [ -L "$self" ]; do
  link=$(readlink "$self")
  case $link in
    /*) self=$link ;;
    *) self=${self%/*}/$link ;;
  esac
done
home=$(cd -P -- "${self%/*}/.." && pwd)

# The AOT cache (JEP 483/514) holds the classes a `serve` loads and links, from the training run
# dist.sh made with this very runtime (the JVM refuses a cache from any other). A cache the JVM
# cannot use (JVFIO_JAVA_OPTS=-XX:+UseZGC, or a heap over 32 GB: no compressed oops) means a slower
# start, not a failure, so its warnings stay off.
aot="$home/lib/jvfio.aot"
if [ "${JVFIO_AOT:-1}" != 0 ] && [ -f "$aot" ]; then
  set -- -XX:AOTCache="$aot" -Xlog:aot=off -Xlog:cds=off ${JVFIO_JAVA_OPTS:-} -m io.jvfio.cli/io.jvfio.cli.Main "$@"
else
  set -- ${JVFIO_JAVA_OPTS:-} -m io.jvfio.cli/io.jvfio.cli.Main "$@"
fi
exec "$home/runtime/bin/java" --enable-native-access=io.jvfio.linux "$@"
