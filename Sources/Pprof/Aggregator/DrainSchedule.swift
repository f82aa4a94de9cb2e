/// How long the aggregator sleeps between two drains: long enough that a drain is rare where
/// threads record little, short enough that the busiest ring never comes near full.
///
/// A fixed 1 ms while recording cost both ways. A service recording a few hundred thousand
/// events a second per thread had its cores interrupted a thousand times a second to fold a few
/// hundred events each time: the aggregator's wake-ups, not its folding, were most of what a
/// window cost pprof-demo (BENCHMARKS.md, "What a window costs a service"). A thread recording
/// flat out (80 M events/s) fills a default ring in 1.6 ms, and a drain that sleeps 1 ms after a
/// fold of 0.5 ms let it fill: 10-20 % of its events were dropped.
///
/// So the sleep follows the fullest ring: after each drain, the time the busiest thread would
/// take at its last rate to fill `targetFill` of its ring, between `shortest` and `longest`; it
/// at most doubles from one drain to the next, so a thread that speeds up is caught while its
/// ring is still mostly free. When recording begins (the first window opens) it starts again
/// from `initial`.
///
/// ```swift
/// var schedule = DrainSchedule()
/// let sleep = schedule.next(fullest: 0.02, now: CPprof_monotonicNanos(), recording: true)
/// wakeup.sleep(nanoseconds: sleep)
/// ```
struct DrainSchedule {
    /// The sleep when recording starts, before any rate is known (the old fixed period).
    static let initial = 1_000_000
    /// The shortest sleep: at 80 M events/s, 8 000 events, folded in about 50 µs.
    static let shortest = 100_000
    /// The longest sleep while recording: 100 wake-ups a second at most, so that a thread that
    /// goes from quiet to flat out loses at most this long's events before the schedule follows.
    static let longest = 10_000_000
    /// The sleep while nothing records: only to free the rings of threads that ended.
    static let idle = 20_000_000
    /// The share of its ring the busiest thread should fill between two drains.
    static let targetFill = 0.125

    private(set) var sleep = DrainSchedule.initial
    private var lastDrain: UInt64 = 0
    private var wasRecording = false

    init() {}

    /// The sleep before the next drain. `fullest` is the largest share of its ring that any
    /// thread had filled when this drain began; `now` is when it began (monotonic ns).
    mutating func next(fullest: Double, now: UInt64, recording: Bool) -> Int {
        defer {
            lastDrain = now
            wasRecording = recording
        }
        guard recording else {
            sleep = DrainSchedule.initial
            return DrainSchedule.idle
        }
        guard wasRecording, lastDrain != 0, now > lastDrain else {
            sleep = DrainSchedule.initial
            return sleep
        }
        let elapsed = Double(now &- lastDrain)
        // The time the busiest ring takes to fill the target share at the rate it just had.
        let wanted = fullest > 0 ? elapsed * DrainSchedule.targetFill / fullest : Double(DrainSchedule.longest)
        let bounded = min(wanted, Double(sleep) * 2, Double(DrainSchedule.longest))
        sleep = max(DrainSchedule.shortest, Int(bounded))
        return sleep
    }
}
