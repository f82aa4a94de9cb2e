extension Profile {
    /// The profile as a gzipped pprof protobuf (`perftools.profiles.Profile`), for
    /// `go tool pprof`, Parca, Pyroscope and Grafana.
    ///
    /// ```swift
    /// let window = Profiler.start(mode: .fprof)
    /// runWorkload()
    /// let bytes = window.stop().pprof()   // serve it, or write it: go tool pprof -top FILE
    /// ```
    ///
    /// In fprof and eprof mode the sample types are `calls/count` and `wall/nanoseconds`
    /// (the default); in cprof mode `calls/count` only. There is one sample per call path with a
    /// non-zero value, leaf first, whose values are the path's calls and **own** time: pprof's
    /// flat is then own time and its cum the accumulated time, with recursion counted once. In
    /// eprof mode each sample is one frame: one per function.
    /// The comments (`go tool pprof -comments`) say how it was recorded and what was lost.
    ///
    /// - Returns: the gzip-compressed protobuf message.
    public func pprof() -> [UInt8] {
        Gzip.compress(pprofMessage())
    }

    /// The uncompressed `perftools.profiles.Profile` message that `pprof()` gzips.
    package func pprofMessage() -> [UInt8] {
        let profile = normalizedForOutput
        let nodes = profile.nodes
        let functions = profile.functions

        let sampleTypes = mode == .cprof ? [("calls", "count")] : [("calls", "count"), ("wall", "nanoseconds")]
        let emitted = nodes.indices.filter { index in
            nodes[index].calls != 0 || (mode != .cprof && nodes[index].ownNanoseconds != 0)
        }

        // Only functions that a sample names get a Function and a Location, numbered 1, 2, 3, …
        // in the order of `functions` (Parca rejects gaps); a function's Location has its id.
        // A sample names the functions on its node's path: the emitted nodes and their
        // ancestors, found in one pass from the leaves up (a parent's index is below its
        // child's), with no path built per node.
        var onPath = [Bool](repeating: false, count: nodes.count)
        for index in emitted { onPath[index] = true }
        var ids = [UInt64](repeating: 0, count: functions.count)
        for index in nodes.indices.reversed() where onPath[index] {
            ids[Int(nodes[index].function)] = 1
            let parent = Int(nodes[index].parent)
            if parent >= 0 { onPath[parent] = true }
        }
        var used: [Int] = []
        for index in functions.indices where ids[index] != 0 {
            used.append(index)
            ids[index] = UInt64(used.count)
        }

        var strings = StringTable()
        var writer = ProtobufWriter(capacity: 64 + emitted.count * 16 + used.count * 48)

        for (type, unit) in sampleTypes {
            writer.message(PprofTag.profileSampleType) { valueType in
                valueType.int64(PprofTag.valueTypeType, strings.index(type))
                valueType.int64(PprofTag.valueTypeUnit, strings.index(unit))
            }
        }

        let timed = mode != .cprof
        // Each label set's string indices, keys sorted, so equal sets encode equally.
        let labelStrings: [[(Int64, Int64)]] = profile.labelSets.map { set in
            set.sorted { $0.key < $1.key }.map { (strings.index($0.key), strings.index($0.value)) }
        }
        nodes.withUnsafeBufferPointer { nodes in
            for node in emitted {
                writer.message(PprofTag.profileSample) { sample in
                    // The path leaf first, as pprof wants it.
                    sample.packed(PprofTag.sampleLocation) { locations in
                        var index = node
                        while index >= 0 {
                            locations.varint(ids[Int(nodes[index].function)])
                            index = Int(nodes[index].parent)
                        }
                    }
                    sample.packed(PprofTag.sampleValue) { values in
                        values.varint(UInt64(bitPattern: Int64(clamping: nodes[node].calls)))
                        if timed { values.varint(UInt64(bitPattern: Int64(clamping: nodes[node].ownNanoseconds))) }
                    }
                    let labels = Int(nodes[node].labels)
                    if labels >= 0 && labels < labelStrings.count {
                        for (key, value) in labelStrings[labels] {
                            sample.message(PprofTag.sampleLabel) { label in
                                label.int64(PprofTag.labelKey, key)
                                label.int64(PprofTag.labelStr, value)
                            }
                        }
                    }
                }
            }
        }

        // One Mapping per object that holds a call site: the main program first (id 1, also for
        // call sites of unknown object), then each shared object in order of first use.
        var mappings = [Profile.Mapping(path: ExecutableMapping.path, buildID: ExecutableMapping.buildID)]
        var mappingIDs: [Profile.Mapping: UInt64] = [:]
        var locationMapping = [UInt64](repeating: 1, count: functions.count)
        for index in used {
            guard let mapping = functions[index].mapping else { continue }
            if let id = mappingIDs[mapping] {
                locationMapping[index] = id
            } else {
                mappings.append(mapping)
                mappingIDs[mapping] = UInt64(mappings.count)
                locationMapping[index] = UInt64(mappings.count)
            }
        }
        for (offset, mapping) in mappings.enumerated() {
            let filename = strings.index(mapping.path)
            let buildID = strings.index(mapping.buildID)
            writer.message(PprofTag.profileMapping) { message in
                // memory_start, memory_limit and file_offset stay 0: no location has an address
                // (a scope is a call site, not a sampled PC), and has_functions tells pprof not
                // to symbolize.
                message.uint64(PprofTag.mappingID, UInt64(offset + 1))
                message.int64Opt(PprofTag.mappingFilename, filename)
                message.int64Opt(PprofTag.mappingBuildID, buildID)
                message.bool(PprofTag.mappingHasFunctions, true)
                message.bool(PprofTag.mappingHasFilenames, true)
                message.bool(PprofTag.mappingHasLineNumbers, true)
            }
        }

        for index in used {
            writer.message(PprofTag.profileLocation) { location in
                location.uint64(PprofTag.locationID, ids[index])
                location.uint64(PprofTag.locationMappingID, locationMapping[index])
                location.message(PprofTag.locationLine) { line in
                    line.uint64(PprofTag.lineFunctionID, ids[index])
                    line.int64Opt(PprofTag.lineLine, Int64(functions[index].line))
                }
            }
        }

        for index in used {
            let function = functions[index]
            let name = strings.index(function.name)
            let systemName = strings.index(function.systemName)
            let filename = strings.index(function.file)
            writer.message(PprofTag.profileFunction) { message in
                message.uint64(PprofTag.functionID, ids[index])
                message.int64Opt(PprofTag.functionName, name)
                message.int64Opt(PprofTag.functionSystemName, systemName)
                message.int64Opt(PprofTag.functionFilename, filename)
                message.int64Opt(PprofTag.functionStartLine, Int64(function.line))
            }
        }

        // Every string the remaining fields name must be in the table before it is written.
        let periodType = sampleTypes[sampleTypes.count - 1]
        let periodTypeIndices = (strings.index(periodType.0), strings.index(periodType.1))
        let comments = commentLines.map { strings.index($0) }

        for string in strings.strings {
            writer.string(PprofTag.profileStringTable, string)
        }
        writer.int64(PprofTag.profileTimeNanos, Int64(clamping: startWallNanoseconds))
        writer.int64(PprofTag.profileDurationNanos, Int64(clamping: max(durationNanoseconds, 1)))
        writer.message(PprofTag.profilePeriodType) { valueType in
            valueType.int64(PprofTag.valueTypeType, periodTypeIndices.0)
            valueType.int64(PprofTag.valueTypeUnit, periodTypeIndices.1)
        }
        writer.int64(PprofTag.profilePeriod, 1)
        writer.packedInt64s(PprofTag.profileComment, comments)
        // The default sample type is the period type: wall where there is a clock, else calls.
        writer.int64(PprofTag.profileDefaultSampleType, periodTypeIndices.0)
        return writer.bytes
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
