/// Writes one pprof `perftools.profiles.Profile` message, after Go's `runtime/pprof`
/// `profileBuilder`: every profile kind (call paths, threads, and next memory and CPU samples) is
/// a small source that adds its samples here, and this builder keeps the rules every consumer
/// needs (DESIGN.md): `string_table[0] == ""` with each string once; mapping, location and
/// function ids 1, 2, 3, … in order of first use; one value per sample type in every sample.
///
/// ```swift
/// var builder = PprofBuilder(
///     sampleTypes: [.init(type: "calls", unit: "count"), .init(type: "wall", unit: "nanoseconds")],
///     timeNanos: start, durationNanos: duration)
/// let leaf = builder.location(Profile.Function(name: "parse", file: "App/Parser.swift", line: 12))
/// let root = builder.location(Profile.Function(name: "main", file: "App/main.swift", line: 3))
/// let route = builder.label("route", "/users")
/// builder.addSample(locations: [leaf, root], values: [3, 9_000], labels: [route])
/// builder.comments = ["mode: fprof"]
/// let message = builder.finish()   // Gzip.compress(message) is the .pb.gz
/// ```
///
/// A scope is a call site, not a sampled address: each function has exactly one location (same
/// id), on the mapping of the object that holds it (the main program, id 1, when unknown), and
/// mappings say `has_functions` so that pprof does not try to symbolize. Each mapping has its
/// object's executable segment and each location an address inside it (the call site's, else
/// the program's entry point or the mapping's start), which `-disasm`, `-weblist` and the web
/// UI's Source view need.
package struct PprofBuilder {
    /// A sample type or the period type: `calls/count`, `wall/nanoseconds`, `alloc_space/bytes`.
    package struct ValueType: Sendable, Hashable {
        package var type: String
        package var unit: String

        package init(type: String, unit: String) {
            self.type = type
            self.unit = unit
        }
    }

    /// A sample label, its strings already in the table: build it once per label set with
    /// `label(_:_:)` or `label(_:number:unit:)` and hand it to every sample that carries it.
    package struct Label: Sendable, Hashable {
        fileprivate enum Value: Sendable, Hashable {
            case string(Int64)
            case number(Int64, unit: Int64)
        }

        fileprivate var key: Int64
        fileprivate var value: Value
    }

    private let sampleTypes: [ValueType]
    private let periodType: ValueType
    private let period: Int64
    private let defaultSampleType: String?
    private let timeNanos: Int64
    private let durationNanos: Int64
    /// The profile's comments (`go tool pprof -comments`), one string per line.
    package var comments: [String] = []

    private var strings = StringTable()
    private var writer: ProtobufWriter
    /// Functions by id - 1, their strings already in the table (so none is copied); each has
    /// the location of the same id.
    private var functions: [FunctionEntry] = []
    private var functionIDs: [Profile.Function: UInt64] = [:]
    /// The mappings by id - 1, their strings in the table: the main program, then each shared
    /// object.
    private var mappings: [MappingEntry] = []
    private var mappingIDs: [Profile.Mapping: UInt64] = [:]

    /// Starts a profile whose samples have one value per entry of `sampleTypes`, in that order.
    ///
    /// - Parameters:
    ///   - periodType: what one unit of `period` is; the last sample type when nil.
    ///   - defaultSampleType: the type pprof shows first; nil leaves it unset (pprof then shows
    ///     the last), as Go's heap profile does.
    ///   - timeNanos: when the profile began, in nanoseconds since the Unix epoch.
    ///   - durationNanos: how long it covers; pprof wants it positive.
    ///   - capacity: bytes to reserve for the message.
    package init(
        sampleTypes: [ValueType],
        periodType: ValueType? = nil,
        period: Int64 = 1,
        defaultSampleType: String? = nil,
        timeNanos: Int64,
        durationNanos: Int64,
        capacity: Int = 256
    ) {
        self.sampleTypes = sampleTypes
        self.periodType = periodType ?? sampleTypes.last ?? ValueType(type: "", unit: "")
        self.period = period
        self.defaultSampleType = defaultSampleType
        self.timeNanos = timeNanos
        self.durationNanos = durationNanos
        writer = ProtobufWriter(capacity: capacity)
        // The sample types come first on the wire, as in Go's profiles, and first in the table.
        for valueType in sampleTypes {
            writeValueType(Tag.profileSampleType, valueType)
        }
        mappings = [MappingEntry(ExecutableMapping.main, &strings, fallback: ExecutableMapping.entry)]
    }

    /// The string table index of `string`, added on first use.
    package mutating func string(_ string: String) -> Int64 {
        strings.index(string)
    }

    /// A label with a string value (pprof `Label.str`).
    package mutating func label(_ key: String, _ value: String) -> Label {
        Label(key: strings.index(key), value: .string(strings.index(value)))
    }

    /// A label with a numeric value (pprof `Label.num`) and its unit (`bytes`, or "" for none),
    /// as Go's heap profile labels each sample with its object size.
    package mutating func label(_ key: String, number: Int64, unit: String = "") -> Label {
        Label(key: strings.index(key), value: .number(number, unit: unit.isEmpty ? 0 : strings.index(unit)))
    }

    /// The location id of `function`: equal functions share one, new ones get the next id.
    package mutating func location(_ function: Profile.Function) -> UInt64 {
        if let id = functionIDs[function] { return id }
        let id = newLocation(function)
        functionIDs[function] = id
        return id
    }

    /// A new location (and function) id for `function`, without looking for an equal one: for
    /// a source that keys its functions itself (the call-path profile by function index), so
    /// that no function is hashed.
    package mutating func newLocation(_ function: Profile.Function) -> UInt64 {
        let mappingID = mapping(function.mapping)
        let range = mappings[Int(mappingID) - 1]
        // An address outside its mapping would send pprof to another object's code, or past it.
        // 0 is no address, though a position-independent program's segment starts there.
        let inside = function.address != 0 && function.address >= range.start && function.address < range.limit
        functions.append(
            FunctionEntry(
                name: strings.index(function.name),
                systemName: strings.index(function.systemName),
                filename: strings.index(function.path.isEmpty ? function.file : function.path),
                line: Int64(function.line),
                mapping: mappingID,
                address: inside ? function.address : range.fallback
            )
        )
        return UInt64(functions.count)
    }

    /// The mapping id of the object holding a call site: 1 for the main program (and unknown),
    /// then each shared object in order of first use.
    private mutating func mapping(_ mapping: Profile.Mapping?) -> UInt64 {
        guard let mapping else { return 1 }
        if let id = mappingIDs[mapping] { return id }
        mappings.append(MappingEntry(mapping, &strings))
        let id = UInt64(mappings.count)
        mappingIDs[mapping] = id
        return id
    }

    /// Adds one sample: its locations leaf first (ids from `location(_:)`), one value per sample
    /// type (checked in debug builds), and its labels.
    package mutating func addSample<Locations: Sequence<UInt64>, Values: Sequence<Int64>>(
        locations: Locations,
        values: Values,
        labels: some Sequence<Label> = EmptyCollection()
    ) {
        writer.message(Tag.profileSample) { sample in
            sample.packed(Tag.sampleLocation) { packed in
                for id in locations { packed.varint(id) }
            }
            var count = 0
            sample.packed(Tag.sampleValue) { packed in
                for value in values {
                    packed.varint(UInt64(bitPattern: value))
                    count += 1
                }
            }
            assert(count == sampleTypes.count, "a sample has one value per sample type")
            for label in labels {
                sample.message(Tag.sampleLabel) { message in
                    message.int64(Tag.labelKey, label.key)
                    switch label.value {
                    case .string(let value):
                        message.int64(Tag.labelStr, value)
                    case .number(let value, let unit):
                        message.int64(Tag.labelNum, value)
                        message.int64Opt(Tag.labelNumUnit, unit)
                    }
                }
            }
        }
    }

    /// The finished message: mappings, locations and functions, then the string table (every
    /// string a field names is in it by then), then the closing fields. Strings enter the table
    /// as they are first named: sample types, the main program's mapping, then labels and
    /// functions in the order of the calls that name them.
    package mutating func finish() -> [UInt8] {
        for (offset, mapping) in mappings.enumerated() {
            writer.message(Tag.profileMapping) { message in
                message.uint64(Tag.mappingID, UInt64(offset + 1))
                message.uint64Opt(Tag.mappingStart, mapping.start)
                message.uint64Opt(Tag.mappingLimit, mapping.limit)
                message.uint64Opt(Tag.mappingOffset, mapping.offset)
                message.int64Opt(Tag.mappingFilename, mapping.filename)
                message.int64Opt(Tag.mappingBuildID, mapping.buildID)
                message.bool(Tag.mappingHasFunctions, true)
                message.bool(Tag.mappingHasFilenames, true)
                message.bool(Tag.mappingHasLineNumbers, true)
            }
        }
        for (offset, function) in functions.enumerated() {
            let id = UInt64(offset + 1)
            writer.message(Tag.profileLocation) { location in
                location.uint64(Tag.locationID, id)
                location.uint64(Tag.locationMappingID, function.mapping)
                location.uint64Opt(Tag.locationAddress, function.address)
                location.message(Tag.locationLine) { line in
                    line.uint64(Tag.lineFunctionID, id)
                    line.int64Opt(Tag.lineLine, function.line)
                }
            }
        }
        for (offset, function) in functions.enumerated() {
            writer.message(Tag.profileFunction) { message in
                message.uint64(Tag.functionID, UInt64(offset + 1))
                message.int64Opt(Tag.functionName, function.name)
                message.int64Opt(Tag.functionSystemName, function.systemName)
                message.int64Opt(Tag.functionFilename, function.filename)
                message.int64Opt(Tag.functionStartLine, function.line)
            }
        }

        let periodType = (strings.index(self.periodType.type), strings.index(self.periodType.unit))
        let comments = comments.map { strings.index($0) }
        let defaultSampleType = self.defaultSampleType.map { strings.index($0) }
        for string in strings.strings {
            writer.string(Tag.profileStringTable, string)
        }
        writer.int64(Tag.profileTimeNanos, timeNanos)
        writer.int64(Tag.profileDurationNanos, durationNanos)
        writer.message(Tag.profilePeriodType) { valueType in
            valueType.int64(Tag.valueTypeType, periodType.0)
            valueType.int64(Tag.valueTypeUnit, periodType.1)
        }
        writer.int64(Tag.profilePeriod, period)
        writer.packedInt64s(Tag.profileComment, comments)
        if let defaultSampleType {
            writer.int64(Tag.profileDefaultSampleType, defaultSampleType)
        }
        return writer.bytes
    }

    private mutating func writeValueType(_ field: Int, _ valueType: ValueType) {
        let type = strings.index(valueType.type)
        let unit = strings.index(valueType.unit)
        writer.message(field) { message in
            message.int64(Tag.valueTypeType, type)
            message.int64(Tag.valueTypeUnit, unit)
        }
    }

    private typealias Tag = PprofTag
}

/// A function as the builder keeps it: string table indices, its line, its mapping id and its
/// location's address.
private struct FunctionEntry {
    var name: Int64
    var systemName: Int64
    var filename: Int64
    var line: Int64
    var mapping: UInt64
    var address: UInt64
}

/// A mapping as the builder keeps it: string table indices and its executable segment.
private struct MappingEntry {
    var filename: Int64
    var buildID: Int64
    var start: UInt64
    var limit: UInt64
    var offset: UInt64
    /// Where a location without an address of its own is placed: the program's entry point for
    /// the main program, else the segment's start.
    var fallback: UInt64

    init(_ mapping: Profile.Mapping, _ strings: inout StringTable, fallback: UInt64 = 0) {
        filename = strings.index(mapping.path)
        buildID = strings.index(mapping.buildID)
        start = mapping.start
        limit = mapping.limit
        offset = mapping.offset
        self.fallback = fallback >= mapping.start && fallback < mapping.limit ? fallback : mapping.start
    }
}

/// pprof's string table: each string once, "" at index 0 (the proto requires it).
private struct StringTable {
    private(set) var strings: [String] = [""]
    private var indices: [String: Int64] = ["": 0]

    mutating func index(_ string: String) -> Int64 {
        if let index = indices[string] { return index }
        let index = Int64(strings.count)
        strings.append(string)
        indices[string] = index
        return index
    }
}
