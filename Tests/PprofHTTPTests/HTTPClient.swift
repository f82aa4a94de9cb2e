import Foundation
import PprofTestSupport

#if canImport(Glibc)
import Glibc
#endif

/// One HTTP answer as the test client read it.
struct HTTPAnswer: Sendable {
    var status: Int
    /// Names in lower case.
    var headers: [(name: String, value: String)]
    var body: [UInt8]

    func header(_ name: String) -> String? {
        headers.first { $0.name == name.lowercased() }?.value
    }

    var text: String { String(decoding: body, as: UTF8.self) }
}

struct ClientError: Error, CustomStringConvertible {
    var description: String
}

/// A deliberately plain HTTP/1.1 client over POSIX sockets: what the server must handle is
/// what any client sends, and a raw socket can also send what no library would (bad methods,
/// a request abandoned mid-window). Each call runs on a thread of its own, so that waiting for
/// a 1-second window never holds one of the few cooperative threads the server needs.
enum HTTPClient {
    static func get(
        _ port: Int,
        _ target: String,
        method: String = "GET",
        headers: [(String, String)] = []
    ) async throws -> HTTPAnswer {
        var request = "\(method) \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\nConnection: close\r\n"
        for (name, value) in headers { request += "\(name): \(value)\r\n" }
        request += "\r\n"
        let requestBytes = Array(request.utf8)
        let bytes = try await onThread { try exchange(port: port, request: requestBytes) }
        // A HEAD answer announces a body it does not send.
        return try parse(bytes, expectingBody: method != "HEAD")
    }

    /// Sends `request` as it is and returns everything the server answers until it closes.
    static func raw(_ port: Int, _ request: String) async throws -> String {
        let bytes = Array(request.utf8)
        return String(decoding: try await onThread { try exchange(port: port, request: bytes) }, as: UTF8.self)
    }

    /// Sends a request and closes the connection after `seconds`, without reading the answer.
    static func abandon(_ port: Int, _ target: String, after seconds: Double) async throws {
        let request = "GET \(target) HTTP/1.1\r\nHost: 127.0.0.1:\(port)\r\n\r\n"
        try await onThread {
            let fd = try connect(port: port)
            defer { close(fd) }
            try send(fd, Array(request.utf8))
            usleep(useconds_t(seconds * 1_000_000))
        }
    }

    static func onThread<T: Sendable>(_ body: @escaping @Sendable () throws -> T) async throws -> T {
        try await withCheckedThrowingContinuation { continuation in
            let thread = Thread { continuation.resume(with: Result { try body() }) }
            thread.start()
        }
    }

    static func connect(port: Int) throws -> Int32 {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        guard fd >= 0 else { throw ClientError(description: "socket: \(errno)") }
        // A read that waits this long means a stalled server; the thread sanitizer slows the
        // server and 200 client threads tenfold or more on two cores, so it gets longer.
        var timeout = timeval(tv_sec: activeSanitizer == "thread" ? 60 : 20, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
        guard connectToLoopback(fd, port: port) == 0 else {
            close(fd)
            throw ClientError(description: "connect: \(errno)")
        }
        return fd
    }

    /// `connect(2)` of `fd` to 127.0.0.1:`port`: 0, or -1 with `errno` set.
    static func connectToLoopback(_ fd: Int32, port: Int) -> Int32 {
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_port = in_port_t(UInt16(port).bigEndian)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        return withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
                Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
            }
        }
    }

    static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
        var sent = 0
        while sent < bytes.count {
            let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            guard n > 0 else { throw ClientError(description: "send: \(errno)") }
            sent += n
        }
    }

    private static func exchange(port: Int, request: [UInt8]) throws -> [UInt8] {
        let fd = try connect(port: port)
        defer { close(fd) }
        try send(fd, request)
        var answer: [UInt8] = []
        var buffer = [UInt8](repeating: 0, count: 65536)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n == 0 { break }
            guard n > 0 else { throw ClientError(description: "recv: \(errno)") }
            answer.append(contentsOf: buffer[0..<n])
        }
        return answer
    }

    static func parse(_ bytes: [UInt8], expectingBody: Bool) throws -> HTTPAnswer {
        let separator: [UInt8] = Array("\r\n\r\n".utf8)
        guard let end = bytes.indices.first(where: { bytes[$0...].starts(with: separator) }) else {
            throw ClientError(description: "no header end in \(String(decoding: bytes, as: UTF8.self))")
        }
        let lines = String(decoding: bytes[..<end], as: UTF8.self).components(separatedBy: "\r\n")
        let statusParts = lines[0].split(separator: " ")
        guard statusParts.count >= 2, let status = Int(statusParts[1]) else {
            throw ClientError(description: "bad status line \(lines[0])")
        }
        var headers: [(String, String)] = []
        for line in lines.dropFirst() {
            guard let colon = line.firstIndex(of: ":") else { continue }
            headers.append(
                (line[..<colon].lowercased(), line[line.index(after: colon)...].trimmingCharacters(in: .whitespaces))
            )
        }
        let answer = HTTPAnswer(status: status, headers: headers, body: Array(bytes[(end + 4)...]))
        if expectingBody, let length = answer.header("content-length").flatMap(Int.init) {
            guard answer.body.count == length else {
                throw ClientError(description: "body has \(answer.body.count) bytes, Content-Length says \(length)")
            }
        }
        return answer
    }
}
