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
    package struct Limits: Sendable {
        /// How long a connection may owe the server a request: after it opens, and after each
        /// answer on a kept-alive connection. Never counts while a window or an answer is under
        /// way. See `IdleTimeoutHandler`.
        package var idleTimeout: Duration
        /// Connections open at once; one more is closed as soon as it is accepted.
        package var maxConnections: Int

        /// - Parameters:
        ///   - idleTimeout: 30 s by default: far more than any client that means to send a request needs.
        ///   - maxConnections: 256 by default, the listen backlog.
        package init(idleTimeout: Duration = .seconds(30), maxConnections: Int = 256) {
            self.idleTimeout = idleTimeout
            self.maxConnections = max(1, maxConnections)
        }

        /// The limits of a server made through the public API.
        package static let standard = Limits()
    }
}
