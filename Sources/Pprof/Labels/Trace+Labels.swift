import CPprof

extension Trace {
    /// Runs `body` with `labels` on every sample recorded inside it, so that
    /// `go tool pprof -tagfocus=route=/users` and Pyroscope's label filters can select them.
    ///
    /// ```swift
    /// let response = try Trace.withLabels(["route": "/users/:id"]) {
    ///     try Trace.scope("handle") { try handle(request) }
    /// }
    /// ```
    ///
    /// Nesting merges: an inner set adds its labels to the outer one's, and its value wins where
    /// both name a key. Labels are strings only (Pyroscope drops numeric ones). Each distinct set
    /// is interned once; afterwards entering it hashes the dictionary and allocates nothing. Time
    /// spent inside `body` outside every scope is its enclosing scope's, with the labels.
    @inlinable
    public static func withLabels<R>(_ labels: [String: String], _ body: () throws -> R) rethrows -> R {
        #if PPROF_DISABLED
        return try body()
        #else
        guard _slowPath(CPprof_mode() != ModeFlag.off), let token = Labels.enter(labels) else { return try body() }
        defer { exit(token) }
        return try body()
        #endif
    }

    /// Runs async `body` with `labels` on every sample recorded inside it, across awaits and in
    /// the child tasks it starts. See `withLabels(_:_:)`.
    ///
    /// ```swift
    /// try await Trace.withLabels(["route": "/users/:id"]) {
    ///     try await Trace.scope("handle") { try await handle(request) }
    /// }
    /// ```
    @inlinable
    public static func withLabels<R>(
        _ labels: [String: String],
        isolation: isolated (any Actor)? = #isolation,
        _ body: () async throws -> R
    ) async rethrows -> R {
        #if PPROF_DISABLED
        return try await body()
        #else
        guard _slowPath(CPprof_mode() != ModeFlag.off), let context = Labels.context(labels) else {
            return try await body()
        }
        return try await AsyncContext.taskLocal.withValue(context, operation: body, isolation: isolation)
        #endif
    }
}

/// The slow paths of `Trace.withLabels`.
@usableFromInline
enum Labels {
    /// Enters the label set as a scope on this thread; nil while nothing records.
    @usableFromInline @inline(never)
    static func enter(_ labels: [String: String]) -> Trace.Token? {
        Recorder.initializeIfNeeded()
        let mode = CPprof_mode()
        guard mode != ModeFlag.off, let state = Recorder.shared.currentThreadState() else { return nil }
        return state.enter(probe: Recorder.shared.labels.probe(for: labels), mode: mode)
    }

    /// The task context with the label set appended to its path; nil while nothing records.
    @usableFromInline @inline(never)
    static func context(_ labels: [String: String]) -> AsyncContext? {
        Recorder.initializeIfNeeded()
        guard CPprof_mode() != ModeFlag.off else { return nil }
        CPprof_noteTaskContext()
        let outer = AsyncContext.innermost()
        let path = Recorder.shared.paths.path(parent: outer.path, probe: Recorder.shared.labels.probe(for: labels))
        return AsyncContext(path: path, frame: outer.frame)
    }
}
