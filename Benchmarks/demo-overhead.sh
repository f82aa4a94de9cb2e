#!/usr/bin/env bash
# What an open profile window costs a service: pprof-demo's request rate while a window fetched
# over HTTP is open, as a share of its rate in the same length of time without one, alternating
# windows on and off in one run (the figure the README quotes; target: at least 95 %).
#
#   ./demo-overhead.sh [ROUNDS] [SECONDS]     # default 60 rounds of 1 s on and 1 s off
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-60}
seconds=${2:-1}
swift build -c release --product pprof-demo >/dev/null
"$(swift build -c release --show-bin-path)/pprof-demo" --port 0 --overhead-rounds "$rounds" --window-seconds "$seconds"
