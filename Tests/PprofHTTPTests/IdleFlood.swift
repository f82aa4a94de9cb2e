import Foundation
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Idle connections held open against a server from one thread with `poll(2)`: each opened,
/// established, and never sent a byte. With `reopen`, each the server closes is opened again at
/// once, so that there are always `count` of them: the flood a local user can keep up.
///
/// ```swift
/// let flood = try IdleFlood.start(port: port, count: 1_000, reopen: true)
/// let answer = try await HTTPClient.get(port, "/debug/pprof/")
/// let figures = flood.stop()
/// ```
final class IdleFlood: Sendable {
    struct Figures: Sendable, CustomStringConvertible {
        /// Connections the server closed (end of stream or reset).
        var closedByServer = 0
        /// Connections opened again after the server closed them.
        var reopened = 0
        /// Connections that could not be opened or established (errno, count).
        var failures: [Int32: Int] = [:]

        var description: String {
            "\(closedByServer) closed by the server, \(reopened) reopened"
                + (failures.isEmpty ? "" : ", failures by errno \(failures)")
        }
    }

    private let stopped = Atomic<Bool>(false)
    private let result = Mutex<Figures?>(nil)
    private let done = DispatchSemaphore(value: 0)

    private init() {}

    /// Opens `count` connections and returns once all are established (the kernel's handshake;
    /// the server accepts them as it gets to them), holding them on a thread of their own.
    static func start(port: Int, count: Int, reopen: Bool) throws -> IdleFlood {
        let flood = IdleFlood()
        let ready = DispatchSemaphore(value: 0)
        let failure = Mutex<String?>(nil)
        let thread = Thread {
            do {
                let figures = try flood.hold(port: port, count: count, reopen: reopen) { ready.signal() }
                flood.result.withLock { $0 = figures }
            } catch {
                failure.withLock { $0 = "\(error)" }
                ready.signal()
            }
            flood.done.signal()
        }
        thread.start()
        ready.wait()
        if let failure = failure.withLock({ $0 }) { throw ClientError(description: failure) }
        return flood
    }

    /// Closes every connection and returns what happened meanwhile.
    func stop() -> Figures {
        stopped.store(true, ordering: .relaxed)
        done.wait()
        return result.withLock { $0 } ?? Figures()
    }

    private struct Socket {
        var fd: Int32
        var connected: Bool
    }

    private func hold(port: Int, count: Int, reopen: Bool, ready: () -> Void) throws -> Figures {
        var figures = Figures()
        var sockets: [Socket] = []
        defer { for socket in sockets where socket.fd >= 0 { close(socket.fd) } }
        func open() -> Socket? {
            let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue) | Int32(SOCK_NONBLOCK.rawValue), 0)
            guard fd >= 0 else {
                figures.failures[errno, default: 0] += 1
                return nil
            }
            if HTTPClient.connectToLoopback(fd, port: port) == 0 { return Socket(fd: fd, connected: true) }
            guard errno == EINPROGRESS else {
                figures.failures[errno, default: 0] += 1
                close(fd)
                return nil
            }
            return Socket(fd: fd, connected: false)
        }
        for _ in 0..<count {
            guard let socket = open() else { throw ClientError(description: "cannot open: \(figures)") }
            sockets.append(socket)
        }
        var signalled = false
        var buffer = [UInt8](repeating: 0, count: 4096)
        let established = ContinuousClock.now
        while !stopped.load(ordering: .relaxed) {
            if !signalled, sockets.allSatisfy(\.connected) {
                signalled = true
                ready()
            }
            if !signalled, ContinuousClock.now - established > .seconds(10) {
                throw ClientError(description: "not all of \(count) idle connections established in 10 s")
            }
            var pollers = sockets.map { socket in
                pollfd(fd: socket.fd, events: socket.connected ? Int16(POLLIN) : Int16(POLLOUT), revents: 0)
            }
            let ready = poll(&pollers, nfds_t(pollers.count), 20)
            guard ready > 0 else { continue }
            for index in sockets.indices where pollers[index].revents != 0 {
                let fd = sockets[index].fd
                if !sockets[index].connected {
                    var error: Int32 = 0
                    var length = socklen_t(MemoryLayout<Int32>.size)
                    getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &length)
                    if error == 0 {
                        sockets[index].connected = true
                        continue
                    }
                    figures.failures[error, default: 0] += 1
                } else {
                    // An idle client reads nothing but the close: end of stream, or a reset.
                    let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
                    if n > 0 || (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) { continue }
                    figures.closedByServer += 1
                }
                close(fd)
                sockets[index].fd = -1
                if reopen, let socket = open() {
                    sockets[index] = socket
                    figures.reopened += 1
                }
            }
            sockets.removeAll { $0.fd < 0 }
        }
        return figures
    }
}
