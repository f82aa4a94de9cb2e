/// The calling-context tree: one node per distinct call path, with monotone counters.
///
/// Node 0 is the root (no probe); every other node is (parent, probe). Nodes are only ever
/// added, each after its parent, so indices are a topological order and a window is two
/// snapshots of `calls` and `own` and a subtraction. Children are a linked list (most nodes
/// have few); a parent with many children also gets a hash index.
final class CallTree {
    @exclusivity(unchecked) private(set) var parent: [Int32] = [-1]
    @exclusivity(unchecked) private(set) var probe: [UInt32] = [0]
    @exclusivity(unchecked) private var firstChild: [Int32] = [-1]
    @exclusivity(unchecked) private var nextSibling: [Int32] = [-1]
    @exclusivity(unchecked) private var childCount: [UInt32] = [0]
    /// Completed calls along each path.
    @exclusivity(unchecked) var calls: [UInt64] = [0]
    /// Clock ticks spent in each path's own frame.
    @exclusivity(unchecked) var own: [UInt64] = [0]
    @exclusivity(unchecked) private var wide: [UInt64: Int32] = [:]

    private static let wideThreshold: UInt32 = 8

    var count: Int { parent.count }

    /// The node for `probe` called from `parent`, created on first use.
    func child(of parentNode: Int32, probe p: UInt32) -> Int32 {
        let pi = Int(parentNode)
        if childCount[pi] > CallTree.wideThreshold {
            if let node = wide[CallTree.key(parentNode, p)] { return node }
        } else {
            var c = firstChild[pi]
            while c >= 0 {
                if probe[Int(c)] == p { return c }
                c = nextSibling[Int(c)]
            }
        }
        return add(parentNode, p)
    }

    private func add(_ parentNode: Int32, _ p: UInt32) -> Int32 {
        let node = Int32(parent.count)
        let pi = Int(parentNode)
        parent.append(parentNode)
        probe.append(p)
        firstChild.append(-1)
        nextSibling.append(firstChild[pi])
        childCount.append(0)
        calls.append(0)
        own.append(0)
        firstChild[pi] = node
        childCount[pi] += 1
        if childCount[pi] == CallTree.wideThreshold + 1 {
            var c = firstChild[pi]
            while c >= 0 {
                wide[CallTree.key(parentNode, probe[Int(c)])] = c
                c = nextSibling[Int(c)]
            }
        } else if childCount[pi] > CallTree.wideThreshold + 1 {
            wide[CallTree.key(parentNode, p)] = node
        }
        return node
    }

    private static func key(_ parent: Int32, _ probe: UInt32) -> UInt64 {
        UInt64(UInt32(bitPattern: parent)) << 32 | UInt64(probe)
    }
}
