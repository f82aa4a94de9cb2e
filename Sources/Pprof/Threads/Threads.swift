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

        package init(name: String, file: String, line: Int, openNanoseconds: UInt64) {
            (self.name, self.file, self.line, self.openNanoseconds) = (name, file, line, openNanoseconds)
        }
    }

    /// One thread: its serial number (the recorder's, for ordering), its kernel id, its name, its
    /// open scopes outermost first, and the labels of the label sets it is inside.
    package struct Thread: Sendable {
        package var id: UInt32
        /// The kernel's thread id, as `top -H`, gdb and `/proc/PID/task` show it: what the text
        /// and the `thread_id` label print.
        package var kernelID: Int64 = 0
        package var name: String
        package var frames: [Frame]
        /// The labels of every open `Trace.withLabels` on the thread, merged outermost first (an
        /// inner value wins, as in profiles): labels, not frames.
        package var labels: [String: String] = [:]

        package init(
            id: UInt32,
            kernelID: Int64 = 0,
            name: String,
            frames: [Frame],
            labels: [String: String] = [:]
        ) {
            (self.id, self.kernelID, self.name, self.frames, self.labels) = (id, kernelID, name, frames, labels)
        }
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

    /// Every live thread that has recorded, sorted by serial number. A label set's probe is open
    /// on the stack like a scope's; it becomes the thread's labels, not a frame.
    package static func snapshot() -> [Thread] {
        Recorder.initializeIfNeeded()
        let functions = Recorder.shared.probes.functions()
        let labelSets = Recorder.shared.labels
        return Recorder.shared.aggregator.threadSnapshots().sorted { $0.id < $1.id }.map { thread in
            var frames: [Frame] = []
            var labels: [String: String] = [:]
            for frame in thread.frames {
                if let set = labelSets.labels(of: frame.probe) {
                    labels.merge(set) { _, inner in inner }
                    continue
                }
                let function = Int(frame.probe) < functions.count ? functions[Int(frame.probe)] : nil
                frames.append(
                    Frame(
                        name: function?.name ?? "probe \(frame.probe)",
                        file: function?.file ?? "",
                        line: function?.line ?? 0,
                        openNanoseconds: frame.openNanoseconds
                    )
                )
            }
            return Thread(id: thread.id, kernelID: thread.kernelID, name: thread.name, frames: frames, labels: labels)
        }
    }

    /// The threads as text: `debug: 1` groups identical stacks (and labels) with a count (as Go's
    /// `goroutine?debug=1`), `debug: 2` lists every thread in full, by its kernel id, with how
    /// long each scope has been open. A thread's labels are one line under its stack:
    ///
    /// ```
    /// thread 48213 "NIO-ELT-0-#1":
    ///     handle  pprof_demo/UserService.swift:40  open 1.2 ms
    ///     serve  pprof_demo/Server.swift:12  open 1.3 ms
    ///     labels: route=/users/:id
    /// ```
    package static func text(debug: Int, threads: [Thread] = snapshot()) -> String {
        var out = "threads: \(threads.count) live, \(threads.filter { !$0.frames.isEmpty }.count) inside a scope\n"
        if debug >= 2 {
            for thread in threads {
                out += "\nthread \(thread.kernelID) \"\(thread.name)\":\n"
                if thread.frames.isEmpty { out += "    (no open scope)\n" }
                for frame in thread.frames.reversed() {
                    out += "    \(frame.name)  \(location(frame))  open \(milliseconds(frame.openNanoseconds))\n"
                }
                out += labelLine(thread.labels)
            }
            return out
        }
        // Group by stack (names and call sites, not durations) and labels, the biggest group first.
        struct Group: Hashable {
            var frames: [Frame]
            var labels: [String: String]
        }
        var groups: [Group: [Thread]] = [:]
        var order: [Group] = []
        for thread in threads {
            let frames = thread.frames.map { Frame(name: $0.name, file: $0.file, line: $0.line, openNanoseconds: 0) }
            let key = Group(frames: frames, labels: thread.labels)
            if groups[key] == nil { order.append(key) }
            groups[key, default: []].append(thread)
        }
        // Ties keep the order of first appearance (threads by serial number), not a hash's.
        let sorted = order.enumerated().sorted { a, b in
            let (x, y) = (groups[a.element]!.count, groups[b.element]!.count)
            if x != y { return x > y }
            if a.element.frames.count != b.element.frames.count {
                return a.element.frames.count > b.element.frames.count
            }
            return a.offset < b.offset
        }
        for (_, group) in sorted {
            let members = groups[group]!
            out += "\n\(members.count) @ \(members.map { "\"\($0.name)\"" }.joined(separator: ", "))\n"
            if group.frames.isEmpty { out += "    (no open scope)\n" }
            for frame in group.frames.reversed() { out += "    \(frame.name)  \(location(frame))\n" }
            out += labelLine(group.labels)
        }
        return out
    }

    /// `    labels: key=value, …` sorted by key, or nothing for no labels.
    private static func labelLine(_ labels: [String: String]) -> String {
        guard !labels.isEmpty else { return "" }
        return "    labels: "
            + labels.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }.joined(separator: ", ")
            + "\n"
    }

    private static func location(_ frame: Frame) -> String {
        frame.file.isEmpty ? "" : "\(frame.file):\(frame.line)"
    }

    private static func milliseconds(_ nanoseconds: UInt64) -> String {
        let tenths = nanoseconds / 100_000
        return "\(tenths / 10).\(tenths % 10) ms"
    }

    /// The threads as a gzipped pprof profile: sample type `threads/count`, one sample per
    /// thread inside a scope (its open scopes, leaf first), labelled with the thread's name
    /// (`thread`), its kernel id (`thread_id`) and the labels of the label sets it is inside.
    package static func pprof(threads: [Thread] = snapshot()) -> [UInt8] {
        Gzip.compress(ThreadsEncoder.encode(threads.filter { !$0.frames.isEmpty }))
    }
}
