#!/usr/bin/env bash
# Benchmarks/peers/run.sh: swift-pprof next to its peers, on the same workload.
#
# A recursive fib(22) (57,313 calls) with every call instrumented, against the same fib
# uninstrumented, under:
#   recording  Python's cProfile; Go's runtime/trace regions with trace.Start running;
#              swift-distributed-tracing's withSpan with a minimal in-memory tracer; swift-pprof's
#              Trace.scope inside a window (Profiler.start(mode: .fprof))
#   idle       Go's regions with no trace running; withSpan with the default NoOpTracer;
#              swift-pprof's Trace.scope with no window open
# Each peer's process alternates plain and instrumented runs in interleaved rounds and reports
# the overhead per instrumented call (medians); the outer runs alternate the three processes.
# The table shows each overhead in ns and as a ratio to a raw rdtsc pair per fib call measured
# by the Swift process in the same outer run, and checks the goals: swift-pprof recording <= 1/4
# of the best recording peer; swift-pprof idle <= the best idle peer.
#
#   ./run.sh            # 3 outer runs, ~2.5 minutes once built
#   ./run.sh --quick    # 1 short outer run, for CI (~20 s once built)
#   ./run.sh --strict   # exit 3 if a goal is not met (by default only a drop fails the run)
#   ./run.sh --runs R   # R outer runs
#
# Needs swift, go (Debian: golang-go) and python3. Builds into swift/.build and .work/.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
started=$(date +%s)
outer=3 swift_rounds=200 go_rounds=200 go_recording_rounds=10 python_rounds=100 strict=0
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) outer=1 swift_rounds=30 go_rounds=30 go_recording_rounds=3 python_rounds=20 ;;
        --strict) strict=1 ;;
        --runs) outer=${2:?--runs needs a number}; shift ;;
        -h | --help) sed -n '2,22p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "run.sh: unknown argument $1 (--help lists them)" >&2; exit 2 ;;
    esac
    shift
done

missing=()
for tool in swift go python3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    echo "run.sh: missing ${missing[*]}: install them first (Debian: apt-get install golang-go python3;" \
        "swift from swift.org)" >&2
    exit 2
fi
python3 -c 'import cProfile' 2>/dev/null || { echo "run.sh: python3 has no cProfile module" >&2; exit 2; }

work="$here/.work"
mkdir -p "$work"

echo "== building (swift build -c release in swift/, go build, python3 needs none)"
build_started=$(date +%s)
if ! (cd "$here/swift" && swift build -c release >"$work/swift-build.log" 2>&1); then
    cat "$work/swift-build.log" >&2
    echo "run.sh: the Swift build failed (swift/: swift build -c release)" >&2
    exit 1
fi
swift_bin="$(cd "$here/swift" && swift build -c release --show-bin-path)/peers-swift"
(
    cd "$here/go"
    export GOPATH="$work/gopath" GOCACHE="$work/gocache" GOPROXY=off GOFLAGS=-mod=mod GO111MODULE=on
    go build -o "$work/peers-go" .
)
echo "   built in $(($(date +%s) - build_started)) s; $(go version | cut -d' ' -f3), $(python3 --version)"

results="$work/results"
rm -rf "$results"
mkdir -p "$results"
run_swift() { "$swift_bin" --rounds "$swift_rounds" >"$results/swift-$1.txt"; }
run_go() { "$work/peers-go" -rounds "$go_rounds" -recording-rounds "$go_recording_rounds" >"$results/go-$1.txt"; }
run_python() { python3 "$here/python/peers.py" --rounds "$python_rounds" >"$results/python-$1.txt"; }
order=(swift go python)
for ((r = 1; r <= outer; r++)); do
    echo "== outer run $r of $outer: ${order[*]}"
    for lang in "${order[@]}"; do "run_$lang" "$r"; done
    order=("${order[@]:1}" "${order[0]}") # a different order next time
done

echo
echo "fib(22) with every call instrumented; overhead per call = (instrumented - plain) / calls,"
echo "medians over interleaved rounds in each process, then over $outer outer run(s)"
echo "$(date -u '+%Y-%m-%d %H:%M UTC'); $(uname -m), $(nproc) CPUs; $(swift --version 2>&1 | head -1)"
status=0
python3 "$here/table.py" "$results" || status=$?
echo
echo "run.sh took $(($(date +%s) - started)) s (raw output in ${results#"$here/"}/)"
if [ "$status" -eq 4 ]; then exit 4; fi
if [ "$status" -ne 0 ] && [ "$strict" -eq 1 ]; then exit "$status"; fi
if [ "$status" -eq 3 ]; then echo "(a goal is not met: --strict makes that fail the run)"; fi
exit 0
