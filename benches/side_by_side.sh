#!/usr/bin/env bash
# Side-by-side: redis-benchmark against Meridian and against a stock redis-server with
# appendonly yes + appendfsync always (the durable configuration Meridian matches),
# alternating runs, then a table of ratios in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
exec python3 benches/side_by_side.py "$@"
