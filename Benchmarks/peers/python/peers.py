"""peers-python: the Python half of Benchmarks/peers/run.sh.

A recursive fib(n) run with cProfile enabled (every call recorded) against the same fib with no
profiler, in one process, in interleaved rounds (a different order each round); each figure is a
median over the rounds. Overhead per call = (profiled - plain) / calls, calls(n) = 2 fib(n+1) - 1.
A cProfile.Profile is created and enabled before each timed run and disabled after it; its
stats are not printed (no time is spent outside the run's own recording). Output lines match
peers-swift's RESULT lines.
"""

import argparse
import cProfile
import platform
import statistics
import sys
import time


def fib(n):
    if n < 2:
        return n
    return fib(n - 1) + fib(n - 2)


def calls(n):
    a, b = 0, 1
    for _ in range(n + 1):
        a, b = b, a + b
    return 2 * a - 1


def measure(variant, n):
    profile = cProfile.Profile() if variant == "recording" else None
    if profile:
        profile.enable()
    start = time.perf_counter_ns()
    fib(n)
    elapsed = time.perf_counter_ns() - start
    if profile:
        profile.disable()
    return elapsed


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=22)
    parser.add_argument("--rounds", type=int, default=100)
    args = parser.parse_args()
    variants = ["plain", "recording"]
    samples = {v: [] for v in variants}
    for v in variants:
        measure(v, args.n)  # warm-up
    for round_ in range(args.rounds):
        for i in range(len(variants)):
            v = variants[(i + round_) % len(variants)]
            samples[v].append(measure(v, args.n))
    c = calls(args.n)
    print(
        f"# peers-python: {platform.python_implementation()} {platform.python_version()}, "
        f"fib({args.n}) = {fib(args.n)}, {c} calls per run, {args.rounds} interleaved rounds"
    )
    plain = statistics.median(samples["plain"])
    inst = statistics.median(samples["recording"])
    print(f"RESULT\tpython: cProfile\trecording\t{(inst - plain) / c:.3f}\t{plain:.0f}\t{inst:.0f}\t{c}\t-\t")


if __name__ == "__main__":
    sys.exit(main())
