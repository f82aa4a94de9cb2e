/// The events a timeline window copied from the threads' rings as the aggregator drained them,
/// up to a bound in bytes of the timeline they make (and, if set, a number of events): at the
/// first event past it the timeline is cut, and from then on nothing more is collected; what
/// is drained after is only counted, so the timeline can say how much it left out.
///
/// Only the aggregator's thread appends, under its lock; `Timeline` reads it once the window
/// has closed.
///
/// ```swift
/// let aggregator = Recorder.shared.aggregator
/// let capture = aggregator.openTimeline(limit: .max, bytes: 64 << 20, format: .perfetto)
/// // … the program runs …
/// let timeline = aggregator.closeTimeline(capture)
/// ```
final class TimelineCapture: @unchecked Sendable {
    struct Entry {
        var thread: UInt32
        var event: Event
    }

    /// The most events kept (a bound kept from before timelines were bounded by bytes).
    let limit: Int
    /// The most bytes the kept events may take in `format` (estimated per event, see `cost`).
    let byteLimit: Int
    let format: Timeline.Format
    let startTicks: UInt64
    private(set) var entries: [Entry] = []
    /// What the kept events take in `format`, by `cost`'s estimate.
    private(set) var estimatedBytes = 0
    /// Events drained after the cut.
    private(set) var notKept: UInt64 = 0
    /// The first timestamp not kept, where the timeline was cut.
    private(set) var cutTicks: UInt64?
    /// Whether a bound was reached: nothing is collected after.
    private(set) var isCut = false
    /// Which bound cut it.
    private(set) var cutByBytes = false
    private(set) var threadNames: [UInt32: String] = [:]
    /// Each thread's kernel id, by its serial number.
    private(set) var kernelIDs: [UInt32: Int64] = [:]

    init(limit: Int, bytes: Int = .max, format: Timeline.Format = .perfetto, startTicks: UInt64) {
        self.limit = max(limit, 0)
        self.byteLimit = max(bytes, 0)
        self.format = format
        self.startTicks = startTicks
    }

    /// An upper estimate of what one hook event (or a two-event record) takes in the timeline:
    /// Perfetto's packet of a slice's begin or end is 11 to 15 bytes with a delta time of up to
    /// four bytes and interned names (a label set adds its interned annotations), an async
    /// frame's two packets about twice as much with their track; a JSON slice is about 100 bytes.
    static func cost(_ format: Timeline.Format, record: Bool) -> Int {
        switch format {
        case .perfetto: record ? 40 : 16
        case .json: record ? 200 : 64
        }
    }

    /// Copies what `reader` holds, a drained run of `thread`'s ring, up to the bounds.
    func append(thread: UInt32, name: String, kernelID: Int64 = 0, _ reader: EventReader) {
        if isCut {
            notKept &+= UInt64(reader.end &- reader.index)
            return
        }
        if threadNames[thread] == nil {
            threadNames[thread] = name
            kernelIDs[thread] = kernelID
        }
        let eventCost = Self.cost(format, record: false)
        let recordCost = Self.cost(format, record: true)
        var reader = reader
        while let event = reader.next() {
            // An allocations record (PprofMemory) is nothing a timeline shows: not kept, and no
            // part of its bound.
            if event.isRecord && ThreadState.RecordKind(rawValue: (event.word >> 32) & 0xFF) == .allocations {
                _ = reader.payload()
                continue
            }
            // A record is two events: keep both or neither.
            let size = event.isRecord ? 2 : 1
            let bytes = event.isRecord ? recordCost : eventCost
            let pastEvents = entries.count + size > limit
            if pastEvents || estimatedBytes + bytes > byteLimit {
                isCut = true
                cutByBytes = !pastEvents
                cutTicks = event.timestamp != 0 ? event.timestamp : nil
                notKept &+= UInt64(reader.end &- reader.index &+ 1)
                return
            }
            estimatedBytes += bytes
            entries.append(Entry(thread: thread, event: event))
            if size == 2, let payload = reader.payload() { entries.append(Entry(thread: thread, event: payload)) }
        }
    }
}
