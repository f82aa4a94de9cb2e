import CPprof

/// What `PprofTracing` needs of the recorder to make every tracing span an async frame.
///
/// A span is opened when it starts (its start time, task and parent frame), but placed in the
/// call tree (its path: its parent's path, a label set from its attributes, its name) only when
/// something first needs the place: a scope or span started inside it, or its end. Frameworks
/// name a span after it starts (Hummingbird names its request span after the route once the
/// route has run); placing it late lets a span with nothing nested in it carry its final name.
///
/// ```swift
/// let parent = Spans.currentContext
/// if let frame = Spans.open(parent: parent) {                       // nil while nothing records
///     let inside = Spans.place(frame, under: parent, name: "GET /users", file: #fileID, line: #line, labels: [:])
///     // … what runs in the span uses `inside` as its context …
///     Spans.close(frame)
/// }
/// ```
package enum Spans {
    /// Whether a profile records now: while none does, a span need not look for its parent.
    package static var isRecording: Bool {
        Recorder.initializeIfNeeded()
        return CPprof_mode() != ModeFlag.off
    }

    /// The innermost context of the running task: its own and the installed provider's.
    package static var currentContext: AsyncContext { AsyncContext.innermost() }

    /// Where the tracer keeps its spans' contexts (read besides the task-local); once.
    package static func installContextProvider(_ provider: @escaping @Sendable () -> AsyncContext?) {
        AsyncContext.install(provider: provider)
    }

    /// Whether `a` is nested deeper than `b`: of two contexts on one chain, the inner one.
    package static func isDeeper(_ a: AsyncContext, than b: AsyncContext) -> Bool {
        Recorder.shared.paths.depth(of: a.path) > Recorder.shared.paths.depth(of: b.path)
    }

    /// Opens a span's frame under `parent`; nil while nothing records.
    package static func open(parent: AsyncContext) -> AsyncFrame? {
        Recorder.initializeIfNeeded()
        let mode = CPprof_mode()
        guard mode != ModeFlag.off else { return nil }
        CPprof_noteTaskContext()
        return AsyncFrame(path: 0, owner: CPprof_currentOwner(), start: Clock.timestamp(mode), parent: parent.frame)
    }

    /// Places `frame` under `parent`: with `labels` (if any) on everything in it, named `name`.
    /// Returns the context that frames nested in it use.
    package static func place(
        _ frame: AsyncFrame,
        under parent: AsyncContext,
        name: String,
        file: String,
        line: UInt,
        labels: [String: String]
    ) -> AsyncContext {
        var path = parent.path
        if !labels.isEmpty {
            path = Recorder.shared.paths.path(parent: path, probe: Recorder.shared.labels.probe(for: labels))
        }
        path = Recorder.shared.paths.path(
            parent: path,
            probe: Recorder.shared.probes.intern(named: name, fileName: file, line)
        )
        frame.path = path
        return AsyncContext(path: path, frame: frame)
    }

    /// Ends a placed frame: see `AsyncScopes.close`.
    package static func close(_ frame: AsyncFrame) {
        AsyncScopes.close(frame)
    }
}
