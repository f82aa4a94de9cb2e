import CPprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The hooks' slow paths and the process-wide set-up: everything a hook does that is not one
/// event. Nothing here runs more than once per thread or per call site, except while recording
/// a runtime-named scope.
@usableFromInline
enum Recorder {
    // MARK: Set-up

    private static let initialized = Atomic<Bool>(false)
    private static let initializing = Lock()
    private static let nextThreadID = Atomic<UInt32>(1)
    /// Misuse seen on threads that have no recorder state.
    static let threadlessWrongThreadExits = Atomic<Int>(0)
    static let threadlessIdleExits = Atomic<Int>(0)

    /// Threads given a ring since the process started.
    static var threadsRegistered: Int { Int(nextThreadID.load(ordering: .relaxed)) - 1 }

    /// Events each thread's ring holds (a power of two; `PPROF_RING_EVENTS` sets it).
    nonisolated(unsafe) static var ringCapacity = 1 << 17
    /// Whether each thread's sync scopes carry a `thread` label (`PPROF_THREAD_LABELS`).
    nonisolated(unsafe) static var threadLabels = false

    /// Reads the environment, chooses the clock, starts the aggregator, and (with `PPROF_OUTPUT`)
    /// opens the whole-run window. Idempotent and thread-safe.
    static func initializeIfNeeded() {
        if initialized.load(ordering: .acquiring) { return }
        initializing.withLock {
            if initialized.load(ordering: .acquiring) { return }
            let environment = Environment.read()
            Clock.configure(environment: environment.variables)
            ringCapacity = environment.ringCapacity
            threadLabels = environment.threadLabels
            Aggregator.shared.nodeLimit = environment.nodeLimit
            CPprof_installThreadExitHook(threadExitDestructor)
            Calibration.measure()
            Aggregator.shared.start()
            // The flag goes from "uninitialised" straight to its real value: were it off for a
            // moment before the whole-run window opened, other threads' hooks would be lost.
            if environment.trackThreads { Aggregator.shared.setTracking(true) }
            if environment.output != nil || environment.traceOutput != nil {
                ExitDump.arm(
                    profile: environment.output.map { ($0, environment.mode) },
                    timeline: environment.traceOutput.map { ($0, environment.traceEvents) }
                )
            } else if !environment.trackThreads {
                CPprof_setMode(ModeFlag.off)
            }
            initialized.store(true, ordering: .releasing)
        }
    }

    // MARK: Threads

    /// Gives the calling thread its ring and registers it with the aggregator.
    static func registerCurrentThread() -> ThreadState? {
        let threadID = nextThreadID.wrappingAdd(1, ordering: .relaxed).oldValue
        guard let state = ThreadState.allocate(capacity: ringCapacity, threadID: threadID) else { return nil }
        CPprof_setThreadState(state.base)
        CPprof_registerThreadExit(state.base)
        let name = currentThreadName()
        Aggregator.shared.adopt(
            state,
            threadLabel: threadLabels ? LabelSets.shared.probe(for: ["thread": name]) : nil,
            name: name
        )
        return state
    }

    /// The calling thread's name (`pthread_setname_np`), or "thread N" (its kernel id) if it has
    /// none of its own.
    static func currentThreadName() -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        CPprof_threadName(&buffer, buffer.count)
        let name = String(cString: buffer)
        // An unnamed thread reports the program's name: say which thread it is instead.
        let tid = CPprof_threadKernelID()
        if name.isEmpty || (tid != Int64(getpid()) && name == programName) { return "thread \(tid)" }
        return name
    }

    /// The name threads inherit from the program unless they are given their own.
    private static let programName: String = {
        guard let raw = fopen("/proc/self/comm", "r") else { return "" }
        defer { fclose(raw) }
        var buffer = [CChar](repeating: 0, count: 64)
        guard fgets(&buffer, Int32(buffer.count), raw) != nil else { return "" }
        let text = String(cString: buffer)
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }()

    /// At thread exit: the thread stops using its state, then hands it to the aggregator, which
    /// drains what is left and unmaps it.
    private static let threadExitDestructor: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
        guard let raw else { return }
        if CPprof_getThreadState() == raw { CPprof_setThreadState(nil) }
        ThreadState(raw).closed.pointee.store(1, ordering: .releasing)
    }

    /// The calling thread's state, registering the thread if it has none; nil if it cannot get a ring.
    static func currentThreadState() -> ThreadState? {
        if let raw = CPprof_getThreadState() { return ThreadState(raw) }
        return registerCurrentThread()
    }

    // MARK: Hook slow paths

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
        guard mode != ModeFlag.off, let state = registerCurrentThread() else { return .enteredIdle() }
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
        let id = ProbeRegistry.shared.intern(name, file, line, function: function)
        state.cache(probe: id, name, file, line)
        return id
    }

    /// A recorded enter with a runtime name.
    @usableFromInline @inline(never)
    static func enter(named name: String, _ file: StaticString, _ line: UInt) -> Trace.Token {
        initializeIfNeeded()
        let mode = CPprof_mode()
        guard mode != ModeFlag.off else { return .enteredIdle() }
        let state: ThreadState
        if let raw = CPprof_getThreadState() {
            state = ThreadState(raw)
        } else if let registered = registerCurrentThread() {
            state = registered
        } else {
            return .enteredIdle()
        }
        return state.enter(probe: ProbeRegistry.shared.intern(named: name, file, line), mode: mode)
    }

    /// The exit, while recording, of a scope entered while nothing recorded.
    @usableFromInline @inline(never)
    static func noteIdleExit() {
        if let raw = CPprof_getThreadState() {
            ThreadState(raw).bump(.enteredBeforeRecording)
        } else {
            threadlessIdleExits.wrappingAdd(1, ordering: .relaxed)
        }
    }

    /// The exit of a recorded token on a thread that has no recorder state: another thread's token.
    @usableFromInline @inline(never)
    static func noteExitWithoutState() {
        threadlessWrongThreadExits.wrappingAdd(1, ordering: .relaxed)
    }
}
