#if canImport(Glibc)
import Glibc
#endif

/// A blocking HTTP/1.1 GET of an `http://host[:port]/path?query` URL, as `curl` would send it:
/// enough to read a profile from a pprof endpoint, with no dependency.
///
/// ```swift
/// let bytes = try HTTPFetch.get("http://127.0.0.1:6060/debug/pprof/profile?seconds=5")
/// ```
///
/// The URL is sent as it is (no query is added). An answer that is not `200` throws with its
/// status and the first line of its body; `Content-Length` and chunked bodies are both read.
package enum HTTPFetch {
    /// How long a read may wait: longer than any profile window an endpoint serves.
    static let receiveTimeoutSeconds = 600

    package static func get(_ url: String) throws -> [UInt8] {
        let (host, port, target) = try parse(url)
        let fd = try connect(host: host, port: port, url: url)
        defer { close(fd) }
        var timeout = timeval(tv_sec: receiveTimeoutSeconds, tv_usec: 0)
        setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))

        let hostHeader = port == 80 ? host : "\(host):\(port)"
        let request = Array("GET \(target) HTTP/1.1\r\nHost: \(hostHeader)\r\nConnection: close\r\n\r\n".utf8)
        var sent = 0
        while sent < request.count {
            let n = request[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EINTR { continue }
            guard n > 0 else {
                throw ReportFailure("\(url): send: \(String(validatingCString: strerror(errno)) ?? "errno \(errno)")")
            }
            sent += n
        }
        var answer: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while true {
            let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, $0.count, 0) }
            if n < 0 && errno == EINTR { continue }
            guard n >= 0 else {
                throw ReportFailure("\(url): recv: \(String(validatingCString: strerror(errno)) ?? "errno \(errno)")")
            }
            if n == 0 { break }
            answer += chunk[0..<n]
        }
        return try body(of: answer, url: url)
    }

    /// Host, port and request target of an `http://` URL.
    static func parse(_ url: String) throws -> (host: String, port: Int, target: String) {
        guard url.hasPrefix("http://") else { throw ReportFailure("\(url): not an http:// URL") }
        let rest = url.dropFirst("http://".count)
        let authorityEnd = rest.firstIndex { $0 == "/" || $0 == "?" } ?? rest.endIndex
        let authority = rest[..<authorityEnd]
        var target = String(rest[authorityEnd...])
        if target.isEmpty { target = "/" } else if target.first == "?" { target = "/" + target }
        var host = String(authority)
        var port = 80
        if let colon = authority.lastIndex(of: ":"), !authority.hasSuffix("]") {
            guard let number = Int(authority[authority.index(after: colon)...]), (1...65535).contains(number) else {
                throw ReportFailure("\(url): bad port")
            }
            host = String(authority[..<colon])
            port = number
        }
        if host.hasPrefix("[") && host.hasSuffix("]") { host = String(host.dropFirst().dropLast()) }
        guard !host.isEmpty else { throw ReportFailure("\(url): no host") }
        return (host, port, target)
    }

    private static func connect(host: String, port: Int, url: String) throws -> Int32 {
        var hints = addrinfo()
        hints.ai_family = AF_UNSPEC
        hints.ai_socktype = Int32(SOCK_STREAM.rawValue)
        var list: UnsafeMutablePointer<addrinfo>?
        let status = getaddrinfo(host, String(port), &hints, &list)
        guard status == 0, let first = list else {
            throw ReportFailure(
                "\(url): cannot resolve \(host): \(String(validatingCString: gai_strerror(status)) ?? "error \(status)")"
            )
        }
        defer { freeaddrinfo(list) }
        var lastError = ECONNREFUSED
        var entry: UnsafeMutablePointer<addrinfo>? = first
        while let address = entry {
            let fd = socket(address.pointee.ai_family, address.pointee.ai_socktype, address.pointee.ai_protocol)
            if fd >= 0 {
                if Glibc.connect(fd, address.pointee.ai_addr, address.pointee.ai_addrlen) == 0 { return fd }
                lastError = errno
                close(fd)
            }
            entry = address.pointee.ai_next
        }
        throw ReportFailure(
            "\(url): cannot connect to \(host):\(port): \(String(validatingCString: strerror(lastError)) ?? "errno \(lastError)")"
        )
    }

    /// The body of a `200` answer; any other status throws.
    static func body(of answer: [UInt8], url: String) throws -> [UInt8] {
        let separator: [UInt8] = [13, 10, 13, 10]
        guard let end = (0..<max(0, answer.count - 3)).first(where: { answer[$0..<$0 + 4].elementsEqual(separator) })
        else { throw ReportFailure("\(url): the answer has no complete header (\(answer.count) bytes)") }
        let head = String(decoding: answer[..<end], as: UTF8.self).split(separator: "\r\n")
        let statusFields = (head.first ?? "").split(separator: " ", maxSplits: 2)
        guard statusFields.count >= 2, let status = Int(statusFields[1]) else {
            throw ReportFailure("\(url): bad status line: \((head.first ?? "").prefix(80))")
        }
        var body = Array(answer[(end + 4)...])
        var length: Int?
        var chunked = false
        for line in head.dropFirst() {
            let parts = line.split(separator: ":", maxSplits: 1)
            guard parts.count == 2 else { continue }
            let value = parts[1].drop { $0 == " " }
            switch parts[0].lowercased() {
            case "content-length": length = Int(value)
            case "transfer-encoding": chunked = value.lowercased().contains("chunked")
            default: break
            }
        }
        if chunked { body = try dechunk(body, url: url) }
        if let length, !chunked, length != body.count {
            throw ReportFailure("\(url): the answer was cut: \(body.count) of \(length) bytes")
        }
        guard status == 200 else {
            let text = String(decoding: body.prefix(200), as: UTF8.self)
            let firstLine = text.split(whereSeparator: \.isNewline).first.map(String.init) ?? ""
            throw ReportFailure("\(url): HTTP \(status)" + (firstLine.isEmpty ? "" : ": \(firstLine)"))
        }
        return body
    }

    private static func dechunk(_ bytes: [UInt8], url: String) throws -> [UInt8] {
        var output: [UInt8] = []
        var index = 0
        while true {
            guard
                let lineEnd = (index..<max(index, bytes.count - 1)).first(where: {
                    bytes[$0] == 13 && bytes[$0 + 1] == 10
                })
            else { throw ReportFailure("\(url): truncated chunked body") }
            let sizeText = String(decoding: bytes[index..<lineEnd], as: UTF8.self).split(separator: ";").first ?? ""
            guard let size = Int(sizeText.trimmingSpaces, radix: 16), size >= 0 else {
                throw ReportFailure("\(url): bad chunk size")
            }
            index = lineEnd + 2
            if size == 0 { return output }
            guard index + size <= bytes.count else { throw ReportFailure("\(url): truncated chunked body") }
            output += bytes[index..<index + size]
            index += size + 2
        }
    }
}

extension Substring {
    fileprivate var trimmingSpaces: String {
        String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed())
    }
}
