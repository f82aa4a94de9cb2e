"""Benchmarks/peers/table.py: the comparison table of run.sh, from the RESULT lines of peers-swift,
peers-go and peers-python (one file per outer run, named by run.sh: swift-R.txt, go-R.txt,
python-R.txt for outer run R).

Every peer's figure is its overhead per instrumented call in ns over its own language's plain fib,
a median over the rounds of one process; the table shows the median over the outer runs and
their range. The ratio divides each figure by the rdtsc pair per call measured by peers-swift in
the same outer run (for Swift rows, in the same phase of the same process; for Go and Python
rows, the mean of peers-swift's two phases).

Exit status: 0 if both goals are met, 3 if one is not, 4 if swift-pprof dropped events."""

import collections
import glob
import os
import re
import statistics
import sys

folder = sys.argv[1]
rows = collections.OrderedDict()  # (peer, mode) -> list of (ns, ratio)
drops = collections.Counter()
rdtsc_all, loop_all, notes = [], [], []

runs = sorted({int(m.group(1)) for f in os.listdir(folder) if (m := re.match(r"swift-(\d+)\.txt$", f))})
for run in runs:
    lines = {}
    for lang in ("swift", "go", "python"):
        path = os.path.join(folder, f"{lang}-{run}.txt")
        lines[lang] = open(path).read().splitlines() if os.path.exists(path) else []
    results = [l.split("\t") for lang in lines for l in lines[lang] if l.startswith("RESULT\t")]
    rdtsc = {r[8]: float(r[3]) for r in results if r[2] == "baseline"}
    if not rdtsc:
        sys.exit(f"table.py: no rdtsc pair in {folder}/swift-{run}.txt")
    rdtsc_mean = statistics.mean(rdtsc.values())
    rdtsc_all.extend(rdtsc.values())
    loop_all.extend(float(l.split("\t")[1]) for l in lines["swift"] if l.startswith("LOOPPAIR\t"))
    if run == runs[0]:
        notes = [l for lang in lines for l in lines[lang] if l.startswith("# ")]
    for r in results:
        if r[2] == "baseline":
            continue
        ns = float(r[3])
        base = rdtsc.get(r[8], rdtsc_mean) if r[1].startswith("swift") else rdtsc_mean
        rows.setdefault((r[1], r[2]), []).append((ns, ns / base))
        if r[7] not in ("-", ""):
            drops[(r[1], r[2])] += int(r[7])


def fmt(v):
    return f"{v:.2f}" if abs(v) < 100 else f"{v:.0f}"


print(f"outer runs: {len(runs)}")
for note in notes:
    print(note)
print()
header = ("peer", "mode", "ns per call", "range", "x rdtsc pair", "dropped")
table = []
for (peer, mode), values in sorted(rows.items(), key=lambda kv: (kv[0][1], statistics.median(v[0] for v in kv[1]))):
    ns = [v[0] for v in values]
    ratio = [v[1] for v in values]
    table.append(
        (
            peer,
            mode,
            fmt(statistics.median(ns)),
            f"{fmt(min(ns))} - {fmt(max(ns))}",
            f"{statistics.median(ratio):.3f}",
            str(drops[(peer, mode)]) if peer.startswith("swift: swift-pprof") and mode == "recording" else "-",
        )
    )
widths = [max(len(str(x[i])) for x in table + [header]) for i in range(len(header))]
for row in [header, tuple("-" * w for w in widths)] + table:
    print("  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths))))
print()
print(
    f"rdtsc pair (C shim), per fib call: {fmt(statistics.median(rdtsc_all))} ns "
    f"(range {fmt(min(rdtsc_all))} - {fmt(max(rdtsc_all))}); in a plain loop net of an empty loop, "
    f"as hook-ratios measures it: {fmt(statistics.median(loop_all))} ns"
)
print("ratios: every figure / the rdtsc pair per fib call measured by peers-swift in the same outer run")
print("        (Go and Python rows: the Swift process run just before or after them)")
print()


def median_of(peer_prefix, mode, exclude=False):
    picked = {
        k: statistics.median(v[0] for v in vals)
        for k, vals in rows.items()
        if k[1] == mode and (k[0].startswith(peer_prefix) != exclude)
    }
    return picked


pprof = "swift: swift-pprof"
ok = True
for mode, factor, goal in (("recording", 0.25, "<= 1/4 of the best recording peer"), ("idle", 1.0, "<= the best idle peer")):
    ours = median_of(pprof, mode)
    peers = median_of(pprof, mode, exclude=True)
    if not ours or not peers:
        print(f"goal ({mode}): not measured")
        ok = False
        continue
    (best_peer, _), best = min(peers.items(), key=lambda kv: kv[1])
    value = next(iter(ours.values()))
    met = value <= factor * best
    ok &= met
    print(
        f"goal, {mode}: swift-pprof {fmt(value)} ns {goal} ({best_peer}: {fmt(best)} ns"
        + (f", a quarter: {fmt(best * factor)} ns" if factor != 1 else "")
        + f"): {'met' if met else 'NOT met'}"
    )
total_drops = sum(drops.values())
if total_drops:
    print(f"ERROR: swift-pprof dropped {total_drops} events: its recording figure is flattered")
    sys.exit(4)
sys.exit(0 if ok else 3)
