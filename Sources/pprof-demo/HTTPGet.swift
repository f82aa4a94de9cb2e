#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 GET over a loopback socket, run on a thread of its own: how the demo
/// fetches its own profile from its pprof endpoint, as `go tool pprof` or `curl` would.
///
/// ```swift
/// let fetch = HTTPGet.start(port: 6060, target: "/debug/pprof/profile?seconds=10")
/// let answer = try fetch.wait()          // status 200, body: the gzipped profile
/// ```
final class HTTPGet: @unchecked Sendable {
    struct Answer {
        var status: Int
        var body: [UInt8]
    }

    struct Failure: Error, CustomStringConvertible {
        var description: String
    }

    private let port: Int
    private let target: String
    private var result: Result<Answer, Failure> = .failure(Failure(description: "not run"))
    private var thread = pthread_t()

    private init(port: Int, target: String) {
        self.port = port
        self.target = target
    }

    /// Sends the request from a new thread.
    static func start(port: Int, target: String) -> HTTPGet {
        let get = HTTPGet(port: port, target: target)
        let retained = Unmanaged.passRetained(get).toOpaque()
        pthread_create(
            &get.thread,
            nil,
            { raw in
                let get = Unmanaged<HTTPGet>.fromOpaque(raw!).takeRetainedValue()
                get.result = Result { try get.exchange() }.mapError { $0 as? Failure ?? Failure(description: "\($0)") }
                return nil
            },
            retained
        )
        return get
    }

    /// Waits for the answer.
    func wait() throws -> Answer {
        pthread_join(thread, nil)
        return try result.get()
    }

    private func exchange() throws -> Answer {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else {
            throw Failure(description: "socket: \(String(validatingCString: strerror(errno)) ?? "errno \(errno)")")
        }
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
        guard connected == 0 else {
            throw Failure(
                description:
                    "cannot connect to 127.0.0.1:\(port): \(String(validatingCString: strerror(errno)) ?? "errno \(errno)")"
            )
        }
        let request = Array("GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else {
                throw Failure(description: "send: \(String(validatingCString: strerror(errno)) ?? "errno \(errno)")")
            }
            sent += n
        }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw Failure(description: "recv: \(String(validatingCString: strerror(errno)) ?? "errno \(errno)")")
            }
            if n == 0 { break }
            bytes += chunk[0..<n]
        }
        return try Self.parse(bytes)
    }

    /// Status line and body of a `Connection: close` answer with a `Content-Length`.
    private static func parse(_ bytes: [UInt8]) throws -> Answer {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, bytes.count - 3)).first(where: { Array(bytes[$0..<$0 + 4]) == separator })
        else { throw Failure(description: "the answer has no complete header (\(bytes.count) bytes)") }
        let head = String(decoding: bytes[..<end], as: UTF8.self)
        let statusLine = head.split(separator: "\r\n").first ?? ""
        let fields = statusLine.split(separator: " ")
        guard fields.count >= 2, let status = Int(fields[1]) else {
            throw Failure(description: "bad status line: \(statusLine.prefix(80))")
        }
        let body = Array(bytes[(end + 4)...])
        for line in head.split(separator: "\r\n").dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            if parts.count == 2, parts[0].lowercased() == "content-length",
                let length = Int(parts[1].trimmingCharacters(in: " ")), length != body.count
            {
                throw Failure(description: "the answer was cut: \(body.count) of \(length) bytes")
            }
        }
        return Answer(status: status, body: body)
    }
}

extension Substring {
    fileprivate func trimmingCharacters(in set: Character) -> Substring {
        var s = self
        while s.first == set { s = s.dropFirst() }
        while s.last == set { s = s.dropLast() }
        return s
    }
}
