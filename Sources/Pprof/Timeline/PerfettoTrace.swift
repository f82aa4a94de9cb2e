/// A timeline as Perfetto's native protobuf trace (`Timeline.Format.perfetto`): a `Trace` of
/// `TracePacket`s that Perfetto's UI and trace processor read, a few bytes an event.
///
/// ```swift
/// let trace = timeline.encoded(as: .perfetto)   // trace.pftrace, for ui.perfetto.dev
/// ```
///
/// - A process track (the pid, the program's name) and one thread track per thread (the
///   kernel's thread id and the thread's name), each a `TrackDescriptor`.
/// - One packet sequence per thread: its first packet clears the incremental state, defines a
///   sequence-scoped incremental clock (a `ClockSnapshot` with BOOTTIME, so every later
///   `timestamp` is the nanoseconds since the previous packet's) and sets the thread's track
///   as the default (`TracePacketDefaults`); then one `TrackEvent` per scope's begin
///   (`TYPE_SLICE_BEGIN`) and end (`TYPE_SLICE_END`), its name interned (`InternedData`, on
///   the packet that first uses it). A label set is a slice's debug annotations, interned too.
/// - Async frames on async tracks under the process, one sequence per lane, nested where
///   their scopes nest; the cut, when there is one, a slice on a "timeline cut" track under
///   the process, from the cut to the window's end.
struct PerfettoTrace: TimelineSink {
    /// Where every sequence's clock starts: the window's start, at 1 s of the trace's clock.
    static let baseNanos: UInt64 = 1_000_000_000
    static let processTrack: UInt64 = 1
    static let cutTrack: UInt64 = 2
    static func threadTrack(_ serial: UInt32) -> UInt64 { 1 << 32 | UInt64(serial) }
    static func laneTrack(_ lane: Int) -> UInt64 { 2 << 32 | UInt64(lane) }

    let timeline: Timeline
    let threads: [UInt32]
    var sequences: [PerfettoSequence]

    init(timeline: Timeline, threads: [UInt32]) {
        self.timeline = timeline
        self.threads = threads
        let probes = timeline.functions.count
        sequences = threads.enumerated().map { index, thread in
            // Small ids: every packet carries its sequence's, in one byte for 126 threads.
            var sequence = PerfettoSequence(id: 2 + UInt64(index), probes: probes)
            sequence.writer.message(PerfettoTag.tracePacket) { packet in
                packet.uint64(PerfettoTag.packetTrustedSequenceID, sequence.id)
                packet.message(PerfettoTag.packetTrackDescriptor) { track in
                    track.uint64(PerfettoTag.trackUUID, Self.threadTrack(thread))
                    track.message(PerfettoTag.trackThread) { descriptor in
                        descriptor.int64(PerfettoTag.threadPID, Timeline.processID)
                        descriptor.int64(PerfettoTag.threadTID, timeline.tid(thread))
                        descriptor.string(PerfettoTag.threadName, timeline.threadName(thread))
                    }
                }
            }
            sequence.start(defaultTrack: Self.threadTrack(thread))
            return sequence
        }
    }

    mutating func begin(
        thread: Int,
        probe: UInt32,
        at ticks: UInt64,
        labels: Int,
        openAtStart: Bool,
        sets: TimelineLabels
    ) {
        sequences[thread].event(
            begin: true,
            at: Self.baseNanos + timeline.nanoseconds(ticks),
            probe: probe,
            timeline: timeline,
            labels: labels,
            sets: sets,
            note: openAtStart ? TimelineNote.openAtStart : nil
        )
    }

    mutating func end(thread: Int, at ticks: UInt64, note: TimelineNote?) {
        sequences[thread].event(
            begin: false,
            at: Self.baseNanos + timeline.nanoseconds(ticks),
            timeline: timeline,
            note: note?.rawValue
        )
    }

    /// The whole trace: the process and its tracks, the threads' sequences, the async lanes,
    /// the cut.
    mutating func finish(async frames: [TimelineAsyncFrame], labels: TimelineLabels, closing: UInt64) -> [UInt8] {
        var process = PerfettoSequence(id: 1, probes: 0)
        let lanes = (frames.map(\.lane).max() ?? -1) + 1
        process.writer.message(PerfettoTag.tracePacket) { packet in
            packet.uint64(PerfettoTag.packetTrustedSequenceID, 1)
            packet.message(PerfettoTag.packetTrackDescriptor) { track in
                track.uint64(PerfettoTag.trackUUID, Self.processTrack)
                track.message(PerfettoTag.trackProcess) { descriptor in
                    descriptor.int64(PerfettoTag.processPID, Timeline.processID)
                    descriptor.string(PerfettoTag.processName, Self.processName)
                }
            }
        }
        for lane in 0..<lanes {
            process.writer.message(PerfettoTag.tracePacket) { packet in
                packet.uint64(PerfettoTag.packetTrustedSequenceID, 1)
                packet.message(PerfettoTag.packetTrackDescriptor) { track in
                    track.uint64(PerfettoTag.trackUUID, Self.laneTrack(lane))
                    track.uint64(PerfettoTag.trackParentUUID, Self.processTrack)
                    track.string(PerfettoTag.trackName, "async tasks")
                }
            }
        }
        if timeline.capture.isCut {
            process.writer.message(PerfettoTag.tracePacket) { packet in
                packet.uint64(PerfettoTag.packetTrustedSequenceID, 1)
                packet.message(PerfettoTag.packetTrackDescriptor) { track in
                    track.uint64(PerfettoTag.trackUUID, Self.cutTrack)
                    track.uint64(PerfettoTag.trackParentUUID, Self.processTrack)
                    track.string(PerfettoTag.trackName, "timeline cut")
                }
            }
            process.start(defaultTrack: Self.cutTrack)
            let end = max(timeline.endTicks, closing)
            process.event(
                begin: true,
                at: Self.baseNanos + timeline.nanoseconds(closing),
                literalName: timeline.cutMessage,
                timeline: timeline
            )
            process.event(begin: false, at: Self.baseNanos + timeline.nanoseconds(end), timeline: timeline)
        }
        var out = process.writer.bytes
        for sequence in sequences { out.append(contentsOf: sequence.writer.bytes) }
        // Per lane, its frames in order (outermost first at equal starts), as nested begins and ends.
        var byLane = [[Int]](repeating: [], count: lanes)
        for index in frames.indices { byLane[frames[index].lane].append(index) }
        let probes = timeline.functions.count
        for lane in 0..<lanes {
            var sequence = PerfettoSequence(id: 2 + UInt64(threads.count + lane), probes: probes)
            sequence.start(defaultTrack: Self.laneTrack(lane))
            var open: [UInt64] = []
            for index in byLane[lane] {
                let frame = frames[index]
                while let end = open.last, end <= frame.start {
                    open.removeLast()
                    sequence.event(begin: false, at: Self.baseNanos + timeline.nanoseconds(end), timeline: timeline)
                }
                sequence.event(
                    begin: true,
                    at: Self.baseNanos + timeline.nanoseconds(frame.start),
                    probe: frame.probe,
                    timeline: timeline,
                    labels: frame.labels,
                    sets: labels
                )
                open.append(frame.end)
            }
            while let end = open.popLast() {
                sequence.event(begin: false, at: Self.baseNanos + timeline.nanoseconds(end), timeline: timeline)
            }
            out.append(contentsOf: sequence.writer.bytes)
        }
        return out
    }

    /// The program's name, as `ps` shows it.
    static var processName: String {
        let path = CommandLine.arguments.first ?? "swift"
        return path.split(separator: "/").last.map(String.init) ?? path
    }
}

/// One packet sequence of a Perfetto trace: its packets, and the state its incremental
/// encoding keeps (the last timestamp, the names and strings interned so far).
struct PerfettoSequence {
    let id: UInt64
    var writer = ProtobufWriter()
    private var lastNanos = PerfettoTrace.baseNanos
    /// Each probe's interned name id, 0 while not interned.
    private var names: [UInt64]
    private var nextName: UInt64 = 1
    private var annotationNames: [String: UInt64] = [:]
    private var strings: [String: UInt64] = [:]
    /// Each label set's annotations as (name iid, value iid).
    private var labelAnnotations: [Int: [(UInt64, UInt64)]] = [:]

    init(id: UInt64, probes: Int) {
        self.id = id
        names = Array(repeating: 0, count: probes)
    }

    /// The sequence's first packet of events: clears the incremental state, defines the
    /// incremental clock and sets `defaultTrack` and that clock as every later packet's.
    mutating func start(defaultTrack: UInt64) {
        let id = id
        writer.message(PerfettoTag.tracePacket) { packet in
            packet.uint64(PerfettoTag.packetTrustedSequenceID, id)
            packet.uint64(PerfettoTag.packetSequenceFlags, PerfettoTag.seqIncrementalStateCleared)
            packet.message(PerfettoTag.packetClockSnapshot) { snapshot in
                snapshot.message(PerfettoTag.clockSnapshotClocks) { clock in
                    clock.uint64(PerfettoTag.clockID, PerfettoTag.clockFirstSequenceScoped)
                    clock.uint64(PerfettoTag.clockTimestamp, PerfettoTrace.baseNanos)
                    clock.bool(PerfettoTag.clockIsIncremental, true)
                }
                snapshot.message(PerfettoTag.clockSnapshotClocks) { clock in
                    clock.uint64(PerfettoTag.clockID, PerfettoTag.clockBoottime)
                    clock.uint64(PerfettoTag.clockTimestamp, PerfettoTrace.baseNanos)
                }
            }
            packet.message(PerfettoTag.packetDefaults) { defaults in
                defaults.uint64(PerfettoTag.defaultsTimestampClockID, PerfettoTag.clockFirstSequenceScoped)
                defaults.message(PerfettoTag.defaultsTrackEventDefaults) { track in
                    track.uint64(PerfettoTag.trackEventDefaultsTrackUUID, defaultTrack)
                }
            }
        }
        lastNanos = PerfettoTrace.baseNanos
    }

    /// A slice's begin (with its name and arguments) or end, at `nanos` of the trace's clock.
    mutating func event(
        begin: Bool,
        at nanos: UInt64,
        probe: UInt32? = nil,
        literalName: String? = nil,
        timeline: Timeline,
        labels: Int = -1,
        sets: TimelineLabels? = nil,
        note: String? = nil
    ) {
        let delta = nanos > lastNanos ? nanos - lastNanos : 0
        lastNanos += delta
        // What this packet interns first.
        var newName: (UInt64, String)?
        var nameIID: UInt64 = 0
        if let probe, Int(probe) < names.count {
            nameIID = names[Int(probe)]
            if nameIID == 0 {
                nameIID = nextName
                nextName += 1
                names[Int(probe)] = nameIID
                newName = (nameIID, timeline.name(probe))
            }
        }
        var newKeys: [(UInt64, String)] = []
        var newValues: [(UInt64, String)] = []
        var annotations: [(UInt64, UInt64)] = []
        if labels >= 0, let sets {
            if let known = labelAnnotations[labels] {
                annotations = known
            } else {
                for (key, value) in sets.sets[labels] {
                    annotations.append((intern(key: key, &newKeys), intern(string: value, &newValues)))
                }
                labelAnnotations[labels] = annotations
            }
        }
        if let note { annotations.append((intern(key: "note", &newKeys), intern(string: note, &newValues))) }
        let id = id
        writer.message(PerfettoTag.tracePacket) { packet in
            packet.uint64(PerfettoTag.packetTimestamp, delta)
            packet.uint64(PerfettoTag.packetTrustedSequenceID, id)
            packet.uint64(PerfettoTag.packetSequenceFlags, PerfettoTag.seqNeedsIncrementalState)
            if newName != nil || !newKeys.isEmpty || !newValues.isEmpty {
                packet.message(PerfettoTag.packetInternedData) { interned in
                    if let (iid, name) = newName {
                        interned.message(PerfettoTag.internedEventNames) { entry in
                            entry.uint64(PerfettoTag.internedIID, iid)
                            entry.string(PerfettoTag.internedName, name)
                        }
                    }
                    for (iid, name) in newKeys {
                        interned.message(PerfettoTag.internedAnnotationNames) { entry in
                            entry.uint64(PerfettoTag.internedIID, iid)
                            entry.string(PerfettoTag.internedName, name)
                        }
                    }
                    for (iid, value) in newValues {
                        interned.message(PerfettoTag.internedAnnotationStringValues) { entry in
                            entry.uint64(PerfettoTag.internedIID, iid)
                            entry.string(PerfettoTag.internedName, value)
                        }
                    }
                }
            }
            packet.message(PerfettoTag.packetTrackEvent) { event in
                event.uint64(
                    PerfettoTag.eventType,
                    begin ? PerfettoTag.typeSliceBegin : PerfettoTag.typeSliceEnd
                )
                if nameIID != 0 {
                    event.uint64(PerfettoTag.eventNameIID, nameIID)
                } else if let name = literalName ?? probe.map({ timeline.name($0) }) {
                    event.string(PerfettoTag.eventName, name)
                }
                for (key, value) in annotations {
                    event.message(PerfettoTag.eventDebugAnnotations) { annotation in
                        annotation.uint64(PerfettoTag.annotationNameIID, key)
                        annotation.uint64(PerfettoTag.annotationStringValueIID, value)
                    }
                }
            }
        }
    }

    private mutating func intern(key: String, _ new: inout [(UInt64, String)]) -> UInt64 {
        if let iid = annotationNames[key] { return iid }
        let iid = UInt64(annotationNames.count + 1)
        annotationNames[key] = iid
        new.append((iid, key))
        return iid
    }

    private mutating func intern(string: String, _ new: inout [(UInt64, String)]) -> UInt64 {
        if let iid = strings[string] { return iid }
        let iid = UInt64(strings.count + 1)
        strings[string] = iid
        new.append((iid, string))
        return iid
    }
}
