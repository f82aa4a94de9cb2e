/// Field numbers of Perfetto's trace protos (google/perfetto `protos/perfetto/trace/`), named
/// for their message and field, each with the field's type: what `PerfettoTrace` writes.
///
/// ```swift
/// var writer = ProtobufWriter()
/// writer.message(PerfettoTag.tracePacket) { packet in
///     packet.uint64(PerfettoTag.packetTrustedSequenceID, 1)
/// }
/// ```
package enum PerfettoTag {
    // trace.proto: message Trace
    package static let tracePacket = 1  // repeated TracePacket

    // trace_packet.proto: message TracePacket
    package static let packetClockSnapshot = 6  // ClockSnapshot
    package static let packetTimestamp = 8  // uint64
    package static let packetTrustedSequenceID = 10  // uint32 trusted_packet_sequence_id
    package static let packetTrackEvent = 11  // TrackEvent
    package static let packetInternedData = 12  // InternedData
    package static let packetSequenceFlags = 13  // uint32 (SequenceFlags)
    package static let packetTimestampClockID = 58  // uint32
    package static let packetDefaults = 59  // TracePacketDefaults
    package static let packetTrackDescriptor = 60  // TrackDescriptor

    // TracePacket.SequenceFlags
    package static let seqIncrementalStateCleared: UInt64 = 1
    package static let seqNeedsIncrementalState: UInt64 = 2

    // trace_packet_defaults.proto: message TracePacketDefaults
    package static let defaultsTimestampClockID = 58  // uint32
    package static let defaultsTrackEventDefaults = 11  // TrackEventDefaults

    // track_event.proto: message TrackEventDefaults
    package static let trackEventDefaultsTrackUUID = 11  // uint64

    // clock_snapshot.proto: message ClockSnapshot, message ClockSnapshot.Clock
    package static let clockSnapshotClocks = 1  // repeated Clock
    package static let clockID = 1  // uint32
    package static let clockTimestamp = 2  // uint64
    package static let clockIsIncremental = 3  // bool
    /// BuiltinClocks.BOOTTIME, the trace processor's default trace clock.
    package static let clockBoottime: UInt64 = 6
    /// The first of the sequence-scoped clock ids a producer may define (64 to 127).
    package static let clockFirstSequenceScoped: UInt64 = 64

    // track_event.proto: message TrackEvent
    package static let eventDebugAnnotations = 4  // repeated DebugAnnotation
    package static let eventType = 9  // Type
    package static let eventNameIID = 10  // uint64
    package static let eventTrackUUID = 11  // uint64
    package static let eventName = 23  // string

    // TrackEvent.Type
    package static let typeSliceBegin: UInt64 = 1
    package static let typeSliceEnd: UInt64 = 2

    // debug_annotation.proto: message DebugAnnotation
    package static let annotationNameIID = 1  // uint64
    package static let annotationStringValue = 6  // string
    package static let annotationName = 10  // string
    package static let annotationStringValueIID = 17  // uint64

    // interned_data.proto: message InternedData
    package static let internedEventNames = 2  // repeated EventName
    package static let internedAnnotationNames = 3  // repeated DebugAnnotationName
    package static let internedAnnotationStringValues = 29  // repeated InternedString
    // EventName, DebugAnnotationName: iid = 1, name = 2; InternedString: iid = 1, str = 2 (bytes)
    package static let internedIID = 1  // uint64
    package static let internedName = 2  // string (bytes in InternedString)

    // track_descriptor.proto: message TrackDescriptor
    package static let trackUUID = 1  // uint64
    package static let trackName = 2  // string
    package static let trackProcess = 3  // ProcessDescriptor
    package static let trackThread = 4  // ThreadDescriptor
    package static let trackParentUUID = 5  // uint64

    // process_descriptor.proto: message ProcessDescriptor
    package static let processPID = 1  // int32
    package static let processName = 6  // string

    // thread_descriptor.proto: message ThreadDescriptor
    package static let threadPID = 1  // int32
    package static let threadTID = 2  // int64
    package static let threadName = 5  // string
}
