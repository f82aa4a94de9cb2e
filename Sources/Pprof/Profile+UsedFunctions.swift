extension Profile {
    /// A profile whose nodes name functions of `registry` (the probe registry's table), holding
    /// only the functions its nodes use, renumbered 0, 1, 2, … in order of first use: a window
    /// keeps what it shows, not a copy of every probe the process has, and the encoder takes
    /// each function it holds as used.
    ///
    /// ```swift
    /// let profile = Profile(
    ///     mode: .fprof, startWallNanoseconds: start, durationNanoseconds: duration,
    ///     usedFunctionsOf: registry, nodes: nodes, statistics: statistics)
    /// ```
    ///
    /// A function index out of the registry's range stays as it is (out of range of the kept
    /// functions too), for `normalizedForOutput` to name it.
    package init(
        mode: Mode,
        startWallNanoseconds: UInt64,
        durationNanoseconds: UInt64,
        usedFunctionsOf registry: [Function],
        nodes: [Node],
        statistics: Statistics,
        labelSets: [[String: String]] = []
    ) {
        var nodes = nodes
        var functions: [Function] = []
        var renumbered = [Int32](repeating: -1, count: registry.count)
        for index in nodes.indices {
            let function = Int(nodes[index].function)
            guard function >= 0 && function < registry.count else { continue }
            if renumbered[function] < 0 {
                renumbered[function] = Int32(functions.count)
                functions.append(registry[function])
            }
            nodes[index].function = renumbered[function]
        }
        self.init(
            mode: mode,
            startWallNanoseconds: startWallNanoseconds,
            durationNanoseconds: durationNanoseconds,
            functions: functions,
            nodes: nodes,
            statistics: statistics,
            labelSets: labelSets
        )
    }
}
