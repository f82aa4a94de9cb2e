import CPprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Drains every thread's ring on one background thread, folds the events into the call tree,
/// and opens and closes windows on it.
///
/// Everything here runs under `lock`, never on the hooks' path: the hooks only write their
/// rings, and a thread takes `pendingLock` once, when it registers.
final class Aggregator: @unchecked Sendable {
    static let shared = Aggregator()

    /// Monotone totals, for windows to subtract.
    struct Totals {
        var folded: UInt64 = 0
        var dropped: UInt64 = 0
        var staleExits: UInt64 = 0
        var wrongThreadExits: UInt64 = 0
        var implicitlyClosed: UInt64 = 0
        var openAtThreadExit: UInt64 = 0
        var enteredBeforeRecording: UInt64 = 0

        static func + (a: Totals, b: Totals) -> Totals {
            Totals(
                folded: a.folded &+ b.folded,
                dropped: a.dropped &+ b.dropped,
                staleExits: a.staleExits &+ b.staleExits,
                wrongThreadExits: a.wrongThreadExits &+ b.wrongThreadExits,
                implicitlyClosed: a.implicitlyClosed &+ b.implicitlyClosed,
                openAtThreadExit: a.openAtThreadExit &+ b.openAtThreadExit,
                enteredBeforeRecording: a.enteredBeforeRecording &+ b.enteredBeforeRecording
            )
        }

        static func - (a: Totals, b: Totals) -> Totals {
            Totals(
                folded: a.folded &- b.folded,
                dropped: a.dropped &- b.dropped,
                staleExits: a.staleExits &- b.staleExits,
                wrongThreadExits: a.wrongThreadExits &- b.wrongThreadExits,
                implicitlyClosed: a.implicitlyClosed &- b.implicitlyClosed,
                openAtThreadExit: a.openAtThreadExit &- b.openAtThreadExit,
                enteredBeforeRecording: a.enteredBeforeRecording &- b.enteredBeforeRecording
            )
        }
    }

    /// An open window: where its counters stood when it opened.
    final class Window: @unchecked Sendable {
        let mode: Profile.Mode
        let startWallNanoseconds: UInt64
        let startMonotonic: UInt64
        /// The clock reading at which the open frames were split, when recording was timed.
        let startTicks: UInt64?
        /// Every node's counters when it opened.
        let start: [CallTree.Counters]
        let startTotals: Totals
        var threadsSeen: Set<UInt32> = []

        init(mode: Profile.Mode, startTicks: UInt64?, start: [CallTree.Counters], startTotals: Totals) {
            self.mode = mode
            self.startWallNanoseconds = CPprof_wallNanos()
            self.startMonotonic = CPprof_monotonicNanos()
            self.startTicks = startTicks
            self.start = start
            self.startTotals = startTotals
        }
    }

    private let lock = Lock()
    private let pendingLock = Lock()
    private let wakeup = Wakeup()
    private var pending: [ThreadFolder] = []

    // Guarded by `lock`.
    private var folders: [ThreadFolder] = []
    private let tree = CallTree()
    private var retired = Totals()
    private var windows: [Window] = []
    /// Thread tracking (`PPROF_TRACK_THREADS`): recording stays on with no window open, so that
    /// the folders' stacks say what every thread is inside.
    private var tracking = false
    /// Timeline windows open now: each copies the events drained while it is open.
    private var timelines: [TimelineCapture] = []
    private var started = false

    /// Threads with a live ring, for the index page and tests.
    var liveThreads: Int { lock.withLock { folders.count + pendingLock.withLock { pending.count } } }

    /// Windows open now, for the index page.
    var openWindowCount: Int { lock.withLock { windows.count } }

    /// Totals since the process started (without a drain: what has been folded so far).
    var totalsNow: Totals { lock.withLock { currentTotals() } }

    // MARK: Threads

    func adopt(_ state: ThreadState, threadLabel: UInt32? = nil, name: String = "") {
        let folder = ThreadFolder(threadID: state.threadID, state: state, threadLabel: threadLabel, name: name)
        pendingLock.withLock { pending.append(folder) }
    }

    // MARK: The background thread

    func start() {
        lock.withLock {
            guard !started else { return }
            started = true
            var thread = pthread_t()
            let result = pthread_create(
                &thread,
                nil,
                { _ in
                    Aggregator.shared.run()
                    return nil
                },
                nil
            )
            if result == 0 { pthread_detach(thread) } else { warn("could not start the aggregator thread (\(result))") }
        }
    }

    private func run() {
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
                return (!windows.isEmpty || tracking, fullest)
            }
            // Drain as often as the busiest ring needs (see DrainSchedule); opening a window
            // cuts the sleep short, and when recording begins the schedule starts again from 1 ms.
            let sleep = schedule.next(fullest: fullest, now: CPprof_monotonicNanos(), recording: recording)
            wakeup.sleep(nanoseconds: sleep)
        }
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
        var index = 0
        while index < folders.count {
            let folder = folders[index]
            guard let state = folder.state else {
                index += 1
                continue
            }
            let closed = state.closed.pointee.load(ordering: .acquiring) != 0
            if folder.drain(into: tree, capture: timelines) != 0 {
                for window in windows { window.threadsSeen.insert(folder.threadID) }
            }
            if closed {
                retire(folder, state: state)
                folders.swapAt(index, folders.count - 1)
                folders.removeLast()
            } else {
                index += 1
            }
        }
    }

    private func retire(_ folder: ThreadFolder, state: ThreadState) {
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
        }
        return t
    }

    private func currentTotals() -> Totals {
        var t = folders.reduce(retired) { $0 + totals(of: $1) }
        t.wrongThreadExits &+= UInt64(Recorder.threadlessWrongThreadExits.load(ordering: .relaxed))
        t.enteredBeforeRecording &+= UInt64(Recorder.threadlessIdleExits.load(ordering: .relaxed))
        return t
    }

    /// Brings every folder's own time up to now, so that an edge falls exactly between events.
    /// Returns the clock reading used, or nil when recording reads no clock.
    @discardableResult
    private func splitAll() -> UInt64? {
        guard CPprof_mode() >= ModeFlag.tsc else { return nil }
        let now = Clock.now()
        for folder in folders { folder.split(at: now, tree: tree) }
        return now
    }

    /// The flag the hooks read: timed if any window needs time, counting if only cprof ones are
    /// open (with the one being opened, if any).
    private func updateModeFlag(opening: Profile.Mode? = nil) {
        let modes = windows.map(\.mode) + (opening.map { [$0] } ?? [])
        let flag: UInt8
        if tracking || modes.contains(where: { $0 != .cprof }) {
            flag = Clock.timedMode
        } else if !modes.isEmpty {
            flag = ModeFlag.counting
        } else {
            flag = ModeFlag.off
        }
        CPprof_setMode(flag)
    }

    // MARK: Windows

    func open(mode: Profile.Mode) -> Window {
        lock.withLock {
            // Turn recording on first, then take the snapshot: what comes before it is outside.
            updateModeFlag(opening: mode)
            drain()
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
            statistics.clockSource = window.mode == .cprof ? "none" : Clock.sourceName
            let nanosPerTick = Clock.nanosecondsPerTick()
            // The window's length is the span between its two splits, the time its own times
            // cover; without a clock, the monotonic time between its opening and closing.
            let duration: UInt64
            if let start = window.startTicks, let end = endTicks, end > start {
                duration = UInt64((Double(end &- start) * nanosPerTick).rounded())
            } else {
                duration = endMonotonic &- window.startMonotonic
            }
            statistics.hookPairNanoseconds = Calibration.pairTicks * nanosPerTick
            statistics.callTreeNodes = tree.count
            statistics.callTreeNodeLimit = tree.nodeLimit
            statistics.callTreeFull = tree.isFull
            statistics.asyncPathsRefused = CallPaths.shared.refused
            windows.removeAll { $0 === window }
            updateModeFlag()
            return ProfileBuilder.build(
                window: window,
                tree: tree,
                now: now,
                nanosPerTick: window.mode == .cprof ? 0 : nanosPerTick,
                durationNanoseconds: duration,
                statistics: statistics
            )
        }
    }

    // MARK: Timelines

    /// Opens a timeline window: a profile window (so that the hooks record, timed) whose drained
    /// events are also copied, up to `limit`.
    func openTimeline(limit: Int) -> (Window, TimelineCapture) {
        let window = open(mode: .fprof)
        return lock.withLock {
            // What the rings held before this point was drained by `open`.
            drain()
            let capture = TimelineCapture(limit: limit, startTicks: splitAll() ?? Clock.now())
            timelines.append(capture)
            return (window, capture)
        }
    }

    /// Closes a timeline window: everything recorded up to now is copied, then the window closes.
    func closeTimeline(_ window: Window, _ capture: TimelineCapture) -> Timeline {
        let endTicks: UInt64 = lock.withLock {
            drain()
            timelines.removeAll { $0 === capture }
            return Clock.now()
        }
        _ = close(window)
        return Timeline(capture: capture, endTicks: endTicks, nanosPerTick: Clock.nanosecondsPerTick())
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

    // MARK: Thread tracking

    /// Whether thread tracking is on.
    var isTracking: Bool { lock.withLock { tracking } }

    /// Turns thread tracking on or off. Scopes entered while it was off are not known to it.
    func setTracking(_ on: Bool) {
        lock.withLock {
            tracking = on
            updateModeFlag()
            wakeup.signal()
        }
    }

    /// One thread as the threads endpoint shows it.
    struct ThreadSnapshot {
        var id: UInt32
        var name: String
        /// Open scopes, outermost first: probe and nanoseconds open.
        var frames: [(probe: UInt32, openNanoseconds: UInt64)]
    }

    /// What every live thread is inside now: its rings drained first, so the stacks are as of
    /// this moment (give or take the events a thread writes while this runs).
    func threadSnapshots() -> [ThreadSnapshot] {
        lock.withLock {
            drain()
            let now = Clock.now()
            let nanosPerTick = Clock.nanosecondsPerTick()
            return folders.map { folder in
                ThreadSnapshot(
                    id: folder.threadID,
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
