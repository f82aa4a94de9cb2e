import CPprof

#if canImport(Glibc)
import Glibc
#endif

/// What every thread is inside right now: its open scopes, outermost first, and how long each
/// has been open. What `/debug/pprof/threads` serves; how a user finds a hang under load.
///
/// Knowing what is open needs the hooks to record while no profile does: thread tracking keeps
/// recording on (`PPROF_TRACK_THREADS=1` from the start, or `PprofServer(trackThreads: true)`),
/// and each hook then costs what a recorded one costs. Reading the threads drains the rings and
/// reads the aggregator's stacks: the threads themselves are not stopped or slowed.
///
/// ```swift
/// Threads.beginTracking()
/// print(Threads.text(debug: 1))    // identical stacks grouped, with counts
/// Threads.endTracking()
/// ```
package enum Threads {
    /// One open scope of a thread.
    package struct Frame: Sendable, Hashable {
        package var name: String
        package var file: String
        package var line: Int
        package var openNanoseconds: UInt64
    }

    /// One thread: its serial number (as in timelines), its name, its open scopes outermost first.
    package struct Thread: Sendable {
        package var id: UInt32
        /// The kernel's thread id, as `top -H`, gdb and `/proc/PID/task` show it.
        package var kernelID: Int64 = 0
        package var name: String
        package var frames: [Frame]
    }

    /// Whether thread tracking is on.
    package static var isTracking: Bool {
        Recorder.initializeIfNeeded()
        return Recorder.shared.aggregator.isTracking
    }

    /// Takes a hold on thread tracking: on from now until every hold has ended (the holds are the
    /// recorder's demand, counted with its windows and timelines). Each call is ended by one
    /// `endTracking()`.
    ///
    /// ```swift
    /// Threads.beginTracking()       // a server starts
    /// defer { Threads.endTracking() }
    /// ```
    package static func beginTracking() {
        Recorder.initializeIfNeeded()
        Recorder.shared.aggregator.beginTracking()
    }

    /// Ends a hold taken with `beginTracking()`; tracking goes off if it was the last one. One
    /// without a hold to end is ignored.
    package static func endTracking() {
        Recorder.initializeIfNeeded()
        Recorder.shared.aggregator.endTracking()
    }

    /// Turns this switch's hold on or off (idempotent): tracking stays on while a server or
    /// `PPROF_TRACK_THREADS=1` holds it. Scopes entered while it was off are unknown to it.
    package static func setTracking(_ on: Bool) {
        Recorder.initializeIfNeeded()
        Recorder.shared.aggregator.setTrackingSwitch(on)
    }

    /// Holds taken with `beginTracking()` and not ended (tests count them).
    package static var trackingHolds: Int {
        Recorder.initializeIfNeeded()
        return Recorder.shared.aggregator.trackingBegun
    }

    /// Every live thread that has recorded, sorted by id.
    package static func snapshot() -> [Thread] {
        Recorder.initializeIfNeeded()
        let functions = Recorder.shared.probes.functions()
        return Recorder.shared.aggregator.threadSnapshots().sorted { $0.id < $1.id }.map { thread in
            Thread(
                id: thread.id,
                kernelID: thread.kernelID,
                name: thread.name,
                frames: thread.frames.map { frame in
                    let function = Int(frame.probe) < functions.count ? functions[Int(frame.probe)] : nil
                    return Frame(
                        name: function?.name ?? "probe \(frame.probe)",
                        file: function?.file ?? "",
                        line: function?.line ?? 0,
                        openNanoseconds: frame.openNanoseconds
                    )
                }
            )
        }
    }

    /// The threads as text: `debug: 1` groups identical stacks with a count (as Go's
    /// `goroutine?debug=1`), `debug: 2` lists every thread in full with how long each scope has
    /// been open.
    package static func text(debug: Int, threads: [Thread] = snapshot()) -> String {
        var out = "threads: \(threads.count) live, \(threads.filter { !$0.frames.isEmpty }.count) inside a scope\n"
        if debug >= 2 {
            for thread in threads {
                out += "\nthread \(thread.id) \"\(thread.name)\":\n"
                if thread.frames.isEmpty { out += "    (no open scope)\n" }
                for frame in thread.frames.reversed() {
                    out += "    \(frame.name)  \(location(frame))  open \(milliseconds(frame.openNanoseconds))\n"
                }
            }
            return out
        }
        // Group by stack (names and call sites, not durations), the biggest group first.
        var groups: [[Frame]: [Thread]] = [:]
        for thread in threads {
            let key = thread.frames.map { Frame(name: $0.name, file: $0.file, line: $0.line, openNanoseconds: 0) }
            groups[key, default: []].append(thread)
        }
        for (stack, members) in groups.sorted(by: { ($0.value.count, $0.key.count) > ($1.value.count, $1.key.count) }) {
            out += "\n\(members.count) @ \(members.map { "\"\($0.name)\"" }.joined(separator: ", "))\n"
            if stack.isEmpty { out += "    (no open scope)\n" }
            for frame in stack.reversed() { out += "    \(frame.name)  \(location(frame))\n" }
        }
        return out
    }

    private static func location(_ frame: Frame) -> String {
        frame.file.isEmpty ? "" : "\(frame.file):\(frame.line)"
    }

    private static func milliseconds(_ nanoseconds: UInt64) -> String {
        let tenths = nanoseconds / 100_000
        return "\(tenths / 10).\(tenths % 10) ms"
    }

    /// The threads as a gzipped pprof profile: sample type `threads/count`, one sample per
    /// thread inside a scope (its open scopes, leaf first), labelled with the thread's name and serial number.
    package static func pprof(threads: [Thread] = snapshot()) -> [UInt8] {
        Gzip.compress(ThreadsEncoder.encode(threads.filter { !$0.frames.isEmpty }))
    }
}
