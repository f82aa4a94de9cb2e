import Dispatch
import NIOCore
import NIOEmbedded
import NIOHTTP1
import PprofHTTP

/// Raw bytes from a client through the server's own request path: NIO's HTTP decoder and
/// error handler as `PprofServer` configures them, then the routes. Every answer must be a
/// well-formed HTTP response with a status the endpoint gives; nothing may trap.
///
/// ```swift
/// RequestFuzz.check([0] + Array("GET /debug/pprof/profile?seconds=x HTTP/1.1\r\n\r\n".utf8))
/// ```
///
/// The first byte chooses the server and the client: bit 0, whether a token is required
/// (`Bearer fuzz`); bit 1, whether a window's client goes away before it ends; bits 2-4, the
/// size of the pieces the bytes arrive in (all at once, or 2^(n-1) bytes at a time); bit 5, a
/// server configured with `maxSeconds: Int.max` instead of 300. A window does not last its
/// `seconds`: it ends as soon as it opens, so that inputs stay fast, but the length it was
/// asked for is checked.
package enum RequestFuzz {
    /// What the routes answer; anything else is a bug (a 500 means a handler threw).
    static let statuses: Set<UInt> = [200, 301, 400, 401, 404, 405, 503]

    package static func check(_ input: [UInt8]) {
        guard let settings = input.first else { return }
        let request = input.dropFirst()
        let routes = Routes(
            maxSeconds: settings & 32 != 0 ? Int.max : 300,
            token: settings & 1 != 0 ? "fuzz" : nil,
            windows: WindowLimit(limit: 2),
            maxTraceEvents: 1_000
        )
        let completes = settings & 2 == 0
        let piece = settings >> 2 & 7 == 0 ? max(request.count, 1) : 1 << (Int(settings >> 2 & 7) - 1)

        let channel = EmbeddedChannel()
        let responder = Responder(routes: routes, completes: completes)
        do {
            try PprofServer.addHTTPHandlers(to: channel.pipeline.syncOperations, limits: .standard)
            try channel.pipeline.syncOperations.addHandler(responder)
            try channel.connect(to: SocketAddress(ipAddress: "127.0.0.1", port: 6060)).wait()
        } catch {
            fatalError("the pipeline could not be set up: \(error)")
        }
        var output: [UInt8] = []
        var start = request.startIndex
        while start < request.endIndex && channel.isActive {
            let end = min(start + piece, request.endIndex)
            // A malformed request is answered (400) by NIO's error handler and then rethrown
            // here; it is the answer that is checked.
            _ = try? channel.writeInbound(ByteBuffer(bytes: request[start..<end]))
            start = end
            output += drain(channel)
        }
        _ = try? channel.finish(acceptAlreadyClosed: true)
        output += drain(channel)
        checkResponses(output, methods: responder.methods)
    }

    private static func drain(_ channel: EmbeddedChannel) -> [UInt8] {
        var bytes: [UInt8] = []
        while let buffer = try? channel.readOutbound(as: ByteBuffer.self) {
            bytes += buffer.readableBytesView
        }
        return bytes
    }

    /// Parses `bytes` as a sequence of HTTP/1 responses, each with a `Content-Length`, and
    /// checks their status lines and headers. `methods` are those of the requests answered, in
    /// order: the answer to a HEAD has no body whatever its `Content-Length` (NIO drops it).
    private static func checkResponses(_ bytes: [UInt8], methods: [HTTPMethod]) {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var position = 0
        var responses = 0
        while position < bytes.count {
            guard let headEnd = firstRange(of: separator, in: bytes, from: position) else {
                fatalError("a response head without its end: \(text(bytes[position...]))")
            }
            let lines = split(bytes[position..<headEnd])
            let status = lines[0]
            // "HTTP/1.1 200 OK"
            require(status.count >= 13, "a short status line: \(text(status))")
            require(Array(status.prefix(5)) == Array("HTTP/".utf8), "no HTTP version: \(text(status))")
            let code = status.dropFirst(9).prefix(3)
            require(code.allSatisfy { $0 >= 0x30 && $0 <= 0x39 }, "no status code: \(text(status))")
            let number = UInt(text(code))!
            require(statuses.contains(number), "status \(number): \(text(status))")
            // Beyond the answers to requests, only NIO's error handler writes: a 400 for a
            // malformed request (twice, when the connection's end finds the same bytes again).
            require(responses < methods.count || number == 400, "an unasked-for \(number)")
            var contentLength: Int?
            for line in lines.dropFirst() {
                require(!line.contains(0x0D) && !line.contains(0x0A), "a header with CR or LF")
                guard let colon = line.firstIndex(of: UInt8(ascii: ":")) else {
                    fatalError("a header line without a colon: \(text(line))")
                }
                if text(line[..<colon]).lowercased() == "content-length" {
                    contentLength = Int(text(line[(colon + 1)...]).drop { $0 == " " })
                }
            }
            guard let contentLength else { fatalError("a response without Content-Length") }
            let isHead = responses < methods.count && methods[responses] == .HEAD
            position = headEnd + separator.count + (isHead ? 0 : contentLength)
            require(position <= bytes.count, "a body shorter than its Content-Length")
            responses += 1
        }
    }

    private static func firstRange(of needle: [UInt8], in bytes: [UInt8], from start: Int) -> Int? {
        guard bytes.count >= needle.count else { return nil }
        var index = start
        while index + needle.count <= bytes.count {
            if bytes[index..<index + needle.count].elementsEqual(needle) { return index }
            index += 1
        }
        return nil
    }

    private static func split(_ head: ArraySlice<UInt8>) -> [ArraySlice<UInt8>] {
        var lines: [ArraySlice<UInt8>] = []
        var start = head.startIndex
        var index = head.startIndex
        while index < head.endIndex {
            if index + 1 < head.endIndex && head[index] == 0x0D && head[index + 1] == 0x0A {
                lines.append(head[start..<index])
                index += 2
                start = index
            } else {
                index += 1
            }
        }
        lines.append(head[start..<head.endIndex])
        return lines
    }

    private static func text(_ bytes: ArraySlice<UInt8>) -> String {
        String(decoding: bytes, as: UTF8.self)
    }
}

/// The part of `PprofServer`'s connection loop after the pipeline: on each complete request,
/// the routes' answer, written as `PprofServer` writes it.
private final class Responder: ChannelInboundHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias OutboundOut = HTTPServerResponsePart

    let routes: Routes
    let completes: Bool
    private var head: HTTPRequestHead?
    /// The methods of the requests answered, in order.
    private(set) var methods: [HTTPMethod] = []

    init(routes: Routes, completes: Bool) {
        self.routes = routes
        self.completes = completes
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        switch unwrapInboundIn(data) {
        case .head(let request):
            head = request
        case .body:
            break
        case .end:
            guard let request = head else { return }
            head = nil
            methods.append(request.method)
            let response = respond(to: request)
            require(
                RequestFuzz.statuses.contains(response.status.code),
                "the routes answered \(response.status) to \(request.method) \(request.uri)"
            )
            context.write(wrapOutboundOut(.head(response.head(for: request))), promise: nil)
            if !response.body.isEmpty {
                context.write(wrapOutboundOut(.body(.byteBuffer(ByteBuffer(bytes: response.body)))), promise: nil)
            }
            context.writeAndFlush(wrapOutboundOut(.end(nil)), promise: nil)
            if !request.isKeepAlive { context.close(promise: nil) }
        }
    }

    /// The routes' answer, awaited on this thread: the window's wait returns at once, so
    /// `respond` does not suspend and `Task.immediate` runs it to the end before returning.
    private func respond(to request: HTTPRequestHead) -> Response {
        let routes = routes
        let completes = completes
        let result = Result()
        Task.immediate {
            let response = await routes.respond(method: request.method, uri: request.uri, headers: request.headers) {
                duration in
                // Task.sleep traps on a deadline past Int64.max seconds; a year is far from it
                // and longer than any window a scrape wants.
                require(duration <= .seconds(366 * 86_400), "a window of \(duration)")
                return completes
            }
            result.set(response)
        }
        return result.wait()
    }
}

/// One response handed from the task that computed it.
private final class Result: @unchecked Sendable {
    private let done = DispatchSemaphore(value: 0)
    private var response: Response?

    func set(_ response: Response) {
        self.response = response
        done.signal()
    }

    func wait() -> Response {
        done.wait()
        return response!
    }
}
