#!/usr/bin/env python3
"""A soak: pprof-demo under its load for MINUTES, its profile scraped back to back, one window
of a second at a time, while its resident memory and request rate are sampled every second.

    Benchmarks/soak.py                      # 10 minutes; writes Benchmarks/plots/soak.{csv,png}
    Benchmarks/soak.py --minutes 2 --out-dir /tmp/soak

Both must stay flat: the script exits 1 if resident memory grew by more than --bound-mb after
the warm-up (its first minute, or a quarter of a shorter run), if any scrape failed, or if the
demo did not end well; and if the request rate over the last minute fell below --min-rate
(default 0.7) of its rate over the minute after the warm-up. That bound is loose because on a
shared 2-core VM the rate moves with whatever else runs; a profiler that slowed the program as
it ran (a growing tree, a leak) still fails it.

The rate comes from the demo's own progress line ("N s: X requests served"), printed each second
by its clock; memory is VmRSS from /proc/PID/status, read when that line arrives. The plot
needs matplotlib (Debian's python3-matplotlib, for /usr/bin/python3); without it the CSV and
the summary are still written.
"""
import argparse
import csv
import gzip
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRESS = re.compile(r"^\s+(\d+) s: (\d+) requests served")
ENDPOINT = re.compile(r"its profiles on http://127\.0\.0\.1:(\d+)/debug/pprof/")


def rss_kb(pid):
    """The process's resident set now, in kB, or None once it has gone."""
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        return None
    return None


class Scraper(threading.Thread):
    """Asks for /debug/pprof/profile?seconds=1 again as soon as each answer is in, until stopped."""

    def __init__(self, port):
        super().__init__(daemon=True)
        self.url = f"http://127.0.0.1:{port}/debug/pprof/profile?seconds=1"
        self.stopping = threading.Event()
        self.lock = threading.Lock()
        self.ok = 0
        self.failed = 0
        self.failures = []

    def run(self):
        while not self.stopping.is_set():
            started = time.monotonic()
            try:
                with urllib.request.urlopen(self.url, timeout=30) as answer:
                    body = answer.read()
                    kind = answer.headers.get("Content-Type", "")
                # A whole gzipped profile, not merely a 200: a cut or empty body fails here.
                if answer.status != 200 or kind != "application/octet-stream" or not gzip.decompress(body):
                    raise ValueError(f"status {answer.status}, {kind}, {len(body)} bytes")
                with self.lock:
                    self.ok += 1
            except Exception as error:  # noqa: BLE001 - every kind of failure is counted the same
                if self.stopping.is_set():
                    break  # the demo shutting down under a last scrape is not a failure
                with self.lock:
                    self.failed += 1
                    self.failures.append(f"{time.strftime('%H:%M:%S')}: {error}")
                # A refused connection answers at once: do not spin.
                time.sleep(max(0.0, 1.0 - (time.monotonic() - started)))

    def counts(self):
        with self.lock:
            return self.ok, self.failed


def mean(values):
    return sum(values) / len(values) if values else float("nan")


def plot(rows, path, title):
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (apt-get install python3-matplotlib): no plot", file=sys.stderr)
        return False
    minutes = [r["second"] / 60 for r in rows]
    rss = [r["rss_kb"] / 1024 for r in rows]
    rate = [r["requests_per_second"] for r in rows]
    smooth = [mean(rate[max(0, i - 9) : i + 1]) for i in range(len(rate))]
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(7.2, 5.4), sharex=True)
    top.plot(minutes, rss, color="tab:blue")
    top.set_ylim(0, max(rss) * 1.25)
    top.set_ylabel("resident memory (MB)")
    top.grid(True, alpha=0.3)
    top.set_title(title)
    bottom.plot(minutes, rate, color="tab:orange", alpha=0.35, linewidth=0.8, label="each second")
    bottom.plot(minutes, smooth, color="tab:orange", label="10-second mean")
    bottom.set_ylim(0, max(rate) * 1.15)
    bottom.set_ylabel("requests per second")
    bottom.set_xlabel("minutes")
    bottom.grid(True, alpha=0.3)
    bottom.legend(loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    return True


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--minutes", type=float, default=10, help="how long to soak (default 10)")
    parser.add_argument(
        "--bound-mb", type=float, default=8, help="most resident memory may grow after the warm-up (default 8)"
    )
    parser.add_argument(
        "--min-rate", type=float, default=0.7,
        help="least the last minute's request rate may be, as a fraction of the minute after warm-up (default 0.7)"
    )
    parser.add_argument("--out-dir", default=os.path.join(ROOT, "Benchmarks", "plots"), help="where soak.csv and soak.png go")
    parser.add_argument("--clients", type=int, default=16, help="the demo's clients (default 16, its own default)")
    args = parser.parse_args()
    seconds = max(10, round(args.minutes * 60))
    warmup = min(60, seconds // 4)
    os.makedirs(args.out_dir, exist_ok=True)

    build = subprocess.run(["swift", "build", "-c", "release", "--product", "pprof-demo"], cwd=ROOT,
                           capture_output=True, text=True)
    if build.returncode != 0:
        print(build.stdout + build.stderr, file=sys.stderr)
        return 1
    bin_path = subprocess.run(["swift", "build", "-c", "release", "--show-bin-path"], cwd=ROOT, check=True,
                              capture_output=True, text=True).stdout.strip()
    scratch = tempfile.mkdtemp(prefix="pprof-soak-")
    demo = subprocess.Popen(
        [os.path.join(bin_path, "pprof-demo"), "--port", "0", "--duration", str(seconds),
         "--clients", str(args.clients), "--output", os.path.join(scratch, "soak.pb.gz")],
        stdout=subprocess.PIPE, text=True, bufsize=1,
    )
    rows = []
    scraper = None
    tail = []
    try:
        for line in demo.stdout:
            if scraper is None and (found := ENDPOINT.search(line)):
                scraper = Scraper(int(found.group(1)))
                scraper.start()
            elif found := PROGRESS.match(line):
                second, served = int(found.group(1)), int(found.group(2))
                memory = rss_kb(demo.pid)
                ok, failed = scraper.counts() if scraper else (0, 0)
                previous = rows[-1]["requests_total"] if rows else 0
                rows.append({"second": second, "requests_total": served, "requests_per_second": served - previous,
                             "rss_kb": memory, "scrapes_ok": ok, "scrapes_failed": failed})
                if second % 60 == 0:
                    print(f"soak: {second // 60} min: {memory / 1024:.1f} MB resident, {served - previous} requests/s, "
                          f"scrapes {ok} ok, {failed} failed", flush=True)
                if second == seconds and scraper:
                    scraper.stopping.set()  # the load has ended: what follows is the demo's own fetch
            else:
                tail.append(line)
        status = demo.wait()
    finally:
        if demo.poll() is None:
            demo.terminate()
            demo.wait()
    if scraper:
        scraper.stopping.set()
        scraper.join(timeout=35)
    ok, failed = scraper.counts() if scraper else (0, 0)

    csv_path = os.path.join(args.out_dir, "soak.csv")
    with open(csv_path, "w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0].keys()) if rows else ["second"])
        writer.writeheader()
        writer.writerows(rows)

    problems = []
    if status != 0:
        problems.append(f"pprof-demo exited {status}: {''.join(tail[-5:])}")
    if len(rows) < seconds:
        problems.append(f"only {len(rows)} of {seconds} progress lines")
    if failed or (scraper and scraper.failures):
        problems.append(f"{failed} scrapes failed: " + "; ".join(scraper.failures[:5]))
    if ok < seconds * 0.8:
        problems.append(f"only {ok} scrapes in {seconds} s, not about one a second")
    if rows:
        base = next(r["rss_kb"] for r in rows if r["second"] >= warmup)
        after = [r["rss_kb"] for r in rows if r["second"] >= warmup]
        growth = (max(after) - base) / 1024
        window = min(60, seconds // 2)
        first = mean([r["requests_per_second"] for r in rows if warmup <= r["second"] < warmup + window])
        last = mean([r["requests_per_second"] for r in rows if r["second"] > seconds - window])
        print()
        print(f"soak: {seconds} s of load, a 1-second profile scraped back to back: {ok} ok, {failed} failed")
        print(f"resident memory: {base / 1024:.1f} MB at {warmup} s (after warm-up), {rows[-1]['rss_kb'] / 1024:.1f} MB "
              f"at the end, {max(after) / 1024:.1f} MB at most after warm-up: grew {growth:.1f} MB (bound {args.bound_mb} MB)")
        print(f"requests per second: {first:.0f} over the {window} s after warm-up, {last:.0f} over the last {window} s "
              f"({last / first * 100:.0f} %; bound {args.min_rate * 100:.0f} %)")
        if last < first * args.min_rate:
            problems.append(f"the request rate fell to {last / first * 100:.0f} % of its rate after warm-up")
        if growth > args.bound_mb:
            problems.append(f"resident memory grew {growth:.1f} MB after warm-up, more than {args.bound_mb} MB")
        png_path = os.path.join(args.out_dir, "soak.png")
        title = f"pprof-demo, {args.clients} clients, a 1 s profile scraped back to back ({ok} scrapes)"
        if plot(rows, png_path, title):
            print(f"wrote {csv_path} and {png_path}")
    for problem in problems:
        print(f"soak: FAILED: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
