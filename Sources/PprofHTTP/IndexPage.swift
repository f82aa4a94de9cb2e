import Pprof

/// The HTML of `/debug/pprof/`: what can be fetched, what cannot, and the recorder's state.
enum IndexPage {
    static func render(maxSeconds: Int) -> String {
        let seconds = min(30, maxSeconds)
        return """
            <!DOCTYPE html>
            <html>
            <head><meta charset="utf-8"><title>/debug/pprof/</title></head>
            <body>
            <h1>/debug/pprof/</h1>
            <p>swift-pprof: call counts and wall time of instrumented scopes (Trace.scope, Trace.enter/exit).</p>
            <h2>Profiles</h2>
            <table>
            <tr><td><a href="profile?seconds=\(seconds)">profile</a></td>
            <td>Records N seconds (<code>seconds=N</code>, 1 to \(maxSeconds), default 30) and returns a pprof
            profile: <code>type=fprof</code> call paths with calls and wall time (default), <code>type=eprof</code>
            flat per function, <code>type=cprof</code> call counts only; <code>debug=1</code> gives the fprof-style
            text report instead. Several may run at once.</td></tr>
            <tr><td><a href="profile?seconds=\(seconds)&amp;debug=1">profile?debug=1</a></td>
            <td>The same window as an fprof-style text report: callers above, callees below, CNT, ACC and OWN.</td></tr>
            <tr><td><a href="trace?seconds=1">trace</a></td>
            <td>Records N seconds (<code>seconds=N</code>, default 1) and returns its raw events as a timeline in the
            Chrome trace event format (JSON): open it in Perfetto (ui.perfetto.dev), chrome://tracing or speedscope.
            A timeline holds at most a set number of events and says so when it was cut.</td></tr>
            <tr><td><a href="threads?debug=1">threads</a></td>
            <td>What every thread is inside right now: its open scopes, outermost first (alias <code>goroutine</code>).
            <code>debug=1</code> groups identical stacks with counts, <code>debug=2</code> lists every thread with how long
            each scope has been open, no <code>debug</code> gives a pprof profile of <code>threads/count</code>. Needs thread
            tracking (<code>PPROF_TRACK_THREADS=1</code> or <code>PprofServer(trackThreads: true)</code>): \(Threads.isTracking ? "on" : "off").</td></tr>
            <tr><td><a href="cmdline">cmdline</a></td>
            <td>The command line of this program, arguments separated by NUL bytes; values that look like
            secrets (tokens, passwords, keys, URL credentials) read <code>&lt;redacted&gt;</code> unless the server
            was started with <code>revealCommandLine: true</code>.</td></tr>
            </table>
            <p>Not produced here (answered 404): heap, allocs, block, mutex. Switch them off in the scraper.</p>
            <h2>Recorder</h2>
            <table>
            <tr><td>threads with a live ring</td><td>\(RecorderStatus.liveThreads)</td></tr>
            <tr><td>threads seen since start</td><td>\(RecorderStatus.threadsSeen)</td></tr>
            <tr><td>windows open</td><td>\(RecorderStatus.openWindows)</td></tr>
            <tr><td>events recorded</td><td>\(RecorderStatus.eventsRecorded)</td></tr>
            <tr><td>events dropped (rings full)</td><td>\(RecorderStatus.eventsDropped)</td></tr>
            <tr><td>call tree nodes (limit)</td><td>\(RecorderStatus.callTree.nodes) (\(RecorderStatus.callTree.limit)\(RecorderStatus.callTree.full ? ", full: new paths go under (call tree full)" : ""))</td></tr>
            </table>
            <p>Try: <code>go tool pprof http://HOST:PORT/debug/pprof/profile?seconds=\(seconds)</code></p>
            </body>
            </html>

            """
    }
}
