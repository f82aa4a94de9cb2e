/// An open timeline window: the hooks record, and every event drained while it is open is kept
/// (up to a bound in bytes) for a `Timeline`. What `/debug/pprof/trace` and `PPROF_TRACE_OUTPUT`
/// use.
///
/// ```swift
/// let window = TimelineWindow.start(bytes: 16 << 20)
/// work()
/// try window.stop().write(to: "trace.pftrace")
/// ```
package final class TimelineWindow: @unchecked Sendable {
    /// No bound on events: timelines are bounded by bytes.
    package static let defaultLimit = 1 << 30
    /// Bytes a timeline's events take at most unless told otherwise: 64 MiB, about 5 million
    /// events in Perfetto's format (a minute of a busy server), 1 million in JSON.
    package static let defaultBytes = 64 << 20

    private let lock = Lock()
    private let aggregator: Aggregator
    private var capture: TimelineCapture?  // guarded by `lock`
    private var result: Timeline?  // guarded by `lock`

    private init(_ capture: TimelineCapture, of aggregator: Aggregator) {
        self.capture = capture
        self.aggregator = aggregator
    }

    /// Starts recording a timeline of at most `limit` events and `bytes` bytes in `format`
    /// (the format it will be written in, which the bound's estimate is for).
    package static func start(
        limit: Int = defaultLimit,
        bytes: Int = defaultBytes,
        format: Timeline.Format = .perfetto
    ) -> TimelineWindow {
        Recorder.initializeIfNeeded()
        return opened(limit: limit, bytes: bytes, format: format, on: Recorder.shared.aggregator)
    }

    /// As `start`, on `aggregator`: the recorder's own set-up (`PPROF_TRACE_OUTPUT`), which runs
    /// inside `initializeIfNeeded`, and private recorders.
    static func opened(
        limit: Int,
        bytes: Int = defaultBytes,
        format: Timeline.Format = .perfetto,
        on aggregator: Aggregator
    ) -> TimelineWindow {
        TimelineWindow(aggregator.openTimeline(limit: limit, bytes: bytes, format: format), of: aggregator)
    }

    /// Stops it and returns the timeline; a second call returns the same one.
    package func stop() -> Timeline {
        lock.withLock {
            if let result { return result }
            let timeline = aggregator.closeTimeline(capture!)
            capture = nil
            result = timeline
            return timeline
        }
    }

    deinit {
        _ = stop()
    }
}
