/// One hook's record in a thread's ring: 16 bytes.
///
/// ```
///  0               8                                                              16
///  +---------------+---------------------------------------------------------------+
///  | timestamp     | probe (0-31) | depth (32-59) | exit (60) | marker (61) | unrec. (62) |
///  +---------------+---------------------------------------------------------------+
/// ```
///
/// `timestamp` is in the recorder's clock ticks (TSC or nanoseconds), 0 when no clock was read
/// (cprof). `depth` is the producer's count of open recorded scopes after an enter, or the depth
/// of the scope being closed by an exit: the aggregator resynchronises on it after drops. `gap`
/// says that the ring was full for one or more events just before this one.
@frozen @usableFromInline
struct Event: Sendable {
    @usableFromInline var timestamp: UInt64
    @usableFromInline var word: UInt64

    @inlinable @inline(__always)
    init(timestamp: UInt64, word: UInt64) {
        self.timestamp = timestamp
        self.word = word
    }

    @inlinable static var depthShift: UInt64 { 32 }
    @inlinable static var depthMask: UInt64 { 0x0FFF_FFFF }
    @inlinable static var exitBit: UInt64 { 1 << 60 }
    @inlinable static var markerBit: UInt64 { 1 << 61 }
    @inlinable static var unrecordedCallersBit: UInt64 { 1 << 62 }
    /// Both bits: the first of a two-event record (`ThreadState.RecordKind`), not a hook event.
    @inlinable static var recordBits: UInt64 { markerBit | exitBit }

    @inlinable @inline(__always)
    static func word(probe: UInt32, depth: UInt32, exit: Bool) -> UInt64 {
        UInt64(probe) | ((UInt64(depth) & depthMask) << depthShift) | (exit ? exitBit : 0)
    }

    var probe: UInt32 { UInt32(truncatingIfNeeded: word) }
    var depth: UInt32 { UInt32(truncatingIfNeeded: (word >> Event.depthShift) & Event.depthMask) }
    var isExit: Bool { word & Event.exitBit != 0 }
    var isMarker: Bool { word & Event.recordBits == Event.markerBit }
    var isRecord: Bool { word & Event.recordBits == Event.recordBits }
    var hasUnrecordedCallers: Bool { word & Event.unrecordedCallersBit != 0 }

    static func marker(timestamp: UInt64, lowWater: UInt32) -> Event {
        Event(timestamp: timestamp, word: markerBit | (UInt64(lowWater) & depthMask) << depthShift)
    }
}
