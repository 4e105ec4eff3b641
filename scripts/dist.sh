#!/usr/bin/env bash
# Builds the self-contained distribution (jlink runtime + jvfio + AOT cache) as
# jvfio-VERSION-linux-x86_64.tar.gz; with --check, unpacks it and runs it with no JDK.
set -euo pipefail
echo "dist: no distribution yet" >&2
