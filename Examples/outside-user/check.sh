#!/usr/bin/env bash
# Builds this outside package in release, runs it with PPROF_OUTPUT, and checks with the real
# `go tool pprof` that every call path has exactly the calls the program made.
set -euo pipefail
cd "$(dirname "$0")"
swift build -c release
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
PPROF_OUTPUT="$out/outside-%p.pb.gz" "$(swift build -c release --show-bin-path)/outside-user"
profile=$(ls "$out"/outside-*.pb.gz)
# -traces prints each sample as its value and its frames, leaf first; fold each into "root;...;leaf value".
got=$(go tool pprof -traces -sample_index=calls "$profile" 2>/dev/null | awk '
    /^-----------\+/ { if (path != "") print path, value; path = ""; next }
    value_line == 0 && NF == 2 && $1 ~ /^[0-9]+$/ && path == "" { value = $1; path = $2; next }
    NF == 1 && path != "" { path = $1 ";" path }
    END { if (path != "") print path, value }' | sort)
want=$(printf '%s\n' "handle 4000" "handle;parse 4000" "handle;render 3600" | sort)
if [ "$got" != "$want" ]; then
    echo "outside-user: call paths differ from the program's"
    echo "want:"; echo "$want"
    echo "got:"; echo "$got"
    exit 1
fi
echo "outside-user: exact counts per call path from PPROF_OUTPUT, read by go tool pprof: OK"
