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
        // Label-set nodes are not frames: their labels go on every node below them (merged with
        // those above, the inner value winning), and the time spent in them outside any scope
        // goes to their enclosing frame's path with their labels.
        let labelProbes = LabelSets.shared.all()
        var labelSets: [[String: String]] = []
        var labelSetIndex: [[String: String]: Int32] = [:]
        var nodes: [Profile.Node] = []
        var newIndex = [Int32](repeating: -1, count: count)
        var labelsOf = [Int32](repeating: -1, count: count)
        for i in 1..<max(count, 1) where keep[i] {
            let parent = Int(tree.parent(i))
            let probe = tree.probe(i)
            let own = window.mode == .cprof ? 0 : windowOwn[i]
            if let labels = labelProbes[probe] {
                var merged = labelsOf[parent] >= 0 ? labelSets[Int(labelsOf[parent])] : [:]
                merged.merge(labels) { _, inner in inner }
                let index: Int32
                if let known = labelSetIndex[merged] {
                    index = known
                } else {
                    index = Int32(labelSets.count)
                    labelSets.append(merged)
                    labelSetIndex[merged] = index
                }
                newIndex[i] = newIndex[parent]
                labelsOf[i] = index
                let frame = newIndex[parent]
                if own != 0 && frame >= 0 {
                    let enclosing = nodes[Int(frame)]
                    nodes.append(
                        Profile.Node(
                            parent: enclosing.parent,
                            function: enclosing.function,
                            calls: 0,
                            ownNanoseconds: own,
                            labels: index
                        )
                    )
                }
                continue
            }
            labelsOf[i] = labelsOf[parent]
            newIndex[i] = Int32(nodes.count)
            nodes.append(
                Profile.Node(
                    parent: newIndex[parent],
                    function: Int32(probe),
                    calls: windowCalls[i],
                    ownNanoseconds: own,
                    labels: labelsOf[parent]
                )
            )
        }
        return Profile(
            mode: window.mode,
            startWallNanoseconds: window.startWallNanoseconds,
            durationNanoseconds: durationNanoseconds,
            usedFunctionsOf: ProbeRegistry.shared.functions(),
            nodes: nodes,
            statistics: statistics,
            labelSets: labelSets
        )
    }
}
