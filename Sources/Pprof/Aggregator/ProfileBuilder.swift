/// Turns a window's difference of two tree snapshots into a `Profile`.
enum ProfileBuilder {
    static func build(
        window: Aggregator.Window,
        tree: CallTree,
        now: [CallTree.Counters],
        nanosPerTick: Double,
        durationNanoseconds: UInt64,
        statistics: Profile.Statistics
    ) -> Profile {
        let count = now.count
        let start = window.start
        // Keep each node with a value in this window, and its ancestors for its path.
        var keep = [Bool](repeating: false, count: count)
        var windowCalls = [UInt64](repeating: 0, count: count)
        var windowOwn = [UInt64](repeating: 0, count: count)
        for i in stride(from: count - 1, through: 1, by: -1) {
            let then = i < start.count ? start[i] : CallTree.Counters(calls: 0, own: 0)
            windowCalls[i] = now[i].calls &- then.calls
            windowOwn[i] = UInt64((Double(now[i].own &- then.own) * nanosPerTick).rounded())
            if windowCalls[i] != 0 || windowOwn[i] != 0 || keep[i] {
                keep[i] = true
                keep[Int(tree.parent(i))] = true
            }
        }
        // eprof keeps the paths too: the outputs flatten them (`normalizedForOutput`).
        var nodes: [Profile.Node] = []
        var newIndex = [Int32](repeating: -1, count: count)
        for i in 1..<max(count, 1) where keep[i] {
            newIndex[i] = Int32(nodes.count)
            nodes.append(
                Profile.Node(
                    parent: newIndex[Int(tree.parent(i))],
                    function: Int32(tree.probe(i)),
                    calls: windowCalls[i],
                    ownNanoseconds: window.mode == .cprof ? 0 : windowOwn[i]
                )
            )
        }
        return Profile(
            mode: window.mode,
            startWallNanoseconds: window.startWallNanoseconds,
            durationNanoseconds: durationNanoseconds,
            functions: ProbeRegistry.shared.functions(),
            nodes: nodes,
            statistics: statistics
        )
    }
}
