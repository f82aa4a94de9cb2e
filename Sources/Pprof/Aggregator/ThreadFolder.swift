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
        /// A one-entry cache of this frame's last child.
        var lastChildProbe: UInt32 = 0
        var lastChild: Int32 = -1

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
    }

    let threadID: UInt32
    /// The ring this folder drains; nil for a folder fed directly (tests, benchmarks).
    let state: ThreadState?

    // Only the aggregator's thread touches these, under its lock: no runtime exclusivity checks.
    @exclusivity(unchecked) private(set) var stack: [Frame] = []
    @exclusivity(unchecked) private var rootChildProbe: UInt32 = 0
    @exclusivity(unchecked) private var rootChild: Int32 = -1
    /// The timestamp up to which own time has been charged; 0 when unknown.
    @exclusivity(unchecked) private(set) var lastTime: UInt64 = 0
    @exclusivity(unchecked) private(set) var counts = Counts()

    init(threadID: UInt32, state: ThreadState? = nil) {
        self.threadID = threadID
        self.state = state
        stack.reserveCapacity(64)
    }

    // MARK: Folding

    func fold(_ event: Event, into tree: CallTree) {
        let ts = event.timestamp
        if ts != 0 {
            if ts > lastTime {
                if lastTime != 0, let top = stack.last { tree.own[Int(top.node)] &+= ts &- lastTime }
                lastTime = ts
            }
        } else {
            lastTime = 0
        }
        if _slowPath(event.isMarker) {
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

    /// Drains the folder's ring into `tree`; returns how many events it folded.
    @discardableResult
    func drain(into tree: CallTree) -> Int {
        guard let state else { return 0 }
        let head = state.head.pointee.load(ordering: .acquiring)
        var tail = state.tail.pointee.load(ordering: .relaxed)
        let start = tail
        let events = state.events
        let mask = state.mask
        while tail != head {
            fold(events[tail & mask], into: tree)
            tail &+= 1
        }
        if tail != start { state.tail.pointee.store(tail, ordering: .releasing) }
        return tail &- start
    }

    private func enter(depth d: UInt32, probe p: UInt32, underUnrecorded: Bool, tree: CallTree) {
        let parentDepth = stack.last?.depth ?? 0
        if _slowPath(parentDepth != d &- 1) { makeRoom(forEnterAt: d, tree: tree) }
        let node: Int32
        if _slowPath(underUnrecorded) {
            // Scopes entered while nothing recorded stand between the parent and this one.
            let unrecorded = tree.child(of: stack.last?.node ?? 0, probe: ProbeRegistry.enteredBeforeRecordingProbe)
            node = tree.child(of: unrecorded, probe: p)
        } else if let i = stack.indices.last {
            if stack[i].lastChildProbe == p {
                node = stack[i].lastChild
            } else {
                node = tree.child(of: stack[i].node, probe: p)
                stack[i].lastChildProbe = p
                stack[i].lastChild = node
            }
        } else if rootChildProbe == p {
            node = rootChild
        } else {
            node = tree.child(of: 0, probe: p)
            rootChildProbe = p
            rootChild = node
        }
        stack.append(Frame(node: node, depth: d, probe: p))
    }

    /// A gap ended: frames above `lowWater` were closed while events were dropped.
    private func closeFramesAbove(_ lowWater: UInt32, tree: CallTree) {
        while let top = stack.last, top.depth > lowWater {
            if top.isPlaceholder && top.placeholderLow <= lowWater {
                stack[stack.count - 1].depth = lowWater
                return
            }
            close(top, tree: tree)
        }
    }

    /// An enter at depth `d` that does not sit on the top of the stack: the first one after a
    /// gap, whose ancestors above the low-water mark were entered while events were dropped.
    private func makeRoom(forEnterAt d: UInt32, tree: CallTree) {
        closeFramesAbove(d &- 1, tree: tree)
        let parentDepth = stack.last?.depth ?? 0
        guard parentDepth < d &- 1 else { return }
        if let top = stack.last, top.isPlaceholder {
            stack[stack.count - 1].depth = d &- 1
            return
        }
        let node = tree.child(of: stack.last?.node ?? 0, probe: ProbeRegistry.droppedProbe)
        stack.append(
            Frame(node: node, depth: d &- 1, probe: ProbeRegistry.droppedProbe, placeholderLow: parentDepth &+ 1)
        )
    }

    private func exit(depth d: UInt32, probe p: UInt32, tree: CallTree) {
        // Frames above d are closed by this exit: the user exited an outer scope first.
        while let top = stack.last, top.depth > d {
            if top.isPlaceholder && top.placeholderLow <= d { break }
            if !top.isPlaceholder { counts.implicitlyClosed &+= 1 }
            close(top, tree: tree)
        }
        guard let top = stack.last else { return }
        if _fastPath(top.depth == d && top.probe == p && !top.isPlaceholder) {
            close(top, tree: tree)
        } else if top.isPlaceholder && top.placeholderLow <= d && d <= top.depth {
            // A frame entered in a gap ends: the placeholder shrinks to what is still open.
            if d == top.placeholderLow {
                stack.removeLast()
            } else {
                stack[stack.count - 1].depth = d &- 1
            }
        }
        // Otherwise the frame was entered in a gap below a placeholder-free stack: nothing to close.
    }

    private func close(_ frame: Frame, tree: CallTree) {
        stack.removeLast()
        if !frame.isPlaceholder { tree.calls[Int(frame.node)] &+= 1 }
    }

    // MARK: Window edges and thread exit

    /// Charges own time up to `time` to the frame on top, as if every open frame exited and
    /// re-entered at `time`.
    func split(at time: UInt64, tree: CallTree) {
        guard time > lastTime else { return }
        if lastTime != 0, let top = stack.last { tree.own[Int(top.node)] &+= time &- lastTime }
        lastTime = time
    }

    /// The thread has ended: its open frames close at its last event, each counted as a call.
    func closeAllAtThreadExit(tree: CallTree) {
        while let top = stack.last {
            if !top.isPlaceholder { counts.openAtThreadExit &+= 1 }
            close(top, tree: tree)
        }
    }

    /// The nodes of the frames open now, innermost last (placeholders excluded).
    var openNodes: [Int32] {
        stack.filter { !$0.isPlaceholder }.map(\.node)
    }
}
