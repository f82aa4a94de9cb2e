import CPprof

/// The hooks: mark where a scope begins and ends, on any thread, at the cost of little more than
/// two clock reads while a profile is recording and one load and a branch while none is.
///
/// ```swift
/// import Pprof
///
/// func handle(_ request: Request) throws -> Response {
///     let t = Trace.enter("handle")
///     defer { Trace.exit(t) }
///     let document = try Trace.scope("parse") { try parse(request.body) }
///     return Trace.scope("render") { render(document) }
/// }
/// ```
///
/// Misuse never crashes and never corrupts another call path:
/// - exiting a token twice, or after an enclosing scope has closed it: ignored, counted as a
///   stale exit;
/// - exiting a token on another thread than the one that entered it: ignored, counted; the scope
///   stays open on its own thread until an enclosing scope exits or the thread ends;
/// - exiting an outer scope while inner ones are open: the inner ones are closed at the same
///   instant (each counted as a call) and counted as implicitly closed;
/// - a thread that ends inside scopes: they are closed at its last event and counted;
/// - an error thrown through `scope`: the scope exits normally, as `defer` does.
///
/// Scopes entered while nothing records are not recorded when recording begins; scopes recorded
/// inside them stand under an explicit `(entered before recording)` frame (the hooks count such
/// open scopes per thread, which costs an increment and a decrement while idle).
/// The counts appear in each profile's comments and in the report's header.
public enum Trace {
    /// What `enter` returns and `exit` takes: which scope, at what depth, on which thread.
    ///
    /// A small copyable value, so `defer { Trace.exit(t) }` works. A token from an `enter` made
    /// while nothing was recording is idle: its `exit` does nothing.
    ///
    /// ```swift
    /// let t = Trace.enter("flush")
    /// defer { Trace.exit(t) }
    /// ```
    @frozen
    public struct Token: Sendable, Hashable {
        @usableFromInline let probe: UInt32
        @usableFromInline let depth: UInt32
        @usableFromInline let seq: UInt32
        @usableFromInline let thread: UInt32

        @inlinable @inline(__always)
        init(probe: UInt32, depth: UInt32, seq: UInt32, thread: UInt32) {
            self.probe = probe
            self.depth = depth
            self.seq = seq
            self.thread = thread
        }

        @inlinable static var idle: Token { Token(probe: 0, depth: 0, seq: 0, thread: 0) }

        /// The token of an enter that records nothing. The thread's idle depth counts the scope,
        /// so that a scope recorded inside it later is known to have an unrecorded caller.
        @inlinable @inline(__always)
        static func enteredIdle() -> Token {
            CPprof_addIdleDepth(1)
            return idle
        }
    }

    /// Marks the beginning of a scope named by a literal; pair it with `exit(_:)`.
    ///
    /// ```swift
    /// let t = Trace.enter("query")
    /// defer { Trace.exit(t) }
    /// ```
    ///
    /// - Parameters:
    ///   - name: The scope's name in profiles: a string literal.
    ///   - file: The call site's file; leave the default.
    ///   - line: The call site's line; leave the default.
    ///   - function: The enclosing function (`#function`); leave the default. Its qualified
    ///     name becomes the frame's `system_name`.
    /// - Returns: The token to give to `exit(_:)`.
    @inlinable @inline(__always)
    public static func enter(
        _ name: StaticString,
        file: StaticString = #fileID,
        line: UInt = #line,
        function: StaticString = #function
    ) -> Token {
        #if PPROF_DISABLED
        return Token.idle
        #else
        let mode = CPprof_mode()
        if _fastPath(mode == ModeFlag.off) { return Token.enteredIdle() }
        guard let raw = CPprof_getThreadState() else {
            return Recorder.enterUnregistered(name, file, line, function)
        }
        let state = ThreadState(raw)
        return state.enter(probe: state.probe(name, file, line, function: function), mode: mode)
        #endif
    }

    /// Marks the beginning of a scope named after its enclosing function; pair it with `exit(_:)`.
    ///
    /// The frame shows the function the way Swift writes it, qualified (`JSONParser.parse(_:)`),
    /// found once per call site from the symbol of the code that holds the call; where that is
    /// not known (a stripped binary, or the function was inlined into its caller) it shows
    /// `#function` (`parse(_:)`). It costs what `enter(_:)` costs.
    ///
    /// ```swift
    /// func parse(_ text: String) throws -> Document {
    ///     let t = Trace.enter()   // "JSONParser.parse(_:)"
    ///     defer { Trace.exit(t) }
    ///     …
    /// }
    /// ```
    @inlinable @inline(__always)
    public static func enter(
        function: StaticString = #function,
        file: StaticString = #fileID,
        line: UInt = #line
    ) -> Token {
        // The unnamed probe is keyed by `#function`'s address and the line with its top bit set
        // (a constant), so it never shares a cache slot with a literal name of the same text.
        enter(function, file: file, line: line | Recorder.unnamedLineBit, function: function)
    }

    /// Marks the beginning of a scope whose name is known only at run time.
    ///
    /// Slower than the literal form: the name is looked up in a table under a lock. Prefer
    /// `enter(_:)` with a literal where the name is fixed.
    ///
    /// ```swift
    /// let t = Trace.enter(named: "route \(route.path)")
    /// defer { Trace.exit(t) }
    /// ```
    @inlinable
    public static func enter(named name: String, file: StaticString = #fileID, line: UInt = #line) -> Token {
        #if PPROF_DISABLED
        return Token.idle
        #else
        let mode = CPprof_mode()
        if _fastPath(mode == ModeFlag.off) { return Token.enteredIdle() }
        return Recorder.enter(named: name, file, line)
        #endif
    }

    /// Marks the end of the scope that `token` began. See ``Trace`` for what misuse does.
    ///
    /// ```swift
    /// let t = Trace.enter("flush")
    /// defer { Trace.exit(t) }
    /// ```
    @inlinable @inline(__always)
    public static func exit(_ token: Token) {
        #if !PPROF_DISABLED
        if _fastPath(token.thread == 0) {
            CPprof_addIdleDepth(-1)
            if _slowPath(CPprof_mode() != ModeFlag.off) { Recorder.noteIdleExit() }
            return
        }
        let ts = Clock.timestamp(CPprof_mode())
        guard let raw = CPprof_getThreadState() else {
            Recorder.noteExitWithoutState()
            return
        }
        ThreadState(raw).exit(token, timestamp: ts)
        #endif
    }

    /// Runs `body` inside a scope named by a literal, and returns what it returns.
    ///
    /// ```swift
    /// let document = try Trace.scope("parse") { try parse(body) }
    /// ```
    ///
    /// - Parameters:
    ///   - name: The scope's name in profiles: a string literal.
    ///   - file: The call site's file; leave the default.
    ///   - line: The call site's line; leave the default.
    ///   - function: The enclosing function (`#function`); leave the default. Its qualified
    ///     name becomes the frame's `system_name`.
    ///   - body: The work to measure. An error it throws ends the scope and is rethrown.
    /// - Returns: The value `body` returns.
    @inlinable @inline(__always)
    public static func scope<R>(
        _ name: StaticString,
        file: StaticString = #fileID,
        line: UInt = #line,
        function: StaticString = #function,
        _ body: () throws -> R
    ) rethrows -> R {
        let token = enter(name, file: file, line: line, function: function)
        // Explicit exits rather than `defer`: the optimizer then inlines the exit reliably.
        do {
            let result = try body()
            exit(token)
            return result
        } catch {
            exit(token)
            throw error
        }
    }

    /// Runs `body` inside a scope named after its enclosing function (see `enter(function:file:line:)`),
    /// and returns what it returns.
    ///
    /// ```swift
    /// init(bytes: [UInt8]) {
    ///     table = Trace.scope { Table(bytes) }   // "Index.init(bytes:)"
    /// }
    /// ```
    @inlinable @inline(__always)
    public static func scope<R>(
        function: StaticString = #function,
        file: StaticString = #fileID,
        line: UInt = #line,
        _ body: () throws -> R
    ) rethrows -> R {
        // The literal scope keyed as `enter(function:file:line:)` keys it: `#function` as the
        // name, the line with its top bit set.
        try scope(function, file: file, line: line | Recorder.unnamedLineBit, function: function, body)
    }

    /// Runs `body` inside a scope whose name is known only at run time. See `enter(named:)`.
    ///
    /// ```swift
    /// let rows = try Trace.scope(named: "table \(table)") { try load(table) }
    /// ```
    @inlinable
    public static func scope<R>(
        named name: String,
        file: StaticString = #fileID,
        line: UInt = #line,
        _ body: () throws -> R
    ) rethrows -> R {
        let token = enter(named: name, file: file, line: line)
        defer { exit(token) }
        return try body()
    }
}
