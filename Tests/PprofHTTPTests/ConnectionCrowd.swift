import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// Many client connections at once, driven from one thread with `poll(2)`: a thousand threads
/// would measure the scheduler, not the server. Every connection is opened first, and only when
/// all are established (so that they are truly open at the same time) does each send its
/// request; then each is read until the server closes it, or until the deadline.
///
/// ```swift
/// let results = try ConnectionCrowd.run(port: port, requests: Array(repeating: request, count: 1000))
/// #expect(results.allSatisfy { $0.outcome == .answered(status: 200) || $0.outcome == .closedSilently })
/// ```
///
/// Requests should say `Connection: close`: a kept-alive connection is not closed by the server
/// until its idle timeout, and would show as `.stillOpen`.
enum ConnectionCrowd {
    enum Outcome: Hashable, CustomStringConvertible {
        /// A whole answer (as long as its `Content-Length`), then the close.
        case answered(status: Int)
        /// Closed by the server (end of stream or reset) before any byte of an answer.
        case closedSilently
        /// Closed within an answer, or with bytes that are no answer: a broken server.
        case cutShort(bytes: Int)
        /// Closed by the client as asked (`abandonAfter`), without an answer.
        case abandoned
        /// Still open at the deadline.
        case stillOpen
        /// The connection was never established.
        case notConnected(errno: Int32)

        var description: String {
            switch self {
            case .answered(let status): "\(status)"
            case .closedSilently: "closed"
            case .cutShort(let bytes): "cut short after \(bytes) bytes"
            case .abandoned: "abandoned"
            case .stillOpen: "still open"
            case .notConnected(let error): "not connected (errno \(error))"
            }
        }
    }

    struct Result: Sendable {
        var outcome: Outcome
        /// Response headers, names in lower case, when answered.
        var headers: [String: String] = [:]
        var body: [UInt8] = []
        /// From when all connections were established (requests go out then) to the close.
        var closedAfter: Double?
    }

    /// Opens one connection per element of `requests` and sends each its bytes (nil: sends
    /// nothing, an idle client).
    ///
    /// - Parameters:
    ///   - abandonAfter: When set, the client closes each connection that has no answer yet this
    ///     many seconds after its request went out (a scraper that gives up mid-window).
    ///   - deadline: Seconds after the requests went out at which the crowd stops waiting.
    /// - Throws: When fewer connections could be established than asked, within 10 s.
    static func run(
        port: Int,
        requests: [[UInt8]?],
        abandonAfter: Double? = nil,
        deadline: Double = 10
    ) throws -> [Result] {
        var sockets = try requests.indices.map { _ in try openNonBlocking(port: port) }
        defer { for socket in sockets where socket.fd >= 0 { close(socket.fd) } }
        try waitUntilConnected(&sockets, limit: 10)

        let started = ContinuousClock.now
        var results = sockets.map { socket in
            Result(outcome: socket.connectError.map { .notConnected(errno: $0) } ?? .stillOpen)
        }
        var pending = [Int: [UInt8]]()
        var received = [Int: [UInt8]]()
        var open = Set<Int>()
        for index in sockets.indices where sockets[index].connectError == nil {
            open.insert(index)
            if let request = requests[index] { pending[index] = request }
        }
        var buffer = [UInt8](repeating: 0, count: 65536)

        func finish(_ index: Int, _ outcome: Outcome) {
            results[index].outcome = outcome
            results[index].closedAfter = (ContinuousClock.now - started) / .seconds(1)
            close(sockets[index].fd)
            sockets[index].fd = -1
            open.remove(index)
            pending[index] = nil
        }

        func closedByServer(_ index: Int) {
            let bytes = received[index] ?? []
            guard !bytes.isEmpty else { return finish(index, .closedSilently) }
            guard let answer = try? HTTPClient.parse(bytes, expectingBody: true) else {
                return finish(index, .cutShort(bytes: bytes.count))
            }
            results[index].headers = Dictionary(answer.headers.map { ($0.name, $0.value) }) { first, _ in first }
            results[index].body = answer.body
            finish(index, .answered(status: answer.status))
        }

        while !open.isEmpty {
            let elapsed = (ContinuousClock.now - started) / .seconds(1)
            if elapsed > deadline { break }
            if let abandonAfter, elapsed >= abandonAfter {
                for index in open
                where requests[index] != nil && pending[index] == nil && (received[index] ?? []).isEmpty {
                    finish(index, .abandoned)
                }
                if open.isEmpty { break }
            }
            let order = Array(open)
            var pollers = order.map { index in
                pollfd(
                    fd: sockets[index].fd,
                    events: Int16(POLLIN) | (pending[index] != nil ? Int16(POLLOUT) : 0),
                    revents: 0
                )
            }
            let ready = poll(&pollers, nfds_t(pollers.count), 20)
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { continue }
            for (slot, index) in order.enumerated() where pollers[slot].revents != 0 {
                let fd = sockets[index].fd
                if pollers[slot].revents & Int16(POLLOUT) != 0, let bytes = pending[index] {
                    let sent = bytes.withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
                    if sent > 0 {
                        pending[index] = sent == bytes.count ? nil : Array(bytes[sent...])
                    } else if sent < 0, errno != EAGAIN, errno != EWOULDBLOCK {
                        // Refused mid-request (the server closed): what it answered before is
                        // still to be read.
                        pending[index] = nil
                    }
                }
                guard pollers[slot].revents & Int16(POLLIN | POLLHUP | POLLERR) != 0 else { continue }
                while true {
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n > 0 {
                        received[index, default: []].append(contentsOf: buffer[0..<n])
                        continue
                    }
                    if n < 0, errno == EAGAIN || errno == EWOULDBLOCK { break }
                    // End of stream, or a reset.
                    closedByServer(index)
                    break
                }
            }
        }
        return results
    }

    /// The number of each outcome, for messages: `["200": 744, "closed": 256]`.
    static func tally(_ results: [Result]) -> [String: Int] {
        Dictionary(grouping: results, by: { $0.outcome.description }).mapValues(\.count)
    }

    // MARK: Sockets

    private struct Socket {
        var fd: Int32
        var connected = false
        var connectError: Int32?
    }

    private static func openNonBlocking(port: Int) throws -> Socket {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket: errno \(errno) (open files limit?)") }
        if HTTPClient.connectToLoopback(fd, port: port) == 0 { return Socket(fd: fd, connected: true) }
        guard errno == EINPROGRESS else {
            let error = errno
            close(fd)
            throw ClientError(description: "connect: errno \(error)")
        }
        return Socket(fd: fd)
    }

    /// Waits until every socket's connection is established or failed. A full accept queue
    /// drops a SYN, and the kernel tries again a second later: hence the generous limit.
    private static func waitUntilConnected(_ sockets: inout [Socket], limit: Double) throws {
        let deadline = ContinuousClock.now + .milliseconds(Int(limit * 1000))
        while ContinuousClock.now < deadline {
            let waiting = sockets.indices.filter { !sockets[$0].connected && sockets[$0].connectError == nil }
            if waiting.isEmpty { return }
            var pollers = waiting.map { pollfd(fd: sockets[$0].fd, events: Int16(POLLOUT), revents: 0) }
            let ready = poll(&pollers, nfds_t(pollers.count), 50)
            guard ready > 0 else { continue }
            for (slot, index) in waiting.enumerated() where pollers[slot].revents != 0 {
                var error: Int32 = 0
                var length = socklen_t(MemoryLayout<Int32>.size)
                getsockopt(sockets[index].fd, SOL_SOCKET, SO_ERROR, &error, &length)
                if error == 0 { sockets[index].connected = true } else { sockets[index].connectError = error }
            }
        }
        let waiting = sockets.filter { !$0.connected && $0.connectError == nil }.count
        throw ClientError(description: "\(waiting) of \(sockets.count) connections not established in \(limit) s")
    }
}
