#!/usr/bin/env bash
# Builds the runtime image from a binary compiled on this machine instead of compiling
# inside the container (RocksDB alone takes ~20 minutes on 2 cores):
#
#   deploy/build-image.sh [podman|docker] [TAG] [BINARY]
#
# BINARY defaults to $CARGO_TARGET_DIR/release/meridian (CARGO_TARGET_DIR defaults to
# ~/.cache/meridian/target, as scripts/dev.sh builds it). The binary is linked against the
# build machine's glibc: build it on Debian 12 (bookworm) or older for the bookworm image.
# Its debug info is stripped into deploy/bin/meridian (git-ignored), then
#   ENGINE build -f deploy/Dockerfile --target runtime-prebuilt -t TAG .
set -euo pipefail
cd "$(dirname "$0")/.."
engine=${1:-podman}
tag=${2:-meridian:latest}
bin=${3:-${CARGO_TARGET_DIR:-$HOME/.cache/meridian/target}/release/meridian}
[ -x "$bin" ] || { echo "no binary at $bin: CARGO_TARGET_DIR=\$HOME/.cache/meridian/target cargo build --release -p server" >&2; exit 1; }
mkdir -p deploy/bin
if [ ! -x deploy/bin/meridian ] || [ "$bin" -nt deploy/bin/meridian ]; then
  strip --strip-debug -o deploy/bin/meridian.tmp "$bin"
  chmod 0755 deploy/bin/meridian.tmp
  mv deploy/bin/meridian.tmp deploy/bin/meridian
fi
extra=()
[ "$engine" = podman ] && extra+=(--format docker)   # keeps HEALTHCHECK (OCI images have none)
exec nice -n 10 "$engine" build "${extra[@]}" -f deploy/Dockerfile --target runtime-prebuilt -t "$tag" .
