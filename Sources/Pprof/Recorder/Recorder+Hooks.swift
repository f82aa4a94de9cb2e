import CPprof

/// The hooks' slow paths: everything a hook does that is not one event. Nothing here runs more
/// than once per thread or per call site, except while recording a runtime-named scope. They
/// are static because the inlined hooks call them without a recorder at hand: each reaches
/// `Recorder.shared`.
extension Recorder {
    /// The first recorded enter of a thread (and the very first hook of the process).
    @usableFromInline @inline(never)
    static func enterUnregistered(
        _ name: StaticString,
        _ file: StaticString,
        _ line: UInt,
        _ function: StaticString = ""
    ) -> Trace.Token {
        initializeIfNeeded()
        let mode = CPprof_mode()
        guard mode != ModeFlag.off, let state = shared.registerCurrentThread() else { return .enteredIdle() }
        return state.enter(probe: probe(for: state, name, file, line, function), mode: mode)
    }

    /// Set in the line an unnamed scope passes as its probe's key: its name is `function`'s,
    /// resolved at registration. No source file has 2^63 lines.
    @inlinable static var unnamedLineBit: UInt { 1 << 63 }

    /// A call site this thread has not cached yet. The registration names it (once per call
    /// site, from this thread's stack: see `CallSiteNames`).
    @usableFromInline @inline(never)
    static func probe(
        for state: ThreadState,
        _ name: StaticString,
        _ file: StaticString,
        _ line: UInt,
        _ function: StaticString = ""
    ) -> UInt32 {
        let id = shared.probes.intern(name, file, line, function: function)
        state.cache(probe: id, name, file, line)
        return id
    }

    /// A recorded enter with a runtime name.
    @usableFromInline @inline(never)
    static func enter(named name: String, _ file: StaticString, _ line: UInt) -> Trace.Token {
        initializeIfNeeded()
        let mode = CPprof_mode()
        guard mode != ModeFlag.off, let state = shared.currentThreadState() else { return .enteredIdle() }
        return state.enter(probe: shared.probes.intern(named: name, file, line), mode: mode)
    }

    /// The exit, while recording, of a scope entered while nothing recorded.
    @usableFromInline @inline(never)
    static func noteIdleExit() {
        if let raw = CPprof_getThreadState() {
            ThreadState(raw).bump(.enteredBeforeRecording)
        } else {
            shared.aggregator.threadlessIdleExits.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// The exit of a recorded token on a thread that has no recorder state: another thread's token.
    @usableFromInline @inline(never)
    static func noteExitWithoutState() {
        shared.aggregator.threadlessWrongThreadExits.wrappingAdd(1, ordering: .relaxed)
    }
}
