/// Receives a timeline's slices from `TimelineWalk`, per thread in time order: each `begin` is
/// closed by one `end` on the same thread, innermost first. The JSON and Perfetto encoders are
/// the two sinks.
protocol TimelineSink {
    /// A thread's slice of `probe` begins at `ticks`, under the label set `labels` (an index
    /// into `sets.sets`, or -1).
    mutating func begin(
        thread: Int,
        probe: UInt32,
        at ticks: UInt64,
        labels: Int,
        openAtStart: Bool,
        sets: TimelineLabels
    )
    /// The innermost slice begun on `thread` ends at `ticks`.
    mutating func end(thread: Int, at ticks: UInt64, note: TimelineNote?)
}

/// Why a slice ends where it does, when not at its own exit.
enum TimelineNote: String {
    case droppedEvents = "ended while events were dropped"
    case closedByEnclosing = "closed by an enclosing scope's exit"
    case stillOpen = "still open when the window closed"
    static let openAtStart = "open when the window opened"
}

/// The label sets a timeline's slices carry as arguments: a label scope is not a slice, its
/// labels (merged with those of the label scopes around it) are arguments of every slice
/// under it.
struct TimelineLabels {
    /// Each distinct merged set, its pairs sorted by key.
    private(set) var sets: [[(key: String, value: String)]] = []
    private var ids: [[String: String]: Int] = [:]
    private var merged: [Int: [UInt32: Int]] = [:]
    private var byPath: [UInt32: Int] = [:]
    let ofProbe: [UInt32: [String: String]]

    init(ofProbe: [UInt32: [String: String]]) {
        self.ofProbe = ofProbe
    }

    func isLabelSet(_ probe: UInt32) -> Bool { ofProbe[probe] != nil }

    /// The set `outer` (-1 for none) with the labels of `probe` over it.
    mutating func merge(_ outer: Int, _ probe: UInt32) -> Int {
        guard let labels = ofProbe[probe] else { return outer }
        if let id = merged[outer]?[probe] { return id }
        var all: [String: String] = [:]
        if outer >= 0 { for (key, value) in sets[outer] { all[key] = value } }
        all.merge(labels) { _, inner in inner }
        let id: Int
        if let known = ids[all] {
            id = known
        } else {
            id = sets.count
            sets.append(all.sorted { $0.key < $1.key }.map { (key: $0.key, value: $0.value) })
            ids[all] = id
        }
        merged[outer, default: [:]][probe] = id
        return id
    }

    /// The labels of the label scopes on a call path (outermost under innermost).
    mutating func of(path: UInt32, in paths: CallPaths) -> Int {
        if path == 0 { return -1 }
        if let id = byPath[path] { return id }
        let id = merge(of(path: paths.parent(of: path), in: paths), paths.probe(of: path))
        byPath[path] = id
        return id
    }
}

/// An async frame (async scope or span) of a timeline: from its start to its end, on a lane
/// of the process where it nests in the frame of its caller.
struct TimelineAsyncFrame {
    var probe: UInt32
    var path: UInt32
    var start: UInt64
    var end: UInt64
    var labels: Int
    /// Its lane (`TimelineWalk.assignLanes`): frames on one lane nest or are disjoint.
    var lane = 0
}

/// Pairs a capture's events into slices, per thread, and hands them to a sink: what both
/// timeline formats share.
///
/// A scope already open when the window opened begins at the window's start (the first pass
/// finds them: exits without their enter), one still open when it closed ends at its end (or
/// where the timeline was cut). After drops, a marker ends the frames above its low-water depth.
struct TimelineWalk {
    let capture: TimelineCapture
    let endTicks: UInt64
    let paths: CallPaths
    var labels: TimelineLabels
    /// The threads that recorded, by serial number, in order: a sink's thread index is here.
    let threads: [UInt32]
    private(set) var asyncFrames: [TimelineAsyncFrame] = []

    struct Open {
        var probe: UInt32
        var depth: UInt32
        var labels: Int
        var isLabelSet: Bool
    }

    init(capture: TimelineCapture, endTicks: UInt64, paths: CallPaths, labelSets: [UInt32: [String: String]]) {
        self.capture = capture
        self.endTicks = endTicks
        self.paths = paths
        self.labels = TimelineLabels(ofProbe: labelSets)
        // Every thread whose events were kept gave its name with its first run.
        threads = capture.threadNames.keys.sorted()
    }

    /// Where the slices still open end.
    var closingTicks: UInt64 { capture.cutTicks ?? endTicks }

    mutating func walk<Sink: TimelineSink>(into sink: inout Sink) {
        let index = Dictionary(uniqueKeysWithValues: threads.enumerated().map { ($1, $0) })
        let entries = capture.entries
        let prologue = openAtStart(index: index)
        var stacks = [[Open]](repeating: [], count: threads.count)
        var seen = [Bool](repeating: false, count: threads.count)
        var last = [UInt64](repeating: capture.startTicks, count: threads.count)
        var context = [Int](repeating: -1, count: threads.count)
        var lastThread = UInt32.max
        var t = 0
        var i = 0
        while i < entries.count {
            let entry = entries[i]
            let event = entry.event
            i += 1
            if entry.thread != lastThread {
                lastThread = entry.thread
                t = index[entry.thread]!
                if !seen[t] {
                    seen[t] = true
                    // Outermost first: each begins at the window's start.
                    for (probe, depth) in prologue[t].reversed() {
                        push(probe: probe, depth: depth, at: capture.startTicks, thread: t, stacks: &stacks, context)
                        if let top = stacks[t].last, !top.isLabelSet {
                            sink.begin(
                                thread: t,
                                probe: probe,
                                at: capture.startTicks,
                                labels: top.labels,
                                openAtStart: true,
                                sets: labels
                            )
                        }
                    }
                }
            }
            if event.isRecord {
                guard i < entries.count else { break }
                let payload = entries[i].event
                i += 1
                switch Record(header: event, payload: payload) {
                case .context(let path):
                    context[t] = labels.of(path: path, in: paths)
                case .asyncFrame(let path, _, let began, let wall) where began != 0:
                    let probe = paths.probe(of: path)
                    guard !labels.isLabelSet(probe) else { continue }
                    let start = max(began, capture.startTicks)
                    asyncFrames.append(
                        TimelineAsyncFrame(
                            probe: probe,
                            path: path,
                            start: start,
                            end: max(began &+ wall, start),
                            labels: labels.of(path: paths.parent(of: path), in: paths)
                        )
                    )
                default:
                    break
                }
                continue
            }
            let ts = max(event.timestamp, last[t])
            last[t] = ts
            if event.isMarker {
                while let top = stacks[t].last, top.depth > event.depth {
                    stacks[t].removeLast()
                    if !top.isLabelSet { sink.end(thread: t, at: ts, note: .droppedEvents) }
                }
            } else if event.isExit {
                while let top = stacks[t].last, top.depth > event.depth {
                    stacks[t].removeLast()
                    if !top.isLabelSet { sink.end(thread: t, at: ts, note: .closedByEnclosing) }
                }
                if let top = stacks[t].last, top.depth == event.depth {
                    stacks[t].removeLast()
                    if !top.isLabelSet { sink.end(thread: t, at: ts, note: nil) }
                }
                // Otherwise a scope entered before the window whose begin a marker ended: no
                // slice can be begun before what was already written.
            } else {
                push(probe: event.probe, depth: event.depth, at: ts, thread: t, stacks: &stacks, context)
                if let top = stacks[t].last, !top.isLabelSet {
                    sink.begin(
                        thread: t,
                        probe: event.probe,
                        at: ts,
                        labels: top.labels,
                        openAtStart: false,
                        sets: labels
                    )
                }
            }
        }
        for t in stacks.indices {
            let end = max(closingTicks, last[t])
            for open in stacks[t].reversed() where !open.isLabelSet {
                sink.end(thread: t, at: end, note: .stillOpen)
            }
        }
        Self.assignLanes(&asyncFrames, paths: paths)
    }

    private mutating func push(
        probe: UInt32,
        depth: UInt32,
        at ticks: UInt64,
        thread t: Int,
        stacks: inout [[Open]],
        _ context: [Int]
    ) {
        let outer = stacks[t].last?.labels ?? context[t]
        let isLabelSet = labels.isLabelSet(probe)
        let set = isLabelSet ? labels.merge(outer, probe) : outer
        stacks[t].append(Open(probe: probe, depth: depth, labels: set, isLabelSet: isLabelSet))
    }

    /// Per thread, the scopes open when the window opened (exits without their enter),
    /// innermost first, as (probe, depth).
    private func openAtStart(index: [UInt32: Int]) -> [[(UInt32, UInt32)]] {
        var found = [[(UInt32, UInt32)]](repeating: [], count: threads.count)
        var depths = [[UInt32]](repeating: [], count: threads.count)
        let entries = capture.entries
        var lastThread = UInt32.max
        var t = 0
        var i = 0
        while i < entries.count {
            let entry = entries[i]
            let event = entry.event
            i += event.isRecord ? 2 : 1
            if event.isRecord { continue }
            if entry.thread != lastThread {
                lastThread = entry.thread
                t = index[entry.thread]!
            }
            if event.isMarker || event.isExit {
                while let top = depths[t].last, top > event.depth { depths[t].removeLast() }
            }
            if event.isMarker { continue }
            if event.isExit {
                if depths[t].last == event.depth {
                    depths[t].removeLast()
                } else if depths[t].isEmpty {
                    found[t].append((event.probe, event.depth))
                }
            } else {
                depths[t].append(event.depth)
            }
        }
        return found
    }

    /// Gives each async frame a lane: a frame goes on the lane of the frame of its caller (the
    /// nearest async frame on its call path that holds it in time), else on the first lane free
    /// at its start. On a lane, frames nest or are disjoint, so a viewer stacks them as scopes.
    static func assignLanes(_ frames: inout [TimelineAsyncFrame], paths: CallPaths) {
        frames.sort { ($0.start, $1.end, paths.depth(of: $0.path)) < ($1.start, $0.end, paths.depth(of: $1.path)) }
        // Per lane, the frames open at the current start, outermost first.
        var lanes: [[Int]] = []
        for index in frames.indices {
            let frame = frames[index]
            for lane in lanes.indices {
                while let top = lanes[lane].last, frames[top].end <= frame.start {
                    lanes[lane].removeLast()
                }
            }
            // The caller: the innermost open frame, on top of its lane, whose path is on this one's.
            var chosen: Int?
            var ancestors: Set<UInt32> = []
            var path = paths.parent(of: frame.path)
            while path != 0 {
                ancestors.insert(path)
                path = paths.parent(of: path)
            }
            if !ancestors.isEmpty {
                var best: UInt64 = 0
                for lane in lanes.indices {
                    if let top = lanes[lane].last, ancestors.contains(frames[top].path), frames[top].end >= frame.end,
                        frames[top].start >= best
                    {
                        best = frames[top].start
                        chosen = lane
                    }
                }
            }
            if chosen == nil { chosen = lanes.firstIndex { $0.isEmpty } }
            let lane = chosen ?? lanes.count
            if lane == lanes.count { lanes.append([]) }
            lanes[lane].append(index)
            frames[index].lane = lane
        }
    }
}
