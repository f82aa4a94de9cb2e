/// Calls, own and accumulated time per function and per caller→callee edge of a normalized
/// profile's tree.
///
/// A function's ACC is the own time of every node whose path contains the function, counted
/// once per node however often recursion repeats the function on the path: that is the sum of
/// the subtree times of the function's outermost nodes. An edge's ACC is, likewise, the sum of
/// the subtree times of the edge's outermost occurrences. One depth-first walk finds both,
/// keeping how many times each function and each edge is open on the current path. Sampled CPU
/// time is summed the same way, beside wall time.
struct CallGraphTotals {
    struct Totals {
        var calls: UInt64 = 0
        var own: UInt64 = 0
        var accumulated: UInt64 = 0
        /// Sampled CPU nanoseconds in the function itself, and with what it called.
        var cpu: UInt64 = 0
        var cpuAccumulated: UInt64 = 0

        var isZero: Bool { calls == 0 && own == 0 && accumulated == 0 && cpuAccumulated == 0 }
    }

    struct Edge: Hashable {
        /// -1 for the root.
        var caller: Int32
        var callee: Int32
    }

    private(set) var functions: [Int32: Totals] = [:]
    private(set) var edges: [Edge: Totals] = [:]

    init(_ profile: Profile) {
        let nodes = profile.nodes
        var children = [[Int]](repeating: [], count: nodes.count)
        var roots: [Int] = []
        var subtree = nodes.map(\.ownNanoseconds)
        var subtreeCPU = nodes.map(\.values.cpuNanoseconds)
        // Parents come before their children, so one backward pass sums every subtree.
        for index in nodes.indices.reversed() {
            let parent = Int(nodes[index].parent)
            if parent >= 0 {
                subtree[parent] &+= subtree[index]
                subtreeCPU[parent] &+= subtreeCPU[index]
                children[parent].append(index)
            } else {
                roots.append(index)
            }
        }

        var openFunctions: [Int32: Int] = [:]
        var openEdges: [Edge: Int] = [:]
        // (node, true) enters the node, (node, false) leaves it once its subtree is done.
        var stack = roots.map { ($0, true) }
        while let (index, entering) = stack.popLast() {
            let node = nodes[index]
            let edge = Edge(caller: node.parent >= 0 ? nodes[Int(node.parent)].function : -1, callee: node.function)
            guard entering else {
                openFunctions[node.function]! -= 1
                openEdges[edge]! -= 1
                continue
            }
            let outermostFunction = openFunctions[node.function, default: 0] == 0
            let outermostEdge = openEdges[edge, default: 0] == 0
            functions[node.function, default: Totals()].add(
                node,
                subtree: outermostFunction ? (subtree[index], subtreeCPU[index]) : (0, 0)
            )
            edges[edge, default: Totals()].add(
                node,
                subtree: outermostEdge ? (subtree[index], subtreeCPU[index]) : (0, 0)
            )
            openFunctions[node.function, default: 0] += 1
            openEdges[edge, default: 0] += 1
            stack.append((index, false))
            stack.append(contentsOf: children[index].map { ($0, true) })
        }
    }
}

extension CallGraphTotals.Totals {
    fileprivate mutating func add(_ node: Profile.Node, subtree: (wall: UInt64, cpu: UInt64)) {
        calls &+= node.calls
        own &+= node.ownNanoseconds
        accumulated &+= subtree.wall
        cpu &+= node.values.cpuNanoseconds
        cpuAccumulated &+= subtree.cpu
    }
}
