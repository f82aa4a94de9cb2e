import Pprof

/// Why bytes are not a pprof profile, in one line.
package struct PprofDecodingError: Error, CustomStringConvertible {
    package var reason: String

    package init(_ reason: String) {
        self.reason = reason
    }

    package var description: String { "not a pprof profile: \(reason)" }
}

/// A pprof profile read back: every field our encoder writes (and the rest of `profile.proto`
/// that consumers read), with helpers that answer what tests ask of a profile.
///
/// ```swift
/// let decoded = try DecodedProfile.decode(profile.pprof())
/// #expect(decoded.value(path: ["main", "work"], type: "calls") == 3)
/// #expect(decoded.cumulative("work", type: "wall") == 9_000)
/// #expect(decoded.violations() == [])
/// ```
///
/// String fields hold the raw string-table indices, as on the wire, so that `violations()` can
/// check them; `string(_:)` resolves one.
package struct DecodedProfile: Sendable {
    package struct ValueType: Sendable, Hashable {
        package var type: Int64 = 0
        package var unit: Int64 = 0
    }

    package struct Label: Sendable, Hashable {
        package var key: Int64 = 0
        package var str: Int64 = 0
        package var num: Int64 = 0
        package var numUnit: Int64 = 0
    }

    package struct Sample: Sendable, Hashable {
        /// Leaf first.
        package var locationIDs: [UInt64] = []
        package var values: [Int64] = []
        package var labels: [Label] = []
    }

    package struct Mapping: Sendable, Hashable {
        package var id: UInt64 = 0
        package var memoryStart: UInt64 = 0
        package var memoryLimit: UInt64 = 0
        package var fileOffset: UInt64 = 0
        package var filename: Int64 = 0
        package var buildID: Int64 = 0
        package var hasFunctions = false
        package var hasFilenames = false
        package var hasLineNumbers = false
        package var hasInlineFrames = false
    }

    package struct Line: Sendable, Hashable {
        package var functionID: UInt64 = 0
        package var line: Int64 = 0
    }

    package struct Location: Sendable, Hashable {
        package var id: UInt64 = 0
        package var mappingID: UInt64 = 0
        package var address: UInt64 = 0
        /// Innermost (inlined) first.
        package var lines: [Line] = []
    }

    package struct Function: Sendable, Hashable {
        package var id: UInt64 = 0
        package var name: Int64 = 0
        package var systemName: Int64 = 0
        package var filename: Int64 = 0
        package var startLine: Int64 = 0
    }

    package var sampleTypes: [ValueType] = []
    package var samples: [Sample] = []
    package var mappings: [Mapping] = []
    package var locations: [Location] = []
    package var functions: [Function] = []
    package var stringTable: [String] = []
    package var dropFrames: Int64 = 0
    package var keepFrames: Int64 = 0
    package var timeNanos: Int64 = 0
    package var durationNanos: Int64 = 0
    package var periodType: ValueType?
    package var period: Int64 = 0
    package var commentIndices: [Int64] = []
    package var defaultSampleTypeIndex: Int64 = 0

    /// Decodes a pprof profile, gunzipping it first when it starts with the gzip magic bytes.
    ///
    /// - Throws: `PprofDecodingError` for anything that is not a well-formed message; never traps.
    package static func decode(_ bytes: [UInt8]) throws -> DecodedProfile {
        var message = bytes
        if bytes.count >= 2 && bytes[0] == 0x1F && bytes[1] == 0x8B {
            do {
                message = try Gzip.decompress(bytes)
            } catch {
                throw PprofDecodingError("\(error)")
            }
        }
        var profile = DecodedProfile()
        var reader = ProtobufReader(message)
        while let field = try reader.next() {
            switch field.number {
            case PprofTag.profileSampleType: profile.sampleTypes.append(try valueType(field))
            case PprofTag.profileSample: profile.samples.append(try sample(field))
            case PprofTag.profileMapping: profile.mappings.append(try mapping(field))
            case PprofTag.profileLocation: profile.locations.append(try location(field))
            case PprofTag.profileFunction: profile.functions.append(try function(field))
            case PprofTag.profileStringTable: profile.stringTable.append(try field.string())
            case PprofTag.profileDropFrames: profile.dropFrames = try field.int64()
            case PprofTag.profileKeepFrames: profile.keepFrames = try field.int64()
            case PprofTag.profileTimeNanos: profile.timeNanos = try field.int64()
            case PprofTag.profileDurationNanos: profile.durationNanos = try field.int64()
            case PprofTag.profilePeriodType: profile.periodType = try valueType(field)
            case PprofTag.profilePeriod: profile.period = try field.int64()
            case PprofTag.profileComment: profile.commentIndices += try field.packedInt64s()
            case PprofTag.profileDefaultSampleType: profile.defaultSampleTypeIndex = try field.int64()
            default: break  // unknown fields are skipped, as protobuf requires
            }
        }
        return profile
    }

    private static func valueType(_ field: ProtobufReader.Field) throws -> ValueType {
        var result = ValueType()
        var reader = try field.message()
        while let field = try reader.next() {
            switch field.number {
            case PprofTag.valueTypeType: result.type = try field.int64()
            case PprofTag.valueTypeUnit: result.unit = try field.int64()
            default: break
            }
        }
        return result
    }

    private static func sample(_ field: ProtobufReader.Field) throws -> Sample {
        var result = Sample()
        var reader = try field.message()
        while let field = try reader.next() {
            switch field.number {
            case PprofTag.sampleLocation: result.locationIDs += try field.packedUInt64s()
            case PprofTag.sampleValue: result.values += try field.packedInt64s()
            case PprofTag.sampleLabel: result.labels.append(try label(field))
            default: break
            }
        }
        return result
    }

    private static func label(_ field: ProtobufReader.Field) throws -> Label {
        var result = Label()
        var reader = try field.message()
        while let field = try reader.next() {
            switch field.number {
            case PprofTag.labelKey: result.key = try field.int64()
            case PprofTag.labelStr: result.str = try field.int64()
            case PprofTag.labelNum: result.num = try field.int64()
            case PprofTag.labelNumUnit: result.numUnit = try field.int64()
            default: break
            }
        }
        return result
    }

    private static func mapping(_ field: ProtobufReader.Field) throws -> Mapping {
        var result = Mapping()
        var reader = try field.message()
        while let field = try reader.next() {
            switch field.number {
            case PprofTag.mappingID: result.id = try field.uint64()
            case PprofTag.mappingStart: result.memoryStart = try field.uint64()
            case PprofTag.mappingLimit: result.memoryLimit = try field.uint64()
            case PprofTag.mappingOffset: result.fileOffset = try field.uint64()
            case PprofTag.mappingFilename: result.filename = try field.int64()
            case PprofTag.mappingBuildID: result.buildID = try field.int64()
            case PprofTag.mappingHasFunctions: result.hasFunctions = try field.bool()
            case PprofTag.mappingHasFilenames: result.hasFilenames = try field.bool()
            case PprofTag.mappingHasLineNumbers: result.hasLineNumbers = try field.bool()
            case PprofTag.mappingHasInlineFrames: result.hasInlineFrames = try field.bool()
            default: break
            }
        }
        return result
    }

    private static func location(_ field: ProtobufReader.Field) throws -> Location {
        var result = Location()
        var reader = try field.message()
        while let field = try reader.next() {
            switch field.number {
            case PprofTag.locationID: result.id = try field.uint64()
            case PprofTag.locationMappingID: result.mappingID = try field.uint64()
            case PprofTag.locationAddress: result.address = try field.uint64()
            case PprofTag.locationLine:
                var line = Line()
                var lineReader = try field.message()
                while let field = try lineReader.next() {
                    switch field.number {
                    case PprofTag.lineFunctionID: line.functionID = try field.uint64()
                    case PprofTag.lineLine: line.line = try field.int64()
                    default: break
                    }
                }
                result.lines.append(line)
            default: break
            }
        }
        return result
    }

    private static func function(_ field: ProtobufReader.Field) throws -> Function {
        var result = Function()
        var reader = try field.message()
        while let field = try reader.next() {
            switch field.number {
            case PprofTag.functionID: result.id = try field.uint64()
            case PprofTag.functionName: result.name = try field.int64()
            case PprofTag.functionSystemName: result.systemName = try field.int64()
            case PprofTag.functionFilename: result.filename = try field.int64()
            case PprofTag.functionStartLine: result.startLine = try field.int64()
            default: break
            }
        }
        return result
    }
}

// MARK: - Reading the profile as a test does

extension DecodedProfile {
    /// The string at `index` of the string table, or "?" when the index is out of range.
    package func string(_ index: Int64) -> String {
        index >= 0 && index < Int64(stringTable.count) ? stringTable[Int(index)] : "?"
    }

    /// Sample types as `type/unit`, e.g. `["calls/count", "wall/nanoseconds"]`.
    package var sampleTypeNames: [String] {
        sampleTypes.map { "\(string($0.type))/\(string($0.unit))" }
    }

    /// The default sample type's name; pprof's fallback, the last sample type, when unset.
    package var defaultSampleType: String {
        if defaultSampleTypeIndex != 0 { return string(defaultSampleTypeIndex) }
        return sampleTypes.last.map { string($0.type) } ?? ""
    }

    /// `period_type` as `type/unit`, or nil when absent.
    package var periodTypeName: String? {
        periodType.map { "\(string($0.type))/\(string($0.unit))" }
    }

    package var comments: [String] {
        commentIndices.map { string($0) }
    }

    /// The mode and statistics our encoder wrote in its machine-readable comment line
    /// (`Profile.statisticsLine`), or nil when the profile has none (another producer's).
    package var recorded: (mode: Profile.Mode?, statistics: Profile.Statistics)? {
        for comment in comments {
            if let recorded = Profile.statistics(fromCommentLine: comment) { return recorded }
        }
        return nil
    }

    /// Every sample as function names root..leaf, its values, and its labels (numeric labels
    /// as decimal text), as `pprof-lint --stacks` reads them.
    package var stacks: [(frames: [String], values: [Int64], labels: [String: String])] {
        var functionNames: [UInt64: String] = [:]
        for function in functions where function.name >= 0 && function.name < Int64(stringTable.count) {
            functionNames[function.id] = stringTable[Int(function.name)]
        }
        var locationFrames: [UInt64: [String]] = [:]
        for location in locations {
            // A location's lines run innermost first; a stack reads root..leaf.
            let frames = location.lines.reversed().map { functionNames[$0.functionID] ?? "?" }
            locationFrames[location.id] = frames.isEmpty ? ["0x" + String(location.address, radix: 16)] : frames
        }
        return samples.map { sample in
            let frames = sample.locationIDs.reversed().flatMap { locationFrames[$0] ?? ["?"] }
            var labels: [String: String] = [:]
            for label in sample.labels {
                labels[string(label.key)] = label.str != 0 ? string(label.str) : String(label.num)
            }
            return (frames, sample.values, labels)
        }
    }

    /// The position of the sample type named `type` (e.g. "wall"), or nil.
    package func sampleTypeIndex(_ type: String) -> Int? {
        sampleTypes.firstIndex { string($0.type) == type }
    }

    /// The sum of the values of type `type` of the samples whose stack, root..leaf, is `path`;
    /// nil when no sample has that stack or there is no such type.
    package func value(path: [String], type: String) -> Int64? {
        guard let column = sampleTypeIndex(type) else { return nil }
        var sum: Int64?
        for stack in stacks where stack.frames == path && column < stack.values.count {
            sum = (sum ?? 0) &+ stack.values[column]
        }
        return sum
    }

    /// pprof's flat: the sum of the values of samples whose leaf is `function`.
    package func flat(_ function: String, type: String) -> Int64 {
        guard let column = sampleTypeIndex(type) else { return 0 }
        var sum: Int64 = 0
        for stack in stacks where stack.frames.last == function && column < stack.values.count {
            sum &+= stack.values[column]
        }
        return sum
    }

    /// pprof's cum: the sum of the values of samples whose stack contains `function`, counted
    /// once per stack however often recursion repeats it.
    package func cumulative(_ function: String, type: String) -> Int64 {
        guard let column = sampleTypeIndex(type) else { return 0 }
        var sum: Int64 = 0
        for stack in stacks where stack.frames.contains(function) && column < stack.values.count {
            sum &+= stack.values[column]
        }
        return sum
    }
}

// MARK: - The rules real consumers enforce

extension DecodedProfile {
    /// What breaks `profile.proto` or the stricter rules of real scrapers (Parca: ids 1, 2, 3, …
    /// in order; Pyroscope: sample types present, no '-' in their names): the same checks, and
    /// the same messages, as `shared/tools/pprof-lint`. Empty when the profile is acceptable.
    package func violations() -> [String] {
        var errors: [String] = []
        let count = Int64(stringTable.count)
        func checkString(_ index: Int64, _ what: String) {
            if !(index >= 0 && index < count) {
                errors.append("\(what): string index \(index) out of range (table has \(count))")
            }
        }

        if stringTable.first != "" {
            errors.append("string_table[0] must be the empty string")
        }
        if sampleTypes.isEmpty {
            errors.append("no sample_type")
        }
        for type in sampleTypes {
            checkString(type.type, "sample_type.type")
            checkString(type.unit, "sample_type.unit")
            if type.type >= 0 && type.type < count && stringTable[Int(type.type)].contains("-") {
                errors.append(
                    "sample type name '\(stringTable[Int(type.type)])' contains '-' (Pyroscope rejects it)"
                )
            }
        }
        if periodType == nil {
            errors.append("no period_type")
        }
        if durationNanos <= 0 {
            errors.append("duration_nanos is not positive")
        }
        if timeNanos <= 0 {
            errors.append("time_nanos is not positive")
        }
        if defaultSampleTypeIndex != 0 {
            checkString(defaultSampleTypeIndex, "default_sample_type")
            if !sampleTypes.contains(where: { $0.type == defaultSampleTypeIndex }) {
                errors.append("default_sample_type names no sample type")
            }
        }
        for comment in commentIndices {
            checkString(comment, "comment")
        }
        func checkIDs(_ kind: String, _ ids: [UInt64]) {
            for (position, id) in ids.enumerated() where id != UInt64(position + 1) {
                errors.append("\(kind) #\(position) has id \(id): ids must be 1,2,3,... in order (Parca)")
                break
            }
        }
        checkIDs("mapping", mappings.map(\.id))
        checkIDs("location", locations.map(\.id))
        checkIDs("function", functions.map(\.id))

        let mappingIDs = Set(mappings.map(\.id))
        let functionIDs = Set(functions.map(\.id))
        let locationIDs = Set(locations.map(\.id))
        for mapping in mappings {
            checkString(mapping.filename, "mapping.filename")
            checkString(mapping.buildID, "mapping.build_id")
        }
        for function in functions {
            checkString(function.name, "function.name")
            checkString(function.systemName, "function.system_name")
            checkString(function.filename, "function.filename")
            if function.name == 0 {
                errors.append("function \(function.id) has no name")
            }
        }
        for location in locations {
            if location.mappingID != 0 && !mappingIDs.contains(location.mappingID) {
                errors.append("location \(location.id) names unknown mapping \(location.mappingID)")
            }
            if location.lines.isEmpty && location.address == 0 {
                errors.append("location \(location.id) has neither lines nor an address")
            }
            for line in location.lines where !functionIDs.contains(line.functionID) {
                errors.append("location \(location.id) names unknown function \(line.functionID)")
            }
        }
        for (position, sample) in samples.enumerated() {
            if sample.values.count != sampleTypes.count {
                errors.append(
                    "sample \(position) has \(sample.values.count) values for \(sampleTypes.count) sample types"
                )
            }
            if sample.locationIDs.isEmpty {
                errors.append("sample \(position) has no location ids")
            }
            for id in sample.locationIDs where id == 0 || !locationIDs.contains(id) {
                errors.append("sample \(position) names unknown location \(id)")
            }
            for label in sample.labels {
                if label.key == 0 {
                    errors.append("sample \(position) has a label with key 0")
                }
                checkString(label.key, "label.key")
                checkString(label.str, "label.str")
                if label.str != 0 && label.num != 0 {
                    errors.append("sample \(position) has a label with both str and num")
                }
            }
            // As pprof-lint: past 50 problems the rest adds nothing.
            if errors.count > 50 { break }
        }
        return errors
    }
}
