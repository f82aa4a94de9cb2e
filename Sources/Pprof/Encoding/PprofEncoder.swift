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
    /// (the default), then `samples/count` and `cpu/nanoseconds` when CPU samples were taken
    /// (`PPROF_CPU_HZ`); in cprof mode `calls/count` only. There is one sample per call path with a
    /// non-zero value, leaf first, whose values are the path's calls and **own** time: pprof's
    /// flat is then own time and its cum the accumulated time, with recursion counted once. In
    /// eprof mode each sample is one frame: one per function.
    /// The comments (`go tool pprof -comments`) say how it was recorded and what was lost.
    ///
    /// - Returns: the gzip-compressed protobuf message.
    public func pprof() -> [UInt8] {
        Gzip.compress(pprofMessage())
    }

    /// The uncompressed `perftools.profiles.Profile` message that `pprof()` gzips: one sample
    /// per node with a non-zero value, through the one `PprofBuilder`.
    package func pprofMessage() -> [UInt8] {
        let mine = SampleType.of(mode)
        // The default sample type is the mode's last, also the period type: wall where there is
        // a clock, else calls. The CPU samples' types come after it.
        let main = mine[mine.count - 1]
        return pprofMessage(
            sampleTypes: SampleType.of(self),
            periodType: main.valueType,
            defaultSampleType: main.type
        )
    }

    /// The profile in Go's CPU profile shape, for tools that expect exactly that: the sample
    /// types `samples/count` and `cpu/nanoseconds` only, `period_type cpu/nanoseconds`, the
    /// period one sample's CPU time (`1e9 / hz`), and only the call paths that were sampled.
    ///
    /// ```swift
    /// let window = Profiler.start(mode: .fprof)
    /// serve()
    /// let bytes = window.stop().cpuPprof()   // go tool pprof -top FILE: flat and cum in cpu
    /// ```
    public func cpuPprof() -> [UInt8] {
        Gzip.compress(cpuPprofMessage())
    }

    package func cpuPprofMessage() -> [UInt8] {
        let hz = max(statistics.cpuHz, 1)
        return pprofMessage(
            sampleTypes: SampleType.cpu,
            periodType: PprofBuilder.ValueType(type: "cpu", unit: "nanoseconds"),
            period: Int64(1_000_000_000 / hz),
            defaultSampleType: nil
        )
    }

    /// The message with `sampleTypes` (the last is the period type unless `periodType` is
    /// given), one sample per node with a non-zero value among them: the one writer of
    /// call-path profiles, memory profiles included.
    package func pprofMessage(
        sampleTypes: [SampleType],
        periodType: PprofBuilder.ValueType? = nil,
        period: Int64 = 1,
        defaultSampleType: String?,
        comments: [String]? = nil
    ) -> [UInt8] {
        let profile = normalizedForOutput
        var builder = PprofBuilder(
            sampleTypes: sampleTypes.map(\.valueType),
            periodType: periodType,
            period: period,
            defaultSampleType: defaultSampleType,
            timeNanos: Int64(clamping: startWallNanoseconds),
            durationNanos: Int64(clamping: max(durationNanoseconds, 1)),
            capacity: 64 + profile.nodes.count * 24 + profile.functions.count * 48
        )
        // Each label set once, keys sorted, so that equal sets encode equally.
        let labelSets = profile.labelSets.map { set in
            set.sorted { $0.key < $1.key }.map { builder.label($0.key, $0.value) }
        }
        // The profile holds only the functions its nodes use (ProfileBuilder keeps no others), so
        // a function's location is made on first use, with no pass to find the used ones; keyed
        // by index, as the old encoder did (two equal entries stay two functions).
        var locations = [UInt64](repeating: 0, count: profile.functions.count)
        var stack: [UInt64] = []
        var values: [Int64] = []
        // The readers alone: iterating the sample types would retain their strings per node.
        let measure = sampleTypes.map(\.value)
        profile.nodes.withUnsafeBufferPointer { nodes in
            for node in nodes.indices {
                values.removeAll(keepingCapacity: true)
                for value in measure {
                    values.append(Int64(clamping: value(nodes[node].values)))
                }
                guard values.contains(where: { $0 != 0 }) else { continue }
                // The path leaf first, as pprof wants it.
                stack.removeAll(keepingCapacity: true)
                var index = node
                while index >= 0 {
                    let function = Int(nodes[index].function)
                    if locations[function] == 0 {
                        locations[function] = builder.newLocation(profile.functions[function])
                    }
                    stack.append(locations[function])
                    index = Int(nodes[index].parent)
                }
                let labels = Int(nodes[node].labels)
                builder.addSample(locations: stack, values: values, labels: labels >= 0 ? labelSets[labels] : [])
            }
        }
        builder.comments = comments ?? commentLines
        return builder.finish()
    }
}
