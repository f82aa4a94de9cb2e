import Synchronization

/// A view of one thread's ring of events: `capacity` (a power of two) events after the
/// thread's header, `head` published by the producer, `tail` by the consumer.
///
/// ```
///            tail (consumer, release)          head (producer, release)
///             v                                 v
///  events: [ . . . | e e e e e e e e e e e e e e | . . . . . . ]   index i lives at i & mask
///                    published, not yet folded     free: room up to tail + capacity
/// ```
///
/// The producer's side (`ThreadState.push`, `reserve`) keeps its cached limit and gap state in
/// the header; the consumer drains with `published()` and `consume(to:)`:
///
/// ```swift
/// let ring = state.ring
/// let (tail, head) = ring.published()
/// var reader = EventReader(ring, from: tail, to: head)
/// while let event = reader.next() { … }
/// ring.consume(to: head)
/// ```
@frozen @usableFromInline
struct EventRing {
    @usableFromInline let base: UnsafeMutableRawPointer
    @usableFromInline let mask: Int

    @inlinable @inline(__always)
    init(base: UnsafeMutableRawPointer, mask: Int) {
        self.base = base
        self.mask = mask
    }

    @inlinable var capacity: Int { mask &+ 1 }

    @inlinable var events: UnsafeMutablePointer<Event> {
        @inline(__always) get { (base + ThreadHeader.eventsOffset).assumingMemoryBound(to: Event.self) }
    }

    @inlinable var head: UnsafeMutablePointer<Atomic<Int>> {
        @inline(__always) get { (base + ThreadHeader.headOffset).assumingMemoryBound(to: Atomic<Int>.self) }
    }

    @inlinable var tail: UnsafeMutablePointer<Atomic<Int>> {
        @inline(__always) get { (base + ThreadHeader.tailOffset).assumingMemoryBound(to: Atomic<Int>.self) }
    }

    /// The consumer's view: what it has folded up to, and what the producer has published.
    func published() -> (tail: Int, head: Int) {
        let head = head.pointee.load(ordering: .acquiring)
        return (tail.pointee.load(ordering: .relaxed), head)
    }

    /// Frees the events before `index` for the producer.
    func consume(to index: Int) {
        tail.pointee.store(index, ordering: .releasing)
    }
}

/// What a two-event record in a ring says (`ThreadState.RecordKind`): decoded in one place for
/// the fold and the timeline.
enum Record: Equatable {
    /// The outermost sync scopes that follow run inside the task context with this path.
    case context(path: UInt32)
    /// An async frame with this path ended: `remainder` ticks of its wall time no nested frame
    /// accounts for; for timelines, its `start` and `wall` time (0 where unknown).
    case asyncFrame(path: UInt32, remainder: UInt64, start: UInt64, wall: UInt64)
    /// The thread's allocations so far, counted by PprofMemory's hooks, and their bytes.
    case allocations(objects: UInt64, bytes: UInt64)

    /// The record of `header` (an event whose `isRecord` is true) and its payload; nil for a
    /// kind this build does not know.
    init?(header: Event, payload: Event) {
        let path = UInt32(truncatingIfNeeded: header.word)
        switch ThreadState.RecordKind(rawValue: (header.word >> 32) & 0xFF) {
        case .context: self = .context(path: path)
        case .asyncFrame:
            self = .asyncFrame(path: path, remainder: payload.timestamp, start: header.timestamp, wall: payload.word)
        case .allocations: self = .allocations(objects: header.timestamp, bytes: payload.timestamp)
        case nil: return nil
        }
    }
}

/// Reads a run of a thread's events in order, a record's payload with its header: the one
/// reader of the event stream, used by the fold and the timeline capture.
///
/// ```swift
/// var reader = EventReader(ring, from: tail, to: head)
/// while let event = reader.next() {
///     if event.isRecord { let record = reader.record(event) … } else { … }
/// }
/// ```
struct EventReader {
    let events: UnsafePointer<Event>
    let mask: Int
    private(set) var index: Int
    let end: Int

    /// `events[i & mask]` for `i` in `start..<end`: a drained run of a ring, or (with a mask of
    /// all ones) a plain buffer.
    @inline(__always)
    init(events: UnsafePointer<Event>, mask: Int, from start: Int, to end: Int) {
        self.events = events
        self.mask = mask
        self.index = start
        self.end = end
    }

    init(_ ring: EventRing, from start: Int, to end: Int) {
        self.init(events: ring.events, mask: ring.mask, from: start, to: end)
    }

    @inline(__always)
    mutating func next() -> Event? {
        guard index != end else { return nil }
        let event = events[index & mask]
        index &+= 1
        return event
    }

    /// The payload of the record whose header `next()` just returned; nil if the run ends first
    /// (never for a drained ring: the producer publishes both events at once).
    @inline(__always)
    mutating func payload() -> Event? {
        next()
    }

    /// The record whose header `next()` just returned, its payload read too.
    mutating func record(_ header: Event) -> Record? {
        guard let payload = payload() else { return nil }
        return Record(header: header, payload: payload)
    }
}
