import NIOHTTP1

extension PprofServer {
    /// What the server allows each client and all of them together, beyond `maxSeconds` and
    /// `maxWindows`.
    ///
    /// Package-only: the public API (DESIGN.md, "Contract") stays the few parameters a user
    /// chooses; these defaults suit any program, and tests in this package shorten them.
    ///
    /// ```swift
    /// let server = PprofServer(port: 0, limits: .init(idleTimeout: .milliseconds(500), maxConnections: 8))
    /// ```
    ///
    /// Together they bound what clients can take from the process: at most `maxConnections`
    /// sockets and tasks, each holding at most `maxHeadBytes` of a request head (a body is dropped
    /// as it comes, up to `maxBodyBytes`), each owing its request for at most `idleTimeout`; and
    /// at most `maxWindows` windows of at most `maxSeconds`. Beyond a size, the answer is `400`
    /// (head) or `413` (body), and the connection is closed.
    package struct Limits: Sendable {
        /// How long a connection may owe the server a request: after it opens, and after each
        /// answer on a kept-alive connection. Never counts while a window or an answer is under
        /// way. See `IdleTimeoutHandler`.
        package var idleTimeout: Duration
        /// Connections open at once. One more takes the place of the connection that has waited
        /// longest for a request, or is closed as soon as it is accepted when every connection
        /// has one in flight. See `Connections`.
        package var maxConnections: Int
        /// The request target (path and query), and each header line (name and value), at most.
        package var maxFieldBytes: Int
        /// The request target and all header names and values together, at most.
        package var maxHeadBytes: Int
        /// Header lines in one request, at most.
        package var maxHeaderCount: Int
        /// Body bytes in one request, at most; they are dropped as they come (GET has none).
        package var maxBodyBytes: Int

        /// - Parameters:
        ///   - idleTimeout: 30 s by default: far more than any client that means to send a request needs.
        ///   - maxConnections: 256 by default: scrapers need a few; the rest is room for browsers
        ///     and curl. Each costs a socket, a task and at most `maxHeadBytes` of buffer.
        ///   - maxFieldBytes: 16 KiB by default. What this endpoint is asked is a path and a short
        ///     query; the room is for a long bearer token (a JWT) or a browser's cookies.
        ///   - maxHeadBytes: 32 KiB by default: 256 connections hold 8 MiB of heads at most.
        ///     NIO's own default is 80 KiB, and versions 2.42 to 2.99 had no limit at all on the
        ///     whole head (many small headers: CVE-2026-28980); setting ours keeps the bound
        ///     whatever NIO's defaults become.
        ///   - maxHeaderCount: 100 by default (each header costs a few dozen bytes of bookkeeping
        ///     beyond its text).
        ///   - maxBodyBytes: 64 KiB by default.
        package init(
            idleTimeout: Duration = .seconds(30),
            maxConnections: Int = 256,
            maxFieldBytes: Int = 16 * 1024,
            maxHeadBytes: Int = 32 * 1024,
            maxHeaderCount: Int = 100,
            maxBodyBytes: Int = 64 * 1024
        ) {
            self.idleTimeout = idleTimeout
            self.maxConnections = max(1, maxConnections)
            self.maxFieldBytes = max(256, maxFieldBytes)
            self.maxHeadBytes = max(self.maxFieldBytes, maxHeadBytes)
            self.maxHeaderCount = max(1, maxHeaderCount)
            self.maxBodyBytes = max(0, maxBodyBytes)
        }

        /// The limits of a server made through the public API.
        package static let standard = Limits()

        /// The decoder's share of these limits: beyond them it fails the request, and NIO's error
        /// handler answers `400` and closes the connection.
        var decoder: NIOHTTPDecoderLimitConfiguration {
            var decoder = NIOHTTPDecoderLimitConfiguration()
            decoder.maxHeaderFieldSize = maxFieldBytes
            decoder.maxHeaderListSize = maxHeadBytes
            decoder.maxHeaderFieldCount = maxHeaderCount
            return decoder
        }
    }
}
