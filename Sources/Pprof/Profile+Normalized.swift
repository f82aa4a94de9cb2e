extension Profile {
    /// The tree the outputs (pprof, report, folded stacks) walk: the same profile, made safe and
    /// shaped by its mode.
    ///
    /// - A parent index that is not a smaller valid index becomes -1 (a root), so that walking
    ///   `parent` links always ends; a function index out of range names a function
    ///   `(unknown function)`. The aggregator never produces either; an output must not trap or
    ///   loop on a bad profile anyway.
    /// - eprof is flat per function: nodes of one function merge into one root node, in order of
    ///   first appearance, whether or not the aggregator already kept them flat.
    package var normalizedForOutput: Profile {
        var isNested = false
        var isValid = true
        for (index, node) in nodes.enumerated() {
            if node.parent >= 0 { isNested = true }
            if node.parent < -1 || Int(node.parent) >= index || node.function < 0
                || Int(node.function) >= functions.count || node.labels < -1 || Int(node.labels) >= labelSets.count
            {
                isValid = false
            }
        }
        if isValid && !(mode == .eprof && isNested) { return self }

        var functions = self.functions
        var nodes = self.nodes
        var unknown: Int32?
        for index in nodes.indices {
            if nodes[index].parent < -1 || Int(nodes[index].parent) >= index { nodes[index].parent = -1 }
            if nodes[index].labels < -1 || Int(nodes[index].labels) >= labelSets.count { nodes[index].labels = -1 }
            if nodes[index].function < 0 || Int(nodes[index].function) >= functions.count {
                if unknown == nil {
                    unknown = Int32(functions.count)
                    functions.append(Function(name: "(unknown function)", file: "", line: 0))
                }
                nodes[index].function = unknown!
            }
        }
        if mode == .eprof {
            var merged: [Node] = []
            var slot: [Int64: Int] = [:]  // function and labels: eprof keeps labels apart
            for node in nodes {
                let key = Int64(node.function) << 32 | Int64(UInt32(bitPattern: node.labels))
                if let index = slot[key] {
                    merged[index].values += node.values
                } else {
                    slot[key] = merged.count
                    var root = node
                    root.parent = -1
                    merged.append(root)
                }
            }
            nodes = merged
        }
        var normalized = self
        normalized.functions = functions
        normalized.nodes = nodes
        return normalized
    }

    /// The function indices on `node`'s path, leaf first. Expects a normalized profile.
    package func functionPath(of node: Int) -> [Int32] {
        var path: [Int32] = []
        var index = node
        while index >= 0 {
            path.append(nodes[index].function)
            index = Int(nodes[index].parent)
        }
        return path
    }

    /// The value a one-value output (folded stacks) shows for a node: own time, or calls in
    /// cprof, which reads no clock.
    package func primaryValue(of node: Node) -> UInt64 {
        mode == .cprof ? node.calls : node.ownNanoseconds
    }
}
