#!/usr/bin/env bash
# Meridian developer entry point. Installs what a fresh Debian machine lacks, then:
#   scripts/dev.sh run   [meridian server options]   build and run a single node
#   scripts/dev.sh test                               build and run every test
#   scripts/dev.sh bench                              side-by-side benchmark vs redis-server
#   scripts/dev.sh bench --regions [LAYOUT] [opts]    per-region latency benchmark (jepsen regions)
set -euo pipefail
cd "$(dirname "$0")/.."
# Builds live outside the clone so a fresh clone (CI) reuses the warm cache.
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/meridian/target}"
export PATH="$HOME/.cargo/bin:$PATH"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

install_deps() {
  local missing=()
  command -v cc >/dev/null 2>&1 || missing+=(build-essential)
  command -v clang >/dev/null 2>&1 || missing+=(clang)
  dpkg -s libclang-dev >/dev/null 2>&1 || missing+=(libclang-dev)
  command -v protoc >/dev/null 2>&1 || missing+=(protobuf-compiler)
  command -v pkg-config >/dev/null 2>&1 || missing+=(pkg-config)
  # The tests compare replies with a stock redis-server (tests/tests/vs_redis.rs).
  command -v redis-server >/dev/null 2>&1 || missing+=(redis-server)
  if [ "${1:-}" = bench ]; then
    command -v redis-benchmark >/dev/null 2>&1 || missing+=(redis-tools)
    command -v wrk >/dev/null 2>&1 || missing+=(wrk)
  fi
  # The official @upstash/ratelimit SDK runs against a node (tests/tests/ratelimit_sdk.rs).
  if [ "${cmd:-}" = test ]; then
    command -v node >/dev/null 2>&1 || missing+=(nodejs)
    command -v npm >/dev/null 2>&1 || missing+=(npm)
    # moto's S3-compatible server, for the S3 backup test (tests/tests/backup.rs), lives
    # in a venv next to the build cache.
    command -v python3 >/dev/null 2>&1 || missing+=(python3)
    python3 -c 'import venv, ensurepip' >/dev/null 2>&1 || missing+=(python3-venv)
    # The web console's browser tests (tests/tests/console.rs) drive Debian's headless
    # chromium over CDP (playwright-core, below); no browser is downloaded.
    command -v chromium >/dev/null 2>&1 || missing+=(chromium)
  fi
  if [ ${#missing[@]} -gt 0 ]; then
    echo ">> installing: ${missing[*]}" >&2
    as_root apt-get update -qq
    DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "${missing[@]}" >/dev/null
  fi
  # The SDK versions pinned in tests/node/package-lock.json; reinstalled only when the
  # lock file differs from the copy kept after the last install.
  local lock=tests/node/package-lock.json stamp=tests/node/node_modules/.installed-lock.json
  if [ "${cmd:-}" = test ] && ! cmp -s "$lock" "$stamp"; then
    echo ">> npm ci --prefix tests/node" >&2
    npm ci --prefix tests/node --no-audit --no-fund --loglevel=error >/dev/null
    cp "$lock" "$stamp"
  fi
  # playwright-core for the console's browser tests, pinned in tests/console/package-lock.json.
  lock=tests/console/package-lock.json stamp=tests/console/node_modules/.installed-lock.json
  if [ "${cmd:-}" = test ] && ! cmp -s "$lock" "$stamp"; then
    echo ">> npm ci --prefix tests/console" >&2
    npm ci --prefix tests/console --no-audit --no-fund --loglevel=error >/dev/null
    cp "$lock" "$stamp"
  fi
  local venv="$HOME/.cache/meridian/venv"
  if [ "${cmd:-}" = test ] && [ ! -x "$venv/bin/moto_server" ]; then
    echo ">> python3 -m venv $venv; pip install moto[server]" >&2
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q 'moto[server]>=5.1,<6' >/dev/null
  fi
  # redis-py and the Python Upstash SDK, for the TLS tests (tests/tests/tls.rs).
  if [ "${cmd:-}" = test ] && ! "$venv/bin/python" -c 'import redis, upstash_redis' >/dev/null 2>&1; then
    echo ">> pip install redis upstash-redis (into $venv)" >&2
    "$venv/bin/pip" install -q 'redis>=5,<9' 'upstash-redis>=1.1,<2' >/dev/null
  fi
  if ! command -v cargo >/dev/null 2>&1; then
    echo "cargo not found: install a Rust toolchain (https://rustup.rs), then re-run." >&2
    exit 1
  fi
}

build() { cargo build --release -p server; }

cmd="${1:-run}"; shift || true
case "$cmd" in
  run)
    install_deps
    build
    exec "$CARGO_TARGET_DIR/release/meridian" server "$@"
    ;;
  test)
    install_deps
    build
    if cargo nextest --version >/dev/null 2>&1; then
      cargo nextest run --release --workspace --no-fail-fast "$@"
    else
      cargo test --release --workspace --no-fail-fast "$@"
    fi
    ;;
  bench)
    if [ "${1:-}" = --regions ]; then
      # Nodes in simulated regions behind the jepsen proxy (docs/benchmarks.md, issue 16):
      # scripts/dev.sh bench --regions [us-east-1:3,eu-west-1:1,...] [jepsen regions options]
      shift
      layout=()
      if [ $# -gt 0 ] && [ "${1#--}" = "$1" ]; then layout=(--layout "$1"); shift; fi
      install_deps
      cargo build --release -p server -p jepsen
      exec "$CARGO_TARGET_DIR/release/jepsen" regions "${layout[@]}" \
        --bin "$CARGO_TARGET_DIR/release/meridian" "$@"
    fi
    install_deps bench
    build
    exec benches/side_by_side.sh "$@"
    ;;
  *)
    echo "usage: scripts/dev.sh run|test|bench [args]" >&2
    exit 2
    ;;
esac
