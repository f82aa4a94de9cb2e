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

# go tool pprof finds the code (issue 13): -weblist does not panic on the mapping, -disasm
# annotates handle's call sites, -list shows main.swift from its full path, and the web UI's
# Source view answers (with the binary present Go 1.19 lists no lines for a non-Go binary; moved
# away, as on another machine, the view lists the code).
go tool pprof -weblist=. -output "$out/weblist.html" "$profile"
go tool pprof -disasm=handle -sample_index=calls "$profile" >"$out/disasm.txt"
grep -Eq '^ +4000 .*;handle main.swift:' "$out/disasm.txt" || { echo "outside-user: -disasm=handle"; cat "$out/disasm.txt"; exit 1; }
go tool pprof -list=handle -sample_index=calls "$profile" >"$out/list.txt"
grep -q 'let t = Trace.enter("handle")' "$out/list.txt" || { echo "outside-user: -list=handle"; cat "$out/list.txt"; exit 1; }
viewer=../viewers/pprof_web_ui.py
python3 "$viewer" "$profile" --function handle --no-lines-expected
bin="$(swift build -c release --show-bin-path)/outside-user"
mv "$bin" "$bin.elsewhere"
trap 'mv "$bin.elsewhere" "$bin"; rm -rf "$out"' EXIT
python3 "$viewer" "$profile" --function handle
mv "$bin.elsewhere" "$bin"
trap 'rm -rf "$out"' EXIT
echo "outside-user: -weblist, -disasm, -list and the web UI's Source view: OK"
