import Pprof

/// The HTML of `/debug/pprof/`: what can be fetched, what cannot, and the recorder's state.
enum IndexPage {
    /// - Parameter address: `host:port` as the client reached the server (`address(host:local:)`),
    ///   for the commands to copy.
    static func render(maxSeconds: Int, address: String) -> String {
        let seconds = min(30, maxSeconds)
        let address = escaped(address)
        let tracking =
            Threads.isTracking
            ? "on: <code>threads</code> shows every thread's open scopes"
            : "off: <code>threads</code> answers 503 until it is turned on "
                + "(<code>PPROF_TRACK_THREADS=1</code> or <code>PprofServer(trackThreads: true)</code>)"
        let memory = MemoryProfile.Hooks.current.rawValue
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
            profile: <code>type=fprof</code> call paths with calls and wall time (default) and sampled CPU
            (<code>-sample_index=cpu</code>), <code>type=eprof</code> flat per function, <code>type=cprof</code>
            call counts only, <code>type=cpu</code> Go's CPU profile shape; <code>debug=1</code> gives the
            fprof-style text report instead. Several may run at once.</td></tr>
            <tr><td><a href="profile?seconds=\(seconds)&amp;debug=1">profile?debug=1</a></td>
            <td>The same window as an fprof-style text report: callers above, callees below, CNT, ACC and OWN.</td></tr>
            <tr><td><a href="trace?seconds=1">trace</a></td>
            <td>Records N seconds (<code>seconds=N</code>, default 1) and returns its raw events as a timeline in
            Perfetto's native trace format: open it in Perfetto's UI (<a href="https://ui.perfetto.dev">ui.perfetto.dev</a>);
            <code>format=json</code> gives Chrome trace event JSON (<code>vizviewer FILE</code> offline, speedscope).
            A timeline holds at most <code>bytes=N</code> bytes (64 MiB by default) and shows where it was cut.</td></tr>
            <tr><td><a href="threads?debug=1">threads</a></td>
            <td>What every thread is inside right now: its open scopes, outermost first (alias <code>goroutine</code>).
            <code>debug=1</code> groups identical stacks with counts, <code>debug=2</code> lists every thread with how long
            each scope has been open, no <code>debug</code> gives a pprof profile of <code>threads/count</code>. Needs thread
            tracking (<code>PPROF_TRACK_THREADS=1</code> or <code>PprofServer(trackThreads: true)</code>).</td></tr>
            <tr><td><a href="threads?debug=2">threads?debug=2</a></td>
            <td>The full thread dump: every thread, each of its open scopes with how long it has been open.</td></tr>
            <tr><td><a href="allocs">allocs</a></td>
            <td>Memory, as Go serves it (needs the <code>PprofMemory</code> product linked: \(memory)):
            blocks and bytes allocated per call path since the program started, <b>exact</b>
            (<code>alloc_objects</code>, <code>alloc_space</code>, the default here), and in use now, estimated from
            sampled blocks with the native functions that called <code>malloc</code> below the scope
            (<code>inuse_objects</code>, <code>inuse_space</code>). <code>seconds=N</code> gives the allocations of the
            next N seconds; <code>debug=1</code> a text form.</td></tr>
            <tr><td><a href="heap">heap</a></td>
            <td>The same profile with pprof showing <code>inuse_space</code> first, as Go's heap profile does.</td></tr>
            <tr><td><a href="cmdline">cmdline</a></td>
            <td>The command line of this program, arguments separated by NUL bytes; values that look like
            secrets (tokens, passwords, keys, URL credentials) read <code>&lt;redacted&gt;</code> unless the server
            was started with <code>revealCommandLine: true</code>.</td></tr>
            </table>
            <p>Not produced here (answered 404): block, mutex\(MemoryProfile.Hooks.current == .notLinked ? ", and heap and allocs until PprofMemory is linked" : ""). Switch them off in the scraper.</p>
            <h2>Recorder</h2>
            <table>
            <tr><td>thread tracking</td><td>\(tracking)</td></tr>
            <tr><td>threads with a live ring</td><td>\(RecorderStatus.liveThreads)</td></tr>
            <tr><td>threads seen since start</td><td>\(RecorderStatus.threadsSeen)</td></tr>
            <tr><td>windows open</td><td>\(RecorderStatus.openWindows)</td></tr>
            <tr><td>events recorded</td><td>\(RecorderStatus.eventsRecorded)</td></tr>
            <tr><td>events dropped (rings full)</td><td>\(RecorderStatus.eventsDropped)</td></tr>
            <tr><td>call tree nodes (limit)</td><td>\(RecorderStatus.callTree.nodes) (\(RecorderStatus.callTree.limit)\(RecorderStatus.callTree.full ? ", full: new paths go under (call tree full)" : ""))</td></tr>
            </table>
            <p>Try: <code>go tool pprof http://\(address)/debug/pprof/profile?seconds=\(seconds)</code></p>
            </body>
            </html>

            """
    }

    /// Where the client reached this server: the request's `Host` header when it is a plain
    /// `host[:port]` (what a browser or curl sends), else the connection's local address; nil
    /// `local` (no connection, as in tests of the routes alone) gives `127.0.0.1:6060`.
    static func address(host: String?, local: String?) -> String {
        if let host, (1...255).contains(host.utf8.count), host.utf8.allSatisfy(isHostByte) { return host }
        return local ?? "127.0.0.1:6060"
    }

    /// Letters, digits, `.-_:` and brackets: a name, an IPv4 or an IPv6 address, and a port.
    private static func isHostByte(_ byte: UInt8) -> Bool {
        switch byte {
        case UInt8(ascii: "a")...UInt8(ascii: "z"), UInt8(ascii: "A")...UInt8(ascii: "Z"),
            UInt8(ascii: "0")...UInt8(ascii: "9"):
            true
        case UInt8(ascii: "."), UInt8(ascii: "-"), UInt8(ascii: "_"), UInt8(ascii: ":"), UInt8(ascii: "["),
            UInt8(ascii: "]"):
            true
        default: false
        }
    }

    /// Text made safe inside HTML, whatever it holds.
    static func escaped(_ text: String) -> String {
        var out = ""
        for character in text {
            switch character {
            case "&": out += "&amp;"
            case "<": out += "&lt;"
            case ">": out += "&gt;"
            case "\"": out += "&quot;"
            case "'": out += "&#39;"
            default: out.append(character)
            }
        }
        return out
    }
}
