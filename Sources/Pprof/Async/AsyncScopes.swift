import CPprof

/// Opening and closing async frames: what an async scope does around its body, and what a span
/// of `PprofTracing` does at its start and end. Nothing here runs while nothing records.
@usableFromInline
package enum AsyncScopes {
    /// Opens the frame of an async scope named by a literal; nil while nothing records.
    @usableFromInline @inline(never)
    static func open(
        _ name: StaticString,
        _ file: StaticString,
        _ line: UInt,
        _ function: StaticString = ""
    ) -> AsyncFrame? {
        Recorder.initializeIfNeeded()
        let mode = CPprof_mode()
        guard mode != ModeFlag.off, let state = Recorder.shared.currentThreadState() else { return nil }
        return open(
            probe: state.probe(name, file, line, function: function),
            mode: mode,
            parent: AsyncContext.innermost()
        )
    }

    /// Opens the frame of an async scope named at run time; nil while nothing records.
    @usableFromInline @inline(never)
    static func open(named name: String, _ file: StaticString, _ line: UInt) -> AsyncFrame? {
        Recorder.initializeIfNeeded()
        let mode = CPprof_mode()
        guard mode != ModeFlag.off else { return nil }
        return open(
            probe: Recorder.shared.probes.intern(named: name, file, line),
            mode: mode,
            parent: AsyncContext.innermost()
        )
    }

    static func open(probe: UInt32, mode: UInt8, parent: AsyncContext) -> AsyncFrame {
        let path = Recorder.shared.paths.path(parent: parent.path, probe: probe)
        CPprof_noteTaskContext()
        return AsyncFrame(path: path, owner: CPprof_currentOwner(), start: Clock.timestamp(mode), parent: parent.frame)
    }

    /// Closes `frame`: its call is counted, and the part of its wall time that no frame nested in
    /// it on its task accounts for goes under it as `(suspended or unscoped)`.
    @usableFromInline @inline(never)
    static func close(_ frame: AsyncFrame) {
        let mode = CPprof_mode()
        let end = Clock.timestamp(mode)
        let wall = frame.start != 0 && end > frame.start ? end &- frame.start : 0
        if let parent = frame.parent, let owner = frame.owner, parent.owner == owner {
            parent.childTicks &+= wall
        }
        // A window that closed while the frame was open has its profile already; the frame
        // still goes into the tree, for the windows still open and those to come.
        guard mode != ModeFlag.off, let state = Recorder.shared.currentThreadState() else { return }
        state.pushRecord(
            .asyncFrame,
            path: frame.path,
            payload: wall &- min(wall, frame.childTicks),
            timestamp: end,
            start: frame.start,
            wall: wall
        )
    }

    /// Runs `body` with `frame` as the task's innermost frame and closes it however `body` ends.
    /// Inlined into the scope, so that it is specialised there: a generic call around `withValue`
    /// cost a third more (BENCHMARKS.md).
    @inlinable @inline(__always)
    static func run<R>(
        _ frame: AsyncFrame,
        isolation: isolated (any Actor)?,
        _ body: () async throws -> R
    ) async rethrows -> R {
        do {
            let result = try await AsyncContext.taskLocal.withValue(
                AsyncContext(path: frame.path, frame: frame),
                operation: body,
                isolation: isolation
            )
            close(frame)
            return result
        } catch {
            close(frame)
            throw error
        }
    }
}
