#!/usr/bin/env bash
# Smoke test of the Hummingbird example: build it, run it on free loopback ports, load its routes
# while fetching a 3 s profile from its pprof endpoint, stop it with SIGTERM (exit status 0), and
# read the profile with the real `go tool pprof`: route frames, http.route labels, -tagfocus on a
# route, and the spans and scopes nested under each route.
#
#   ./smoke.sh                 # from anywhere; needs swift, curl and go (apt-get install golang-go)
#   KEEP=1 ./smoke.sh          # keep the work folder (log, profile, pprof outputs) and print it
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
work=$(mktemp -d "${TMPDIR:-/tmp}/hummingbird-smoke.XXXXXX")
app_pid=""
fetch_pid=""

cleanup() {
    local status=$?
    if [[ -n "$fetch_pid" ]] && kill -0 "$fetch_pid" 2>/dev/null; then kill "$fetch_pid" 2>/dev/null || true; fi
    if [[ -n "$app_pid" ]] && kill -0 "$app_pid" 2>/dev/null; then kill -KILL "$app_pid" 2>/dev/null || true; fi
    if [[ $status -ne 0 && -f "$work/app.log" ]]; then
        echo "--- the app's log (last 40 lines):"
        tail -n 40 "$work/app.log" || true
    fi
    if [[ -n "${KEEP:-}" ]]; then echo "work folder kept: $work"; else rm -rf "$work"; fi
}
trap cleanup EXIT

now() { date +%s.%N; }
started=$(now)
step_started=$started
step_name=""
# Prints how long the previous step took, and starts timing the next one.
step() {
    local t
    t=$(now)
    if [[ -n "$step_name" ]]; then
        awk -v a="$step_started" -v b="$t" -v n="$step_name" 'BEGIN { printf "    %-40s %6.1f s\n", n, b - a }'
    fi
    step_name="$1"
    step_started=$t
    [[ -z "$1" ]] || echo "==> $1"
}
fail() {
    echo "FAIL: $*" >&2
    exit 1
}

# --- Tools ------------------------------------------------------------------------------------

step "tools"
command -v go >/dev/null || fail "go is not on PATH (apt-get install -y golang-go): the profile is checked with the real go tool pprof"
command -v curl >/dev/null || fail "curl is not on PATH"
echo "    $(go version)"

# --- Build ------------------------------------------------------------------------------------

step "build (swift build)"
(cd "$here" && swift build) >"$work/build.log" 2>&1 || { tail -n 60 "$work/build.log"; fail "swift build failed"; }
binary="$(cd "$here" && swift build --show-bin-path)/hummingbird-service"
[[ -x "$binary" ]] || fail "no binary at $binary"

# --- Start ------------------------------------------------------------------------------------

step "start and wait for both ports"
"$binary" --port 0 --pprof-port 0 >"$work/app.log" 2>&1 &
app_pid=$!
http="" pprof=""
for _ in $(seq 600); do
    line=$(grep -o 'listening: http=[0-9.]*:[0-9]* pprof=[0-9.]*:[0-9]*' "$work/app.log" || true)
    if [[ -n "$line" ]]; then
        http=$(sed 's/.*http=\([^ ]*\).*/\1/' <<<"$line")
        pprof=$(sed 's/.*pprof=\([^ ]*\).*/\1/' <<<"$line")
        break
    fi
    kill -0 "$app_pid" 2>/dev/null || fail "the app exited before listening"
    sleep 0.1
done
[[ -n "$http" && -n "$pprof" ]] || fail "the app did not say which ports it listens on within 60 s"
for _ in $(seq 100); do
    if curl -sf -o /dev/null "http://$http/health" && curl -sf -o /dev/null "http://$pprof/debug/pprof/"; then break; fi
    sleep 0.1
done
curl -sf -o /dev/null "http://$http/health" || fail "the API at $http does not answer /health"
curl -sf -o /dev/null "http://$pprof/debug/pprof/" || fail "the pprof endpoint at $pprof does not answer /debug/pprof/"
echo "    api http://$http, pprof http://$pprof"

# --- Load while profiling ---------------------------------------------------------------------

step "load (4 clients) during a 3 s profile"
curl -sf -o "$work/profile.pb.gz" "http://$pprof/debug/pprof/profile?seconds=3" 2>"$work/fetch.err" &
fetch_pid=$!
sleep 0.3   # the window opens when the request arrives
# One client: GET /users/{id}, GET /search?tag=, and every fourth round a POST /users.
client() {
    local c=$1 failures=0 requests=0 i
    local tags=(swift server linux profiling nio tracing http json)
    for i in $(seq 40); do
        curl -sf -o /dev/null "http://$http/users/$(((c * 40 + i) % 900 + 1))" || failures=$((failures + 1))
        curl -sf -o /dev/null "http://$http/search?tag=${tags[$(((c + i) % 8))]}" || failures=$((failures + 1))
        requests=$((requests + 2))
        if ((i % 4 == 0)); then
            curl -sf -o /dev/null -H 'content-type: application/json' \
                -d "{\"name\":\"load $c $i\",\"email\":\"load$c.$i@example.com\",\"tags\":[\"swift\",\"load\"]}" \
                "http://$http/users" || failures=$((failures + 1))
            requests=$((requests + 1))
        fi
    done
    echo "$requests $failures" >"$work/client.$c"
}
clients=()
for c in 0 1 2 3; do
    client "$c" &
    clients+=($!)
done
wait "${clients[@]}"
requests=0 failures=0
for c in 0 1 2 3; do
    [[ -f "$work/client.$c" ]] || fail "client $c did not finish"
    read -r r f <"$work/client.$c"
    requests=$((requests + r)) failures=$((failures + f))
done
echo "    $requests requests, $failures failed"
((failures == 0)) || fail "$failures of $requests requests failed"
wait "$fetch_pid" || { cat "$work/fetch.err"; fail "fetching the profile failed"; }
fetch_pid=""
[[ -s "$work/profile.pb.gz" ]] || fail "the fetched profile is empty"
echo "    profile: $(wc -c <"$work/profile.pb.gz") bytes"

# --- Stop -------------------------------------------------------------------------------------

step "SIGTERM and wait for exit"
kill -TERM "$app_pid"
for _ in $(seq 150); do kill -0 "$app_pid" 2>/dev/null || break; sleep 0.1; done
kill -0 "$app_pid" 2>/dev/null && fail "the app is still running 15 s after SIGTERM"
status=0
wait "$app_pid" || status=$?
app_pid=""
((status == 0)) || fail "the app exited with status $status after SIGTERM (want 0)"
echo "    exit status 0"

# --- Read the profile with go tool pprof ------------------------------------------------------

step "go tool pprof checks"
profile="$work/profile.pb.gz"
pprof_tool() { go tool pprof "$@" "$profile" 2>>"$work/pprof.err"; }

# The function names of a -top listing (what follows its five number columns).
top_names() { sed -n '/flat%/,$p' | tail -n +2 | sed -E 's/^ *([^ ]+ +){5}//'; }

# 1. The routes are frames, and no request span kept the provisional name.
pprof_tool -top -sample_index=calls -nodefraction=0 >"$work/top.txt" || { cat "$work/pprof.err"; fail "go tool pprof -top failed"; }
top_names <"$work/top.txt" >"$work/top.names"
for frame in '/users/{id}' '/users' '/search' store.lookup store.search store.insert parse render rank decode validate fingerprint; do
    grep -qxF -- "$frame" "$work/top.names" || { cat "$work/top.txt"; fail "no frame '$frame' in -top -sample_index=calls -nodefraction=0"; }
done
if grep -q 'route not found' "$work/top.names"; then
    cat "$work/top.txt"
    fail "a request span kept its provisional name 'HTTP … route not found'"
fi
echo "    frames: $(tr '\n' ' ' <"$work/top.names")"

# 2. The label http.route carries the routes (and http.request.method the methods).
pprof_tool -tags >"$work/tags.txt" || { cat "$work/pprof.err"; fail "go tool pprof -tags failed"; }
# (No `| grep -q` here: with pipefail, grep quitting early could fail the writer with SIGPIPE.)
sed -n '/^ *http.route:/,/^ *$/p' "$work/tags.txt" | sed -nE 's/.*\): (.*)$/\1/p' >"$work/tags.route"
sed -n '/^ *http.request.method:/,/^ *$/p' "$work/tags.txt" | sed -nE 's/.*\): (.*)$/\1/p' >"$work/tags.method"
for route in '/users/{id}' '/users' '/search'; do
    grep -qxF -- "$route" "$work/tags.route" || { cat "$work/tags.txt"; fail "no http.route=$route in -tags"; }
done
for method in GET POST; do
    grep -qxF -- "$method" "$work/tags.method" || { cat "$work/tags.txt"; fail "no http.request.method=$method in -tags"; }
done
echo "    http.route values: $(tr '\n' ' ' <"$work/tags.route")"

# 3. -tagfocus on one route keeps that route's samples only (go's pprof reads the value as a
#    regexp: the braces are escaped, and anchored so that /users does not match /users/{id}).
pprof_tool -top -sample_index=calls -nodefraction=0 '-tagfocus=http.route=^/users/\{id\}$' >"$work/focus.txt" ||
    { cat "$work/pprof.err"; fail "go tool pprof -tagfocus failed"; }
top_names <"$work/focus.txt" >"$work/focus.names"
for frame in '/users/{id}' store.lookup render fingerprint; do
    grep -qxF -- "$frame" "$work/focus.names" || { cat "$work/focus.txt"; fail "-tagfocus=http.route=/users/{id} lost '$frame'"; }
done
for frame in '/users' '/search' store.search store.insert rank decode validate; do
    if grep -qxF -- "$frame" "$work/focus.names"; then
        cat "$work/focus.txt"
        fail "-tagfocus=http.route=/users/{id} kept '$frame', of another route"
    fi
done
echo "    -tagfocus=http.route=/users/{id}: $(tr '\n' ' ' <"$work/focus.names")"

# 4. The spans and scopes nest under their route, and every sample under a route carries that
#    route as http.route. -traces prints blocks of label lines ("key:  value") and frames, leaf
#    first; each becomes "labels<TAB>root;...;leaf".
pprof_tool -traces -sample_index=calls >"$work/traces.txt" || { cat "$work/pprof.err"; fail "go tool pprof -traces failed"; }
awk '
    function flush() { if (n > 0) { p = frames[n]; for (i = n - 1; i >= 1; i--) p = p ";" frames[i]; print labels "\t" p } n = 0; labels = "" }
    /^-+\+-+$/ { inblock = 1; flush(); next }
    !inblock { next }
    /^[^ ]+: / { k = $1; sub(/:$/, "", k); v = $0; sub(/^[^ ]+: +/, "", v); labels = labels k "=" v ","; next }
    n == 0 && /^ +[0-9]/ { line = $0; sub(/^ +[^ ]+ +/, "", line); frames[++n] = line; next }
    n > 0 && /^ +[^ ]/ { line = $0; sub(/^ +/, "", line); frames[++n] = line; next }
    END { flush() }
 ' "$work/traces.txt" | sort -u >"$work/paths.txt"
cut -f2 "$work/paths.txt" >"$work/paths.only"
for path in '/users/{id};parse' '/users/{id};store.lookup' '/users/{id};render;fingerprint' \
    '/search;parse' '/search;store.search' '/search;rank;fingerprint' \
    '/users;decode' '/users;validate' '/users;store.insert' '/users;fingerprint'; do
    grep -qxF -- "$path" "$work/paths.only" || { cat "$work/paths.txt"; fail "no call path $path in -traces"; }
done
mislabelled=$(awk -F '\t' '
    { split($2, f, ";"); root = f[1] }
    root ~ /^\// && index($1, "http.route=" root ",") == 0 { print }
' "$work/paths.txt")
[[ -z "$mislabelled" ]] || { echo "$mislabelled"; fail "call paths under a route without that route as http.route (above)"; }
echo "    call paths: $(grep -c . "$work/paths.only"), each under a route labelled with it"

step ""
awk -v a="$started" -v b="$(now)" 'BEGIN { printf "    %-40s %6.1f s\n", "total", b - a }'
echo "OK"
