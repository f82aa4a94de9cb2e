#if canImport(Glibc)
import Glibc
#endif

/// A window's raw events as a timeline: Perfetto's native protobuf trace (the default, a few
/// bytes an event) or Chrome trace event JSON, both opened by Perfetto's UI (ui.perfetto.dev).
///
/// ```swift
/// let timeline = TimelineWindow.start().stop()     // or /debug/pprof/trace?seconds=5
/// try timeline.write(to: "trace.pftrace")          // open it at ui.perfetto.dev
/// try timeline.write(to: "trace.json")             // the same, as JSON
/// ```
///
/// Each sync scope is a slice on its thread's track (the kernel's thread id, the thread's
/// name); a label scope is not a slice: its labels are arguments of the slices under it. Each
/// async frame (async scope or span) is a slice on one of the process's async tracks, from its
/// start to its end, nested in the frame of its caller. A scope already open when the window
/// opened starts at the window's start, and one still open when it closed ends at its end (each
/// says so in its arguments). Past the capture's bound nothing more is kept: a track named
/// "timeline cut" shows, from the cut to the window's end, how many events were left out.
package struct Timeline: Sendable {
    /// What a timeline is written as.
    package enum Format: String, Sendable, CaseIterable {
        /// Perfetto's `Trace` protobuf: interned names, delta timestamps, a few bytes an event.
        case perfetto
        /// Chrome trace event JSON, about 50 bytes an event.
        case json

        /// JSON for a path ending in `.json`, else Perfetto's protobuf.
        package init(path: String) {
            self = path.lowercased().hasSuffix(".json") ? .json : .perfetto
        }
    }

    let capture: TimelineCapture
    let endTicks: UInt64
    let nanosPerTick: Double
    let functions: [Profile.Function]
    let paths: CallPaths
    let labelSets: [UInt32: [String: String]]

    init(
        capture: TimelineCapture,
        endTicks: UInt64,
        nanosPerTick: Double,
        functions: [Profile.Function],
        paths: CallPaths,
        labelSets: [UInt32: [String: String]] = [:]
    ) {
        self.capture = capture
        self.endTicks = endTicks
        self.nanosPerTick = nanosPerTick
        self.functions = functions
        self.paths = paths
        self.labelSets = labelSets
    }

    /// Whether events were left out because a bound was reached.
    package var wasCut: Bool { capture.isCut }
    /// Slices in the timeline (sync and async, not counting tracks and the cut).
    package var eventCount: Int {
        var walk = TimelineWalk(capture: capture, endTicks: endTicks, paths: paths, labelSets: labelSets)
        var sink = SliceCount()
        walk.walk(into: &sink)
        return sink.slices + walk.asyncFrames.count
    }
    /// Whether the bound that cut it was its bytes (else its events).
    package var wasCutByBytes: Bool { capture.cutByBytes }
    /// Events left out after the cut.
    package var eventsNotKept: UInt64 { capture.notKept }
    /// The format the window's bound was estimated for.
    package var format: Format { capture.format }

    /// The Chrome trace event JSON document.
    package var json: [UInt8] { encoded(as: .json) }
    /// The Perfetto protobuf trace.
    package var perfetto: [UInt8] { encoded(as: .perfetto) }

    /// The timeline in `format`.
    package func encoded(as format: Format) -> [UInt8] {
        var walk = TimelineWalk(capture: capture, endTicks: endTicks, paths: paths, labelSets: labelSets)
        switch format {
        case .json:
            var sink = TimelineJSON(timeline: self, threads: walk.threads)
            walk.walk(into: &sink)
            return sink.finish(async: walk.asyncFrames, labels: walk.labels, closing: walk.closingTicks)
        case .perfetto:
            var sink = PerfettoTrace(timeline: self, threads: walk.threads)
            walk.walk(into: &sink)
            return sink.finish(async: walk.asyncFrames, labels: walk.labels, closing: walk.closingTicks)
        }
    }

    /// Writes the timeline to `path` atomically (a temporary file, then a rename): JSON when the
    /// path ends in `.json`, else Perfetto's protobuf.
    package func write(to path: String) throws {
        try Profile.writeAtomically(encoded(as: Format(path: path)), to: path, what: "timeline")
    }

    // MARK: For the encoders

    /// Nanoseconds since the window opened: every time is rounded once, here, and a duration
    /// is the difference of two rounded times, so slices that nest in ticks nest in the output.
    func nanoseconds(_ ticks: UInt64) -> UInt64 {
        UInt64((Double(ticks &- min(ticks, capture.startTicks)) * nanosPerTick).rounded())
    }

    func name(_ probe: UInt32) -> String {
        Int(probe) < functions.count ? functions[Int(probe)].name : "probe \(probe)"
    }

    /// The thread id a viewer shows: the kernel's (as `top -H`, gdb and /proc/PID/task show it),
    /// or the serial number where the kernel id is unknown.
    func tid(_ thread: UInt32) -> Int64 {
        let kernel = capture.kernelIDs[thread] ?? 0
        return kernel != 0 ? kernel : Int64(thread)
    }

    func threadName(_ thread: UInt32) -> String {
        let name = capture.threadNames[thread] ?? ""
        return name.isEmpty ? "thread \(tid(thread))" : name
    }

    /// What the cut slice says.
    var cutMessage: String {
        let bound =
            capture.cutByBytes
            ? "its bound of \(capture.byteLimit) bytes" : "its bound of \(capture.limit) events"
        return "timeline cut: \(capture.notKept) events not kept (\(bound); raise it with bytes=)"
    }

    static var processID: Int64 { Int64(getpid()) }
}

/// Counts a walk's slices, for `Timeline.eventCount`.
private struct SliceCount: TimelineSink {
    var slices = 0
    mutating func begin(
        thread: Int,
        probe: UInt32,
        at ticks: UInt64,
        labels: Int,
        openAtStart: Bool,
        sets: TimelineLabels
    ) {
        slices += 1
    }
    mutating func end(thread: Int, at ticks: UInt64, note: TimelineNote?) {}
}
