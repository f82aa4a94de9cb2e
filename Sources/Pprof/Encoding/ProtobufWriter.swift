/// A minimal protocol buffer wire writer: just what `profile.proto` needs (varints, length-delimited
/// strings and nested messages, packed repeated integers), after Go's `runtime/pprof/protobuf.go`.
///
/// Nested messages are written in place: `message(_:_:)` writes the body first, then slides it
/// right to make room for its tag and length, so no temporary buffer is allocated per message.
///
/// ```swift
/// var writer = ProtobufWriter()
/// writer.message(PprofTag.profileSampleType) { valueType in
///     valueType.int64(PprofTag.valueTypeType, 1)
///     valueType.int64(PprofTag.valueTypeUnit, 2)
/// }
/// writer.string(PprofTag.profileStringTable, "")
/// ```
package struct ProtobufWriter {
    /// The wire types this writer produces (and the reader accepts besides the fixed ones).
    package enum WireType: UInt64 {
        case varint = 0
        case fixed64 = 1
        case lengthDelimited = 2
        case fixed32 = 5
    }

    /// The encoded message so far.
    package private(set) var bytes: [UInt8] = []

    package init(capacity: Int = 0) {
        bytes.reserveCapacity(capacity)
    }

    package mutating func varint(_ value: UInt64) {
        var value = value
        while value >= 0x80 {
            bytes.append(UInt8(truncatingIfNeeded: value) | 0x80)
            value >>= 7
        }
        bytes.append(UInt8(value))
    }

    private mutating func key(_ field: Int, _ wireType: WireType) {
        varint(UInt64(field) << 3 | wireType.rawValue)
    }

    package mutating func uint64(_ field: Int, _ value: UInt64) {
        key(field, .varint)
        varint(value)
    }

    /// Omits the field when it holds proto3's default, as Go's `uint64Opt` does.
    package mutating func uint64Opt(_ field: Int, _ value: UInt64) {
        if value != 0 { uint64(field, value) }
    }

    /// An `int64` is its two's complement as a 64-bit varint (negative values take ten bytes).
    package mutating func int64(_ field: Int, _ value: Int64) {
        uint64(field, UInt64(bitPattern: value))
    }

    package mutating func int64Opt(_ field: Int, _ value: Int64) {
        if value != 0 { int64(field, value) }
    }

    package mutating func bool(_ field: Int, _ value: Bool) {
        uint64(field, value ? 1 : 0)
    }

    package mutating func boolOpt(_ field: Int, _ value: Bool) {
        if value { bool(field, true) }
    }

    package mutating func string(_ field: Int, _ value: String) {
        var value = value
        value.withUTF8 { utf8 in
            key(field, .lengthDelimited)
            varint(UInt64(utf8.count))
            bytes.append(contentsOf: utf8)
        }
    }

    /// A repeated `uint64` in packed form (proto3's default), or nothing when empty.
    package mutating func packedUInt64s(_ field: Int, _ values: [UInt64]) {
        guard !values.isEmpty else { return }
        lengthDelimited(field) { writer in
            for value in values { writer.varint(value) }
        }
    }

    /// A repeated `int64` in packed form, or nothing when empty.
    package mutating func packedInt64s(_ field: Int, _ values: [Int64]) {
        packedUInt64s(field, values.map { UInt64(bitPattern: $0) })
    }

    /// A packed repeated varint field whose values `body` writes with `varint(_:)`: for callers
    /// that produce the values one by one, without an array.
    package mutating func packed(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        lengthDelimited(field, body)
    }

    /// A nested message: `body` writes its fields into this same writer.
    package mutating func message(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        lengthDelimited(field, body)
    }

    /// Writes `body`, then moves it right by the size of its key and length and writes those in
    /// front: the prefix is at most 5 + 10 bytes, so the move is one shift of the body.
    private mutating func lengthDelimited(_ field: Int, _ body: (inout ProtobufWriter) -> Void) {
        let start = bytes.count
        body(&self)
        let key = UInt64(field) << 3 | WireType.lengthDelimited.rawValue
        let length = UInt64(bytes.count - start)
        let keySize = Self.varintSize(key)
        bytes.insert(contentsOf: repeatElement(0, count: keySize + Self.varintSize(length)), at: start)
        Self.putVarint(key, into: &bytes, at: start)
        Self.putVarint(length, into: &bytes, at: start + keySize)
    }

    private static func varintSize(_ value: UInt64) -> Int {
        var size = 1
        var value = value
        while value >= 0x80 {
            value >>= 7
            size += 1
        }
        return size
    }

    private static func putVarint(_ value: UInt64, into bytes: inout [UInt8], at index: Int) {
        var value = value
        var index = index
        while value >= 0x80 {
            bytes[index] = UInt8(truncatingIfNeeded: value) | 0x80
            value >>= 7
            index += 1
        }
        bytes[index] = UInt8(value)
    }
}

/// Field numbers of google/pprof `proto/profile.proto`, named as Go's `runtime/pprof/proto.go`
/// names them, each with the field's type.
package enum PprofTag {
    // message Profile
    package static let profileSampleType = 1  // repeated ValueType
    package static let profileSample = 2  // repeated Sample
    package static let profileMapping = 3  // repeated Mapping
    package static let profileLocation = 4  // repeated Location
    package static let profileFunction = 5  // repeated Function
    package static let profileStringTable = 6  // repeated string
    package static let profileDropFrames = 7  // int64 (string table index)
    package static let profileKeepFrames = 8  // int64 (string table index)
    package static let profileTimeNanos = 9  // int64
    package static let profileDurationNanos = 10  // int64
    package static let profilePeriodType = 11  // ValueType
    package static let profilePeriod = 12  // int64
    package static let profileComment = 13  // repeated int64 (string table index)
    package static let profileDefaultSampleType = 14  // int64 (string table index)

    // message ValueType
    package static let valueTypeType = 1  // int64 (string table index)
    package static let valueTypeUnit = 2  // int64 (string table index)

    // message Sample
    package static let sampleLocation = 1  // repeated uint64
    package static let sampleValue = 2  // repeated int64
    package static let sampleLabel = 3  // repeated Label

    // message Label
    package static let labelKey = 1  // int64 (string table index)
    package static let labelStr = 2  // int64 (string table index)
    package static let labelNum = 3  // int64
    package static let labelNumUnit = 4  // int64 (string table index)

    // message Mapping
    package static let mappingID = 1  // uint64
    package static let mappingStart = 2  // uint64
    package static let mappingLimit = 3  // uint64
    package static let mappingOffset = 4  // uint64
    package static let mappingFilename = 5  // int64 (string table index)
    package static let mappingBuildID = 6  // int64 (string table index)
    package static let mappingHasFunctions = 7  // bool
    package static let mappingHasFilenames = 8  // bool
    package static let mappingHasLineNumbers = 9  // bool
    package static let mappingHasInlineFrames = 10  // bool

    // message Location
    package static let locationID = 1  // uint64
    package static let locationMappingID = 2  // uint64
    package static let locationAddress = 3  // uint64
    package static let locationLine = 4  // repeated Line
    package static let locationIsFolded = 5  // bool

    // message Line
    package static let lineFunctionID = 1  // uint64
    package static let lineLine = 2  // int64
    package static let lineColumn = 3  // int64

    // message Function
    package static let functionID = 1  // uint64
    package static let functionName = 2  // int64 (string table index)
    package static let functionSystemName = 3  // int64 (string table index)
    package static let functionFilename = 4  // int64 (string table index)
    package static let functionStartLine = 5  // int64
}
