import CPprof

#if canImport(Glibc)
import Glibc
#endif

/// CPU samples per call path, as Go takes them on Linux: while a window that wants CPU (fprof,
/// eprof) is open, every registered thread has a CPU-time timer that sends it SIGPROF every
/// `1/hz` seconds of its own CPU time; the handler (`CPprofCpu.h`) writes the sample's
/// timestamp and interrupted program counter into the thread's sample ring, and the thread's
/// folder charges it to the frame open at that timestamp, with the interrupted function as a
/// leaf below it.
///
/// The aggregator owns one and calls it under its lock: timers are made and deleted here, never
/// on a hook's path (a thread that registers while sampling is on makes its own timer as it
/// registers, on the registration's slow path, so that a thread shorter than a drain is
/// sampled too). Only the shared recorder's samples for real (its threads' state is what
/// the handler finds); a private recorder's folders still charge the samples that tests write
/// into their rings.
///
/// ```swift
/// let cpu = CPUSampling(hz: 100, armsTimers: true)
/// cpu.windowOpened(folders)      // the first CPU window: the handler installed, timers armed
/// folder.drain(into: tree)       // samples charged with the events, in time order
/// cpu.windowClosed(folders)      // the last one: every timer deleted
/// ```
final class CPUSampling {
    /// The highest rate: the kernel checks CPU-time timers at its tick (250 Hz here), so more
    /// signals than that never arrive.
    static let maximumHz = 250

    /// Samples a second of a thread's CPU time (`PPROF_CPU_HZ`); 0: no sampling.
    let hz: Int
    /// The CPU time one sample stands for.
    let periodNanoseconds: UInt64
    /// Whether it makes timers (the shared recorder) or only charges what rings hold (tests).
    let armsTimers: Bool
    /// CPU windows open now.
    private(set) var windows = 0
    /// Why nothing is sampled although `hz` asks for it (another SIGPROF handler), or nil; with
    /// `hz` 0 nothing was asked for, and nothing is said.
    private(set) var unavailable: String?

    /// Per interrupted address, and per function start: the probe of its function, and its
    /// function's symbol. An address seen first costs a symbol-table search; a function seen
    /// first, its name too (demangled).
    private var frameOf: [UInt: (probe: UInt32, system: String)] = [:]
    private var frameOfFunction: [UInt: (probe: UInt32, system: String)] = [:]
    /// Per scope probe: its function's symbol, to tell a sample in the scope's own code.
    private var scopeSymbol: [UInt32: String] = [:]

    init(hz: Int, armsTimers: Bool) {
        self.hz = max(0, min(hz, Self.maximumHz))
        periodNanoseconds = self.hz > 0 ? UInt64(1_000_000_000 / self.hz) : 0
        self.armsTimers = armsTimers
    }

    /// Whether a CPU window is open and samples are being taken (by timers, or by a test).
    var isSampling: Bool { windows > 0 && hz > 0 && unavailable == nil }

    /// A window that wants CPU opened: the first one arms every live thread's timer.
    func windowOpened(_ folders: [ThreadFolder]) {
        windows += 1
        guard windows == 1, hz > 0, armsTimers else { return }
        switch CPprof_cpuInstall(ThreadHeader.cpuSamplesOffset) {
        case 0: unavailable = nil
        case 1: unavailable = "the program has its own SIGPROF handler"
        default: unavailable = "sigaction failed"
        }
        guard unavailable == nil else { return }
        for folder in folders { arm(folder) }
    }

    /// A CPU window closed: the last one deletes every timer.
    func windowClosed(_ folders: [ThreadFolder]) {
        windows = max(0, windows - 1)
        guard windows == 0, armsTimers else { return }
        for folder in folders { disarm(folder) }
    }

    func disarm(_ folder: ThreadFolder) {
        if let state = folder.state { CPprof_cpuTimerDelete(state.cpuSamples) }
    }

    /// Whether timers are armed now: a thread that registers gets one at once.
    var armsNewThreads: Bool { isSampling && armsTimers }

    /// Arms `folder`'s thread's timer (once; any thread may call it, for a folder no one else
    /// arms or disarms meanwhile).
    func arm(_ folder: ThreadFolder) {
        guard let state = folder.state, folder.kernelID != 0,
            state.closed.pointee.load(ordering: .acquiring) == 0
        else { return }
        // A thread that has ended meanwhile (ESRCH, EINVAL) or the kernel's limit (EAGAIN) leaves
        // it unsampled; nothing else is to be done.
        _ = CPprof_cpuTimerCreate(state.cpuSamples, folder.kernelID, Int64(periodNanoseconds))
    }

    // MARK: Charging

    /// Charges one sample taken at `pc`, standing for `periods` of the timer, to `node`, the
    /// frame open when it was taken: to the node itself when the interrupted code is the scope's
    /// own function, else to a leaf below it for the interrupted function.
    func charge(pc: UInt, periods: UInt64, to node: Int32, tree: CallTree, probes: ProbeRegistry) {
        let nanoseconds = periods &* (periodNanoseconds != 0 ? periodNanoseconds : 10_000_000)
        guard pc != 0 else {
            tree.addCPUSamples(node, periods, nanoseconds: nanoseconds)
            return
        }
        let frame: (probe: UInt32, system: String)
        if let known = frameOf[pc] {
            frame = known
        } else if let start = CallSiteNames.functionStart(at: pc), let known = frameOfFunction[start] {
            frame = known
            frameOf[pc] = frame
        } else {
            frame = probes.intern(interruptedAt: pc)
            frameOf[pc] = frame
            if let start = CallSiteNames.functionStart(at: pc) { frameOfFunction[start] = frame }
        }
        let scopeProbe = tree.probe(Int(node))
        let scope: String
        if let known = scopeSymbol[scopeProbe] {
            scope = known
        } else {
            scope = probes.function(scopeProbe)?.systemName ?? ""
            scopeSymbol[scopeProbe] = scope
        }
        let leaf = node != 0 && frame.system == scope ? node : tree.child(of: node, probe: frame.probe)
        tree.addCPUSamples(leaf, periods, nanoseconds: nanoseconds)
    }
}
