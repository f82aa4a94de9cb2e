import CPprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Drains every thread's ring on one background thread, folds the events into the call tree,
/// and opens and closes windows and timelines on it.
///
/// Everything here runs under `lock`, never on the hooks' path: the hooks only write their
/// rings, and a thread takes `pendingLock` once, when it registers. A recorder owns one
/// (`Recorder.aggregator`) and hands it the registries it reads when it builds a profile.
final class Aggregator: @unchecked Sendable {
    /// Monotone totals, for windows to subtract.
    struct Totals {
        var folded: UInt64 = 0
        var dropped: UInt64 = 0
        var staleExits: UInt64 = 0
        var wrongThreadExits: UInt64 = 0
        var implicitlyClosed: UInt64 = 0
        var openAtThreadExit: UInt64 = 0
        var enteredBeforeRecording: UInt64 = 0
        var cpuSamples: UInt64 = 0
        var cpuOverruns: UInt64 = 0
        var cpuSamplesDropped: UInt64 = 0

        /// Every member, so that arithmetic and copies name each one once.
        static var members: [WritableKeyPath<Totals, UInt64>] {
            [
                \.folded, \.dropped, \.staleExits, \.wrongThreadExits, \.implicitlyClosed, \.openAtThreadExit,
                \.enteredBeforeRecording, \.cpuSamples, \.cpuOverruns, \.cpuSamplesDropped,
            ]
        }

        static func + (a: Totals, b: Totals) -> Totals {
            var sum = a
            for member in members { sum[keyPath: member] &+= b[keyPath: member] }
            return sum
        }

        static func - (a: Totals, b: Totals) -> Totals {
            var difference = a
            for member in members { difference[keyPath: member] &-= b[keyPath: member] }
            return difference
        }
    }

    /// An open window: where its counters stood when it opened.
    final class Window: @unchecked Sendable {
        let mode: Profile.Mode
        let startWallNanoseconds: UInt64
        let startMonotonic: UInt64
        /// The clock reading at which the open frames were split, when recording was timed.
        let startTicks: UInt64?
        /// Every node's measurements when it opened.
        let start: [Measurements]
        let startTotals: Totals
        var threadsSeen: Set<UInt32> = []

        init(mode: Profile.Mode, startTicks: UInt64?, start: [Measurements], startTotals: Totals) {
            self.mode = mode
            self.startWallNanoseconds = CPprof_wallNanos()
            self.startMonotonic = CPprof_monotonicNanos()
            self.startTicks = startTicks
            self.start = start
            self.startTotals = startTotals
        }
    }

    let probes: ProbeRegistry
    let labels: LabelSets
    let paths: CallPaths
    let clock: ClockBase
    /// Clock ticks one recorded enter/exit pair costs (`Calibration`).
    let hookPairTicks: Double
    /// Whether `demand` sets the hooks' recording flag (the shared recorder's aggregator only).
    let ownsModeFlag: Bool

    /// Misuse seen on threads that have no recorder state (the hooks' slow paths count it).
    let threadlessWrongThreadExits = Atomic<Int>(0)
    let threadlessIdleExits = Atomic<Int>(0)

    private let lock = Lock()
    private let pendingLock = Lock()
    private let wakeup = Wakeup()
    private var pending: [ThreadFolder] = []
    /// Whether a thread that registers makes its CPU timer at once (guarded by `pendingLock`).
    private var cpuArmsNewThreads = false

    // Guarded by `lock`.
    private var folders: [ThreadFolder] = []
    private let tree: CallTree
    private var retired = Totals()
    private var windows: [Window] = []
    /// What keeps the hooks recording: open windows, timelines and thread tracking.
    private var demand = Demand()
    /// The flag `demand` asks for now (written to the hooks' flag when `ownsModeFlag`).
    private var modeFlag = ModeFlag.off
    /// Timeline windows open now: each copies the events drained while it is open.
    private var timelines: [TimelineCapture] = []
    /// PprofMemory's sampled blocks, handed to folders as they appear.
    private var sampledBlocks = SampledBlocks()
    /// CPU samples: the timers of CPU windows, and what the folders charge samples with.
    private let cpu: CPUSampling
    private var started = false

    init(
        probes: ProbeRegistry,
        labels: LabelSets,
        paths: CallPaths,
        clock: ClockBase,
        hookPairTicks: Double,
        nodeLimit: Int = CallTree.defaultNodeLimit,
        ownsModeFlag: Bool = false,
        cpuHz: Int = 0
    ) {
        self.probes = probes
        self.labels = labels
        self.paths = paths
        self.clock = clock
        self.hookPairTicks = hookPairTicks
        self.ownsModeFlag = ownsModeFlag
        tree = CallTree(paths: paths, nodeLimit: nodeLimit)
        // Only the shared recorder's threads are the ones the SIGPROF handler writes for.
        cpu = CPUSampling(hz: cpuHz, armsTimers: ownsModeFlag)
    }

    /// Threads with a live ring, for the index page and tests.
    var liveThreads: Int { lock.withLock { folders.count + pendingLock.withLock { pending.count } } }

    /// Windows open now, profile and timeline windows alike, for the index page.
    var openWindowCount: Int { lock.withLock { windows.count + timelines.count } }

    /// Totals since the process started (without a drain: what has been folded so far).
    var totalsNow: Totals { lock.withLock { currentTotals() } }

    // MARK: Threads

    /// Registers `state`'s ring: the next drain folds it. `kernelID` is the thread's kernel id.
    func adopt(_ state: ThreadState, threadLabel: UInt32? = nil, name: String = "", kernelID: Int64 = 0) {
        let folder = ThreadFolder(
            threadID: state.threadID,
            state: state,
            threadLabel: threadLabel,
            name: name,
            kernelID: kernelID
        )
        folder.cpu = cpu
        folder.probes = probes
        pendingLock.withLock {
            pending.append(folder)
            // Sampling is on: the thread's timer now, not at the next drain (a thread may end
            // before that).
            if cpuArmsNewThreads { cpu.arm(folder) }
        }
    }

    // MARK: The background thread

    /// Starts the thread that drains the rings (once).
    func start() {
        lock.withLock {
            guard !started else { return }
            started = true
            var thread = pthread_t()
            // The aggregator lives as long as its recorder, and the shared one as long as the process.
            let me = Unmanaged.passRetained(self).toOpaque()
            let result = pthread_create(
                &thread,
                nil,
                { raw in
                    Unmanaged<Aggregator>.fromOpaque(raw!).takeUnretainedValue().run()
                    return nil
                },
                me
            )
            if result == 0 { pthread_detach(thread) } else { warn("could not start the aggregator thread (\(result))") }
        }
    }

    private func run() {
        // Named, or it shows its creator's name in top -H, perf and the threads endpoint.
        CPprof_setThreadName("swift-pprof")
        // What this thread allocates is counted, never sampled (see CPprof_memoryQuiet).
        CPprof_setMemoryQuiet(1)
        var schedule = DrainSchedule()
        while true {
            let (recording, fullest) = lock.withLock { () -> (Bool, Double) in
                // How full the fullest ring is before the drain empties it: the schedule keeps
                // it well below full at the rate it fills.
                var fullest = 0.0
                for folder in folders {
                    guard let state = folder.state else { continue }
                    let head = state.head.pointee.load(ordering: .relaxed)
                    let used = head &- state.tail.pointee.load(ordering: .relaxed)
                    fullest = max(fullest, Double(used) / Double(state.capacity))
                }
                drain()
                return (demand.isRecording, fullest)
            }
            // Drain as often as the busiest ring needs (see DrainSchedule); opening a window
            // cuts the sleep short, and when recording begins the schedule starts again from 1 ms.
            let sleep = schedule.next(fullest: fullest, now: CPprof_monotonicNanos(), recording: recording)
            wakeup.sleep(nanoseconds: sleep)
        }
    }

    /// Folds everything the rings hold now (tests and private recorders, which run no thread).
    func drainNow() {
        lock.withLock { drain() }
    }

    /// Folds everything the rings hold now. Call with `lock` held.
    private func drain() {
        pendingLock.withLock {
            if !pending.isEmpty {
                for folder in pending { folder.attach(to: tree) }
                folders.append(contentsOf: pending)
                pending.removeAll(keepingCapacity: true)
            }
        }
        // With sampled blocks to hand out: the heads first, then the table, then the fold up to
        // those heads, so that every allocations record folded finds its blocks queued.
        var heads: [Int]? = nil
        if CPprof_getSamplesTaken() != 0 {
            heads = folders.map { $0.state?.ring.published().head ?? 0 }
            sampledBlocks.collect(folders: folders, tree: tree)
        }
        var index = 0
        while index < folders.count {
            let folder = folders[index]
            guard let state = folder.state else {
                index += 1
                continue
            }
            let closed = state.closed.pointee.load(ordering: .acquiring) != 0
            // A closed ring is drained to its end: nothing is written to it any more.
            let head = closed ? nil : heads?[index]
            if folder.drain(into: tree, capture: timelines, upTo: head) != 0 {
                for window in windows { window.threadsSeen.insert(folder.threadID) }
            }
            if closed {
                retire(folder, state: state)
                folders.swapAt(index, folders.count - 1)
                folders.removeLast()
                if var moved = heads {
                    moved.swapAt(index, moved.count - 1)
                    moved.removeLast()
                    heads = moved
                }
            } else {
                index += 1
            }
        }
    }

    private func retire(_ folder: ThreadFolder, state: ThreadState) {
        // What it allocated after its last event, in the frame it ended in.
        folder.chargePendingSamplesAtThreadExit(tree: tree)
        folder.closeAllAtThreadExit(tree: tree)
        retired = retired + totals(of: folder)
        state.deallocate()
    }

    private func totals(of folder: ThreadFolder) -> Totals {
        var t = Totals()
        t.folded = folder.counts.folded
        t.implicitlyClosed = folder.counts.implicitlyClosed
        t.openAtThreadExit = folder.counts.openAtThreadExit
        if let state = folder.state {
            func read(_ c: ThreadState.Counter) -> UInt64 {
                UInt64(state.counter(c).pointee.load(ordering: .relaxed))
            }
            t.dropped = read(.dropped)
            t.staleExits = read(.staleExits)
            t.wrongThreadExits = read(.wrongThreadExits)
            t.enteredBeforeRecording = read(.enteredBeforeRecording)
            t.cpuSamplesDropped = folder.cpuSamplesDropped
        }
        t.cpuSamples = folder.counts.cpuSamples
        t.cpuOverruns = folder.counts.cpuOverruns
        return t
    }

    private func currentTotals() -> Totals {
        var t = folders.reduce(retired) { $0 + totals(of: $1) }
        t.wrongThreadExits &+= UInt64(threadlessWrongThreadExits.load(ordering: .relaxed))
        t.enteredBeforeRecording &+= UInt64(threadlessIdleExits.load(ordering: .relaxed))
        return t
    }

    /// Brings every folder's own time up to now, so that an edge falls exactly between events.
    /// Returns the clock reading used, or nil when recording reads no clock.
    @discardableResult
    private func splitAll() -> UInt64? {
        guard modeFlag >= ModeFlag.tsc else { return nil }
        let now = clock.now()
        for folder in folders { folder.split(at: now, tree: tree) }
        return now
    }

    // MARK: Demand

    /// Takes one hold of `kind` on recording; the recording flag follows at once. Returns the
    /// flag now in force.
    @discardableResult
    func hold(_ kind: Demand.Kind) -> UInt8 {
        lock.withLock {
            demand.hold(kind)
            applyDemand()
            wakeup.signal()
            return modeFlag
        }
    }

    /// Gives back one hold of `kind`.
    func release(_ kind: Demand.Kind) {
        lock.withLock {
            demand.release(kind)
            applyDemand()
        }
    }

    /// Writes the flag the demand asks for, even if unchanged: the shared recorder's start
    /// takes the flag from "uninitialised" to its first real value this way.
    func settleModeFlag() {
        lock.withLock {
            modeFlag = demand.flag(timedMode: clock.timedMode)
            if ownsModeFlag { CPprof_setMode(modeFlag) }
        }
    }

    /// Call with `lock` held.
    private func applyDemand() {
        let flag = demand.flag(timedMode: clock.timedMode)
        guard flag != modeFlag else { return }
        modeFlag = flag
        if ownsModeFlag { CPprof_setMode(flag) }
    }

    // MARK: Windows

    func open(mode: Profile.Mode) -> Window {
        lock.withLock {
            // Turn recording on first, then take the snapshot: what comes before it is outside.
            demand.hold(mode == .cprof ? .counting : .timed)
            applyDemand()
            drain()
            // cprof reads no clock and takes no CPU samples; fprof and eprof windows want them.
            if mode != .cprof {
                cpu.windowOpened(folders)
                pendingLock.withLock {
                    if cpu.armsNewThreads && !cpuArmsNewThreads {
                        cpuArmsNewThreads = true
                        for folder in pending { cpu.arm(folder) }
                    }
                }
            }
            let window = Window(
                mode: mode,
                startTicks: splitAll(),
                start: tree.snapshot(),
                startTotals: currentTotals()
            )
            windows.append(window)
            wakeup.signal()
            return window
        }
    }

    /// Closes `window` and returns its profile. With `closingOpenFrames`, frames still open are
    /// counted as calls too (a dump at exit).
    func close(_ window: Window, closingOpenFrames: Bool = false) -> Profile {
        lock.withLock {
            drain()
            let endTicks = splitAll()
            let endMonotonic = CPprof_monotonicNanos()
            var now = tree.snapshot()
            if closingOpenFrames {
                for folder in folders { for node in folder.openNodes { now[Int(node)].calls &+= 1 } }
            }
            var statistics = Profile.Statistics()
            let totals = currentTotals() - window.startTotals
            statistics.eventsRecorded = totals.folded
            statistics.eventsDropped = totals.dropped
            statistics.staleExits = totals.staleExits
            statistics.wrongThreadExits = totals.wrongThreadExits
            statistics.implicitlyClosed = totals.implicitlyClosed
            statistics.openAtThreadExit = totals.openAtThreadExit
            statistics.enteredBeforeRecording = totals.enteredBeforeRecording
            statistics.threads = window.threadsSeen.count
            statistics.clockSource = window.mode == .cprof ? "none" : clock.sourceName
            let nanosPerTick = clock.nanosecondsPerTick()
            // The window's length is the span between its two splits, the time its own times
            // cover; without a clock, the monotonic time between its opening and closing.
            let duration: UInt64
            if let start = window.startTicks, let end = endTicks, end > start {
                duration = UInt64((Double(end &- start) * nanosPerTick).rounded())
            } else {
                duration = endMonotonic &- window.startMonotonic
            }
            statistics.hookPairNanoseconds = hookPairTicks * nanosPerTick
            statistics.callTreeNodes = tree.count
            statistics.callTreeNodeLimit = tree.nodeLimit
            statistics.callTreeFull = tree.isFull
            statistics.asyncPathsRefused = paths.refused
            if window.mode != .cprof {
                statistics.cpuHz = cpu.isSampling ? cpu.hz : 0
                statistics.cpuSamples = totals.cpuSamples
                statistics.cpuOverruns = totals.cpuOverruns
                statistics.cpuSamplesDropped = totals.cpuSamplesDropped
                statistics.cpuUnavailable = cpu.unavailable ?? ""
                cpu.windowClosed(folders)
                pendingLock.withLock {
                    if !cpu.armsNewThreads && cpuArmsNewThreads {
                        cpuArmsNewThreads = false
                        for folder in pending { cpu.disarm(folder) }
                    }
                }
            }
            windows.removeAll { $0 === window }
            demand.release(window.mode == .cprof ? .counting : .timed)
            applyDemand()
            return ProfileBuilder.build(
                window: window,
                tree: tree,
                now: now,
                nanosPerTick: window.mode == .cprof ? 0 : nanosPerTick,
                durationNanoseconds: duration,
                statistics: statistics,
                functions: probes.functions(),
                labelSets: labels.all()
            )
        }
    }

    // MARK: Memory (PprofMemory)

    /// Folds everything the rings hold and charges what each thread allocated since its last
    /// record to the frame open now, so that every count and sampled block is in the tree. Call
    /// with `lock` held.
    private func chargeAllocationsNow() {
        drain()
        for folder in folders { folder.chargeAllocationsSinceLastRecord(tree: tree) }
    }

    /// Every node's measurements, with what threads without recorder state allocated added to
    /// `(no scope)`: a memory window's edge. Call with `lock` held, after `chargeAllocationsNow`.
    private func memorySnapshot() -> [Measurements] {
        let objects = CPprof_getUnscopedAllocObjects()
        let noScope = objects != 0 ? Int(tree.child(of: 0, probe: ProbeRegistry.noScopeProbe)) : nil
        var now = tree.snapshot()
        if let noScope {
            now[noScope].allocObjects &+= objects
            now[noScope].allocBytes &+= CPprof_getUnscopedAllocBytes()
        }
        return now
    }

    /// The start of a memory window (`seconds=N`): where the counts stood.
    func memoryBaseline() -> Window {
        lock.withLock {
            chargeAllocationsNow()
            return Window(mode: .fprof, startTicks: nil, start: memorySnapshot(), startTotals: currentTotals())
        }
    }

    /// The memory profile since `baseline` (nil: since the program started): exact allocations
    /// per call path over the span, and the sampled blocks in use now, each under its scope's
    /// node with its native frames as nodes below it, scaled as Go scales them.
    func memoryProfile(since baseline: Window?) -> MemoryProfile {
        // The blocks made to build it are counted, not sampled: they are gone when it returns,
        // and sampled here, under the lock the aggregator needs to take samples, they would fill
        // the table at a small rate.
        let quiet = CPprof_getMemoryQuiet()
        CPprof_setMemoryQuiet(1)
        defer { CPprof_setMemoryQuiet(quiet) }
        return lock.withLock {
            chargeAllocationsNow()
            let rate = Int(CPprof_getMemoryRate())
            // Each live block under its scope: its native frames (the innermost, up to the
            // scope's own function) as nodes below the scope's node.
            var inUse: [Int32: (objects: Double, bytes: Double)] = [:]
            // Per address: its probe, its function's symbol, and whether it is the recorder's
            // own frame (`Trace.scope` running the scope's body); per node: its function's.
            var frameOf: [UInt: (probe: UInt32, system: String, recorder: Bool)] = [:]
            var scopeSymbol: [Int32: String] = [:]
            var frames: [UInt32] = []
            SampledBlocks.forEachLive { blockNode, blockSize, blockFrames in
                var node = blockNode > 0 && Int(blockNode) < tree.count ? blockNode : 0
                if node == 0 { node = tree.child(of: 0, probe: ProbeRegistry.noScopeProbe) }
                let scope: String
                if let known = scopeSymbol[node] {
                    scope = known
                } else {
                    scope = probes.function(tree.probe(Int(node)))?.systemName ?? ""
                    scopeSymbol[node] = scope
                }
                frames.removeAll(keepingCapacity: true)
                for address in blockFrames.prefix(Self.nativeFramesKept) {
                    let frame: (probe: UInt32, system: String, recorder: Bool)
                    if let known = frameOf[address] {
                        frame = known
                    } else {
                        let probe = probes.intern(nativeFrame: address)
                        let system = probes.function(probe)?.systemName ?? ""
                        frame = (probe, system, system.contains("Pprof.Trace."))
                        frameOf[address] = frame
                    }
                    // Up to the scope's own function, or the recorder's frames that run it.
                    if frame.recorder || frame.system == scope { break }
                    frames.append(frame.probe)
                }
                for probe in frames.reversed() { node = tree.child(of: node, probe: probe) }
                // Go's scaleHeapSample: a block of `size` bytes is sampled with probability
                // 1 - exp(-size/rate).
                let size = Double(blockSize)
                let scale = rate > 1 && size > 0 ? 1 / (1 - exp(-size / Double(rate))) : 1
                let sum = inUse[node] ?? (0, 0)
                inUse[node] = (sum.objects + scale, sum.bytes + size * scale)
            }
            var now = memorySnapshot()
            for (node, value) in inUse {
                now[Int(node)].inuseObjects = UInt64(value.objects.rounded())
                now[Int(node)].inuseBytes = UInt64(value.bytes.rounded())
            }
            let window = baseline ?? Window(mode: .fprof, startTicks: nil, start: [], startTotals: Totals())
            let started = baseline?.startWallNanoseconds ?? Self.processStartWallNanoseconds
            let wallNow = CPprof_wallNanos()
            let duration = wallNow > started ? wallNow &- started : 1
            var statistics = Profile.Statistics()
            statistics.callTreeNodes = tree.count
            statistics.callTreeNodeLimit = tree.nodeLimit
            statistics.callTreeFull = tree.isFull
            let paths = ProfileBuilder.build(
                window: window,
                tree: tree,
                now: now,
                nanosPerTick: clock.nanosecondsPerTick(),
                durationNanoseconds: duration,
                statistics: statistics,
                functions: probes.functions(),
                labelSets: labels.all(),
                memory: true
            )
            return MemoryProfile(
                hooks: .current,
                rate: rate,
                startWallNanoseconds: started,
                durationNanoseconds: duration,
                samplesLost: CPprof_getSamplesLost(),
                paths: paths
            )
        }
    }

    /// Native frames kept below a scope when its own function is not found among them.
    static let nativeFramesKept = 12

    /// When the process started, from /proc/self/stat's start time (clock ticks since boot)
    /// and the boot time: what a cumulative memory profile covers.
    static let processStartWallNanoseconds: UInt64 = {
        let now = CPprof_wallNanos()
        guard let stat = readSmallFile("/proc/self/stat"), let close = stat.lastIndex(of: ")") else { return now }
        let fields = stat[stat.index(after: close)...].split(separator: " ")
        // Field 22 (starttime) is the 20th after the command's closing parenthesis.
        guard fields.count > 19, let ticks = UInt64(fields[19]) else { return now }
        var uptime = timespec()
        clock_gettime(CLOCK_BOOTTIME, &uptime)
        let sinceBoot = UInt64(uptime.tv_sec) * 1_000_000_000 + UInt64(uptime.tv_nsec)
        let started = ticks * 1_000_000_000 / UInt64(sysconf(Int32(_SC_CLK_TCK)))
        return sinceBoot > started ? now - (sinceBoot - started) : now
    }()

    // MARK: Timelines

    /// Opens a timeline window: it holds timed recording itself, and every event drained while
    /// it is open is also copied, up to `limit` events and `bytes` of a timeline in `format`;
    /// once a bound is reached the capture is cut and collects nothing more.
    func openTimeline(limit: Int, bytes: Int = .max, format: Timeline.Format = .perfetto) -> TimelineCapture {
        lock.withLock {
            demand.hold(.timed)
            applyDemand()
            // What the rings held before this point is outside the timeline.
            drain()
            let capture = TimelineCapture(
                limit: limit,
                bytes: bytes,
                format: format,
                startTicks: splitAll() ?? clock.now()
            )
            timelines.append(capture)
            wakeup.signal()
            return capture
        }
    }

    /// Closes a timeline window: everything recorded up to now is copied, then its hold ends.
    func closeTimeline(_ capture: TimelineCapture) -> Timeline {
        let endTicks: UInt64 = lock.withLock {
            drain()
            timelines.removeAll { $0 === capture }
            demand.release(.timed)
            applyDemand()
            return clock.now()
        }
        return Timeline(
            capture: capture,
            endTicks: endTicks,
            nanosPerTick: clock.nanosecondsPerTick(),
            functions: probes.functions(),
            paths: paths,
            labelSets: labels.all()
        )
    }

    /// Per live thread, after draining its ring: events folded and events dropped since it
    /// began, for the accounting tests (recorded + dropped = produced, per thread).
    func threadAccounts() -> [UInt32: (folded: UInt64, dropped: UInt64)] {
        lock.withLock {
            drain()
            var accounts: [UInt32: (folded: UInt64, dropped: UInt64)] = [:]
            for folder in folders {
                let t = totals(of: folder)
                accounts[folder.threadID] = (t.folded, t.dropped)
            }
            return accounts
        }
    }

    // MARK: Limits

    /// The most call paths the tree keeps (`PPROF_MAX_NODES`); see `CallTree`.
    var nodeLimit: Int {
        get { lock.withLock { tree.nodeLimit } }
        set { lock.withLock { tree.nodeLimit = newValue } }
    }

    /// The tree's nodes, its limit, and whether it is full, for the index page.
    var treeSize: (nodes: Int, limit: Int, full: Bool) { lock.withLock { (tree.count, tree.nodeLimit, tree.isFull) } }

    /// Bytes the call tree holds now.
    var treeBytes: Int { lock.withLock { tree.bytesAllocated } }

    // MARK: Thread tracking

    /// Whether thread tracking is on: at least one hold of `.tracking`.
    var isTracking: Bool { lock.withLock { demand.tracking > 0 } }

    /// Whether `setTrackingSwitch` holds tracking now.
    private var trackingSwitch = false
    /// Holds taken with `beginTracking()` and not yet ended.
    private var begun = 0

    /// Holds taken with `beginTracking()` and not yet ended (tests count them).
    var trackingBegun: Int { lock.withLock { begun } }

    /// Takes one hold on thread tracking (a server's, from `run()` or `start()` to its end).
    func beginTracking() {
        lock.withLock {
            begun += 1
            demand.hold(.tracking)
            applyDemand()
            wakeup.signal()
        }
    }

    /// Ends one `beginTracking()` hold; without one, nothing happens.
    func endTracking() {
        lock.withLock {
            guard begun > 0 else { return }
            begun -= 1
            demand.release(.tracking)
            applyDemand()
        }
    }

    /// Takes or gives back the one tracking hold of the on/off switch (`Threads.setTracking`).
    func setTrackingSwitch(_ on: Bool) {
        lock.withLock {
            guard on != trackingSwitch else { return }
            trackingSwitch = on
            if on { demand.hold(.tracking) } else { demand.release(.tracking) }
            applyDemand()
            wakeup.signal()
        }
    }

    /// One thread as the threads endpoint shows it.
    struct ThreadSnapshot {
        var id: UInt32
        /// The kernel's thread id.
        var kernelID: Int64
        var name: String
        /// Open scopes, outermost first: probe and nanoseconds open.
        var frames: [(probe: UInt32, openNanoseconds: UInt64)]
    }

    /// What every live thread is inside now: its rings drained first, so the stacks are as of
    /// this moment (give or take the events a thread writes while this runs).
    func threadSnapshots() -> [ThreadSnapshot] {
        lock.withLock {
            drain()
            let now = clock.now()
            let nanosPerTick = clock.nanosecondsPerTick()
            return folders.map { folder in
                ThreadSnapshot(
                    id: folder.threadID,
                    kernelID: folder.kernelID,
                    name: folder.name,
                    frames: folder.stack.map { frame in
                        let open = frame.start != 0 && now > frame.start ? Double(now &- frame.start) * nanosPerTick : 0
                        return (frame.probe, UInt64(open.rounded()))
                    }
                )
            }
        }
    }
}
