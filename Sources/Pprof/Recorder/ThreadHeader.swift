import CPprof
import Synchronization

/// The fixed part of a thread's recorder block, laid out by the compiler: producer-private
/// fields first, then one cache line for each field another thread touches, so that the
/// consumer's writes never invalidate the line the producer writes on every event.
///
/// ```
///  line  what                                                   written by     read by
///  ----  -----------------------------------------------------  -------------  ---------------
///     0  depth, seq, threadID, gapPending, contextPath, gapLow,  producer       producer
///        limit, mask, syncStart, syncParentFrame,
///        allocObjectsEmitted
///     1  head                Atomic<Int> (release)               producer       consumer (acquire)
///     2  tail, closed        Atomic<Int> (release)               consumer, exit producer (acquire)
///     3  counters: dropped, staleExits, wrongThreadExits,        producer       consumer (relaxed)
///        enteredBeforeRecording, allocObjects, allocBytes       (the latter two: PprofMemory's
///        (Atomic<Int> each)                                     malloc hooks, on this thread)
/// ```
///
/// `ThreadState` reads the plain fields through a typed pointer and the atomics at the offsets
/// `MemoryLayout.offset(of:)` gives; `ThreadHeaderTests` checks that each shared field starts a
/// line of its own and that the regions after the header do not overlap.
@frozen @usableFromInline
struct ThreadHeader {
    /// Open recorded scopes on this thread.
    @usableFromInline var depth: UInt32
    /// The count that identifies scopes when no clock is read (cprof).
    @usableFromInline var seq: UInt32
    /// The thread's serial number, never 0 (0 marks an idle token).
    @usableFromInline var threadID: UInt32
    /// Non-zero while events were dropped since the last one written (a marker must come first).
    @usableFromInline var gapPending: UInt32
    /// The context path last written to the ring (`ThreadState+Async`).
    @usableFromInline var contextPath: UInt32
    /// The shallowest depth the thread returned to while dropping.
    @usableFromInline var gapLow: UInt32
    /// `tail + capacity` as last read: the producer re-reads `tail` only when `head` reaches it.
    @usableFromInline var limit: Int
    /// `capacity - 1`.
    @usableFromInline var mask: Int
    /// When the open outermost sync scope began, for `syncParentFrame`.
    @usableFromInline var syncStart: UInt64
    /// The async frame the open outermost sync scope is nested in (retained), or 0.
    @usableFromInline var syncParentFrame: UInt
    /// The allocation count (`allocObjects`) last written to the ring in an allocations record.
    @usableFromInline var allocObjectsEmitted: UInt64
    @usableFromInline var headLine: CacheLine
    @usableFromInline var tailLine: CacheLine
    @usableFromInline var countersLine: CacheLine

    /// 64 bytes of storage for atomics, one line.
    @frozen @usableFromInline
    struct CacheLine {
        @usableFromInline var words: (UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64, UInt64)
    }

    @inlinable static var headOffset: Int { MemoryLayout<ThreadHeader>.offset(of: \ThreadHeader.headLine)! }
    @inlinable static var tailOffset: Int { MemoryLayout<ThreadHeader>.offset(of: \ThreadHeader.tailLine)! }
    /// `closed` follows `tail` on its line: both are written rarely, by others than the producer.
    @inlinable static var closedOffset: Int { tailOffset + 8 }
    @inlinable static var countersOffset: Int { MemoryLayout<ThreadHeader>.offset(of: \ThreadHeader.countersLine)! }

    // MARK: The regions after the header

    /// Depths below this have their scope's seq checked at exit; deeper ones only their depth.
    @inlinable static var trackedDepths: UInt32 { 1023 }
    @inlinable static var probeCacheSlots: Int { 256 }
    /// The open scopes, one word per recorded depth (see `ThreadState.openScope(at:)`).
    @inlinable static var openOffset: Int { MemoryLayout<ThreadHeader>.size }
    /// The probe cache: `probeCacheSlots` slots of (name, file, line, id) words.
    @inlinable static var probeCacheOffset: Int { openOffset + (Int(trackedDepths) + 1) * 8 }
    /// The CPU sample ring (`CPprof_CpuSamples`: the SIGPROF handler's line, the aggregator's
    /// line, the slots), from a line boundary.
    @inlinable static var cpuSamplesOffset: Int { (probeCacheOffset + probeCacheSlots * 4 * 8 + 63) & ~63 }
    /// The ring's events, from a page boundary.
    @inlinable static var eventsOffset: Int {
        (cpuSamplesOffset + MemoryLayout<CPprof_CpuSamples>.size + 4095) & ~4095
    }
}
