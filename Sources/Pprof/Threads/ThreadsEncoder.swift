import CPprof

/// The `threads/count` profile of `Threads.pprof`: one sample per thread inside a scope, whose
/// locations are its open scopes leaf first and whose labels are `thread` (its name) and
/// `thread_id` (its serial number, as in timelines). The same rules
/// as every profile here (DESIGN.md): ids 1, 2, 3, … in order, `string_table[0] == ""`, one
/// Function and one Location per distinct scope, one Mapping with `has_functions`.
///
/// ```swift
/// let bytes = Gzip.compress(ThreadsEncoder.encode(Threads.snapshot()))
/// ```
enum ThreadsEncoder {
    static func encode(_ threads: [Threads.Thread]) -> [UInt8] {
        var strings: [String] = [""]
        var stringIndex: [String: Int64] = ["": 0]
        func index(_ s: String) -> Int64 {
            if let i = stringIndex[s] { return i }
            let i = Int64(strings.count)
            strings.append(s)
            stringIndex[s] = i
            return i
        }
        struct Site: Hashable {
            var name: String
            var file: String
            var line: Int
        }
        var sites: [Site] = []
        var siteID: [Site: UInt64] = [:]
        func id(_ frame: Threads.Frame) -> UInt64 {
            let site = Site(name: frame.name, file: frame.file, line: frame.line)
            if let id = siteID[site] { return id }
            sites.append(site)
            siteID[site] = UInt64(sites.count)
            return UInt64(sites.count)
        }

        var writer = ProtobufWriter(capacity: 256 + threads.count * 64)
        let threadsType = index("threads")
        let countUnit = index("count")
        writer.message(PprofTag.profileSampleType) { valueType in
            valueType.int64(PprofTag.valueTypeType, threadsType)
            valueType.int64(PprofTag.valueTypeUnit, countUnit)
        }
        let threadKey = index("thread")
        let idKey = index("thread_id")
        for thread in threads {
            let ids = thread.frames.reversed().map(id)
            let name = index(thread.name)
            let serial = index(String(thread.id))
            writer.message(PprofTag.profileSample) { sample in
                sample.packed(PprofTag.sampleLocation) { locations in
                    for id in ids { locations.varint(id) }
                }
                sample.packed(PprofTag.sampleValue) { values in values.varint(1) }
                sample.message(PprofTag.sampleLabel) { label in
                    label.int64(PprofTag.labelKey, threadKey)
                    label.int64(PprofTag.labelStr, name)
                }
                // Names repeat (pools name their threads alike); the serial number does not.
                sample.message(PprofTag.sampleLabel) { label in
                    label.int64(PprofTag.labelKey, idKey)
                    label.int64(PprofTag.labelStr, serial)
                }
            }
        }
        let mappingFilename = index(ExecutableMapping.path)
        let mappingBuildID = index(ExecutableMapping.buildID)
        writer.message(PprofTag.profileMapping) { mapping in
            mapping.uint64(PprofTag.mappingID, 1)
            mapping.int64Opt(PprofTag.mappingFilename, mappingFilename)
            mapping.int64Opt(PprofTag.mappingBuildID, mappingBuildID)
            mapping.bool(PprofTag.mappingHasFunctions, true)
            mapping.bool(PprofTag.mappingHasFilenames, true)
            mapping.bool(PprofTag.mappingHasLineNumbers, true)
        }
        for (offset, site) in sites.enumerated() {
            let id = UInt64(offset + 1)
            writer.message(PprofTag.profileLocation) { location in
                location.uint64(PprofTag.locationID, id)
                location.uint64(PprofTag.locationMappingID, 1)
                location.message(PprofTag.locationLine) { line in
                    line.uint64(PprofTag.lineFunctionID, id)
                    line.int64Opt(PprofTag.lineLine, Int64(site.line))
                }
            }
        }
        for (offset, site) in sites.enumerated() {
            let name = index(site.name)
            let file = index(site.file)
            writer.message(PprofTag.profileFunction) { function in
                function.uint64(PprofTag.functionID, UInt64(offset + 1))
                function.int64Opt(PprofTag.functionName, name)
                function.int64Opt(PprofTag.functionSystemName, name)
                function.int64Opt(PprofTag.functionFilename, file)
                function.int64Opt(PprofTag.functionStartLine, Int64(site.line))
            }
        }
        let comment = index("swift-pprof threads: the open scopes of every thread inside one, one sample each")
        for string in strings { writer.string(PprofTag.profileStringTable, string) }
        writer.int64(PprofTag.profileTimeNanos, Int64(clamping: CPprof_wallNanos()))
        writer.int64(PprofTag.profileDurationNanos, 1)
        writer.message(PprofTag.profilePeriodType) { valueType in
            valueType.int64(PprofTag.valueTypeType, threadsType)
            valueType.int64(PprofTag.valueTypeUnit, countUnit)
        }
        writer.int64(PprofTag.profilePeriod, 1)
        writer.packedInt64s(PprofTag.profileComment, [comment])
        writer.int64(PprofTag.profileDefaultSampleType, threadsType)
        return writer.bytes
    }
}
