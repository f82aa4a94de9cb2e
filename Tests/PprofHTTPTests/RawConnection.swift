import Foundation

#if canImport(Glibc)
import Glibc
#endif

/// One client socket kept open across calls, for what `HTTPClient`'s one-shot exchanges cannot
/// show: keep-alive, a connection that says nothing, and when the server closes it.
///
/// Blocking calls: use it from a thread of its own (`HTTPClient.onThread`), one thread at a time.
final class RawConnection: @unchecked Sendable {
    private let fd: Int32
    /// Bytes read past the end of the last answer.
    private var pending: [UInt8] = []
    private var closed = false

    init(port: Int) throws {
        fd = try HTTPClient.connect(port: port)
    }

    deinit { close() }

    func close() {
        if !closed { _ = Glibc.close(fd) }
        closed = true
    }

    func send(_ text: String) throws {
        try HTTPClient.send(fd, Array(text.utf8))
    }

    /// Sends as much of `text` as the server takes, and tells whether it took all of it: a
    /// server that refuses a request mid-way closes (or resets) the connection.
    func sendUntilRefused(_ text: String) -> Bool {
        (try? send(text)) != nil
    }

    /// Sends a keep-alive GET and reads its answer.
    func get(_ target: String) throws -> HTTPAnswer {
        try send("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        return try readAnswer()
    }

    /// Reads one answer, its body as long as its `Content-Length`.
    func readAnswer() throws -> HTTPAnswer {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        var headEnd: Int?
        while true {
            headEnd = pending.indices.first { pending[$0...].starts(with: separator) }
            if headEnd != nil { break }
            guard try receive() else { throw ClientError(description: "closed before an answer") }
        }
        let head = try HTTPClient.parse(Array(pending[..<(headEnd! + 4)]), expectingBody: false)
        let length = head.header("content-length").flatMap(Int.init) ?? 0
        while pending.count < headEnd! + 4 + length {
            guard try receive() else { throw ClientError(description: "closed within an answer") }
        }
        let answer = try HTTPClient.parse(Array(pending[..<(headEnd! + 4 + length)]), expectingBody: true)
        pending.removeFirst(headEnd! + 4 + length)
        return answer
    }

    /// Waits up to `limit` seconds for the server to close the connection, discarding whatever
    /// it sends meanwhile, and returns when it did (nil if it did not). A reset counts as a close.
    func waitForClose(limit: Double) throws -> ContinuousClock.Instant? {
        let deadline = ContinuousClock.now + .milliseconds(Int(limit * 1000))
        while ContinuousClock.now < deadline {
            var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
            let left = deadline - ContinuousClock.now
            let ready = poll(&poller, 1, Int32(max(1, (left / .milliseconds(1)).rounded(.up))))
            if ready < 0, errno == EINTR { continue }
            guard ready > 0 else { continue }
            do {
                if try !receive() { return .now }
            } catch let error as ClientError where error.description == "recv: \(ECONNRESET)" {
                return .now
            }
        }
        return nil
    }

    /// Whether the server has closed the connection by now, without waiting.
    func isClosedByServer() -> Bool {
        var byte: UInt8 = 0
        let n = recv(fd, &byte, 1, Int32(MSG_DONTWAIT | MSG_PEEK))
        if n == 0 { return true }
        return n < 0 && errno != EAGAIN && errno != EWOULDBLOCK
    }

    /// Reads what is there into `pending`; false when the server closed.
    private func receive() throws -> Bool {
        var buffer = [UInt8](repeating: 0, count: 65536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
        if n == 0 { return false }
        guard n > 0 else { throw ClientError(description: "recv: \(errno)") }
        pending.append(contentsOf: buffer[0..<n])
        return true
    }
}
