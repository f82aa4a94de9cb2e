import CPprof

#if canImport(Glibc)
import Glibc
#endif

/// Reads the calling thread's recorder counters, for benchmarks that must show that no event was
/// dropped while they measured (a dropped event skips the ring write, so drops would flatter the
/// figures).
///
/// `Profile.statistics` is package-internal and the profile has no public accessor for it yet,
/// so this reads the producer's own counter from its state block, whose layout `ThreadState`
/// (Sources/Pprof/Recorder/ThreadState.swift) documents: `mask` at byte 32, the `dropped` counter
/// at byte 192. It refuses to answer (nil) if the block does not look as documented: the mask
/// must be the ring size that was asked for.
///
/// ```swift
/// let counters = RingCounters(ring: RingCounters.configure(events: 4_194_304))
/// let before = counters.dropped()
/// work()
/// let lost = counters.dropped()! - before!
/// ```
public struct RingCounters: Sendable {
    /// Events per thread's ring that the recorder was told to use.
    public let ring: Int

    public init(ring: Int) {
        self.ring = ring
    }

    /// Sets `PPROF_RING_EVENTS` unless the environment already does, and returns the value in force.
    /// Call it before the first hook or window: the recorder reads it once.
    public static func configure(events: Int) -> Int {
        setenv("PPROF_RING_EVENTS", String(events), 0)
        return getenv("PPROF_RING_EVENTS").flatMap { Int(String(cString: $0)) } ?? events
    }

    /// Events this thread has dropped since it first recorded (0 if it never did), or nil if the
    /// state block's layout is not the documented one.
    public func dropped() -> Int? {
        guard let base = CPprof_getThreadState() else { return 0 }
        guard base.load(fromByteOffset: 32, as: Int.self) == ring - 1 else { return nil }
        return base.load(fromByteOffset: 192, as: Int.self)
    }

    /// The recording flag now: 0 off, 1 counting, 2 recording with the TSC, 3 with CLOCK_MONOTONIC.
    public static var flag: UInt8 { CPprof_mode() }
}
