/// Turns a window's difference of two tree snapshots into a `Profile`.
enum ProfileBuilder {
    static func build(
        window: Aggregator.Window,
        tree: CallTree,
        now: [Measurements],
        nanosPerTick: Double,
        durationNanoseconds: UInt64,
        statistics: Profile.Statistics,
        functions: [Profile.Function],
        labelSets labelProbes: [UInt32: [String: String]],
        memory: Bool = false
    ) -> Profile {
        let count = now.count
        let start = window.start
        // Keep each node with a value in this window, and its ancestors for its path.
        var keep = [Bool](repeating: false, count: count)
        var values = [Measurements](repeating: Measurements(), count: count)
        for i in stride(from: count - 1, through: 1, by: -1) {
            let then = i < start.count ? start[i] : Measurements()
            // Without a clock (cprof) nanosPerTick is 0, and so is every time member.
            let difference = now[i] - then
            // A call-path window shows calls and time; a memory profile everything.
            values[i] = (memory ? difference : difference.timing).converted(nanosPerTick: nanosPerTick)
            if !values[i].isZero || keep[i] {
                keep[i] = true
                keep[Int(tree.parent(i))] = true
            }
        }
        // eprof keeps the paths too: the outputs flatten them (`normalizedForOutput`).
        // Label-set nodes are not frames: their labels go on every node below them (merged with
        // those above, the inner value winning), and the time spent in them outside any scope
        // goes to their enclosing frame's path with their labels.
        var labelSets: [[String: String]] = []
        var labelSetIndex: [[String: String]: Int32] = [:]
        var nodes: [Profile.Node] = []
        var newIndex = [Int32](repeating: -1, count: count)
        var labelsOf = [Int32](repeating: -1, count: count)
        for i in 1..<max(count, 1) where keep[i] {
            let parent = Int(tree.parent(i))
            let probe = tree.probe(i)
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
                // A label set is not a call: what it measured outside any scope, calls aside.
                var unscoped = values[i]
                unscoped.calls = 0
                if !unscoped.isZero && frame >= 0 {
                    let enclosing = nodes[Int(frame)]
                    nodes.append(
                        Profile.Node(
                            parent: enclosing.parent,
                            function: enclosing.function,
                            values: unscoped,
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
                    values: values[i],
                    labels: labelsOf[parent]
                )
            )
        }
        return Profile(
            mode: window.mode,
            startWallNanoseconds: window.startWallNanoseconds,
            durationNanoseconds: durationNanoseconds,
            usedFunctionsOf: functions,
            nodes: nodes,
            statistics: statistics,
            labelSets: labelSets
        )
    }
}
