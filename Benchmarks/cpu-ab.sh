#!/usr/bin/env bash
# What CPU sampling costs a CPU-bound loop of recorded scopes (issue 15): cpu-loop run with
# PPROF_CPU_HZ=0, 100 and 250 (the same fprof windows, only the sampling differs) in adjacent
# runs, the order turning each group so that the machine's drift falls on all three; prints
# each run, the median over the groups of each ratio of rates, and the cost of one sample.
#
#   Benchmarks/cpu-ab.sh [GROUPS] [ROUNDS]      # default 10 groups of three runs, 10 rounds a run
set -euo pipefail
cd "$(dirname "$0")"
groups=${1:-10}
rounds=${2:-10}
swift build -c release --product cpu-loop >/dev/null 2>&1
bin=$(swift build -c release --show-bin-path 2>/dev/null)
out=$(mktemp)
orders=("0 100 250" "250 100 0" "100 250 0" "0 250 100" "250 0 100" "100 0 250")
echo "load average at the start: $(cut -d' ' -f1-3 /proc/loadavg)"
for i in $(seq 0 $((groups - 1))); do
    for hz in ${orders[$((i % 6))]}; do PPROF_CPU_HZ=$hz "$bin/cpu-loop" --rounds "$rounds" | tee -a "$out"; done
done
echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
python3 - "$out" <<'PY'
import statistics, sys
# Runs come in adjacent groups of three (one of each rate): these VMs switch between a fast and
# a slow state 1.5-2 x apart, so runs are only comparable within a group, and each figure is
# the median over the groups of a ratio or difference taken within one.
runs = []
for line in open(sys.argv[1]):
    words = line.split()
    if words[:1] == ["cpu-loop"]:
        runs.append({k: v for k, v in (w.split("=", 1) for w in words[1:])})
groups = [{r["hz"]: r for r in runs[k:k + 3]} for k in range(0, len(runs) - 2, 3)]
groups = [g for g in groups if len(g) == 3]
def spread(values):
    values = sorted(values)
    return f"{statistics.median(values):.4f} (from {values[0]:.4f} to {values[-1]:.4f}, {len(values)} groups)"
for hz in ("100", "250"):
    for clock, key in (("wall clock", "wall_ns"), ("thread CPU", "cpu_ns")):
        ratios = [float(g["0"][key]) / float(g[hz][key]) for g in groups]
        print(f"rate at {hz:>3} Hz / at 0 Hz, by {clock}: {spread(ratios)}")
units = [float(g["0"]["units"]) for g in groups]
for hz in ("100", "250"):
    samples = statistics.median(float(g[hz]["samples"]) for g in groups)
    cpu = statistics.median(float(g[hz]["cpu_ns"]) * float(g[hz]["units"]) for g in groups) / 1e9
    print(f"samples a round at {hz} Hz: {samples:.1f} in {cpu:.3f} s of the loop's CPU ({samples / cpu:.1f} a CPU second)")
# The cost of a sample, from the 250 Hz and 0 Hz runs of each group: on the loop's thread (its
# CPU time per round, signal delivery and handler), and on the other threads (the aggregator,
# which charges samples to call paths) plus the main thread's CPU in stop().
loop = [(float(g["250"]["cpu_ns"]) - float(g["0"]["cpu_ns"])) * float(g["250"]["units"]) / float(g["250"]["samples"]) for g in groups]
others = [(float(g["250"]["others_ns"]) - float(g["0"]["others_ns"])) / float(g["250"]["samples"]) for g in groups]
stop = [(float(g["250"]["stop_ns"]) - float(g["0"]["stop_ns"])) / float(g["250"]["samples"]) for g in groups]
def ns(values):
    values = sorted(values)
    return f"{statistics.median(values):.0f} ns (from {values[0]:.0f} to {values[-1]:.0f})"
print(f"per sample, 250 Hz against 0 Hz: loop thread {ns(loop)}; aggregator thread {ns(others)}; stop() {ns(stop)}")
PY
rm -f "$out"
