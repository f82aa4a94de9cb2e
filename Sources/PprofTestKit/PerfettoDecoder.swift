import Pprof

/// A Perfetto protobuf trace read back as the trace processor reads what `PerfettoTrace`
/// writes: track descriptors, per-sequence interned names and incremental clocks, and slices
/// paired from their begin and end events per track. For tests: a begin without its end, an
/// end without its begin, an interned id never defined or a time going back is an error.
///
/// ```swift
/// let trace = try DecodedPerfettoTrace(timeline.perfetto)
/// let slices = trace.slices.filter { trace.tracks[$0.track]?.tid == tid }
/// ```
package struct DecodedPerfettoTrace {
    package struct Track {
        package var uuid: UInt64
        package var parent: UInt64 = 0
        package var name = ""
        package var pid: Int64?
        package var processName: String?
        package var tid: Int64?
        package var threadName: String?
    }

    package struct Slice {
        package var name: String
        package var track: UInt64
        /// Nanoseconds of the trace's clock.
        package var start: UInt64
        package var end: UInt64
        /// Slices open around it on its track when it began.
        package var depth: Int
        package var args: [String: String]
    }

    package private(set) var tracks: [UInt64: Track] = [:]
    package private(set) var slices: [Slice] = []
    package private(set) var packets = 0
    /// Packets that carry a track event: what "bytes per event" divides by.
    package private(set) var eventPackets = 0

    private struct Sequence {
        var cleared = false
        var clockIsIncremental = false
        var lastTimestamp: UInt64 = 0
        var defaultTrack: UInt64 = 0
        var names: [UInt64: String] = [:]
        var annotationNames: [UInt64: String] = [:]
        var strings: [UInt64: String] = [:]
    }

    package init(_ bytes: [UInt8]) throws {
        var sequences: [UInt64: Sequence] = [:]
        var open: [UInt64: [Slice]] = [:]
        var trace = ProtobufReader(bytes)
        while let field = try trace.next() {
            guard field.number == PerfettoTag.tracePacket else { continue }
            packets += 1
            var packet = try field.message()
            var timestamp: UInt64?
            var sequenceID: UInt64 = 0
            var flags: UInt64 = 0
            var event: ProtobufReader?
            var interned: ProtobufReader?
            var snapshot: ProtobufReader?
            var defaults: ProtobufReader?
            while let field = try packet.next() {
                switch field.number {
                case PerfettoTag.packetTimestamp: timestamp = try field.uint64()
                case PerfettoTag.packetTrustedSequenceID: sequenceID = try field.uint64()
                case PerfettoTag.packetSequenceFlags: flags = try field.uint64()
                case PerfettoTag.packetTrackEvent: event = try field.message()
                case PerfettoTag.packetInternedData: interned = try field.message()
                case PerfettoTag.packetClockSnapshot: snapshot = try field.message()
                case PerfettoTag.packetDefaults: defaults = try field.message()
                case PerfettoTag.packetTrackDescriptor: try readTrack(try field.message())
                default: break
                }
            }
            var sequence = sequences[sequenceID] ?? Sequence()
            if flags & PerfettoTag.seqIncrementalStateCleared != 0 { sequence = Sequence(cleared: true) }
            if var snapshot {
                while let clock = try snapshot.next() {
                    guard clock.number == PerfettoTag.clockSnapshotClocks else { continue }
                    var fields = try clock.message()
                    var id: UInt64 = 0
                    var value: UInt64 = 0
                    var incremental = false
                    while let field = try fields.next() {
                        switch field.number {
                        case PerfettoTag.clockID: id = try field.uint64()
                        case PerfettoTag.clockTimestamp: value = try field.uint64()
                        case PerfettoTag.clockIsIncremental: incremental = try field.bool()
                        default: break
                        }
                    }
                    if id == PerfettoTag.clockFirstSequenceScoped, incremental {
                        sequence.clockIsIncremental = true
                        sequence.lastTimestamp = value
                    }
                }
            }
            if var defaults {
                while let field = try defaults.next() {
                    guard field.number == PerfettoTag.defaultsTrackEventDefaults else { continue }
                    var track = try field.message()
                    while let field = try track.next() {
                        guard field.number == PerfettoTag.trackEventDefaultsTrackUUID else { continue }
                        sequence.defaultTrack = try field.uint64()
                    }
                }
            }
            if var interned {
                guard sequence.cleared else { throw PprofDecodingError("interned data before the state was cleared") }
                while let field = try interned.next() {
                    var entry = try field.message()
                    var iid: UInt64 = 0
                    var name = ""
                    while let part = try entry.next() {
                        if part.number == PerfettoTag.internedIID { iid = try part.uint64() }
                        if part.number == PerfettoTag.internedName { name = try part.string() }
                    }
                    switch field.number {
                    case PerfettoTag.internedEventNames: sequence.names[iid] = name
                    case PerfettoTag.internedAnnotationNames: sequence.annotationNames[iid] = name
                    case PerfettoTag.internedAnnotationStringValues: sequence.strings[iid] = name
                    default: break
                    }
                }
            }
            if var event {
                eventPackets += 1
                guard flags & PerfettoTag.seqNeedsIncrementalState != 0, sequence.cleared else {
                    throw PprofDecodingError("a track event without SEQ_NEEDS_INCREMENTAL_STATE on a cleared sequence")
                }
                guard let timestamp, sequence.clockIsIncremental else {
                    throw PprofDecodingError("a track event without its incremental timestamp")
                }
                sequence.lastTimestamp &+= timestamp
                var type: UInt64 = 0
                var name: String?
                var track = sequence.defaultTrack
                var args: [String: String] = [:]
                while let field = try event.next() {
                    switch field.number {
                    case PerfettoTag.eventType: type = try field.uint64()
                    case PerfettoTag.eventTrackUUID: track = try field.uint64()
                    case PerfettoTag.eventName: name = try field.string()
                    case PerfettoTag.eventNameIID:
                        let iid = try field.uint64()
                        guard let known = sequence.names[iid] else {
                            throw PprofDecodingError("event name \(iid) not interned")
                        }
                        name = known
                    case PerfettoTag.eventDebugAnnotations:
                        var annotation = try field.message()
                        var key: String?
                        var value: String?
                        while let part = try annotation.next() {
                            switch part.number {
                            case PerfettoTag.annotationNameIID: key = sequence.annotationNames[try part.uint64()]
                            case PerfettoTag.annotationName: key = try part.string()
                            case PerfettoTag.annotationStringValueIID: value = sequence.strings[try part.uint64()]
                            case PerfettoTag.annotationStringValue: value = try part.string()
                            default: break
                            }
                        }
                        guard let key, let value else { throw PprofDecodingError("an annotation not interned") }
                        args[key] = value
                    default: break
                    }
                }
                let now = sequence.lastTimestamp
                switch type {
                case PerfettoTag.typeSliceBegin:
                    let depth = open[track]?.count ?? 0
                    open[track, default: []].append(
                        Slice(name: name ?? "", track: track, start: now, end: now, depth: depth, args: args)
                    )
                case PerfettoTag.typeSliceEnd:
                    guard var slice = open[track]?.popLast() else {
                        throw PprofDecodingError("a slice end without its begin on track \(track)")
                    }
                    guard now >= slice.start else { throw PprofDecodingError("a slice ends before it begins") }
                    slice.end = now
                    slice.args.merge(args) { _, new in new }
                    slices.append(slice)
                default:
                    throw PprofDecodingError("track event type \(type)")
                }
            }
            sequences[sequenceID] = sequence
        }
        if let track = open.first(where: { !$0.value.isEmpty }) {
            throw PprofDecodingError("\(track.value.count) slices never end on track \(track.key)")
        }
    }

    private mutating func readTrack(_ message: ProtobufReader) throws {
        var message = message
        var track = Track(uuid: 0)
        while let field = try message.next() {
            switch field.number {
            case PerfettoTag.trackUUID: track.uuid = try field.uint64()
            case PerfettoTag.trackParentUUID: track.parent = try field.uint64()
            case PerfettoTag.trackName: track.name = try field.string()
            case PerfettoTag.trackProcess:
                var process = try field.message()
                while let part = try process.next() {
                    if part.number == PerfettoTag.processPID { track.pid = try part.int64() }
                    if part.number == PerfettoTag.processName { track.processName = try part.string() }
                }
            case PerfettoTag.trackThread:
                var thread = try field.message()
                while let part = try thread.next() {
                    switch part.number {
                    case PerfettoTag.threadPID: track.pid = try part.int64()
                    case PerfettoTag.threadTID: track.tid = try part.int64()
                    case PerfettoTag.threadName: track.threadName = try part.string()
                    default: break
                    }
                }
            default: break
            }
        }
        tracks[track.uuid] = track
    }
}
