import NIOCore
import NIOHTTP1
import NIOPosix
import Pprof
import Synchronization

/// The demo's HTTP JSON API on SwiftNIO: `GET /users/ID`, `POST /users`, `GET /search?tag=T`.
/// Each request is one `serve` scope, and its steps are scopes inside it, as a user would
/// instrument a service of their own.
///
/// ```swift
/// let api = try APIServer.start(service: UserService(users: 10_000), group: .singleton)
/// print(api.port)            // a free loopback port
/// ```
final class APIServer: Sendable {
    let channel: any Channel
    let port: Int
    /// Responses written since the server started.
    let served: RequestCount

    private init(channel: any Channel, served: RequestCount) {
        self.channel = channel
        self.port = channel.localAddress?.port ?? 0
        self.served = served
    }

    /// Binds a free port on the loopback interface and serves until `stop()`.
    static func start(service: UserService, group: MultiThreadedEventLoopGroup) throws -> APIServer {
        let counter = RequestCount()
        let channel = try ServerBootstrap(group: group)
            .serverChannelOption(.socketOption(.so_reuseaddr), value: 1)
            .serverChannelOption(.backlog, value: 256)
            .childChannelOption(.socketOption(.tcp_nodelay), value: 1)
            .childChannelInitializer { channel in
                channel.eventLoop.makeCompletedFuture {
                    try channel.pipeline.syncOperations.configureHTTPServerPipeline(withErrorHandling: true)
                    try channel.pipeline.syncOperations.addHandler(RequestHandler(service: service, counter: counter))
                }
            }
            .bind(host: "127.0.0.1", port: 0)
            .wait()
        return APIServer(channel: channel, served: counter)
    }

    func stop() {
        try? channel.close().wait()
    }
}

/// Requests answered, counted by every connection's handler.
final class RequestCount: Sendable {
    private let count = Atomic<Int>(0)

    var value: Int { count.load(ordering: .relaxed) }

    func increment() { count.add(1, ordering: .relaxed) }
}

/// One connection: collects a request's head and body, then answers it.
private final class RequestHandler: ChannelInboundHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    private let service: UserService
    private let counter: RequestCount
    private var head: HTTPRequestHead?
    private var body = ByteBuffer()

    init(service: UserService, counter: RequestCount) {
        self.service = service
        self.counter = counter
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let head):
            self.head = head
            body.clear()
        case .body(var chunk):
            // Bodies here are small forms; a larger one is a client error, not a reason to grow.
            if body.readableBytes + chunk.readableBytes <= 64 * 1024 { body.writeBuffer(&chunk) }
        case .end:
            guard let head else { return }
            self.head = nil
            Trace.scope("serve") { respond(to: head, context: context) }
        }
    }

    private func respond(to head: HTTPRequestHead, context: ChannelHandlerContext) {
        let text = body.readString(length: body.readableBytes) ?? ""
        let (status, json) = service.handle(method: head.method.rawValue, path: head.uri, body: text)
        Trace.scope("write") {
            var headers = HTTPHeaders()
            headers.add(name: "Content-Type", value: "application/json")
            headers.add(name: "Content-Length", value: String(json.utf8.count))
            if !head.isKeepAlive { headers.add(name: "Connection", value: "close") }
            let responseHead = HTTPResponseHead(
                version: head.version,
                status: HTTPResponseStatus(statusCode: status),
                headers: headers
            )
            context.write(wrapOutboundOut(.head(responseHead)), promise: nil)
            context.write(
                wrapOutboundOut(.body(.byteBuffer(context.channel.allocator.buffer(string: json)))),
                promise: nil
            )
            let written = context.writeAndFlush(wrapOutboundOut(.end(nil)))
            if !head.isKeepAlive {
                let channel = context.channel
                written.whenComplete { _ in channel.close(promise: nil) }
            }
        }
        counter.increment()
    }
}
