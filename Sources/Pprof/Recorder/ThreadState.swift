import CPprof
import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// The recorder state of one thread: a `ThreadHeader`, the open scopes, the probe cache, and
/// its single-producer single-consumer `EventRing`, in one `mmap`ed block.
///
/// ```
///  offset                         what                                   written by  read by
///  -----------------------------  -------------------------------------  ----------  --------
///  0                              ThreadHeader (4 lines: see there)
///  ThreadHeader.openOffset        open [UInt64 x 1024], per recorded      producer    producer
///                                 depth: low half the open scope's
///                                 identity, to reject stale tokens (its
///                                 timestamp's low bits; in cprof, `seq`);
///                                 high half the thread's idle depth when
///                                 it was entered (from depth 1023 on, one
///                                 shared, unchecked slot)
///  ThreadHeader.probeCacheOffset  probe cache [256 x (name, file, line,   producer    producer
///                                 id)]
///  ThreadHeader.cpuSamplesOffset  CPU samples (`CPprof_CpuSamples`): a     SIGPROF     consumer
///                                 ring of (timestamp, pc), its timer      handler
///  ThreadHeader.eventsOffset      events [Event x capacity]               producer    consumer
/// ```
///
/// The producer publishes each event with a release store of `head` (it alone writes it, so it
/// reads it back with a relaxed load); the consumer reads up to it with an acquire load and
/// frees space with a release store of `tail`. The producer refreshes its cached `limit` from
/// `tail` only when the ring looks full, so a recorded event costs two plain stores and one
/// release store (a plain `mov` on x86).
///
/// A full ring drops the event, counts it, and notes how shallow the thread went while
/// dropping; the first event kept afterwards is preceded by a marker carrying that depth (see
/// `Event`), so the aggregator knows exactly which of its open frames the gap touched.
@frozen @usableFromInline
struct ThreadState: @unchecked Sendable {
    @usableFromInline let base: UnsafeMutableRawPointer

    @inlinable @inline(__always)
    init(_ base: UnsafeMutableRawPointer) {
        self.base = base
    }

    // MARK: Allocation

    /// Maps a header and a ring of `capacity` events (a power of two); nil if mmap fails.
    static func allocate(capacity: Int, threadID: UInt32) -> ThreadState? {
        guard
            let mapped = mmap(
                nil,
                mappedBytes(capacity: capacity),
                PROT_READ | PROT_WRITE,
                MAP_PRIVATE | MAP_ANONYMOUS,
                -1,
                0
            ),
            mapped != MAP_FAILED
        else { return nil }
        mappedRings.add(1, ordering: .relaxed)
        let state = ThreadState(mapped)
        state.head.initialize(to: Atomic(0))
        state.tail.initialize(to: Atomic(0))
        state.closed.initialize(to: Atomic(0))
        for counter in Counter.allCases { state.counter(counter).initialize(to: Atomic(0)) }
        state.mask = capacity - 1
        state.limit = capacity
        state.threadID = threadID
        return state
    }

    static func mappedBytes(capacity: Int) -> Int {
        headerSize + capacity * MemoryLayout<Event>.stride
    }

    /// Unmaps the block; the state must not be used again.
    func deallocate() {
        // Its thread has ended, which disarmed the timer; the timer itself is the process's.
        CPprof_cpuTimerDelete(cpuSamples)
        releaseSyncParent()
        munmap(base, ThreadState.mappedBytes(capacity: capacity))
        ThreadState.mappedRings.subtract(1, ordering: .relaxed)
    }

    /// Thread states mapped now (tests check that ended threads give theirs back).
    static let mappedRings = Atomic<Int>(0)

    // MARK: Layout

    @inlinable static var headerSize: Int { ThreadHeader.eventsOffset }
    @inlinable static var trackedDepths: UInt32 { ThreadHeader.trackedDepths }

    @inlinable var header: UnsafeMutablePointer<ThreadHeader> {
        @inline(__always) get { base.assumingMemoryBound(to: ThreadHeader.self) }
    }

    // MARK: Producer-private fields (plain memory: only the owning thread touches them)

    @inlinable var depth: UInt32 {
        @inline(__always) get { header.pointee.depth }
        @inline(__always) nonmutating set { header.pointee.depth = newValue }
    }

    @inlinable var seq: UInt32 {
        @inline(__always) get { header.pointee.seq }
        @inline(__always) nonmutating set { header.pointee.seq = newValue }
    }

    /// The thread's serial number, never 0 (0 marks an idle token).
    @inlinable var threadID: UInt32 {
        @inline(__always) get { header.pointee.threadID }
        @inline(__always) nonmutating set { header.pointee.threadID = newValue }
    }

    /// Whether events were dropped since the last one written (a marker must come first).
    var gapPending: Bool {
        get { header.pointee.gapPending != 0 }
        nonmutating set { header.pointee.gapPending = newValue ? 1 : 0 }
    }

    /// The shallowest depth the thread returned to while dropping.
    var gapLow: UInt32 {
        get { header.pointee.gapLow }
        nonmutating set { header.pointee.gapLow = newValue }
    }

    @inlinable var limit: Int {
        @inline(__always) get { header.pointee.limit }
        @inline(__always) nonmutating set { header.pointee.limit = newValue }
    }

    @inlinable var mask: Int {
        @inline(__always) get { header.pointee.mask }
        @inline(__always) nonmutating set { header.pointee.mask = newValue }
    }

    @inlinable var capacity: Int { mask &+ 1 }

    // MARK: Shared fields (atomics)

    /// The ring, as the producer and the consumer see it.
    @inlinable var ring: EventRing {
        @inline(__always) get { EventRing(base: base, mask: mask) }
    }

    @inlinable var head: UnsafeMutablePointer<Atomic<Int>> {
        @inline(__always) get { (base + ThreadHeader.headOffset).assumingMemoryBound(to: Atomic<Int>.self) }
    }

    @inlinable var tail: UnsafeMutablePointer<Atomic<Int>> {
        @inline(__always) get { (base + ThreadHeader.tailOffset).assumingMemoryBound(to: Atomic<Int>.self) }
    }

    var closed: UnsafeMutablePointer<Atomic<Int>> {
        (base + ThreadHeader.closedOffset).assumingMemoryBound(to: Atomic<Int>.self)
    }

    /// Producer-written monotone counters, read by the aggregator.
    @usableFromInline
    enum Counter: Int, CaseIterable {
        case dropped = 0
        case staleExits, wrongThreadExits, enteredBeforeRecording
        /// Allocations on this thread and their requested bytes, counted by PprofMemory's hooks
        /// (at `CPPROF_HEADER_ALLOC_OFFSET`, which `ThreadHeaderTests` checks).
        case allocObjects, allocBytes
    }

    @inlinable @inline(__always)
    func counter(_ which: Counter) -> UnsafeMutablePointer<Atomic<Int>> {
        (base + ThreadHeader.countersOffset + 8 &* which.rawValue).assumingMemoryBound(to: Atomic<Int>.self)
    }

    /// Raises a counter. Only the owning thread writes it, so a load and a store suffice.
    @inlinable @inline(__always)
    func bump(_ which: Counter) {
        let c = counter(which)
        c.pointee.store(c.pointee.load(ordering: .relaxed) &+ 1, ordering: .relaxed)
    }

    /// The thread's CPU sample ring, which only its SIGPROF handler writes (see `CPprofCpu.h`);
    /// zero-filled by `mmap`: empty, no timer.
    var cpuSamples: UnsafeMutablePointer<CPprof_CpuSamples> {
        (base + ThreadHeader.cpuSamplesOffset).assumingMemoryBound(to: CPprof_CpuSamples.self)
    }

    @inlinable var events: UnsafeMutablePointer<Event> {
        @inline(__always) get { (base + ThreadHeader.eventsOffset).assumingMemoryBound(to: Event.self) }
    }

    @inlinable @inline(__always)
    func openScope(at depth: UInt32) -> UnsafeMutablePointer<UInt64> {
        (base + ThreadHeader.openOffset).assumingMemoryBound(to: UInt64.self)
            + Int(min(depth, ThreadState.trackedDepths))
    }

    // MARK: The ring

    /// Appends one event, or drops it (counted) when the ring is full.
    @inlinable @inline(__always)
    func push(timestamp: UInt64, word: UInt64) {
        let h = head.pointee.load(ordering: .relaxed)
        if _slowPath(h == limit) {
            pushSlow(timestamp: timestamp, word: word)
            return
        }
        events[h & mask] = Event(timestamp: timestamp, word: word)
        head.pointee.store(h &+ 1, ordering: .releasing)
    }

    /// The ring looked full, or a drop run is pending: re-read the consumer's tail, then write
    /// the marker and the event, or drop the event.
    @usableFromInline @inline(never)
    func pushSlow(timestamp: UInt64, word: UInt64) {
        guard let h = reserve(1, timestamp: timestamp) else {
            bump(.dropped)
            // An enter or an exit at depth d leaves every frame at depth d-1 and below untouched.
            let low = Event(timestamp: timestamp, word: word).depth &- 1
            gapLow = gapPending ? min(gapLow, low) : low
            gapPending = true
            limit = head.pointee.load(ordering: .relaxed)  // stay on this path until the marker is written
            return
        }
        events[h & mask] = Event(timestamp: timestamp, word: word)
        head.pointee.store(h &+ 1, ordering: .releasing)
    }

    /// Room for `count` events after the pending gap marker, if one is pending: writes the marker
    /// (dated `timestamp`) and returns the index at which the events go, to be published with
    /// one store of `head`; nil, writing nothing, when the ring has no room for all of it. The
    /// one place a marker is written.
    func reserve(_ count: Int, timestamp: UInt64) -> Int? {
        var h = head.pointee.load(ordering: .relaxed)
        let needed = gapPending ? count &+ 1 : count
        if limit &- h < needed { limit = tail.pointee.load(ordering: .acquiring) &+ capacity }
        guard limit &- h >= needed else { return nil }
        if gapPending {
            events[h & mask] = Event.marker(timestamp: timestamp, lowWater: gapLow)
            h &+= 1
            gapPending = false
        }
        return h
    }

    // MARK: Enter and exit

    @inlinable @inline(__always)
    func enter(probe: UInt32, mode: UInt8) -> Trace.Token {
        let d = depth &+ 1
        depth = d
        let ts = Clock.timestamp(mode)
        // (What follows the clock read is charged to this scope: a store and a compare or two.)
        // The scope's identity, to reject stale tokens: its timestamp, distinct for every enter of
        // a thread; without a clock (cprof), a count.
        var s = UInt32(truncatingIfNeeded: ts)
        if _slowPath(ts == 0) {
            s = seq &+ 1
            seq = s
        }
        // Scopes entered while nothing recorded, and still open, between the recorded parent
        // and this scope? Then it has callers the profile does not know: say so in the event.
        let idle = UInt32(bitPattern: CPprof_getIdleDepth())
        var word = Event.word(probe: probe, depth: d, exit: false)
        if _slowPath(UInt32(truncatingIfNeeded: openScope(at: d &- 1).pointee >> 32) != idle) {
            word |= Event.unrecordedCallersBit
        }
        openScope(at: d).pointee = UInt64(s) | UInt64(idle) << 32
        // Allocations since the last event were made in the frame open until now.
        if _slowPath(allocationsPending) {
            pushAllocations(timestamp: ts)
        }
        // The thread's outermost scope, while a task may be running it: hang it in the task's path.
        if _slowPath(d == 1 && (contextPath != 0 || CPprof_getTaskContextsSeen() != 0)) {
            enterFromTask(timestamp: ts)
        }
        push(timestamp: ts, word: word)
        return Trace.Token(probe: probe, depth: d, seq: s, thread: threadID)
    }

    @inlinable @inline(__always)
    func exit(_ token: Trace.Token, timestamp: UInt64) {
        guard _fastPath(threadID == token.thread) else {
            bump(.wrongThreadExits)
            return
        }
        let d = token.depth
        let open =
            d <= depth
            && (d >= ThreadState.trackedDepths || UInt32(truncatingIfNeeded: openScope(at: d).pointee) == token.seq)
        guard _fastPath(open) else {
            bump(.staleExits)
            return
        }
        // Scopes above d that are still open are closed by this exit; the aggregator counts them.
        depth = d &- 1
        if _slowPath(allocationsPending) {
            pushAllocations(timestamp: timestamp)
        }
        if _slowPath(d == 1 && syncParentFrame != 0) { exitToTask(timestamp: timestamp) }
        push(timestamp: timestamp, word: Event.word(probe: token.probe, depth: d, exit: true))
    }

    /// Whether PprofMemory's hooks counted allocations on this thread since the last
    /// allocations record: one load and a compare on every recorded event, false without them.
    @inlinable var allocationsPending: Bool {
        @inline(__always) get {
            UInt64(truncatingIfNeeded: counter(.allocObjects).pointee.load(ordering: .relaxed))
                != header.pointee.allocObjectsEmitted
        }
    }

    // MARK: Probe cache

    @inlinable @inline(__always)
    static func key(_ s: StaticString) -> UInt {
        s.hasPointerRepresentation ? UInt(bitPattern: s.utf8Start) : UInt(s.unicodeScalar.value) | (1 << 63)
    }

    @inlinable @inline(__always)
    func probeSlot(name: UInt, line: UInt) -> UnsafeMutablePointer<UInt> {
        let index = Int(truncatingIfNeeded: (name &>> 3) ^ (line &* 0x9E37_79B9)) & (ThreadHeader.probeCacheSlots - 1)
        return (base + ThreadHeader.probeCacheOffset).assumingMemoryBound(to: UInt.self) + index &* 4
    }

    /// The probe id of this call site: from this thread's cache, or interned on a miss.
    /// `function` (`#function`, or "" where unknown) only reaches the registration on a miss.
    @inlinable @inline(__always)
    func probe(_ name: StaticString, _ file: StaticString, _ line: UInt, function: StaticString = "") -> UInt32 {
        let n = ThreadState.key(name)
        let slot = probeSlot(name: n, line: line)
        if _fastPath(slot[0] == n && slot[2] == line && slot[1] == ThreadState.key(file)) {
            return UInt32(truncatingIfNeeded: slot[3])
        }
        return Recorder.probe(for: self, name, file, line, function)
    }

    func cache(probe: UInt32, _ name: StaticString, _ file: StaticString, _ line: UInt) {
        let n = ThreadState.key(name)
        let slot = probeSlot(name: n, line: line)
        slot[0] = n
        slot[1] = ThreadState.key(file)
        slot[2] = line
        slot[3] = UInt(probe)
    }
}
