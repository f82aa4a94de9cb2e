import NIOCore
import NIOHTTP1
import NIOPosix
import Pprof
import Synchronization

/// Concurrent keep-alive clients over loopback, each sending its next request as soon as the
/// last one is answered, from `start` until `stop`.
///
/// ```swift
/// let load = try LoadGenerator.start(port: api.port, clients: 32, group: group)
/// // ...
/// let answers = load.stop()     // responses received, by status
/// ```
///
/// The mix is fixed, so every run asks the same questions: in every 10 requests, 6 look a user
/// up (one in six of those ids does not exist: 404), 2 create one, 1 searches by tag, and 1 is a
/// `DELETE` the API does not have (400).
final class LoadGenerator: Sendable {
    private let channels: [any Channel]
    private let state: LoadState

    private init(channels: [any Channel], state: LoadState) {
        self.channels = channels
        self.state = state
    }

    /// Connects `clients` clients to `127.0.0.1:port` and starts them.
    static func start(port: Int, clients: Int, group: MultiThreadedEventLoopGroup) throws -> LoadGenerator {
        let state = LoadState()
        var channels: [any Channel] = []
        for client in 0..<clients {
            let channel = try ClientBootstrap(group: group)
                .channelOption(.socketOption(.tcp_nodelay), value: 1)
                .channelInitializer { channel in
                    channel.eventLoop.makeCompletedFuture {
                        try channel.pipeline.syncOperations.addHTTPClientHandlers()
                        try channel.pipeline.syncOperations.addHandler(
                            ClientHandler(port: port, seed: client, state: state)
                        )
                    }
                }
                .connect(host: "127.0.0.1", port: port)
                .wait()
            channels.append(channel)
        }
        return LoadGenerator(channels: channels, state: state)
    }

    /// Responses received so far, over all clients.
    var answered: Int { state.answered.load(ordering: .relaxed) }

    /// Stops every client after its request in flight and closes the connections.
    /// - Returns: The responses received, by status code.
    @discardableResult
    func stop() -> [Int: Int] {
        state.stopping.store(true, ordering: .relaxed)
        for channel in channels { try? channel.close().wait() }
        return state.statuses.withLock { $0 }
    }
}

/// What the clients share: the stop flag and the counts.
private final class LoadState: Sendable {
    let stopping = Atomic<Bool>(false)
    let answered = Atomic<Int>(0)
    let statuses = Locked<[Int: Int]>([:])
}

/// One client: sends a request when connected and another after each response.
private final class ClientHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPClientResponsePart
    typealias OutboundOut = HTTPClientRequestPart

    private let host: String
    private let state: LoadState
    private var i: Int
    private var status = 0
    /// Counted locally and added to the shared table now and then, so that clients do not
    /// contend on its lock for every response.
    private var statuses: [Int: Int] = [:]
    private var pending = 0

    init(port: Int, seed: Int, state: LoadState) {
        self.host = "127.0.0.1:\(port)"
        self.state = state
        self.i = seed &* 7919
    }

    func channelActive(context: ChannelHandlerContext) {
        sendNext(context: context)
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            status = Int(head.status.code)
        case .body:
            break
        case .end:
            state.answered.add(1, ordering: .relaxed)
            statuses[status, default: 0] += 1
            pending += 1
            if pending == 64 { publish() }
            if !state.stopping.load(ordering: .relaxed) { sendNext(context: context) }
        }
    }

    func channelInactive(context: ChannelHandlerContext) {
        publish()
    }

    private func publish() {
        let counted = statuses
        state.statuses.withLock { table in
            for (status, count) in counted { table[status, default: 0] += count }
        }
        statuses.removeAll(keepingCapacity: true)
        pending = 0
    }

    private func sendNext(context: ChannelHandlerContext) {
        i &+= 1
        let id = (i &* 2_654_435_761) % 12_000
        let method: HTTPMethod
        let uri: String
        var body = ""
        switch i % 10 {
        case 0...5:
            (method, uri) = (.GET, "/users/\(id)")
        case 6, 7:
            (method, uri) = (.POST, "/users")
            body = "id=\(id)&name=user\(id)&email=u\(id)@example.com&tags=t\(id % 7),t\(id % 3)"
        case 8:
            (method, uri) = (.GET, "/search?tag=t\(id % 7)")
        default:
            (method, uri) = (.DELETE, "/users/\(id)")
        }
        var headers = HTTPHeaders()
        headers.add(name: "Host", value: host)
        headers.add(name: "Content-Length", value: String(body.utf8.count))
        if !body.isEmpty { headers.add(name: "Content-Type", value: "application/x-www-form-urlencoded") }
        context.write(
            wrapOutboundOut(.head(HTTPRequestHead(version: .http1_1, method: method, uri: uri, headers: headers))),
            promise: nil
        )
        if !body.isEmpty {
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: body)))),
                promise: nil
            )
        }
        context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
    }
}
