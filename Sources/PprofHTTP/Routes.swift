import NIOHTTP1
import Pprof

/// Maps a request to its answer: `/debug/pprof/` and the profiles under it, with the rules of
/// DESIGN.md ("HTTP endpoint"): a token before anything else, then path, method and parameters,
/// each refused with its own status and a one-line reason.
package struct Routes: Sendable {
    static let prefix = "/debug/pprof/"
    /// Profiles Go programs serve and scrapers ask for by default; we say why they are missing.
    static let notProduced: Set<String> = ["block", "mutex"]

    /// The server's settings, clamped already (the endpoints read `maxSeconds`, `token`,
    /// `maxTraceEvents`, `revealCommandLine` and `commandLine`).
    let configuration: PprofServer.Configuration
    /// The server's open windows, shared by its routes.
    let windows: WindowLimit

    var maxSeconds: Int { configuration.maxSeconds }

    /// The routes of a server with `configuration`, its windows counted by `windows` (of
    /// `configuration.maxWindows`, or whatever limit a test gives).
    package init(configuration: PprofServer.Configuration, windows: WindowLimit) {
        self.configuration = configuration
        self.windows = windows
    }

    /// As `init(configuration:windows:)`, with the settings the routes read (the request
    /// fuzzer's and the tests' form); each is checked as `PprofServer.Configuration` checks it.
    package init(
        maxSeconds: Int,
        token: String?,
        windows: WindowLimit,
        maxTraceEvents: Int,
        revealCommandLine: Bool = false,
        commandLine: [String]? = nil
    ) {
        var configuration = PprofServer.Configuration(
            maxSeconds: maxSeconds,
            token: token,
            maxTraceEvents: maxTraceEvents,
            revealCommandLine: revealCommandLine
        )
        configuration.commandLine = commandLine
        self.init(configuration: configuration, windows: windows)
    }

    /// The answer to one request.
    ///
    /// - Parameters:
    ///   - localAddress: `host:port` of the connection's end at the server, which the index
    ///     page shows when the request has no usable `Host` header.
    ///   - wait: Sleeps for a window's length without holding an event loop; returns
    ///     false when the client went away (or the server stops) first.
    package func respond(
        method: HTTPMethod,
        uri: String,
        headers: HTTPHeaders,
        localAddress: String? = nil,
        wait: @Sendable (Duration) async -> Bool
    ) async -> Response {
        if let token = configuration.token, !BearerToken.authorizes(headers, token: token) {
            return .error(.unauthorized, "a bearer token is required", headers: [("WWW-Authenticate", "Bearer")])
        }
        let path: Substring
        let rawQuery: Substring
        if let mark = uri.firstIndex(of: "?") {
            path = uri[..<mark]
            rawQuery = uri[uri.index(after: mark)...]
        } else {
            path = uri[...]
            rawQuery = ""
        }
        if path == "/debug/pprof" {
            // As Go's ServeMux does for a subtree registered with its slash.
            let location = Self.prefix + (rawQuery.isEmpty ? "" : "?" + rawQuery)
            return .error(.movedPermanently, "moved to \(Self.prefix)", headers: [("Location", location)])
        }
        guard path.hasPrefix(Self.prefix) else { return .error(.notFound, "not found: \(path.prefix(128))") }
        let name = path.dropFirst(Self.prefix.count)
        enum Endpoint { case index, profile, trace, threads, cmdline, heap, allocs }
        let endpoint: Endpoint
        switch name {
        case "": endpoint = .index
        case "profile": endpoint = .profile
        case "trace": endpoint = .trace
        case "threads", "goroutine": endpoint = .threads
        case "cmdline": endpoint = .cmdline
        case "heap", "allocs":
            guard MemoryProfile.Hooks.current != .notLinked else {
                return .error(
                    .notFound,
                    "\(name): memory profiles need the PprofMemory product linked into the program: "
                        + ".product(name: \"PprofMemory\", package: \"swift-pprof\")"
                )
            }
            endpoint = name == "heap" ? .heap : .allocs
        case _ where Self.notProduced.contains(String(name)):
            return .error(
                .notFound,
                "\(name): this profiler does not produce \(name) profiles "
                    + "(it records call counts and wall time of instrumented scopes)"
            )
        default:
            return .error(.notFound, "no such profile: \(name.prefix(128))")
        }
        guard method == .GET else {
            return .error(
                .methodNotAllowed,
                "method \(method.rawValue) is not allowed; use GET",
                headers: [("Allow", "GET")]
            )
        }
        do {
            let query = try QueryParameters(parsing: rawQuery)
            switch endpoint {
            case .index:
                let address = IndexPage.address(host: headers.first(name: "host"), local: localAddress)
                return .html(IndexPage.render(maxSeconds: maxSeconds, address: address))
            case .profile: return try await profile(query, wait: wait)
            case .trace: return try await trace(query, wait: wait)
            case .threads: return try Self.threads(query)
            case .heap: return try await memory(query, defaultSampleType: nil, wait: wait)
            case .allocs: return try await memory(query, defaultSampleType: "alloc_space", wait: wait)
            case .cmdline:
                return Self.cmdline(
                    configuration.commandLine ?? CommandLine.arguments,
                    reveal: configuration.revealCommandLine
                )
            }
        } catch let invalid as QueryParameters.Invalid {
            return .error(.badRequest, invalid.reason)
        } catch {
            return .error(.internalServerError, "\(error)")
        }
    }

    // MARK: Handlers

    private func profile(_ query: QueryParameters, wait: @Sendable (Duration) async -> Bool) async throws -> Response {
        // Go's default, unless the server caps windows below it.
        let seconds = try query.integer("seconds", in: 1...maxSeconds, default: min(30, maxSeconds))
        // type=cpu: an fprof window in Go's CPU profile shape (samples/count, cpu/nanoseconds).
        let type = try query.choice("type", of: Profile.Mode.allCases.map(\.rawValue) + ["cpu"], default: "fprof")
        let mode = Profile.Mode(rawValue: type) ?? .fprof
        let debug = try query.choice("debug", of: ["0", "1"], default: "0")
        return await recording(
            seconds: seconds,
            start: { Profiler.start(mode: mode) },
            stop: { $0.stop() },
            wait: wait,
            answer: { recorded in
                if debug == "1" { return .text(.ok, recorded.report()) }
                return .profile(type == "cpu" ? recorded.cpuPprof() : recorded.pprof())
            }
        )
    }

    /// `heap` and `allocs`, as Go serves them: one profile, cumulative since the program started
    /// (`seconds=N`: allocations over the next N seconds, in use at their end); `gc` accepted and
    /// ignored (there is no collector); `debug=1` the text form. `allocs` names `alloc_space`
    /// the default sample type, `heap` leaves it unset (pprof shows `inuse_space`).
    private func memory(
        _ query: QueryParameters,
        defaultSampleType: String?,
        wait: @Sendable (Duration) async -> Bool
    ) async throws -> Response {
        let seconds = try query.optionalInteger("seconds", in: 1...maxSeconds)
        _ = try query.choice("gc", of: ["0", "1"], default: "0")
        let debug = try query.choice("debug", of: ["0", "1"], default: "0")
        func answer(_ profile: MemoryProfile) -> Response {
            debug == "1" ? .text(.ok, profile.text()) : .profile(profile.pprof(defaultSampleType: defaultSampleType))
        }
        guard let seconds else { return answer(MemoryProfile.now()) }
        return await recording(
            seconds: seconds,
            start: { MemoryProfile.baseline() },
            stop: { MemoryProfile.since($0) },
            wait: wait,
            answer: answer
        )
    }

    /// `trace?seconds=N` (default 1, as Go's): the window's raw events as a timeline, Perfetto's
    /// protobuf trace or (`format=json`) Chrome trace event JSON; at most `bytes=N` bytes of
    /// events (default 64 MiB, up to `maxTraceBytes`) and `maxTraceEvents` events, past which
    /// it is cut and says so.
    private func trace(_ query: QueryParameters, wait: @Sendable (Duration) async -> Bool) async throws -> Response {
        let seconds = try query.integer("seconds", in: 1...maxSeconds, default: 1)
        let format = try query.choice("format", of: Timeline.Format.allCases.map(\.rawValue), default: "perfetto")
        let most = configuration.maxTraceBytes
        let bytes = try query.integer(
            "bytes",
            in: PprofServer.Configuration.fewestTraceBytes...most,
            default: min(TimelineWindow.defaultBytes, most)
        )
        let chosen = Timeline.Format(rawValue: format) ?? .perfetto
        return await recording(
            seconds: seconds,
            start: { TimelineWindow.start(limit: configuration.maxTraceEvents, bytes: bytes, format: chosen) },
            stop: { $0.stop() },
            wait: wait,
            answer: { timeline in .timeline(timeline.encoded(as: chosen), format: chosen) }
        )
    }

    /// A window of `seconds` within the server's cap on open windows: opened with `start`,
    /// closed with `stop` however the wait ends, answered with `answer` if it ran its length.
    private func recording<Window, Recorded>(
        seconds: Int,
        start: () -> Window,
        stop: (Window) -> Recorded,
        wait: @Sendable (Duration) async -> Bool,
        answer: (Recorded) -> Response
    ) async -> Response {
        guard windows.acquire() else {
            return .error(
                .serviceUnavailable,
                "\(windows.limit) profile windows are open already; retry later",
                headers: [("Retry-After", String(min(seconds, 30)))]
            )
        }
        defer { windows.release() }
        let window = start()
        let completed = await wait(.seconds(seconds))
        let recorded = stop(window)
        guard completed else {
            return .error(.serviceUnavailable, "the window was cut short")
        }
        return answer(recorded)
    }

    /// `threads` (alias `goroutine`): what every thread is inside now. `debug=1` groups identical
    /// stacks, `debug=2` lists every thread, no `debug` gives a pprof of `threads/count`.
    private static func threads(_ query: QueryParameters) throws -> Response {
        let debug = try query.choice("debug", of: ["0", "1", "2"], default: "0")
        guard Threads.isTracking else {
            return .error(
                .serviceUnavailable,
                "thread tracking is off: start the program with PPROF_TRACK_THREADS=1, or the server with "
                    + "PprofServer(trackThreads: true); scopes entered before it was turned on are not known"
            )
        }
        let threads = Threads.snapshot()
        switch debug {
        case "1": return .text(.ok, Threads.text(debug: 1, threads: threads))
        case "2": return .text(.ok, Threads.text(debug: 2, threads: threads))
        default: return .profile(Threads.pprof(threads: threads))
        }
    }

    private static func cmdline(_ arguments: [String], reveal: Bool) -> Response {
        // As Go does: the arguments joined by NUL bytes.
        let shown = reveal ? arguments : CommandLineRedaction.redact(arguments)
        return .text(.ok, shown.joined(separator: "\0"))
    }
}
