import NIOHTTP1
import Pprof

/// One complete answer: status, headers and the whole body (profiles are small and built whole,
/// so there is nothing to stream).
package struct Response: Sendable {
    package var status: HTTPResponseStatus
    package var headers: HTTPHeaders
    package var body: [UInt8]

    /// The response head for `request`: its version, the status, and the headers with the
    /// body's length and whether the connection stays open (never, with `keepAlive` false,
    /// whatever the request asked).
    package func head(for request: HTTPRequestHead, keepAlive: Bool = true) -> HTTPResponseHead {
        var headers = headers
        headers.replaceOrAdd(name: "Content-Length", value: String(body.count))
        headers.replaceOrAdd(name: "Connection", value: keepAlive && request.isKeepAlive ? "keep-alive" : "close")
        return HTTPResponseHead(version: request.version, status: status, headers: headers)
    }

    /// A plain-text answer; errors are one line, so that `curl` and scrapers' logs show the reason.
    static func text(_ status: HTTPResponseStatus, _ text: String, headers extra: [(String, String)] = []) -> Response {
        var headers = HTTPHeaders([
            ("Content-Type", "text/plain; charset=utf-8"), ("X-Content-Type-Options", "nosniff"),
        ])
        headers.add(contentsOf: extra)
        return Response(status: status, headers: headers, body: Array(text.utf8))
    }

    /// A one-line error whose body ends with a newline.
    static func error(
        _ status: HTTPResponseStatus,
        _ reason: String,
        headers extra: [(String, String)] = []
    ) -> Response {
        // Reasons quote what the client sent, decoded: a `%0A` must not split the line.
        let line = String(
            String.UnicodeScalarView(reason.unicodeScalars.map { $0.value < 0x20 || $0.value == 0x7F ? "?" : $0 })
        )
        return text(status, line + "\n", headers: extra)
    }

    static func html(_ text: String) -> Response {
        Response(
            status: .ok,
            headers: HTTPHeaders([("Content-Type", "text/html; charset=utf-8"), ("X-Content-Type-Options", "nosniff")]),
            body: Array(text.utf8)
        )
    }

    /// A profile download, with the headers Go's net/http/pprof sends: Grafana Alloy rejects a
    /// scrape that is not `application/octet-stream`.
    static func profile(_ bytes: [UInt8]) -> Response {
        Response(
            status: .ok,
            headers: HTTPHeaders([
                ("Content-Type", "application/octet-stream"),
                ("Content-Disposition", "attachment; filename=\"profile\""),
                ("X-Content-Type-Options", "nosniff"),
            ]),
            body: bytes
        )
    }

    /// A timeline download: Perfetto's protobuf trace (`trace.pftrace`) or Chrome trace event
    /// JSON (`trace.json`); Perfetto's UI opens both.
    static func timeline(_ bytes: [UInt8], format: Timeline.Format) -> Response {
        let (type, name) =
            format == .json ? ("application/json", "trace.json") : ("application/octet-stream", "trace.pftrace")
        return Response(
            status: .ok,
            headers: HTTPHeaders([
                ("Content-Type", type),
                ("Content-Disposition", "attachment; filename=\"\(name)\""),
                ("X-Content-Type-Options", "nosniff"),
            ]),
            body: bytes
        )
    }
}
