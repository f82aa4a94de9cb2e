import Dispatch
import NIOCore
import NIOHTTP1
import NIOPosix
import Pprof
import ServiceLifecycle

/// Serves profiles over HTTP while the program runs, at Go's `/debug/pprof/` paths, so that
/// `go tool pprof`, Parca and Grafana Alloy can fetch them.
///
/// ```swift
/// import PprofHTTP
///
/// let server = PprofServer()        // 127.0.0.1:6060
/// try await server.run()            // until the task is cancelled
/// // elsewhere: go tool pprof http://127.0.0.1:6060/debug/pprof/profile?seconds=5
/// ```
///
/// In a swift-service-lifecycle `ServiceGroup` (Hummingbird, Vapor) it is one more service; a
/// program that is not async calls `start(…)` instead, which serves on background threads. Each
/// `/debug/pprof/profile` request opens its own recording window, so several scrapes at once each
/// get their own profile (up to `maxWindows`). Nothing is served, and nothing recorded, until the
/// program asks: importing the module registers no handler, and making a server opens nothing.
/// The endpoint is for trusted networks only: it binds `127.0.0.1` unless told otherwise.
///
/// Its settings are one `Configuration`, given whole or as the initializer's parameters:
///
/// ```swift
/// var configuration = PprofServer.Configuration(port: 0, trackThreads: true)
/// configuration.maxWindows = 2
/// let server = PprofServer(configuration: configuration)
/// ```
public final class PprofServer: Sendable {
    /// What the server was told, clamped (see `Configuration`).
    public let configuration: Configuration

    /// The address asked for.
    public var host: String { configuration.host }
    /// The port asked for; 0 picks a free one, which `boundPort` then tells.
    public var port: Int { configuration.port }
    /// The longest window `seconds=` may ask for (at most a year, whatever was asked for).
    public var maxSeconds: Int { configuration.maxSeconds }
    /// Profile windows the endpoint keeps open at once; beyond, `503` with `Retry-After`.
    public var maxWindows: Int { configuration.maxWindows }

    private let routes: Routes

    /// Windows this server holds open now, of its `maxWindows` (tests wait for it).
    package var windowsInUse: Int { routes.windows.current }
    private var limits: Limits { configuration.limits }
    private let state = Locked(State())

    private struct State {
        var boundPort: Int?
        var background: Task<Void, Never>?
        /// The thread-tracking hold this server has taken (`trackThreads`), if any: which one,
        /// so that a serving task ending after `stop()` and a new `run()` releases nothing.
        var trackingHold: Int?
        var holdsTaken = 0
        /// The connections of the listener bound last.
        var connections: Connections?
    }

    private typealias Listener = NIOAsyncChannel<HTTPConnection, Never>

    /// The port the server listens on, once it does; nil before `run()` has bound.
    public var boundPort: Int? { state.withLock { $0.boundPort } }

    /// Connections being served now, at most `Limits.maxConnections` (tests wait for it).
    package var connectionsOpen: Int { state.withLock { $0.connections }?.count ?? 0 }
    /// Idle connections closed so far to make room for new ones at the cap (tests report it).
    package var connectionsEvicted: Int { state.withLock { $0.connections }?.evictions ?? 0 }
    /// Connections closed as soon as accepted, at the cap with every one busy (tests report it).
    package var connectionsRefused: Int { state.withLock { $0.connections }?.refusals ?? 0 }
    /// The most connections served at once so far (tests check the cap held).
    package var connectionsPeak: Int { state.withLock { $0.connections }?.peak ?? 0 }

    /// Describes a server; nothing listens, and nothing records, until `run()` or `start(…)`.
    ///
    /// ```swift
    /// let server = PprofServer(configuration: .init(port: 0, trackThreads: true))
    /// try await server.run()
    /// ```
    public init(configuration: Configuration) {
        self.configuration = configuration
        self.routes = Routes(configuration: configuration, windows: WindowLimit(limit: configuration.maxWindows))
    }

    /// Describes a server; nothing listens, and nothing records, until `run()` or `start(…)`.
    ///
    /// ```swift
    /// let server = PprofServer(host: "0.0.0.0", token: secret, trackThreads: true)
    /// ```
    ///
    /// - Parameters: Each as the `Configuration` property of its name (`host` 127.0.0.1 and
    ///   `port` 6060 by default; `maxSeconds` from 1 to a year, 300 by default; `token` nil;
    ///   `maxWindows` at least 1, 8 by default; `maxTraceEvents` no bound (2^30) by default;
    ///   `trackThreads` and `revealCommandLine` false).
    public convenience init(
        host: String = "127.0.0.1",
        port: Int = 6060,
        maxSeconds: Int = 300,
        token: String? = nil,
        maxWindows: Int = 8,
        maxTraceEvents: Int = 1 << 30,
        trackThreads: Bool = false,
        revealCommandLine: Bool = false
    ) {
        self.init(
            configuration: Configuration(
                host: host,
                port: port,
                maxSeconds: maxSeconds,
                token: token,
                maxWindows: maxWindows,
                maxTraceEvents: maxTraceEvents,
                trackThreads: trackThreads,
                revealCommandLine: revealCommandLine
            )
        )
    }

    /// As `init(host:port:maxSeconds:token:maxWindows:maxTraceEvents:trackThreads:revealCommandLine:)`,
    /// with `limits` in place of the standard ones (tests shorten them), and `commandLine` in place
    /// of the process's arguments for `/debug/pprof/cmdline`.
    package convenience init(
        host: String = "127.0.0.1",
        port: Int = 6060,
        maxSeconds: Int = 300,
        token: String? = nil,
        maxWindows: Int = 8,
        maxTraceEvents: Int = 1 << 30,
        trackThreads: Bool = false,
        revealCommandLine: Bool = false,
        commandLine: [String]? = nil,
        limits: Limits
    ) {
        var configuration = Configuration(
            host: host,
            port: port,
            maxSeconds: maxSeconds,
            token: token,
            maxWindows: maxWindows,
            maxTraceEvents: maxTraceEvents,
            trackThreads: trackThreads,
            revealCommandLine: revealCommandLine
        )
        configuration.commandLine = commandLine
        configuration.limits = limits
        self.init(configuration: configuration)
    }

    /// Binds and serves until the task is cancelled (or, in a `ServiceGroup`, until graceful
    /// shutdown). Windows still open then are stopped; thread tracking this server turned on
    /// (`trackThreads`) is turned off, unless something else holds it.
    ///
    /// - Throws: When the address cannot be bound; the error says which address and why
    ///   (`cannot listen on 127.0.0.1:6060: address already in use`).
    public func run() async throws {
        let hold = beginTracking()
        defer { endTracking(hold) }
        let (listener, connections) = try await bind()
        try await cancelWhenGracefulShutdown {
            try await self.serve(listener, connections)
        }
    }

    /// Binds now, on the calling thread, and serves on background threads: for programs that
    /// are not async. Call it from synchronous code (it waits for the bind).
    ///
    /// ```swift
    /// let server = try PprofServer.start(port: 6060)
    /// runMyProgram()
    /// server.stop()
    /// ```
    ///
    /// - Parameters: As `init(host:port:maxSeconds:token:maxWindows:maxTraceEvents:trackThreads:revealCommandLine:)`.
    /// - Returns: The server, already listening (`boundPort` is set).
    /// - Throws: When the address cannot be bound; the error says which address and why
    ///   (`cannot listen on 127.0.0.1:6060: address already in use`).
    public static func start(
        host: String = "127.0.0.1",
        port: Int = 6060,
        maxSeconds: Int = 300,
        token: String? = nil,
        maxWindows: Int = 8,
        maxTraceEvents: Int = 1 << 30,
        trackThreads: Bool = false,
        revealCommandLine: Bool = false
    ) throws -> PprofServer {
        try start(
            configuration: Configuration(
                host: host,
                port: port,
                maxSeconds: maxSeconds,
                token: token,
                maxWindows: maxWindows,
                maxTraceEvents: maxTraceEvents,
                trackThreads: trackThreads,
                revealCommandLine: revealCommandLine
            )
        )
    }

    /// As `start(host:port:maxSeconds:token:maxWindows:maxTraceEvents:trackThreads:revealCommandLine:)`,
    /// with the settings in one value.
    ///
    /// ```swift
    /// let server = try PprofServer.start(configuration: .init(port: 0))
    /// print(server.boundPort!)
    /// ```
    public static func start(configuration: Configuration) throws -> PprofServer {
        let server = PprofServer(configuration: configuration)
        try server.startInBackground()
        return server
    }

    /// Stops the server: one started with `start(…)` closes its socket and ends its open
    /// windows. Thread tracking it turned on is turned off now (unless something else holds
    /// it), whichever way it runs; a server run with `run()` stops serving when its task is
    /// cancelled instead.
    public func stop() {
        let (background, hold) = state.withLock { ($0.background, $0.trackingHold) }
        background?.cancel()
        endTracking(hold)
    }

    // MARK: Thread tracking

    /// Takes this server's hold on thread tracking, if it has `trackThreads` and no hold yet;
    /// returns the hold's number, for `endTracking(_:)`.
    private func beginTracking() -> Int? {
        guard configuration.trackThreads else { return nil }
        return state.withLock { state in
            if state.trackingHold != nil { return nil }
            state.holdsTaken += 1
            state.trackingHold = state.holdsTaken
            Threads.beginTracking()
            return state.holdsTaken
        }
    }

    /// Releases the hold numbered `hold` if it is still held, so that each hold ends exactly
    /// once, by `stop()` or by the end of the serving it was taken for; nil (no hold was taken
    /// by that serving) releases nothing.
    private func endTracking(_ hold: Int?) {
        guard let hold else { return }
        state.withLock { state in
            guard state.trackingHold == hold else { return }
            state.trackingHold = nil
            Threads.endTracking()
        }
    }

    // MARK: Serving

    private func startInBackground() throws {
        let hold = beginTracking()
        let outcome = BindOutcome()
        let task = Task.detached {
            defer { self.endTracking(hold) }
            let listener: Listener
            let connections: Connections
            do {
                (listener, connections) = try await self.bind()
            } catch {
                // Released before `start(…)` throws, not after: no hold outlives a failed start.
                self.endTracking(hold)
                outcome.finish(error)
                return
            }
            outcome.finish(nil)
            // Nobody awaits this task: a listener that fails says so on stderr, as the
            // exit dump does, rather than stop serving in silence.
            do { try await self.serve(listener, connections) } catch {
                warn("the pprof endpoint stopped: \(error)")
            }
        }
        if let error = outcome.wait() { throw error }
        state.withLock { $0.background = task }
    }

    private func bind() async throws -> (Listener, Connections) {
        let limits = limits
        let connections = Connections(limit: limits.maxConnections)
        let listener: Listener
        do {
            listener = try await listen(limits: limits, connections: connections)
        } catch {
            throw ListenError(host: host, port: port, error: error)
        }
        state.withLock { state in
            state.boundPort = listener.channel.localAddress?.port
            state.connections = connections
        }
        return (listener, connections)
    }

    private func listen(limits: Limits, connections: Connections) async throws -> Listener {
        try await ServerBootstrap(group: MultiThreadedEventLoopGroup.singleton)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            // Room for a burst of a thousand connections waiting to be accepted (Linux caps it
            // at net.core.somaxconn, 4096 by default). Beyond the backlog the kernel drops
            // handshakes and clients retry 1, 3, 7 s later; an idle client then believes itself
            // connected while the server has not seen it, so no idle timeout can close it.
            // Connections beyond `maxConnections` are better accepted and closed at once.
            .serverChannelOption(.backlog, value: 1024)
            .bind(host: host, port: port) { channel in
                channel.eventLoop.makeCompletedFuture {
                    let idleness = Idleness()
                    try Self.addHTTPHandlers(to: channel.pipeline.syncOperations, limits: limits, idleness: idleness)
                    let connection = try HTTPConnection(wrappingChannelSynchronously: channel)
                    if !connections.adopt(connection, idleness: idleness) {
                        // Set up as the server stops: nobody will serve it, so close it here.
                        Task { try? await connection.executeThenClose { _, _ in } }
                    }
                    return connection
                }
            }
    }

    /// The handlers every connection's pipeline gets before its `HTTPConnection` wraps it; the
    /// request fuzzer (`Fuzz/`) builds its pipeline with the same call.
    package static func addHTTPHandlers(to pipeline: ChannelPipeline.SynchronousOperations, limits: Limits) throws {
        try addHTTPHandlers(to: pipeline, limits: limits, idleness: Idleness())
    }

    /// As `addHTTPHandlers(to:limits:)`, the idle timeout telling `idleness` when the
    /// connection waits for a request (what the connection cap reads).
    static func addHTTPHandlers(
        to pipeline: ChannelPipeline.SynchronousOperations,
        limits: Limits,
        idleness: Idleness
    ) throws {
        // The decoder bounds the size of a request head (`Limits`; beyond, 400 and a close) and
        // `handle` the body's; what remains to bound is time, which the idle timeout does.
        try pipeline.configureHTTPServerPipeline(
            withErrorHandling: true,
            withEncoderConfiguration: .init(),
            withDecoderLimitConfiguration: limits.decoder
        )
        try pipeline.addHandler(IdleTimeoutHandler(timeout: limits.idleTimeout, idleness: idleness))
    }

    private func serve(_ listener: Listener, _ connections: Connections) async throws {
        // The accept loop runs in a task that cancellation does not reach: cancelling the
        // iteration of a server's NIOAsyncChannel drops connections accepted but not yet handed
        // out, and NIO traps on those ("Deinited NIOAsyncWriter without calling finish()",
        // apple/swift-nio#2637). Instead, cancellation closes the listener, which ends the
        // iteration after every accepted connection was handed out, and closes the connections.
        let accepting = Task {
            // One child task per connection; a discarding group keeps none of their results, so
            // a long-running server holds nothing per finished connection.
            await withDiscardingTaskGroup { group -> (any Error)? in
                do {
                    try await listener.executeThenClose { inbound in
                        for try await connection in inbound {
                            // Claimed here, in order, not in the connection's task: at the cap
                            // the claim may wait, and the accept loop with it (`claim`).
                            let claim = await connections.claim(connection)
                            group.addTask { await self.handle(connection, claim, among: connections) }
                        }
                    }
                    return nil
                } catch {
                    return error
                }
            }
        }
        let failure = await withTaskCancellationHandler {
            await accepting.value
        } onCancel: {
            listener.channel.close(promise: nil)
            connections.closeAll()
        }
        // Connections set up as the listener closed never reached the loop; they are closed
        // here, as the ones served were.
        connections.closeAll()
        await connections.drain()
        // The listener failing on its own (not closed by a stop) is the server's failure: say so
        // to the caller (a ServiceGroup then ends), rather than return as if stopped.
        if let failure, !Task.isCancelled { throw failure }
    }

    private func handle(
        _ connection: HTTPConnection,
        _ claim: Connections.Claim,
        among connections: Connections
    ) async {
        let closed = connection.channel.closeFuture
        switch claim {
        case .serve(let evicted):
            // The idle connection whose place this one took: its own task sees the close and
            // ends.
            evicted?.close(promise: nil)
        case .close:
            // Accepted as the server stopped, or at the cap with every connection busy (a
            // window open or an answer under way on each): close it at once, through
            // executeThenClose as NIO requires. No 503: answering would mean waiting for a
            // request; a close costs nothing, and a scraper tries again at its next interval.
            try? await connection.executeThenClose { _, _ in }
            return
        case .leave:
            return
        }
        defer { connections.remove(connection.channel) }
        let localAddress = Self.text(of: connection.channel.localAddress)
        do {
            try await connection.executeThenClose { inbound, outbound in
                var head: HTTPRequestHead?
                var bodyBytes = 0
                for try await part in inbound {
                    switch part {
                    case .head(let requestHead):
                        head = requestHead
                        bodyBytes = 0
                    case .body(let bytes):
                        // GET has no body; whatever comes is dropped, never buffered, up to a cap:
                        // past it, reading on would only burn the event loop's time.
                        bodyBytes += bytes.readableBytes
                        guard bodyBytes > limits.maxBodyBytes, let request = head else { break }
                        let refusal = Response.error(
                            .payloadTooLarge,
                            "a request body may have at most \(limits.maxBodyBytes) bytes"
                        )
                        try await Self.write(refusal, to: outbound, for: request, keepAlive: false)
                        return
                    case .end:
                        guard let request = head else { continue }
                        head = nil
                        let response = await routes.respond(
                            method: request.method,
                            uri: request.uri,
                            headers: request.headers,
                            localAddress: localAddress
                        ) { duration in
                            await Self.sleep(for: duration, unlessClosed: closed)
                        }
                        try await Self.write(response, to: outbound, for: request)
                        if !request.isKeepAlive { return }
                    }
                }
            }
        } catch {
            // A client that went away: nothing to answer, and the server goes on.
        }
    }

    /// `ip:port` (`[ip]:port` for IPv6) of an address, nil when it has none.
    private static func text(of address: SocketAddress?) -> String? {
        guard let address, let ip = address.ipAddress, let port = address.port else { return nil }
        return address.protocol == .inet6 ? "[\(ip)]:\(port)" : "\(ip):\(port)"
    }

    /// Sleeps in a task of its own, which the connection's close cancels: a client that
    /// disconnects ends its window at once, and no event loop thread waits meanwhile.
    private static func sleep(for duration: Duration, unlessClosed closed: EventLoopFuture<Void>) async -> Bool {
        let sleeper = Task { try await Task.sleep(for: duration) }
        closed.whenComplete { _ in sleeper.cancel() }
        return await withTaskCancellationHandler {
            (try? await sleeper.value) != nil
        } onCancel: {
            sleeper.cancel()
        }
    }

    /// - Parameter keepAlive: False to say the connection closes after this answer, whatever
    ///   the request asked.
    private static func write(
        _ response: Response,
        to outbound: NIOAsyncChannelOutboundWriter<HTTPServerResponsePart>,
        for request: HTTPRequestHead,
        keepAlive: Bool = true
    ) async throws {
        try await outbound.write(.head(response.head(for: request, keepAlive: keepAlive)))
        if !response.body.isEmpty {
            try await outbound.write(.body(.byteBuffer(ByteBuffer(bytes: response.body))))
        }
        try await outbound.write(.end(nil))
    }
}

extension PprofServer: Service {}

/// The bind's result, handed from the background task to the synchronous `start(…)`.
private final class BindOutcome: Sendable {
    private let done = DispatchSemaphore(value: 0)
    private let error = Locked<(any Error)?>(nil)

    func finish(_ error: (any Error)?) {
        self.error.withLock { $0 = error }
        done.signal()
    }

    func wait() -> (any Error)? {
        done.wait()
        return error.withLock { $0 }
    }
}
