extension PprofServer {
    /// Everything a server is told, checked once: each value out of its range is brought to the
    /// nearest one it allows, as it is set, so a server never sees one the rules exclude.
    ///
    /// ```swift
    /// var configuration = PprofServer.Configuration(host: "0.0.0.0", token: secret)
    /// configuration.maxWindows = 2
    /// configuration.maxSeconds = 0        // reads 1: the shortest window there is
    /// let server = PprofServer(configuration: configuration)
    /// try await server.run()
    /// ```
    ///
    /// `PprofServer(host:port:…)` and `PprofServer.start(host:port:…)` take the same values as
    /// parameters and make one of these.
    public struct Configuration: Sendable {
        /// The address to bind; `127.0.0.1` by default. Any other is an explicit choice: profiles
        /// show the program's structure and the endpoint lets anyone make it record.
        public var host: String
        /// The port; 6060 by default, 0 for a free one (see `PprofServer.boundPort`).
        public var port: Int
        /// When set, every request must carry `Authorization: Bearer <token>`.
        public var token: String?
        /// Keeps recording on while the server runs (from `run()` or `start(…)` to its end or
        /// `stop()`), so that `/debug/pprof/threads` can say what every thread is inside (every
        /// hook then costs what a recorded one does). Off by default; `PPROF_TRACK_THREADS=1`
        /// turns it on from the program's first hook, for the whole run.
        public var trackThreads: Bool
        /// Whether `/debug/pprof/cmdline` shows arguments that look like secrets (`--token=…`,
        /// `--password …`, `DB_PASSWORD=…`, `https://user:pass@host`). Off by default: they are
        /// shown as `<redacted>` (see `CommandLineRedaction`).
        public var revealCommandLine: Bool
        /// The arguments `/debug/pprof/cmdline` serves in place of the process's (tests).
        package var commandLine: [String]?
        /// Connection limits in place of the standard ones (tests shorten them).
        package var limits: Limits

        // The clamped values; set through the properties below, which clamp.
        private var _maxSeconds = 300
        private var _maxWindows = 8
        private var _maxTraceEvents = Self.mostTraceEvents
        private var _maxTraceBytes = Self.defaultMaxTraceBytes

        /// The longest window a request may ask for: 300 s by default, at least 1, at most a year
        /// (`longestWindow`).
        public var maxSeconds: Int {
            get { _maxSeconds }
            set { _maxSeconds = min(max(1, newValue), Self.longestWindow) }
        }

        /// Profile windows open at once through this server: 8 by default, at least 1. Beyond,
        /// `503` with `Retry-After`.
        public var maxWindows: Int {
            get { _maxWindows }
            set { _maxWindows = max(1, newValue) }
        }

        /// The most events a `/debug/pprof/trace` timeline keeps, from 1 to 2^30 (as
        /// `PPROF_TRACE_EVENTS`); 2^30 by default, which is no bound: timelines are bounded by
        /// bytes (`maxTraceBytes`). Past it the timeline is cut and says so.
        public var maxTraceEvents: Int {
            get { _maxTraceEvents }
            set { _maxTraceEvents = min(max(1, newValue), Self.mostTraceEvents) }
        }

        /// The most bytes of events a `/debug/pprof/trace` timeline may hold: what its `bytes=`
        /// parameter may ask for at most (a request without it gets 64 MiB, or this if less).
        /// 256 MiB by default, from 1024 to 2^40. Past a timeline's bound it is cut and says so.
        public var maxTraceBytes: Int {
            get { _maxTraceBytes }
            set { _maxTraceBytes = min(max(Self.fewestTraceBytes, newValue), Self.mostTraceBytes) }
        }

        /// The longest window any server allows, whatever its `maxSeconds`: a year (366 days).
        /// `Task.sleep` traps on a deadline past `Int64.max` seconds, so `maxSeconds: .max` would
        /// otherwise let any client crash the program with `seconds=9223372036854775807`.
        package static let longestWindow = 366 * 86_400

        /// The most events a timeline may be allowed to keep, as `PPROF_TRACE_EVENTS` allows.
        package static let mostTraceEvents = 1 << 30
        /// `maxTraceBytes`' default: 256 MiB, about 20 million events in Perfetto's format.
        package static let defaultMaxTraceBytes = 256 << 20
        /// The bounds of `maxTraceBytes` and of the `bytes=` parameter.
        package static let fewestTraceBytes = 1024
        package static let mostTraceBytes = 1 << 40

        /// - Parameters: Each as the property of its name, with its default.
        public init(
            host: String = "127.0.0.1",
            port: Int = 6060,
            maxSeconds: Int = 300,
            token: String? = nil,
            maxWindows: Int = 8,
            maxTraceEvents: Int = 1 << 30,
            trackThreads: Bool = false,
            revealCommandLine: Bool = false
        ) {
            self.host = host
            self.port = port
            self.token = token
            self.trackThreads = trackThreads
            self.revealCommandLine = revealCommandLine
            self.commandLine = nil
            self.limits = .standard
            self.maxSeconds = maxSeconds
            self.maxWindows = maxWindows
            self.maxTraceEvents = maxTraceEvents
        }
    }
}
