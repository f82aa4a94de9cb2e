/// The events a timeline window copied from the threads' rings as the aggregator drained them,
/// up to a limit: beyond it, events are counted, not kept, and the timeline says it was cut.
///
/// Only the aggregator's thread appends, under its lock; `Timeline` reads it once the window
/// has closed.
///
/// ```swift
/// let aggregator = Recorder.shared.aggregator
/// let capture = aggregator.openTimeline(limit: 100_000)
/// // … the program runs …
/// let timeline = aggregator.closeTimeline(capture)
/// ```
final class TimelineCapture: @unchecked Sendable {
    struct Entry {
        var thread: UInt32
        var event: Event
    }

    let limit: Int
    let startTicks: UInt64
    private(set) var entries: [Entry] = []
    /// Events drained after the limit was reached.
    private(set) var notKept: UInt64 = 0
    /// The first timestamp not kept, where the timeline was cut.
    private(set) var cutTicks: UInt64?
    private(set) var threadNames: [UInt32: String] = [:]
    /// Each thread's kernel id, by its serial number.
    private(set) var kernelIDs: [UInt32: Int64] = [:]

    init(limit: Int, startTicks: UInt64) {
        self.limit = max(limit, 0)
        self.startTicks = startTicks
    }

    /// Copies what `reader` holds, a drained run of `thread`'s ring, up to the limit.
    func append(thread: UInt32, name: String, kernelID: Int64 = 0, _ reader: EventReader) {
        if threadNames[thread] == nil {
            threadNames[thread] = name
            kernelIDs[thread] = kernelID
        }
        var reader = reader
        while let event = reader.next() {
            // A record is two events: keep both or neither.
            let size = event.isRecord ? 2 : 1
            if entries.count + size > limit {
                if cutTicks == nil { cutTicks = event.timestamp != 0 ? event.timestamp : nil }
                notKept &+= UInt64(reader.end &- reader.index &+ 1)
                return
            }
            entries.append(Entry(thread: thread, event: event))
            if size == 2, let payload = reader.payload() { entries.append(Entry(thread: thread, event: payload)) }
        }
    }
}
