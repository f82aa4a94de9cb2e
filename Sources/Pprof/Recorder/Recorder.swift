import CPprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The profiler's state: the probe registry, the label sets, the async call paths, the clock,
/// and the aggregator (the call tree, each thread's folder, the windows and what keeps the hooks
/// recording). Everything that needs one of these is handed it by the recorder that owns it.
///
/// `Recorder.shared`, the process's recorder, is the one global besides the C recording flag and
/// the thread-local pointer, which are global by nature: the hooks reach it on their slow paths
/// (`Recorder+Hooks.swift`). Tests and benchmarks make private recorders, which never touch the
/// recording flag, and feed them rings through the same types:
///
/// ```swift
/// let recorder = Recorder(environment: Environment(variables: [:]))
/// let ring = ThreadState.allocate(capacity: 1024, threadID: 1)!
/// recorder.aggregator.adopt(ring)
/// let window = recorder.aggregator.open(mode: .cprof)
/// let token = ring.enter(probe: recorder.probes.intern(named: "work", #fileID, 1), mode: ModeFlag.counting)
/// ring.exit(token, timestamp: 0)
/// let profile = recorder.aggregator.close(window)   // work: 1 call
/// ```
@usableFromInline
final class Recorder: @unchecked Sendable {
    /// The process's recorder, configured from the environment at its first use; `start()`
    /// (through `initializeIfNeeded`) then starts its aggregator thread.
    static let shared = Recorder(environment: .read(), ownsModeFlag: true)

    /// The configuration it was made with (`PPROF_*`).
    let environment: Environment
    let probes: ProbeRegistry
    let labels: LabelSets
    let paths: CallPaths
    let clock: ClockBase
    let aggregator: Aggregator

    private let nextThreadID = Atomic<UInt32>(1)
    private let ringEvents: Atomic<Int>
    private let started = Atomic<Bool>(false)
    private let starting = Lock()
    /// `PPROF_OUTPUT` and `PPROF_TRACE_OUTPUT`, once armed.
    private(set) var exitDump: ExitDump?  // written once, under `starting`, before `started`

    /// - Parameter ownsModeFlag: Whether its demand sets the hooks' recording flag: the shared
    ///   recorder's does; a private recorder's never does.
    init(environment: Environment, ownsModeFlag: Bool = false) {
        self.environment = environment
        paths = CallPaths()
        probes = ProbeRegistry()
        labels = LabelSets(probes: probes)
        clock = ClockBase(environment: environment.variables)
        ringEvents = Atomic(environment.ringCapacity)
        aggregator = Aggregator(
            probes: probes,
            labels: labels,
            paths: paths,
            clock: clock,
            hookPairTicks: Calibration.pairTicks(mode: clock.timedMode),
            nodeLimit: environment.nodeLimit,
            ownsModeFlag: ownsModeFlag,
            // A private recorder takes no samples; it charges those a test writes into its
            // rings when the test asks for a rate.
            cpuHz: ownsModeFlag || environment.variables["PPROF_CPU_HZ"] != nil ? environment.cpuHz : 0
        )
    }

    /// Events each new thread's ring holds (a power of two; `PPROF_RING_EVENTS` sets it).
    var ringCapacity: Int {
        get { ringEvents.load(ordering: .relaxed) }
        set { ringEvents.store(newValue, ordering: .relaxed) }
    }

    /// Threads given a ring since the process started.
    var threadsRegistered: Int { Int(nextThreadID.load(ordering: .relaxed)) - 1 }

    // MARK: Start

    /// Starts the shared recorder: reads the environment, starts the aggregator, and (with
    /// `PPROF_OUTPUT`) opens the whole-run window. Idempotent and thread-safe.
    static func initializeIfNeeded() {
        shared.start()
    }

    /// Installs the thread-exit hook, starts the aggregator thread, sets the recording flag, and
    /// arms the exit dump the environment asks for. Idempotent and thread-safe.
    func start() {
        if started.load(ordering: .acquiring) { return }
        starting.withLock {
            if started.load(ordering: .acquiring) { return }
            CPprof_installThreadExitHook(Recorder.threadExitDestructor)
            aggregator.start()
            // The flag goes from "uninitialised" straight to its real value: were it off for a
            // moment before the whole-run window opened, other threads' hooks would be lost.
            if environment.trackThreads { _ = aggregator.hold(.tracking) }
            // PprofMemory linked and counting: every call path from now on, for its profiles.
            if aggregator.ownsModeFlag && CPprof_getMemoryHooks() == 1 { _ = aggregator.hold(.memory) }
            if environment.output != nil || environment.traceOutput != nil || environment.memoryOutput != nil {
                exitDump = ExitDump.arm(
                    recorder: self,
                    profile: environment.output.map { ($0, environment.mode) },
                    timeline: environment.traceOutput.map { ($0, environment.traceEvents, environment.traceBytes) },
                    memory: environment.memoryOutput
                )
                exitDump?.installHandlers()
            }
            aggregator.settleModeFlag()
            started.store(true, ordering: .releasing)
        }
    }

    // MARK: Threads

    /// Gives the calling thread its ring and registers it with the aggregator.
    func registerCurrentThread() -> ThreadState? {
        let threadID = nextThreadID.wrappingAdd(1, ordering: .relaxed).oldValue
        guard let state = ThreadState.allocate(capacity: ringCapacity, threadID: threadID) else { return nil }
        CPprof_setThreadState(state.base)
        CPprof_registerThreadExit(state.base)
        let name = Recorder.currentThreadName()
        aggregator.adopt(
            state,
            threadLabel: environment.threadLabels ? labels.probe(for: ["thread": name]) : nil,
            name: name,
            kernelID: CPprof_threadKernelID()
        )
        return state
    }

    /// The calling thread's state, registering the thread if it has none; nil if it cannot get a ring.
    func currentThreadState() -> ThreadState? {
        if let raw = CPprof_getThreadState() { return ThreadState(raw) }
        return registerCurrentThread()
    }

    /// The calling thread's name (`pthread_setname_np`), or "thread N" (its kernel id) if it has
    /// none of its own.
    static func currentThreadName() -> String {
        var buffer = [CChar](repeating: 0, count: 64)
        CPprof_threadName(&buffer, buffer.count)
        let name = String(decoding: buffer.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // An unnamed thread reports the program's name: say which thread it is instead.
        let tid = CPprof_threadKernelID()
        if name.isEmpty || (tid != Int64(getpid()) && name == programName) { return "thread \(tid)" }
        return name
    }

    /// The name threads inherit from the program unless they are given their own.
    private static let programName: String = {
        guard let text = readSmallFile("/proc/self/comm") else { return "" }
        return text.hasSuffix("\n") ? String(text.dropLast()) : text
    }()

    /// At thread exit: the thread stops using its state, then hands it to the aggregator, which
    /// drains what is left and unmaps it.
    private static let threadExitDestructor: @convention(c) (UnsafeMutableRawPointer?) -> Void = { raw in
        guard let raw else { return }
        if CPprof_getThreadState() == raw { CPprof_setThreadState(nil) }
        // Its CPU timer goes with it, not at the next drain: a churn of short threads would
        // otherwise hold a timer for every thread that ended since.
        CPprof_cpuTimerDelete(ThreadState(raw).cpuSamples)
        ThreadState(raw).closed.pointee.store(1, ordering: .releasing)
    }
}
