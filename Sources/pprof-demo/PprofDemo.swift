import ArgumentParser
import NIOPosix
import Pprof
import PprofHTTP
import PprofMemory

#if canImport(Glibc)
import Glibc
#endif

/// The main job: an instrumented HTTP service under load, profiled over its own pprof endpoint
/// while it runs.
@main
struct PprofDemo: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "pprof-demo",
        abstract: "Runs an instrumented HTTP JSON service under load and profiles it over its pprof endpoint.",
        discussion: """
            A small user API (GET /users/ID, POST /users, GET /search?tag=T) serves on a free \
            loopback port, each request's steps (parse, validate, store, render, write) in a \
            Trace scope. Built-in clients send it requests over loopback for --duration seconds, \
            while the pprof endpoint serves on --port: try the go tool pprof line it prints. \
            Meanwhile the demo fetches its own profile from that endpoint, writes it to --output \
            and prints the top of the fprof-style report and the request rate. It links \
            PprofMemory: the summary names the call paths that allocated most, \
            /debug/pprof/allocs and /debug/pprof/heap serve its memory profiles, and \
            --memory-output writes one at the end.

            With --overhead-rounds N it measures instead what an open profile window costs the \
            service: N rounds of a window of --window-seconds and the same time without, \
            alternating, and prints the request rate with a window open as a share of the rate \
            without.

            With --memory-overhead-rounds N it measures what counting allocations costs: N rounds \
            of --window-seconds with the allocation hooks counting and as long switched off \
            (they still forward every call), no profile window in either.
            """
    )

    @Option(help: "How long to run the load and the profile window, in seconds.")
    var duration: Int = 10

    @Option(help: "The pprof endpoint's port on 127.0.0.1; 0 picks a free one.")
    var port: Int = 6060

    @Option(help: "Where to write the profile fetched from the endpoint (gzipped pprof).")
    var output: String = "pprof-demo.pb.gz"

    @Option(help: "Where to write the memory profile at the end (gzipped pprof, Go's heap format); none if not given.")
    var memoryOutput: String?

    @Option(help: "Concurrent keep-alive clients sending requests.")
    var clients: Int = 16

    @Option(help: "Event-loop threads serving the API (each records into a ring of its own); 0: one per core.")
    var serverThreads: Int = 0

    @Option(
        help: ArgumentHelp(
            "Profile type: fprof (call paths and time), eprof (flat time), cprof (counts only).",
            valueName: "type"
        )
    )
    var mode: String = "fprof"

    @Option(help: "Lines of the fprof-style report to print.")
    var top: Int = 40

    @Option(help: "Measure the overhead instead: rounds of a window on and off (0: do not).")
    var overheadRounds: Int = 0

    @Option(
        help: "Measure what counting allocations costs instead: rounds with the hooks counting and off (0: do not)."
    )
    var memoryOverheadRounds: Int = 0

    @Option(
        help: "With --overhead-rounds or --memory-overhead-rounds: the length of each window, and of each time without."
    )
    var windowSeconds: Int = 2

    func validate() throws {
        guard (1...3600).contains(duration) else { throw ValidationError("--duration must be from 1 to 3600 seconds") }
        guard (0...65535).contains(port) else { throw ValidationError("--port must be from 0 to 65535") }
        guard (1...1000).contains(clients) else { throw ValidationError("--clients must be from 1 to 1000") }
        guard (0...256).contains(serverThreads) else { throw ValidationError("--server-threads must be from 0 to 256") }
        guard Profile.Mode(rawValue: mode) != nil else { throw ValidationError("--mode must be fprof, eprof or cprof") }
        guard overheadRounds >= 0 else { throw ValidationError("--overhead-rounds must not be negative") }
        guard memoryOverheadRounds >= 0 else { throw ValidationError("--memory-overhead-rounds must not be negative") }
        guard overheadRounds == 0 || memoryOverheadRounds == 0 else {
            throw ValidationError("--overhead-rounds and --memory-overhead-rounds measure one at a time")
        }
        guard (1...60).contains(windowSeconds) else { throw ValidationError("--window-seconds must be from 1 to 60") }
    }

    func run() throws {
        let serverGroup =
            serverThreads == 0
            ? MultiThreadedEventLoopGroup.singleton : MultiThreadedEventLoopGroup(numberOfThreads: serverThreads)
        let clientGroup = MultiThreadedEventLoopGroup(numberOfThreads: 1)
        defer {
            try? clientGroup.syncShutdownGracefully()
            if serverThreads != 0 { try? serverGroup.syncShutdownGracefully() }
        }

        let api = try APIServer.start(service: UserService(users: 10_000), group: serverGroup)
        defer { api.stop() }
        let endpoint: PprofServer
        do {
            endpoint = try PprofServer.start(port: port, maxSeconds: max(300, duration))
        } catch {
            // The server's error names the address and the reason ("cannot listen on
            // 127.0.0.1:6060: address already in use").
            throw DemoFailure(description: "the pprof endpoint: \(error) (--port 0 picks a free port)")
        }
        defer { endpoint.stop() }
        let pprofPort = endpoint.boundPort ?? port

        print(
            "pprof-demo: the API serves on http://127.0.0.1:\(api.port)/users/1, its profiles on http://127.0.0.1:\(pprofPort)/debug/pprof/"
        )
        print("try, while it runs: go tool pprof http://127.0.0.1:\(pprofPort)/debug/pprof/profile?seconds=5")
        flush()

        if overheadRounds > 0 || memoryOverheadRounds > 0 {
            let load = try LoadGenerator.start(port: api.port, clients: clients, group: clientGroup)
            defer { load.stop() }
            if overheadRounds > 0 {
                try Overhead.measureWindow(
                    rounds: overheadRounds,
                    seconds: windowSeconds,
                    api: api,
                    pprofPort: pprofPort
                )
            } else {
                guard MemoryHooks.status == .active else {
                    throw DemoFailure(
                        description: "--memory-overhead-rounds: the allocation hooks are \(Self.hooksState)"
                    )
                }
                try Overhead.measureMemory(rounds: memoryOverheadRounds, seconds: windowSeconds, api: api)
            }
            return
        }

        // Two windows over the same seconds, as two scrapers would open them: the profile and the
        // text report. Both are fetched over HTTP, the way users fetch them.
        let profileQuery = "/debug/pprof/profile?seconds=\(duration)&type=\(mode)"
        let profileFetch = HTTPGet.start(port: pprofPort, target: profileQuery)
        let reportFetch = HTTPGet.start(port: pprofPort, target: profileQuery + "&debug=1")

        let start = Clock.nanos()
        let servedBefore = api.served.value
        let load = try LoadGenerator.start(port: api.port, clients: clients, group: clientGroup)
        for second in 1...duration {
            Clock.sleep(until: start + UInt64(second) * 1_000_000_000)
            let served = api.served.value - servedBefore
            let elapsed = Double(Clock.nanos() - start) / 1e9
            print("  \(second) s: \(served) requests served, \(Int(Double(served) / elapsed)) per second")
            flush()
        }
        let statuses = load.stop()
        let elapsed = Double(Clock.nanos() - start) / 1e9

        let profile = try Self.body(of: profileFetch, asking: profileQuery)
        let report = try Self.body(of: reportFetch, asking: profileQuery + "&debug=1")
        // Counted once the windows have closed: on a busy machine a window can open late and end
        // after the load stopped, and every request it holds is then in this count.
        let served = api.served.value - servedBefore
        try Profile.writeAtomically(profile, to: output)

        let mix = statuses.sorted { $0.key < $1.key }.map { "\($0.value) × \($0.key)" }.joined(separator: ", ")
        print("")
        print(
            "pprof-demo: \(clients) clients for \(duration) s: \(served) requests, \(Int(Double(served) / elapsed)) per second (\(mix))"
        )
        print("wrote \(output) (\(mode), \(profile.count) bytes); read it with: go tool pprof -top \(output)")
        print("resident memory: \(Self.residentMegabytes()) MB at most (VmHWM)")
        try printAllocations(requests: api.served.value)
        print("")
        let lines = String(decoding: report, as: UTF8.self).split(separator: "\n", omittingEmptySubsequences: false)
        print(lines.prefix(top).joined(separator: "\n"))
    }

    /// The hooks' state and the call paths that allocated most since the start, and the memory
    /// profile written to `--memory-output`.
    private func printAllocations(requests: Int) throws {
        let memory = MemoryProfile.now()
        print("allocation hooks: \(Self.hooksState)")
        if let memoryOutput {
            try memory.write(to: memoryOutput)
            let read = "go tool pprof -top -sample_index=alloc_space \(memoryOutput)"
            print("wrote \(memoryOutput) (memory: allocations and blocks in use); read it with: \(read)")
        }
        guard memory.hooks == .active else { return }
        let perRequest = { (bytes: UInt64) in requests == 0 ? 0 : Int(bytes) / requests }
        print(
            "allocated since the start: \(memory.allocatedObjects) blocks, \(memory.allocatedBytes) bytes "
                + "(\(perRequest(memory.allocatedBytes)) bytes per request over \(requests) requests); "
                + "the most, by call path:"
        )
        for top in memory.topAllocating(5) {
            print(
                "  \(top.path): \(top.objects) objects, \(top.bytes) bytes, \(perRequest(top.bytes)) bytes per request"
            )
        }
    }

    /// What the allocation hooks are doing, in words.
    private static var hooksState: String {
        switch MemoryHooks.status {
        case .active: "active, counting every allocation (one block sampled per \(MemoryHooks.rate) bytes)"
        case .standingAside(let reason): "standing aside (\(reason)): no allocation counts"
        case .switchedOff: "switched off (PPROF_MEMORY=0): no allocation counts"
        case .compiledOut: "compiled out (PprofDisabled): no allocation counts"
        }
    }

    /// The body of a 200 answer; any other is an error naming the status and the server's reason.
    private static func body(of fetch: HTTPGet, asking target: String) throws -> [UInt8] {
        let answer = try fetch.wait()
        guard answer.status == 200 else {
            throw DemoFailure(
                description:
                    "GET \(target) answered \(answer.status): \(String(decoding: answer.body.prefix(200), as: UTF8.self))"
            )
        }
        return answer.body
    }

    /// The process's peak resident size, from /proc/self/status, in MB.
    private static func residentMegabytes() -> String {
        guard let file = fopen("/proc/self/status", "r") else { return "?" }
        defer { fclose(file) }
        var line = [CChar](repeating: 0, count: 256)
        while fgets(&line, Int32(line.count), file) != nil {
            let text = String(decoding: line.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
            if text.hasPrefix("VmHWM:") {
                let kilobytes = Int(text.dropFirst(6).filter(\.isNumber)) ?? 0
                return String(kilobytes / 1024)
            }
        }
        return "?"
    }

    private func flush() {
        fflush(nil)  // every output stream: `stdout` is a global Swift 6 will not read
    }
}

/// A failure while running, as opposed to a bad flag: said in one line, without the usage.
struct DemoFailure: Error, CustomStringConvertible {
    var description: String
}

/// The monotonic clock, for the progress lines and the overhead rounds.
enum Clock {
    static func nanos() -> UInt64 {
        var ts = timespec()
        clock_gettime(CLOCK_MONOTONIC, &ts)
        return UInt64(ts.tv_sec) * 1_000_000_000 + UInt64(ts.tv_nsec)
    }

    static func sleep(until deadline: UInt64) {
        while true {
            let now = nanos()
            if now >= deadline { return }
            let wait = deadline - now
            var ts = timespec(tv_sec: Int(wait / 1_000_000_000), tv_nsec: Int(wait % 1_000_000_000))
            nanosleep(&ts, nil)
        }
    }
}
