#!/usr/bin/env bash
# Shows that a recorded hook pair makes no system call: the recording thread's syscalls, counted
# by strace, are the same for N and for 10 N recorded pairs. Only the aggregator thread's grow
# with time (it sleeps 1 ms between drains while a window is open).
#
#   ./syscalls.sh [N]          # default N = 1000000
#
# Needs strace (apt-get install -y strace).
set -euo pipefail
cd "$(dirname "$0")"
command -v strace >/dev/null || { echo "syscalls.sh: strace is not installed (apt-get install -y strace)" >&2; exit 2; }

n=${1:-1000000}
swift build -c release --product hook-ratios >/dev/null
bin=$(swift build -c release --show-bin-path)/hook-ratios
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# A ring that holds all 2 x 10 N events, so that no event takes the drop path: the loop measured is
# the one that writes every event.
ring=4194304
while [ "$ring" -lt $((n * 20)) ]; do ring=$((ring * 2)); done

printf '%-10s %-16s %12s %14s %10s\n' "pairs" "loop" "main thread" "other threads" "dropped"
for loop in recorded idle; do
    for count in "$n" "$((n * 10))"; do
        # -f follows the aggregator thread too; each line starts with the thread id.
        strace -f -qq -o "$work/trace" "$bin" --only "$loop" --rounds 1 --iterations "$count" --ring "$ring" >"$work/out"
        main=$(awk 'NR == 1 { tid = $1 } $1 == tid { n++ } END { print n + 0 }' "$work/trace")
        other=$(awk 'NR == 1 { tid = $1 } $1 != tid { n++ } END { print n + 0 }' "$work/trace")
        printf '%-10s %-16s %12s %14s %10s\n' "$count" "$(cut -d: -f1 "$work/out")" "$main" "$other" \
            "$(sed -n 's/.*dropped \([0-9a-z]*\).*/\1/p' "$work/out")"
    done
done

echo
echo "The recording thread's calls by name, for $((n * 10)) recorded pairs (strace -c, main thread only):"
strace -c -o "$work/summary" "$bin" --only recorded --rounds 1 --iterations "$((n * 10))" --ring "$ring" >/dev/null
cat "$work/summary"
