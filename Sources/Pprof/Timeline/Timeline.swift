#if canImport(Glibc)
import Glibc
#endif

/// A window's raw events as a timeline in the Chrome trace event format: JSON that Perfetto's
/// UI, `chrome://tracing` and speedscope open.
///
/// ```swift
/// let timeline = Profiler.startTimeline().stop()   // or /debug/pprof/trace?seconds=5
/// try timeline.write(to: "trace.json")             // open it at ui.perfetto.dev
/// ```
///
/// Each sync scope is a complete event (`"ph": "X"`) on its thread, with the thread's name as
/// metadata; each async frame (async scope or span) is an async slice (`"b"`/`"e"`) from its
/// start to its end, on the thread it ended on. A scope already open when the window opened
/// starts at the window's start, and one still open when it closed ends at its end (each says so
/// in its `args`). Past the capture's limit nothing more is kept: the timeline says it was cut,
/// where, and how many events it left out (`otherData`, and an instant event at the cut).
package struct Timeline: Sendable {
    /// The JSON document.
    package let json: [UInt8]
    /// Complete and async events written (not counting metadata).
    package let eventCount: Int
    /// Whether events were left out because the limit was reached.
    package let wasCut: Bool

    init(
        capture: TimelineCapture,
        endTicks: UInt64,
        nanosPerTick: Double,
        functions: [Profile.Function],
        paths: CallPaths
    ) {
        var builder = Builder(
            capture: capture,
            endTicks: endTicks,
            nanosPerTick: nanosPerTick,
            functions: functions,
            paths: paths
        )
        json = builder.build()
        eventCount = builder.written
        wasCut = capture.notKept != 0
    }

    /// Writes the JSON to `path` atomically (a temporary file, then a rename).
    package func write(to path: String) throws {
        try Profile.writeAtomically(json, to: path, what: "timeline")
    }
}

extension Timeline {
    /// Pairs each thread's events into slices and writes them.
    private struct Builder {
        let capture: TimelineCapture
        let endTicks: UInt64
        let nanosPerTick: Double
        let functions: [Profile.Function]
        let paths: CallPaths
        let pid = Int(getpid())
        var out = JSONWriter()
        var written = 0
        var asyncID = 0

        init(
            capture: TimelineCapture,
            endTicks: UInt64,
            nanosPerTick: Double,
            functions: [Profile.Function],
            paths: CallPaths
        ) {
            self.functions = functions
            self.paths = paths
            self.capture = capture
            self.endTicks = endTicks
            self.nanosPerTick = nanosPerTick
        }

        struct Open {
            var probe: UInt32
            var depth: UInt32
            var start: UInt64
            var openAtStart: Bool
        }

        mutating func build() -> [UInt8] {
            out.raw("{\"displayTimeUnit\":\"ns\",\"traceEvents\":[")
            var first = true
            func separator(_ out: inout JSONWriter) {
                if !first { out.raw(",") }
                first = false
            }
            for (thread, name) in capture.threadNames.sorted(by: { $0.key < $1.key }) {
                separator(&out)
                out.raw("{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":\(pid),\"tid\":\(thread),\"args\":{\"name\":")
                out.string(name)
                out.raw("}}")
            }
            // Per thread, in ring order (the capture appends each thread's drained runs in order).
            var stacks: [UInt32: [Open]] = [:]
            let entries = capture.entries
            var i = 0
            while i < entries.count {
                let entry = entries[i]
                let event = entry.event
                i += 1
                if event.isRecord {
                    guard i < entries.count else { break }
                    let payload = entries[i].event
                    i += 1
                    guard case .asyncFrame(let path, _, let began, let wall) = Record(header: event, payload: payload),
                        began != 0
                    else { continue }
                    let start = max(began, capture.startTicks)
                    let end = began &+ wall
                    separator(&out)
                    asyncSlice(probe: paths.probe(of: path), thread: entry.thread, start: start, end: end)
                    continue
                }
                var stack = stacks[entry.thread] ?? []
                let ts = event.timestamp
                if event.isMarker {
                    // Frames above the low-water depth ended while events were dropped.
                    while let top = stack.last, top.depth > event.depth {
                        stack.removeLast()
                        separator(&out)
                        slice(top, thread: entry.thread, end: ts, note: "ended while events were dropped")
                    }
                } else if event.isExit {
                    while let top = stack.last, top.depth > event.depth {
                        stack.removeLast()
                        separator(&out)
                        slice(top, thread: entry.thread, end: ts, note: "closed by an enclosing scope's exit")
                    }
                    if let top = stack.last, top.depth == event.depth {
                        stack.removeLast()
                        separator(&out)
                        slice(top, thread: entry.thread, end: ts, note: nil)
                    } else if stack.isEmpty {
                        // Entered before the window opened.
                        separator(&out)
                        let open = Open(
                            probe: event.probe,
                            depth: event.depth,
                            start: capture.startTicks,
                            openAtStart: true
                        )
                        slice(open, thread: entry.thread, end: ts, note: nil)
                    }
                } else {
                    stack.append(Open(probe: event.probe, depth: event.depth, start: ts, openAtStart: false))
                }
                stacks[entry.thread] = stack
            }
            let end = capture.cutTicks ?? endTicks
            for (thread, stack) in stacks.sorted(by: { $0.key < $1.key }) {
                for open in stack.reversed() {
                    separator(&out)
                    slice(open, thread: thread, end: end, note: "still open when the window closed")
                }
            }
            if capture.notKept != 0 {
                separator(&out)
                out.raw(
                    "{\"ph\":\"i\",\"s\":\"g\",\"name\":\"timeline cut: \(capture.notKept) events not kept\",\"pid\":\(pid),\"tid\":0,\"ts\":"
                )
                out.raw(microseconds(end))
                out.raw("}")
            }
            out.raw(
                "],\"otherData\":{\"producer\":\"swift-pprof\",\"eventLimit\":\"\(capture.limit)\",\"cut\":\"\(capture.notKept != 0)\",\"eventsNotKept\":\"\(capture.notKept)\"}}"
            )
            return out.bytes
        }

        /// Nanoseconds since the window opened: every time is rounded once, here, and a duration
        /// is the difference of two rounded times, so slices that nest in ticks nest in the JSON.
        func nanoseconds(_ ticks: UInt64) -> UInt64 {
            UInt64((Double(ticks &- min(ticks, capture.startTicks)) * nanosPerTick).rounded())
        }

        func microseconds(_ ticks: UInt64) -> String {
            String(format3: Double(nanoseconds(ticks)) / 1000)
        }

        func name(_ probe: UInt32) -> String {
            Int(probe) < functions.count ? functions[Int(probe)].name : "probe \(probe)"
        }

        mutating func slice(_ open: Open, thread: UInt32, end: UInt64, note: String?) {
            let start = max(open.start, capture.startTicks)
            let stop = max(end, start)
            out.raw("{\"ph\":\"X\",\"cat\":\"scope\",\"name\":")
            out.string(name(open.probe))
            out.raw(",\"pid\":\(pid),\"tid\":\(thread),\"ts\":")
            out.raw(microseconds(start))
            out.raw(",\"dur\":")
            out.raw(String(format3: Double(nanoseconds(stop) &- nanoseconds(start)) / 1000))
            var notes: [String] = []
            if open.openAtStart { notes.append("open when the window opened") }
            if let note { notes.append(note) }
            if !notes.isEmpty {
                out.raw(",\"args\":{\"note\":")
                out.string(notes.joined(separator: "; "))
                out.raw("}")
            }
            out.raw("}")
            written += 1
        }

        mutating func asyncSlice(probe: UInt32, thread: UInt32, start: UInt64, end: UInt64) {
            asyncID += 1
            for (phase, ticks) in [("b", start), ("e", max(end, start))] {
                if phase == "e" { out.raw(",") }
                out.raw("{\"ph\":\"\(phase)\",\"cat\":\"async\",\"id\":\(asyncID),\"name\":")
                out.string(name(probe))
                out.raw(",\"pid\":\(pid),\"tid\":\(thread),\"ts\":")
                out.raw(microseconds(ticks))
                out.raw("}")
            }
            written += 1
        }
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
