extension Profile {
    /// One pprof sample type of a profile and the member of `Measurements` that holds its
    /// values: a new measurement is one more row of `all`, not a new encoder.
    ///
    /// ```swift
    /// let types = Profile.SampleType.of(.cprof)     // calls/count only: cprof reads no clock
    /// let value = types[0].value(node.values)       // the node's calls
    /// ```
    package struct SampleType: Sendable {
        package var type: String
        package var unit: String
        /// Whether the hooks read a clock for it: cprof, which reads none, leaves such types out.
        package var needsClock: Bool
        package var value: @Sendable (Measurements) -> UInt64

        /// Every sample type a call-path profile can have, in the order of its sample values;
        /// the last one a mode keeps is its period type and default.
        package static var all: [SampleType] {
            [
                SampleType(type: "calls", unit: "count", needsClock: false, value: { $0.calls }),
                SampleType(type: "wall", unit: "nanoseconds", needsClock: true, value: { $0.wall }),
            ]
        }

        /// Go's memory profile types, in Go's order (`runtime/pprof/protomem.go`): what Parca,
        /// Alloy and Pyroscope look for by name.
        package static var memory: [SampleType] {
            [
                SampleType(type: "alloc_objects", unit: "count", needsClock: false, value: { $0.allocObjects }),
                SampleType(type: "alloc_space", unit: "bytes", needsClock: false, value: { $0.allocBytes }),
                SampleType(type: "inuse_objects", unit: "count", needsClock: false, value: { $0.inuseObjects }),
                SampleType(type: "inuse_space", unit: "bytes", needsClock: false, value: { $0.inuseBytes }),
            ]
        }

        /// CPU samples, as Go's CPU profile names them (`runtime/pprof`): what Parca, Alloy and
        /// Pyroscope look for in a CPU profile.
        package static var cpu: [SampleType] {
            [
                SampleType(type: "samples", unit: "count", needsClock: true, value: { $0.cpuSamples }),
                SampleType(type: "cpu", unit: "nanoseconds", needsClock: true, value: { $0.cpuNanoseconds }),
            ]
        }

        /// The sample types of a profile of `mode`.
        package static func of(_ mode: Mode) -> [SampleType] {
            mode == .cprof ? all.filter { !$0.needsClock } : all
        }

        /// The sample types of `profile`: its mode's, and the CPU samples' when it took them
        /// (after wall, which stays the default and the period type).
        package static func of(_ profile: Profile) -> [SampleType] {
            let types = of(profile.mode)
            return profile.mode != .cprof && profile.statistics.cpuHz > 0 ? types + cpu : types
        }

        package var valueType: PprofBuilder.ValueType {
            PprofBuilder.ValueType(type: type, unit: unit)
        }
    }
}
