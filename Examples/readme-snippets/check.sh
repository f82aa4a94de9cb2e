#!/usr/bin/env bash
# Checks that the README's snippets for async code, labels and spans are the README's (verbatim),
# build, run, and write what the README says, read by the real `go tool pprof`.
set -euo pipefail
cd "$(dirname "$0")"

# The snippets must be the README's code blocks, unchanged.
python3 - <<'PY'
import re, sys
readme = open("../../README.md").read()
blocks = re.findall(r"```swift\n(.*?)```", readme, re.S)
for name in ["async-snippet", "labels-snippet", "spans-snippet"]:
    code = open(f"Sources/{name}/main.swift").read()
    if code not in blocks:
        sys.exit(f"readme-snippets: Sources/{name}/main.swift is not a code block of README.md")
PY

swift build -c release
bin=$(swift build -c release --show-bin-path)
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
cd "$out"

fail() { echo "readme-snippets: $1"; shift; printf '%s\n' "$@"; exit 1; }

"$bin/async-snippet"
traces=$(go tool pprof -traces -sample_index=calls async.pb.gz 2>&1)
grep -q "lookUp" <<<"$traces" || fail "async: no lookUp frame" "$traces"
top=$(go tool pprof -top -sample_index=calls -nodefraction=0 async.pb.gz 2>&1)
grep -Eq '^ +8 .* format$' <<<"$top" || fail "async: format is not called 8 times" "$top"
grep -Eq ' 8 .* lookUp$' <<<"$top" || fail "async: lookUp is not called 8 times" "$top"
wall=$(go tool pprof -top -nodefraction=0 async.pb.gz 2>&1)
grep -q "(suspended or unscoped)" <<<"$wall" || fail "async: no (suspended or unscoped) frame" "$wall"

"$bin/labels-snippet"
focused=$(go tool pprof -tagfocus=route=/search -top -sample_index=calls -nodefraction=0 labels.pb.gz 2>&1)
grep -q "Showing nodes accounting for 2, " <<<"$focused" || fail "labels: -tagfocus=route=/search should keep 2 calls" "$focused"
tags=$(go tool pprof -tags -sample_index=calls labels.pb.gz 2>&1)
grep -q "/users/:id" <<<"$tags" || fail "labels: no /users/:id in -tags" "$tags"

"$bin/spans-snippet"
top=$(go tool pprof -top -sample_index=calls -nodefraction=0 spans.pb.gz 2>&1)
for frame in "GET /users/:id" "db.query" "render"; do
    grep -q "$frame" <<<"$top" || fail "spans: no $frame frame" "$top"
done
peek=$(go tool pprof -peek 'db.query' -sample_index=calls spans.pb.gz 2>&1)
grep -q "GET /users/:id" <<<"$peek" || fail "spans: db.query is not under GET /users/:id" "$peek"
tags=$(go tool pprof -tags spans.pb.gz 2>&1)
grep -q "http.route" <<<"$tags" || fail "spans: no http.route label" "$tags"
echo "readme-snippets: the README's async, labels and spans snippets run and write what it says: OK"
