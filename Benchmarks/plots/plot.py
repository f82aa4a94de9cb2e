#!/usr/bin/env python3
"""Plots the aggregator's cost per event against the tree's size and the number of threads.

    cd Benchmarks
    swift run -c release aggregator-figures --csv > plots/fold-sweep.csv
    python3 plots/plot.py plots/fold-sweep.csv      # writes plots/fold-vs-*.png (needs matplotlib)
"""
import csv
import os
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

path = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "fold-sweep.csv")
rows = list(csv.DictReader(open(path)))
out = os.path.dirname(os.path.abspath(path))

fig, ax = plt.subplots(figsize=(6.4, 3.6))
for shape, label in [("depth-first", "depth-first walk (program order)"), ("random", "random paths (every leaf a miss)")]:
    points = sorted((int(r["nodes"]), float(r["ns"])) for r in rows if r["shape"] == shape)
    ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label=label)
ax.set_xscale("log")
ax.set_ylim(bottom=0)
ax.set_xlabel("nodes in the call tree")
ax.set_ylabel("ns per event folded")
ax.set_title("Aggregator: cost per event against tree size (one core)")
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(out, "fold-vs-tree-size.png"), dpi=110)

fig, ax = plt.subplots(figsize=(6.4, 3.6))
points = sorted((int(r["threads"]), float(r["ns"])) for r in rows if r["shape"] == "threads")
ax.plot([p[0] for p in points], [p[1] for p in points], marker="o", label="depth-8 tree, threads' rings taking turns")
ax.set_xscale("log", base=2)
ax.set_xticks([p[0] for p in points], [str(p[0]) for p in points])
ax.set_ylim(bottom=0)
ax.set_xlabel("producer threads")
ax.set_ylabel("ns per event folded")
ax.set_title("Aggregator: cost per event against threads (one core)")
ax.grid(True, alpha=0.3)
ax.legend()
fig.tight_layout()
fig.savefig(os.path.join(out, "fold-vs-threads.png"), dpi=110)
print("wrote", os.path.join(out, "fold-vs-tree-size.png"), "and", os.path.join(out, "fold-vs-threads.png"))
