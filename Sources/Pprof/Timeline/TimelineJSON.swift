/// A timeline as Chrome trace event JSON (`Timeline.Format.json`): each slice a complete event
/// (`"ph": "X"`) on its thread (the kernel's thread id, named by metadata), its labels and notes
/// in `args`; each async frame an async slice (`"b"`/`"e"`) with a process-local id (`id2.local`,
/// one per lane), so that Perfetto puts it on the process's tracks and nests it where its
/// scopes nest; a cut as a slice on a thread named "timeline cut" (tid 0, which no thread of the
/// process has).
///
/// ```swift
/// let json = timeline.encoded(as: .json)   // timeline.json
/// ```
struct TimelineJSON: TimelineSink {
    let timeline: Timeline
    let threads: [UInt32]
    let pid = Timeline.processID
    var out = JSONWriter()
    /// Per thread, the slices begun and not yet ended.
    var open: [[(probe: UInt32, start: UInt64, labels: Int, openAtStart: Bool)]]
    var first = true
    /// The slices ended, written at the end (a complete event's text needs its end).
    var complete: [(thread: Int, probe: UInt32, start: UInt64, end: UInt64, labels: Int, notes: [String])] = []

    init(timeline: Timeline, threads: [UInt32]) {
        self.timeline = timeline
        self.threads = threads
        open = Array(repeating: [], count: threads.count)
        out.raw("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")
        for thread in threads {
            separator()
            out.raw(
                "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":\(pid),\"tid\":\(timeline.tid(thread)),\"args\":{\"name\":"
            )
            out.string(timeline.threadName(thread))
            out.raw("}}")
        }
    }

    mutating func separator() {
        if !first { out.raw(",") }
        first = false
    }

    func microseconds(_ ticks: UInt64) -> String {
        String(format3: Double(timeline.nanoseconds(ticks)) / 1000)
    }

    mutating func begin(
        thread: Int,
        probe: UInt32,
        at ticks: UInt64,
        labels: Int,
        openAtStart: Bool,
        sets: TimelineLabels
    ) {
        open[thread].append((probe, ticks, labels, openAtStart))
    }

    mutating func end(thread: Int, at ticks: UInt64, note: TimelineNote?) {
        guard let slice = open[thread].popLast() else { return }
        var notes: [String] = []
        if slice.openAtStart { notes.append(TimelineNote.openAtStart) }
        if let note { notes.append(note.rawValue) }
        complete.append((thread, slice.probe, slice.start, max(ticks, slice.start), slice.labels, notes))
    }

    mutating func finish(async frames: [TimelineAsyncFrame], labels: TimelineLabels, closing: UInt64) -> [UInt8] {
        for slice in complete {
            separator()
            out.raw("{\"ph\":\"X\",\"cat\":\"scope\",\"name\":")
            out.string(timeline.name(slice.probe))
            out.raw(",\"pid\":\(pid),\"tid\":\(timeline.tid(threads[slice.thread])),\"ts\":")
            out.raw(microseconds(slice.start))
            out.raw(",\"dur\":")
            let nanos = timeline.nanoseconds(slice.end) &- timeline.nanoseconds(slice.start)
            out.raw(String(format3: Double(nanos) / 1000))
            writeArgs(labels: slice.labels >= 0 ? labels.sets[slice.labels] : [], notes: slice.notes)
            out.raw("}")
        }
        for frame in frames {
            for (phase, ticks) in [("b", frame.start), ("e", frame.end)] {
                separator()
                out.raw(
                    "{\"ph\":\"\(phase)\",\"cat\":\"async\",\"id2\":{\"local\":\"0x\(String(frame.lane, radix: 16))\"},\"name\":"
                )
                out.string(timeline.name(frame.probe))
                out.raw(",\"pid\":\(pid),\"tid\":\(pid),\"ts\":")
                out.raw(microseconds(ticks))
                if phase == "b", frame.labels >= 0 { writeArgs(labels: labels.sets[frame.labels], notes: []) }
                out.raw("}")
            }
        }
        let capture = timeline.capture
        if capture.isCut {
            separator()
            out.raw(
                "{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":\(pid),\"tid\":0,\"args\":{\"name\":\"timeline cut\"}}"
            )
            separator()
            out.raw("{\"ph\":\"X\",\"cat\":\"cut\",\"name\":")
            out.string(timeline.cutMessage)
            out.raw(",\"pid\":\(pid),\"tid\":0,\"ts\":")
            out.raw(microseconds(closing))
            let end = max(timeline.endTicks, closing)
            out.raw(",\"dur\":")
            out.raw(String(format3: Double(timeline.nanoseconds(end) &- timeline.nanoseconds(closing)) / 1000))
            out.raw("}")
        }
        out.raw(
            "],\"otherData\":{\"producer\":\"swift-pprof\",\"eventLimit\":\"\(capture.limit)\",\"byteLimit\":\"\(capture.byteLimit)\",\"cut\":\"\(capture.isCut)\",\"eventsNotKept\":\"\(capture.notKept)\"}}"
        )
        return out.bytes
    }

    mutating func writeArgs(labels: [(key: String, value: String)], notes: [String]) {
        guard !labels.isEmpty || !notes.isEmpty else { return }
        out.raw(",\"args\":{")
        var firstArg = true
        for (key, value) in labels {
            if !firstArg { out.raw(",") }
            firstArg = false
            out.string(key)
            out.raw(":")
            out.string(value)
        }
        if !notes.isEmpty {
            if !firstArg { out.raw(",") }
            out.raw("\"note\":")
            out.string(notes.joined(separator: "; "))
        }
        out.raw("}")
    }
}

/// Appends JSON text to a byte buffer.
struct JSONWriter {
    private(set) var bytes: [UInt8] = []

    mutating func raw(_ text: String) {
        bytes.append(contentsOf: text.utf8)
    }

    /// A JSON string literal, escaped.
    mutating func string(_ text: String) {
        bytes.append(UInt8(ascii: "\""))
        for byte in text.utf8 {
            switch byte {
            case UInt8(ascii: "\""): bytes.append(contentsOf: [92, 34])
            case UInt8(ascii: "\\"): bytes.append(contentsOf: [92, 92])
            case 0x0A: bytes.append(contentsOf: Array("\\n".utf8))
            case 0x0D: bytes.append(contentsOf: Array("\\r".utf8))
            case 0x09: bytes.append(contentsOf: Array("\\t".utf8))
            case ..<0x20:
                let hex = String(byte, radix: 16)
                bytes.append(contentsOf: Array(("\\u" + String(repeating: "0", count: 4 - hex.count) + hex).utf8))
            default: bytes.append(byte)
            }
        }
        bytes.append(UInt8(ascii: "\""))
    }
}

extension String {
    /// A non-negative number with three decimals (microseconds to the nanosecond), no locale.
    init(format3 value: Double) {
        let thousandths = UInt64((Swift.max(value, 0) * 1000).rounded())
        let fraction = Swift.String(thousandths % 1000)
        let padding = Swift.String(repeating: "0", count: 3 - fraction.count)
        self = "\(thousandths / 1000)." + padding + fraction
    }
}
