import NIOCore
import NIOHTTP1

/// Closes a connection that owes the server a request for longer than `timeout`: from when it
/// opens, and from when the last response it asked for was written (keep-alive).
///
/// Without it, every client that connects and sends nothing, or trickles a request in a byte at
/// a time (slowloris), holds a socket and a task for as long as it likes, and a few hundred of
/// them exhaust the connection cap for everyone else. The clock runs until the whole request
/// has arrived (its `.end`, not just its head: a GET is nothing more, and a body trickled after
/// a head is the same attack), and stays stopped while the server owes the answer: a
/// `profile?seconds=N` window may keep a connection silent far longer than the timeout, and a
/// large answer to a slow reader takes the time it takes. Unlike NIO's `IdleStateHandler`, it
/// does not count idleness, which a window is; it counts what the client owes.
///
/// Sits after `configureHTTPServerPipeline`'s handlers, so that it sees whole request parts
/// and the response parts the server writes (not the 400 the error handler writes on its own,
/// which closes the connection anyway).
///
/// It also tells the connection cap, through `idleness`, when the connection waits for a
/// request and when it is busy: the same two moments as its clock's, except that a connection
/// just opened counts as waiting only once its event loop has had a turn to read what came with
/// it (see `settle`).
final class IdleTimeoutHandler: ChannelDuplexHandler, RemovableChannelHandler {
    typealias InboundIn = HTTPServerRequestPart
    typealias InboundOut = HTTPServerRequestPart
    typealias OutboundIn = HTTPServerResponsePart
    typealias OutboundOut = HTTPServerResponsePart

    private let timeout: TimeAmount
    private let idleness: Idleness
    private var timer: Scheduled<Void>?
    /// Requests received in full whose response has not been written yet. NIO's pipelining
    /// handler holds a second request back until the first is answered, but counting keeps
    /// this right without relying on it.
    private var owed = 0
    private var settling = false

    /// - Parameter idleness: Where the connection cap reads whether this connection waits.
    init(timeout: Duration, idleness: Idleness = Idleness()) {
        self.timeout = TimeAmount(timeout)
        self.idleness = idleness
    }

    func handlerAdded(context: ChannelHandlerContext) {
        if context.channel.isActive {
            arm(context)
            settle(context)
        }
    }

    func handlerRemoved(context: ChannelHandlerContext) {
        disarm()
    }

    func channelActive(context: ChannelHandlerContext) {
        arm(context)
        settle(context)
        context.fireChannelActive()
    }

    func channelInactive(context: ChannelHandlerContext) {
        disarm()
        context.fireChannelInactive()
    }

    func channelRead(context: ChannelHandlerContext, data: NIOAny) {
        if case .end = unwrapInboundIn(data) {
            // Evicted by the cap before the request was whole: the connection is closing, and
            // nobody serves what it asked.
            guard idleness.endWaiting() else { return }
            owed += 1
            disarm()
        }
        context.fireChannelRead(data)
    }

    func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
        guard case .end = unwrapOutboundIn(data) else {
            context.write(data, promise: promise)
            return
        }
        // The clock starts again once the answer has left, not when it is handed over: a slow
        // reader of a large profile is not an idle client.
        let written = promise ?? context.eventLoop.makePromise()
        written.futureResult.assumeIsolated().whenSuccess {
            self.owed = max(0, self.owed - 1)
            if self.owed == 0, context.channel.isActive {
                self.arm(context)
                self.idleness.beginWaiting()
            }
        }
        context.write(data, promise: written)
    }

    /// Makes a connection just opened evictable (waiting since now) a moment later, unless its
    /// request has come by then. A scraper sends its request as soon as it has connected, so
    /// under a flood its bytes are usually in the socket before the server accepts it; but the
    /// accept side may claim it, and newer connections evict down the line, before its event
    /// loop reads them. A task scheduled from here runs only after the loop's next poll, whose
    /// reads come first: bytes that were there are read, and the connection is busy, before it
    /// could ever count as idle.
    private func settle(_ context: ChannelHandlerContext) {
        guard !settling else { return }
        settling = true
        let idleness = idleness
        context.eventLoop.assumeIsolated().scheduleTask(in: .milliseconds(1)) {
            idleness.settle()
        }
    }

    private func arm(_ context: ChannelHandlerContext) {
        disarm()
        timer = context.eventLoop.assumeIsolated().scheduleTask(in: timeout) {
            context.close(promise: nil)
        }
    }

    private func disarm() {
        timer?.cancel()
        timer = nil
    }
}
