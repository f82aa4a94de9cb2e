#!/usr/bin/env python3
"""Opens a profile in `go tool pprof`'s web UI, as a user does, and checks that its Source view
shows code: the call sites' lines, read from the files the profile names (so run it where those
files are, e.g. from the checkout that built the program).

  pprof_web_ui.py PROFILE.pb.gz [--function handle] [--screenshots DIR] [--no-lines-expected]

It starts `go tool pprof -http=127.0.0.1:PORT -no_browser PROFILE`, fetches `/ui/source?f=FUNC`
and fails unless the page holds a source line of FUNC with a non-zero value and its code; with
--screenshots it also opens `/ui/flamegraph` and the Source view in headless Chromium (selenium
with chromedriver) and saves pprof-flamegraph.png and pprof-source.png there. Without Go, or with
--screenshots without Chromium or selenium, it fails under CI=true and otherwise says what is
missing and exits 0.

Go 1.19's pprof (Debian 12's) reads an object's line table only from Go binaries: where the binary
named by the profile's mapping exists, its Source view disassembles it, finds no Go line table
and lists no lines (it no longer panics, as it did on a 0x0/0x0 mapping). Where the binary is not
at that path (the profile read on another machine), the view lists the call sites' lines from the
functions' files. --no-lines-expected checks the first case: a whole page, naming FUNC, no panic.
"""
import argparse
import html
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request


def missing(what):
    if os.environ.get("CI") == "true":
        sys.exit(f"pprof_web_ui: {what} is missing (CI=true: a failure, not a skip)")
    print(f"pprof_web_ui: {what} is missing; nothing checked")
    sys.exit(0)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def start_pprof(profile, scratch):
    port = free_port()
    env = dict(os.environ, PPROF_TMPDIR=scratch, HOME=scratch)
    server = subprocess.Popen(
        ["go", "tool", "pprof", f"-http=127.0.0.1:{port}", "-no_browser", profile],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    deadline = time.time() + 60
    while time.time() < deadline:
        if server.poll() is not None:
            sys.exit("pprof_web_ui: go tool pprof ended: " + server.stdout.read().decode(errors="replace"))
        try:
            urllib.request.urlopen(base + "/ui/", timeout=2).read()
            return server, base
        except OSError:
            time.sleep(0.3)
    server.kill()
    sys.exit("pprof_web_ui: go tool pprof -http did not answer within 60 s")


def source_lines(page):
    """The Source view's lines that carry a value: (flat, cum, code) each, tags stripped."""
    rows = []
    # Each source line is `<span class=line> NNN</span> <span class=nop>  flat  cum  code</span>`
    # or with class livesrc when it has samples (pprof's report/source.go).
    for match in re.finditer(r'<span class=line>\s*(\d+)</span>\s*<span class=(?:livesrc|deadsrc|nop)>(.*?)</span>',
                             page, re.S):
        text = html.unescape(re.sub(r"<[^>]+>", "", match.group(2)))
        parts = text.split(None, 2)
        if len(parts) == 3 and parts[0] != "." and parts[2].strip():
            rows.append((int(match.group(1)), parts[0], parts[1], parts[2].strip()))
    return rows


def screenshots(base, function, directory):
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.options import Options
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        missing("selenium (pip install selenium)")
    browser = shutil.which("chromium") or shutil.which("chromium-browser")
    driver_path = shutil.which("chromedriver") or "/usr/bin/chromedriver"
    if not browser or not os.path.exists(driver_path):
        missing("chromium and chromium-driver (apt-get install -y chromium chromium-driver)")
    options = Options()
    options.binary_location = browser
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                 "--window-size=1280,800", "--hide-scrollbars"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(driver_path), options=options)
    try:
        os.makedirs(directory, exist_ok=True)
        driver.get(base + "/ui/flamegraph")
        time.sleep(2)
        driver.save_screenshot(os.path.join(directory, "pprof-flamegraph.png"))
        driver.get(base + f"/ui/source?f={function}")
        time.sleep(1)
        body = driver.find_element("tag name", "body").text
        if function not in body:
            sys.exit(f"pprof_web_ui: the Source view in Chromium does not name {function}")
        driver.save_screenshot(os.path.join(directory, "pprof-source.png"))
    finally:
        driver.quit()


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("profile")
    parser.add_argument("--function", default="handle")
    parser.add_argument("--screenshots")
    parser.add_argument("--no-lines-expected", action="store_true")
    args = parser.parse_args()
    if not shutil.which("go"):
        missing("go (apt-get install -y golang-go)")
    scratch = tempfile.mkdtemp(prefix="pprof-web-ui-")
    server, base = start_pprof(os.path.abspath(args.profile), scratch)
    try:
        response = urllib.request.urlopen(base + f"/ui/source?f={args.function}", timeout=60)
        page = response.read().decode("utf-8", errors="replace")
        if response.status != 200 or not page:
            sys.exit(f"pprof_web_ui: /ui/source?f={args.function} answered {response.status}, {len(page)} bytes")
        if args.no_lines_expected:
            if args.function not in page or "</html>" not in page:
                sys.exit(f"pprof_web_ui: /ui/source?f={args.function} is not a whole page naming it:\n{page[-2000:]}")
            print(f"pprof_web_ui: the Source view of {args.function} answers a whole page: OK")
            return
        rows = source_lines(page)
        live = [row for row in rows if row[1] != "." or row[2] != "."]
        if not live:
            sys.exit(f"pprof_web_ui: the Source view of {args.function} shows no line of code with a value:\n"
                     + page[:2000])
        for line, flat, cum, code in live[:5]:
            print(f"  {line:5} {flat:>10} {cum:>10}  {code}")
        print(f"pprof_web_ui: the Source view of {args.function} shows {len(live)} line(s) of code with values: OK")
        if args.screenshots:
            screenshots(base, args.function, args.screenshots)
            print(f"pprof_web_ui: screenshots in {args.screenshots}")
    finally:
        server.terminate()
        server.wait()
        shutil.rmtree(scratch, ignore_errors=True)


if __name__ == "__main__":
    main()
