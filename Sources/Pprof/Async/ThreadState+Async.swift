import CPprof

/// What a thread's ring carries for async code besides enters and exits: records, two events
/// each, that change no frame of the thread's stack.
///
/// - `context`: the outermost sync scopes that follow run inside the task context with this path
///   (0: no task context). Written before the first outermost sync scope after a change.
/// - `asyncFrame`: an async frame with this path ended; the payload is its remainder, the ticks
///   of its wall time that no nested frame of its task accounts for.
///
/// The header is `markerBit | exitBit | kind << 32 | path`; the payload event carries the value
/// in its timestamp field. For a timeline, an async frame's header also carries its start in its
/// timestamp field and its payload its wall time in its word (the fold reads neither). Both are
/// published by one store of `head`.
extension ThreadState {
    @usableFromInline
    enum RecordKind: UInt64 {
        case context = 1
        case asyncFrame = 2
        /// The thread's allocation count and bytes so far (cumulative, from PprofMemory's hooks):
        /// what was allocated since the previous such record was allocated in the frame open
        /// before the event that follows.
        case allocations = 3
    }

    /// The context path last written to this thread's ring; `unknownContext` after a context
    /// record was dropped, so that the next outermost scope writes one again.
    @inlinable var contextPath: UInt32 {
        @inline(__always) get { header.pointee.contextPath }
        @inline(__always) nonmutating set { header.pointee.contextPath = newValue }
    }

    static var unknownContext: UInt32 { .max }

    /// The async frame the open outermost sync scope is nested in (retained), or 0.
    @inlinable var syncParentFrame: UInt {
        @inline(__always) get { header.pointee.syncParentFrame }
        @inline(__always) nonmutating set { header.pointee.syncParentFrame = newValue }
    }

    /// When the open outermost sync scope began, for `syncParentFrame`.
    var syncStart: UInt64 {
        get { header.pointee.syncStart }
        nonmutating set { header.pointee.syncStart = newValue }
    }

    /// Appends a record, or drops it (counted as one dropped event) when the ring has no room.
    /// `timestamp` (the clock now, or 0 without one) dates the marker that must precede it if
    /// events were dropped just before.
    @discardableResult
    func pushRecord(
        _ kind: RecordKind,
        path: UInt32,
        payload: UInt64,
        timestamp: UInt64,
        start: UInt64 = 0,
        wall: UInt64 = 0
    ) -> Bool {
        guard let h = reserve(2, timestamp: timestamp) else {
            bump(.dropped)
            // A pending marker must still come before the next event: keep the hooks on the slow path.
            if gapPending { limit = head.pointee.load(ordering: .relaxed) }
            if kind == .context { contextPath = ThreadState.unknownContext }
            return false
        }
        events[h & mask] = Event(timestamp: start, word: Event.recordBits | kind.rawValue << 32 | UInt64(path))
        events[(h &+ 1) & mask] = Event(timestamp: payload, word: wall)
        head.pointee.store(h &+ 2, ordering: .releasing)
        if kind == .context { contextPath = path }
        return true
    }

    /// Writes the thread's allocation counts to the ring before the next event. Cumulative, so
    /// a dropped record loses nothing but where: the next one carries its allocations.
    @usableFromInline @inline(never)
    func pushAllocations(timestamp: UInt64) {
        let objects = UInt64(counter(.allocObjects).pointee.load(ordering: .relaxed))
        let bytes = UInt64(counter(.allocBytes).pointee.load(ordering: .relaxed))
        guard let h = reserve(2, timestamp: timestamp) else {
            bump(.dropped)
            if gapPending { limit = head.pointee.load(ordering: .relaxed) }
            return
        }
        events[h & mask] = Event(timestamp: objects, word: Event.recordBits | RecordKind.allocations.rawValue << 32)
        events[(h &+ 1) & mask] = Event(timestamp: bytes, word: 0)
        head.pointee.store(h &+ 2, ordering: .releasing)
        header.pointee.allocObjectsEmitted = objects
    }

    /// An outermost sync scope begins once task contexts exist (or this thread's last context
    /// was a task's): find the running task's context, say so in the ring if it
    /// changed, and remember the frame whose time this scope is part of.
    @usableFromInline @inline(never)
    func enterFromTask(timestamp: UInt64) {
        let context = CPprof_getTaskContextsSeen() != 0 ? AsyncContext.innermost() : AsyncContext.root
        if context.path != contextPath { pushRecord(.context, path: context.path, payload: 0, timestamp: timestamp) }
        releaseSyncParent()
        if let frame = context.frame, let owner = frame.owner, owner == CPprof_currentOwner() {
            syncParentFrame = UInt(bitPattern: Unmanaged.passRetained(frame).toOpaque())
            syncStart = timestamp
        }
    }

    /// The outermost sync scope that `enterFromTask` tied to a frame ends: its time is the frame's
    /// child time.
    @usableFromInline @inline(never)
    func exitToTask(timestamp: UInt64) {
        guard let raw = UnsafeRawPointer(bitPattern: syncParentFrame) else { return }
        let frame = Unmanaged<AsyncFrame>.fromOpaque(raw)
        let start = syncStart
        if start != 0 && timestamp > start { frame._withUnsafeGuaranteedRef { $0.childTicks &+= timestamp &- start } }
        frame.release()
        syncParentFrame = 0
    }

    func releaseSyncParent() {
        guard let raw = UnsafeRawPointer(bitPattern: syncParentFrame) else { return }
        Unmanaged<AsyncFrame>.fromOpaque(raw).release()
        syncParentFrame = 0
    }
}
