import CPprof

extension Trace {
    /// Runs async `body` inside a scope named by a literal, keeping the call path across every
    /// `await`, thread hop and child task.
    ///
    /// ```swift
    /// func handle(_ request: Request) async throws -> Response {
    ///     try await Trace.scope("handle") {
    ///         let user = try await Trace.scope("load user") { try await db.user(request.id) }
    ///         return Trace.scope("render") { render(user) }    // sync, nested under "handle"
    ///     }
    /// }
    /// ```
    ///
    /// The path lives in a task-local: scopes (sync or async) inside `body` nest under this one
    /// wherever they run, and so do those of child tasks started in it (`async let`, task groups,
    /// `Task {}`); `Task.detached` starts from the root. The scope is one call, counted when it
    /// ends, however it ends (an error thrown through it, cancellation).
    ///
    /// Its wall time includes its awaits. The part of it that no scope nested in it on the same
    /// task accounts for (its awaits, and work its body does outside any scope) is shown as its
    /// child `(suspended or unscoped)`, never as work: wrap work in sync scopes to see it as such.
    /// While nothing records, this costs one load and a branch besides calling `body`.
    ///
    /// - Parameters:
    ///   - name: The scope's name in profiles: a string literal.
    ///   - file: The call site's file; leave the default.
    ///   - line: The call site's line; leave the default.
    ///   - function: The enclosing function (`#function`); leave the default. Its qualified
    ///     name becomes the frame's `system_name`.
    ///   - isolation: The caller's actor; leave the default, so the scope can be used inside actors.
    ///   - body: The work to measure. An error it throws ends the scope and is rethrown.
    /// - Returns: The value `body` returns.
    @inlinable
    public static func scope<R>(
        _ name: StaticString,
        file: StaticString = #fileID,
        line: UInt = #line,
        function: StaticString = #function,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> R
    ) async rethrows -> R {
        #if PPROF_DISABLED
        return try await body()
        #else
        guard _slowPath(CPprof_mode() != ModeFlag.off), let frame = AsyncScopes.open(name, file, line, function) else {
            return try await body()
        }
        return try await AsyncScopes.run(frame, isolation: isolation, body)
        #endif
    }

    /// Runs async `body` inside a scope named after its enclosing function, qualified where
    /// known (see `enter(function:file:line:)`).
    ///
    /// ```swift
    /// func load(_ id: Int) async throws -> User {
    ///     try await Trace.scope { try await db.user(id) }   // "UserStore.load(_:)"
    /// }
    /// ```
    @inlinable
    public static func scope<R>(
        function: StaticString = #function,
        file: StaticString = #fileID,
        line: UInt = #line,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> R
    ) async rethrows -> R {
        // The literal scope keyed as `enter(function:file:line:)` keys it.
        try await scope(
            function,
            file: file,
            line: line | Recorder.unnamedLineBit,
            function: function,
            isolation: isolation,
            body
        )
    }

    /// Runs async `body` inside a scope whose name is known only at run time. See
    /// `scope(_:file:line:isolation:_:)`.
    ///
    /// ```swift
    /// let rows = try await Trace.scope(named: "table \(table)") { try await load(table) }
    /// ```
    @inlinable
    public static func scope<R>(
        named name: String,
        file: StaticString = #fileID,
        line: UInt = #line,
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> R
    ) async rethrows -> R {
        #if PPROF_DISABLED
        return try await body()
        #else
        guard _slowPath(CPprof_mode() != ModeFlag.off), let frame = AsyncScopes.open(named: name, file, line) else {
            return try await body()
        }
        return try await AsyncScopes.run(frame, isolation: isolation, body)
        #endif
    }
}
