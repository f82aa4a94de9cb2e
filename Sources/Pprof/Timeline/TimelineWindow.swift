/// An open timeline window: the hooks record, and every event drained while it is open is kept
/// (up to a limit) for a `Timeline`. What `/debug/pprof/trace` and `PPROF_TRACE_OUTPUT` use.
///
/// ```swift
/// let window = TimelineWindow.start(limit: 200_000)
/// work()
/// try window.stop().write(to: "trace.json")
/// ```
package final class TimelineWindow: @unchecked Sendable {
    /// Events a timeline keeps unless told otherwise: about 100 000 slices, 10 MB of JSON.
    package static let defaultLimit = 200_000

    private let lock = Lock()
    private let aggregator: Aggregator
    private var capture: TimelineCapture?  // guarded by `lock`
    private var result: Timeline?  // guarded by `lock`

    private init(_ capture: TimelineCapture, of aggregator: Aggregator) {
        self.capture = capture
        self.aggregator = aggregator
    }

    /// Starts recording a timeline of at most `limit` events.
    package static func start(limit: Int = defaultLimit) -> TimelineWindow {
        Recorder.initializeIfNeeded()
        return opened(limit: limit, on: Recorder.shared.aggregator)
    }

    /// As `start`, on `aggregator`: the recorder's own set-up (`PPROF_TRACE_OUTPUT`), which runs
    /// inside `initializeIfNeeded`, and private recorders.
    static func opened(limit: Int, on aggregator: Aggregator) -> TimelineWindow {
        TimelineWindow(aggregator.openTimeline(limit: limit), of: aggregator)
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
