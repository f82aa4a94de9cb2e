import CPprof

/// The aggregator's view of one thread: a shadow stack of its open recorded frames, folding the
/// thread's events, in order, into the call tree, as fprof does.
///
/// Own time is charged incrementally: the time between two consecutive events of a thread goes
/// to the frame on top of its stack in between. So a frame's own time never includes its
/// children, and splitting every open frame at a window's edge is one subtraction per thread.
/// A call is counted when its frame closes.
///
/// Without dropped events the producer guarantees that every enter is one deeper than the top
/// of the stack and every exit closes a frame on it. Where events were dropped (the ring was
/// full), a marker carries the gap's low-water depth: open frames above it were closed in the
/// gap (each counted as a call, its time up to the marker), frames at or below it are the same
/// as before. Frames entered in the gap and still open are represented by one
/// `(events dropped)` placeholder frame, so no frame is ever hung on a parent it did not have.
final class ThreadFolder {
    struct Frame {
        var node: Int32
        /// The producer's depth of this frame; for a placeholder, the deepest level it covers.
        var depth: UInt32
        var probe: UInt32
        /// For a placeholder, the shallowest level it covers; 0 for a real frame.
        var placeholderLow: UInt32 = 0
        /// This frame's node's child table, as found when it was entered (see `CallTree.Found`).
        var table: CallTree.TableRef = .unknown
        /// This frame's last child.
        var lastChild = ChildCache()
        /// Own time charged to this frame and not yet added to its node: the node's counters
        /// are touched once, when the frame closes (or at a window's edge), not at every event
        /// under it. In a large tree each touch is a cache miss.
        var pendingOwn: UInt64 = 0
        /// When the frame was entered (its enter's timestamp; 0 without a clock), for the
        /// threads endpoint's "open for how long".
        var start: UInt64 = 0

        var isPlaceholder: Bool { placeholderLow != 0 }
    }

    /// Monotone counts the folder keeps (the producer keeps the others in its ring header).
    struct Counts {
        /// Hook events folded (markers excluded).
        var folded: UInt64 = 0
        /// Markers: runs of dropped events.
        var gaps: UInt64 = 0
        var implicitlyClosed: UInt64 = 0
        var openAtThreadExit: UInt64 = 0
        /// CPU samples charged to the tree, as timer periods (a signal stands for one, plus the
        /// timer's overruns).
        var cpuSamples: UInt64 = 0
        /// Periods that came with another's signal (the timer's overruns).
        var cpuOverruns: UInt64 = 0
    }

    let threadID: UInt32
    /// The ring this folder drains; nil for a folder fed directly (tests, benchmarks).
    let state: ThreadState?

    // Only the aggregator's thread touches these, under its lock. The stack is raw memory: it is
    // read and written on every event, and a Swift array would check its uniqueness each time.
    private var frames: UnsafeMutablePointer<Frame>
    private var frameCapacity = 64
    private(set) var depth = 0
    /// The last frame entered from the base.
    private var rootChild = ChildCache()
    /// The node the thread's outermost frames hang under: the root, or the path of the task
    /// context the ring last named (a `context` record).
    private(set) var base: Int32 = 0
    /// The timestamp up to which own time has been charged; 0 when unknown.
    private(set) var lastTime: UInt64 = 0
    private(set) var counts = Counts()

    /// The label-set probe of this thread's name (`PPROF_THREAD_LABELS`), whose node stands
    /// between a context and the thread's outermost frames; nil without thread labels.
    let threadLabel: UInt32?
    /// The thread's name when it registered, for timelines.
    let name: String
    /// The kernel's id of the thread (what `top -H`, gdb and `/proc/PID/task` show); 0 for a
    /// folder fed directly.
    let kernelID: Int64

    init(
        threadID: UInt32,
        state: ThreadState? = nil,
        threadLabel: UInt32? = nil,
        name: String = "",
        kernelID: Int64 = 0
    ) {
        self.kernelID = kernelID
        self.threadID = threadID
        self.state = state
        self.threadLabel = threadLabel
        self.name = name.isEmpty ? "thread \(threadID)" : name
        frames = .allocate(capacity: frameCapacity)
    }

    deinit {
        frames.deallocate()
    }

    /// Sets the base the thread starts from: the root, or its thread label's node under it.
    func attach(to tree: CallTree) {
        if let threadLabel {
            base = tree.child(of: 0, probe: threadLabel)
            labelBase = base
        }
    }

    /// The root, or the thread label's node under it: where what happens outside any scope
    /// (CPU samples) is charged, with the thread's label.
    private var labelBase: Int32 = 0

    /// The frames open now, outermost first (placeholders included).
    var stack: [Frame] { Array(UnsafeBufferPointer(start: frames, count: depth)) }

    @inline(__always) private var top: Frame? { depth > 0 ? frames[depth - 1] : nil }

    // MARK: Folding

    /// Folds one event (tests; the aggregator folds runs of them with `fold(ring:…)`).
    func fold(_ event: Event, into tree: CallTree) {
        withUnsafePointer(to: event) { fold(ring: $0, mask: 0, from: 0, to: 1, into: tree) }
    }

    /// Folds `events[i & mask]` for `i` in `start..<end`: a drained run of a ring, or (with a
    /// mask of all ones) a plain buffer.
    ///
    /// The loop is the aggregator's inner loop, so it keeps the folder's state (depth, last
    /// timestamp, the stack's memory, the tree's memory) in locals rather than in the objects:
    /// a field written by one event and read by the next costs a store-to-load round trip on
    /// every event. Only the usual enter and exit are handled here; anything else (a marker,
    /// a frame out of place, a new node) writes the locals back and takes the general path.
    func fold(ring events: UnsafePointer<Event>, mask: Int, from start: Int, to end: Int, into tree: CallTree) {
        var reader = EventReader(events: events, mask: mask, from: start, to: end)
        var depth = self.depth
        var lastTime = self.lastTime
        var folded = counts.folded
        var frames = self.frames
        var frameCapacity = self.frameCapacity
        var storage = tree.storage
        // The next CPU sample's timestamp: an event after it first charges it to the frame on
        // top, the frame open when it was taken.
        var nextSample = nextCPUSampleTime
        while let event = reader.next() {
            if _slowPath(event.isRecord) {
                // A record: no time passes with it, no frame moves.
                self.depth = depth
                counts.folded = folded
                if let record = reader.record(event) { fold(record, tree: tree) }
                folded = counts.folded
                storage = tree.storage
                continue
            }
            let ts = event.timestamp
            if ts != 0 {
                if _slowPath(ts > nextSample) {
                    self.depth = depth
                    chargeCPUSamples(before: ts, tree: tree)
                    nextSample = nextCPUSampleTime
                    storage = tree.storage
                }
                if ts > lastTime {
                    if lastTime != 0 && depth > 0 { frames[depth - 1].pendingOwn &+= ts &- lastTime }
                    lastTime = ts
                }
            } else {
                lastTime = 0
            }
            let word = event.word
            if _fastPath(word & (Event.markerBit | Event.unrecordedCallersBit) == 0) {
                let d = event.depth
                let p = event.probe
                if word & Event.exitBit != 0 {
                    // The usual exit: the frame on top, at its depth, with its probe.
                    if _fastPath(depth > 0) {
                        let frame = frames[depth - 1]
                        if _fastPath(frame.depth == d && frame.probe == p && !frame.isPlaceholder) {
                            depth -= 1
                            storage.counters[Int(frame.node)].calls &+= 1
                            storage.counters[Int(frame.node)].wall &+= frame.pendingOwn
                            folded &+= 1
                            continue
                        }
                    }
                } else if _fastPath(depth > 0 && depth < frameCapacity) {
                    // The usual enter: one deeper than the frame on top, its node known to the
                    // tree already.
                    let i = depth - 1
                    if _fastPath(frames[i].depth &+ 1 == d) {
                        if let found = frames[i].lastChild.child(
                            p,
                            of: frames[i].node,
                            table: frames[i].table,
                            in: storage
                        ) {
                            // The exit will add to this node's counters: in a large tree they are
                            // not in the cache, and the load can start now.
                            CPprof_prefetchForWrite(storage.counters + Int(found.node))
                            frames[depth] = Frame(node: found.node, depth: d, probe: p, table: found.table, start: ts)
                            depth += 1
                            folded &+= 1
                            continue
                        }
                    }
                } else if depth == 0 && d == 1 {
                    // A frame entered from the root: the root's children, cached or looked up.
                    if let found = rootChild.child(p, of: base, table: .unknown, in: storage) {
                        frames[0] = Frame(node: found.node, depth: 1, probe: p, table: found.table, start: ts)
                        depth = 1
                        folded &+= 1
                        continue
                    }
                }
            }
            // Anything else: through the objects, then back to the locals.
            self.depth = depth
            self.lastTime = lastTime
            counts.folded = folded
            foldStructure(event, tree: tree)
            depth = self.depth
            folded = counts.folded
            frames = self.frames
            frameCapacity = self.frameCapacity
            storage = tree.storage
        }
        self.depth = depth
        self.lastTime = lastTime
        counts.folded = folded
    }

    /// A record (its payload read with it): no time passes with it, no frame moves.
    @inline(never)
    private func fold(_ record: Record, tree: CallTree) {
        counts.folded &+= 1
        switch record {
        case .context(let path):
            var node = tree.node(forPath: path)
            if let threadLabel { node = tree.child(of: node, probe: threadLabel) }
            if node != base {
                base = node
                rootChild = ChildCache()
            }
        case .asyncFrame(let path, let remainder, _, _):
            let node = tree.node(forPath: path)
            tree.addCall(node, own: 0)
            if remainder != 0 { tree.addOwn(tree.child(of: node, probe: ProbeRegistry.suspendedProbe), remainder) }
        case .allocations(let objects, let bytes):
            chargeAllocations(objects: objects, bytes: bytes, tree: tree)
        }
    }

    // MARK: Allocations (PprofMemory)

    /// The thread's allocation count and bytes as of the last charge: the records are
    /// cumulative, so one that was dropped loses no count, only its place.
    private(set) var allocationsCharged = (objects: UInt64(0), bytes: UInt64(0))
    /// This thread's sampled blocks not charged to a node yet, by their place in its allocation
    /// count (`CPprof_Sample.seq`), in order from `pendingStart` on (the charged ones before it
    /// are dropped in bulk, so that charging is not a shift of the whole queue each time).
    private var pendingSamples: [(ticket: SampledBlocks.Ticket, seq: UInt64)] = []
    private var pendingStart = 0

    /// The frame allocations are charged to now: the innermost open frame, or `(no scope)`.
    private func allocationNode(tree: CallTree) -> Int32 {
        depth > 0 ? frames[depth - 1].node : tree.child(of: 0, probe: ProbeRegistry.noScopeProbe)
    }

    /// The thread had allocated `objects` blocks of `bytes` in all: what is new since the last
    /// charge was allocated in the frame open now, and so were the sampled blocks among them.
    private func chargeAllocations(objects: UInt64, bytes: UInt64, tree: CallTree) {
        guard objects > allocationsCharged.objects else { return }
        let node = allocationNode(tree: tree)
        tree.addAllocations(
            node,
            objects: objects &- allocationsCharged.objects,
            bytes: bytes &- allocationsCharged.bytes
        )
        allocationsCharged = (objects, bytes)
        while pendingStart < pendingSamples.count && pendingSamples[pendingStart].seq <= objects {
            pendingSamples[pendingStart].ticket.charge(to: node)
            pendingStart += 1
        }
        if pendingStart == pendingSamples.count {
            pendingSamples.removeAll(keepingCapacity: pendingSamples.count < 4096)
            pendingStart = 0
        } else if pendingStart > 1024 && pendingStart * 2 > pendingSamples.count {
            pendingSamples.removeFirst(pendingStart)
            pendingStart = 0
        }
    }

    /// Sampled blocks of this thread (its ticket, and its place in the thread's allocation count),
    /// found in the table in any order: kept in order here.
    func addPendingSamples(_ samples: [(ticket: SampledBlocks.Ticket, seq: UInt64)], tree: CallTree) {
        for sample in samples where sample.seq <= allocationsCharged.objects {
            // Its record was folded already (only possible when the table raced the record):
            // the frame it was made in is no longer known exactly; the one open now stands in.
            sample.ticket.charge(to: allocationNode(tree: tree))
        }
        // The table hands a thread's blocks over newest first (a stack), after those of earlier
        // drains: reversed, they continue the queue in order, and a sort is needed only if not.
        let start = pendingSamples.count
        pendingSamples.append(contentsOf: samples.reversed().lazy.filter { $0.seq > self.allocationsCharged.objects })
        var ordered = true
        var i = max(start, pendingStart + 1)
        while ordered && i < pendingSamples.count {
            ordered = pendingSamples[i - 1].seq < pendingSamples[i].seq
            i += 1
        }
        if !ordered { pendingSamples[pendingStart...].sort { $0.seq < $1.seq } }
    }

    /// Charges what the thread allocated since its last record to the frame open now: for a
    /// memory profile taken while the thread is inside a scope, and at thread exit. Reads the
    /// producer's counters (relaxed: a count a moment old is charged at the next record).
    func chargeAllocationsSinceLastRecord(tree: CallTree) {
        guard let state else { return }
        let objects = UInt64(truncatingIfNeeded: state.counter(.allocObjects).pointee.load(ordering: .relaxed))
        let bytes = UInt64(truncatingIfNeeded: state.counter(.allocBytes).pointee.load(ordering: .relaxed))
        chargeAllocations(objects: objects, bytes: bytes, tree: tree)
    }

    /// The thread has ended: its sampled blocks still waiting go to the frame it ended in.
    func chargePendingSamplesAtThreadExit(tree: CallTree) {
        chargeAllocationsSinceLastRecord(tree: tree)
        let node = allocationNode(tree: tree)
        for sample in pendingSamples[pendingStart...] { sample.ticket.charge(to: node) }
        pendingSamples.removeAll()
        pendingStart = 0
    }

    /// What an event does to the stack and the tree, its time already charged: every case.
    @inline(never)
    private func foldStructure(_ event: Event, tree: CallTree) {
        if event.isMarker {
            counts.gaps &+= 1
            closeFramesAbove(event.depth, tree: tree)
            return
        }
        counts.folded &+= 1
        if event.isExit {
            exit(depth: event.depth, probe: event.probe, tree: tree)
        } else {
            enter(depth: event.depth, probe: event.probe, underUnrecorded: event.hasUnrecordedCallers, tree: tree)
        }
    }

    /// Drains the folder's ring into `tree` (up to `publishedHead`, a head read before, if
    /// given); returns how many events it folded.
    ///
    /// The CPU samples are read first, then the events' head: every sample read was taken before
    /// the events read were published, so each is charged between the two events around it, or
    /// after the last one, to the frame open now. (A sample that interrupted a hook between its
    /// clock read and its store of `head` may be charged one frame off.)
    @discardableResult
    func drain(into tree: CallTree, capture: [TimelineCapture] = [], upTo publishedHead: Int? = nil) -> Int {
        guard let state else { return 0 }
        readCPUSamples(state)
        let ring = state.ring
        var (tail, head) = ring.published()
        if let publishedHead { head = publishedHead }
        if head != tail {
            for timeline in capture {
                timeline.append(
                    thread: threadID,
                    name: name,
                    kernelID: kernelID,
                    EventReader(ring, from: tail, to: head)
                )
            }
            fold(ring: ring.events, mask: ring.mask, from: tail, to: head, into: tree)
            ring.consume(to: head)
        }
        // Samples after the last event: the frame open now was open when they were taken.
        chargeCPUSamples(before: .max, tree: tree)
        return head &- tail
    }

    // MARK: CPU samples

    /// Charges CPU samples (set by the aggregator; nil: samples are left in the ring).
    var cpu: CPUSampling?
    /// The probes, to name the functions samples interrupted.
    var probes: ProbeRegistry?
    /// Samples read from the ring and not charged yet, in time order, from `cpuNext` on.
    private var cpuPending: [CPprof_CpuSample] = []
    private var cpuNext = 0

    /// When the next uncharged sample was taken, or `.max` without one.
    private var nextCPUSampleTime: UInt64 {
        cpuNext < cpuPending.count ? cpuPending[cpuNext].timestamp : .max
    }

    /// Samples dropped because the thread's sample ring was full (the handler counts them).
    var cpuSamplesDropped: UInt64 {
        state.map { CPprof_cpuDropped($0.cpuSamples) } ?? 0
    }

    /// Takes what the thread's sample ring holds into `cpuPending`.
    private func readCPUSamples(_ state: ThreadState) {
        guard cpu != nil else { return }
        let region = state.cpuSamples
        let head = CPprof_cpuHead(region)
        var tail = region.pointee.tail
        guard head != tail else { return }
        if cpuNext == cpuPending.count {
            cpuPending.removeAll(keepingCapacity: true)
            cpuNext = 0
        }
        while tail != head {
            cpuPending.append(CPprof_cpuSlot(region, tail).pointee)
            tail &+= 1
        }
        CPprof_cpuConsume(region, tail)
    }

    /// Charges the samples taken before `time` to the frame on top now (or `(no scope)` below
    /// the root), each with the function it interrupted below it.
    private func chargeCPUSamples(before time: UInt64, tree: CallTree) {
        guard let cpu, let probes, cpuNext < cpuPending.count else { return }
        let node = depth > 0 ? frames[depth - 1].node : tree.child(of: labelBase, probe: ProbeRegistry.noScopeProbe)
        while cpuNext < cpuPending.count && cpuPending[cpuNext].timestamp < time {
            let sample = cpuPending[cpuNext]
            let periods = max(sample.periods, 1)
            cpu.charge(pc: UInt(sample.pc), periods: periods, to: node, tree: tree, probes: probes)
            counts.cpuSamples &+= periods
            counts.cpuOverruns &+= periods &- 1
            cpuNext += 1
        }
    }

    private func push(_ frame: Frame) {
        if depth == frameCapacity {
            let newFrames = UnsafeMutablePointer<Frame>.allocate(capacity: frameCapacity * 2)
            newFrames.moveInitialize(from: frames, count: depth)
            frames.deallocate()
            frames = newFrames
            frameCapacity *= 2
        }
        frames[depth] = frame
        depth += 1
    }

    @inline(never)
    private func enter(depth d: UInt32, probe p: UInt32, underUnrecorded: Bool, tree: CallTree) {
        let parentDepth = top?.depth ?? 0
        if parentDepth != d &- 1 { makeRoom(forEnterAt: d, tree: tree) }
        let found: CallTree.Found
        if underUnrecorded {
            // Scopes entered while nothing recorded stand between the parent and this one.
            let unrecorded = tree.child(of: top?.node ?? base, probe: ProbeRegistry.enteredBeforeRecordingProbe)
            found = tree.child(of: unrecorded, table: .unknown, probe: p)
        } else if depth > 0 {
            let i = depth - 1
            found = frames[i].lastChild.child(p, of: frames[i].node, table: frames[i].table, in: tree)
        } else {
            found = rootChild.child(p, of: base, table: .unknown, in: tree)
        }
        push(Frame(node: found.node, depth: d, probe: p, table: found.table, start: lastTime))
    }

    /// A gap ended: frames above `lowWater` were closed while events were dropped.
    private func closeFramesAbove(_ lowWater: UInt32, tree: CallTree) {
        while let top, top.depth > lowWater {
            if top.isPlaceholder && top.placeholderLow <= lowWater {
                frames[depth - 1].depth = lowWater
                return
            }
            close(top, tree: tree)
        }
    }

    /// An enter at depth `d` that does not sit on the top of the stack: the first one after a
    /// gap, whose ancestors above the low-water mark were entered while events were dropped.
    private func makeRoom(forEnterAt d: UInt32, tree: CallTree) {
        closeFramesAbove(d &- 1, tree: tree)
        let parentDepth = top?.depth ?? 0
        guard parentDepth < d &- 1 else { return }
        if let top, top.isPlaceholder {
            frames[depth - 1].depth = d &- 1
            return
        }
        let node = tree.child(of: top?.node ?? base, probe: ProbeRegistry.droppedProbe)
        push(
            Frame(
                node: node,
                depth: d &- 1,
                probe: ProbeRegistry.droppedProbe,
                placeholderLow: parentDepth &+ 1,
                start: lastTime
            )
        )
    }

    @inline(never)
    private func exit(depth d: UInt32, probe p: UInt32, tree: CallTree) {
        // Frames above d are closed by this exit: the user exited an outer scope first.
        while let top, top.depth > d {
            if top.isPlaceholder && top.placeholderLow <= d { break }
            if !top.isPlaceholder { counts.implicitlyClosed &+= 1 }
            close(top, tree: tree)
        }
        guard let top else { return }
        if top.depth == d && top.probe == p && !top.isPlaceholder {
            close(top, tree: tree)
        } else if top.isPlaceholder && top.placeholderLow <= d && d <= top.depth {
            // A frame entered in a gap ends: the placeholder shrinks to what is still open.
            if d == top.placeholderLow {
                depth -= 1
                tree.addOwn(top.node, top.pendingOwn)
            } else {
                frames[depth - 1].depth = d &- 1
            }
        }
        // Otherwise the frame was entered in a gap below a placeholder-free stack: nothing to close.
    }

    private func close(_ frame: Frame, tree: CallTree) {
        depth -= 1
        if frame.isPlaceholder {
            tree.addOwn(frame.node, frame.pendingOwn)
        } else {
            tree.addCall(frame.node, own: frame.pendingOwn)
        }
    }

    // MARK: Window edges and thread exit

    /// Charges own time up to `time` to the frame on top, as if every open frame exited and
    /// re-entered at `time`.
    func split(at time: UInt64, tree: CallTree) {
        if time > lastTime {
            if lastTime != 0 && depth > 0 { frames[depth - 1].pendingOwn &+= time &- lastTime }
            lastTime = time
        }
        flushPendingOwn(tree: tree)
    }

    /// Adds every open frame's pending own time to its node, so that the tree's counters hold
    /// all own time up to the last event or split.
    func flushPendingOwn(tree: CallTree) {
        for i in 0..<depth where frames[i].pendingOwn != 0 {
            tree.addOwn(frames[i].node, frames[i].pendingOwn)
            frames[i].pendingOwn = 0
        }
    }

    /// The thread has ended: its open frames close at its last event, each counted as a call.
    func closeAllAtThreadExit(tree: CallTree) {
        while let top {
            if !top.isPlaceholder { counts.openAtThreadExit &+= 1 }
            close(top, tree: tree)
        }
    }

    /// The nodes of the frames open now, innermost last (placeholders excluded).
    var openNodes: [Int32] {
        stack.filter { !$0.isPlaceholder }.map(\.node)
    }
}

/// A one-entry cache of a node's last child: most enters under a frame repeat its previous
/// child, so the common enter reads one probe instead of the tree.
struct ChildCache {
    var probe: UInt32 = 0
    var node: Int32 = -1
    var table: CallTree.TableRef = .unknown

    /// The child of `parent` (whose table is `parentTable`) for probe `p`: cached, or looked up
    /// in `storage` and cached; nil if the tree does not have it yet (the caller adds it).
    @inline(__always)
    mutating func child(
        _ p: UInt32,
        of parent: Int32,
        table parentTable: CallTree.TableRef,
        in storage: CallTree.Storage
    ) -> CallTree.Found? {
        if probe == p { return CallTree.Found(node: node, table: table) }
        guard let found = storage.child(of: parent, table: parentTable, probe: p) else { return nil }
        remember(p, found)
        return found
    }

    /// As `child(_:of:table:in:)`, adding the child to `tree` if it is new.
    mutating func child(
        _ p: UInt32,
        of parent: Int32,
        table parentTable: CallTree.TableRef,
        in tree: CallTree
    )
        -> CallTree.Found
    {
        if probe == p { return CallTree.Found(node: node, table: table) }
        let found = tree.child(of: parent, table: parentTable, probe: p)
        remember(p, found)
        return found
    }

    @inline(__always)
    private mutating func remember(_ p: UInt32, _ found: CallTree.Found) {
        probe = p
        node = found.node
        table = found.table
    }
}
