import Testing

@testable import Pprof

/// The call tree on its own: every (parent, probe) is one node, found again however its parent's
/// children are held (inline, then tables rebuilt as they grow), and with stale table hints.
struct CallTreeTests {
    @Test(arguments: [1, 4, 5, 9, 17, 100, 5000])
    func eachPathIsOneNodeWhateverTheFanout(fanout: Int) {
        let tree = CallTree()
        var reference: [[UInt32]: Int32] = [[]: 0]
        // Two levels: the root's children, then each child's; probes spaced so that hashes collide.
        var hints: [Int32: CallTree.TableRef] = [:]
        var random: UInt64 = 0x1234_5678
        for round in 0..<3 {
            for i in 0..<fanout {
                let p = UInt32(1 + i * 64)
                let first = tree.child(of: 0, table: .unknown, probe: p)
                if let known = reference[[p]] { #expect(first.node == known) } else { reference[[p]] = first.node }
                hints[first.node] = first.table
                // A few grandchildren under each, looked up with the (possibly stale) hint.
                for j in 0..<min(fanout, 12) {
                    random = random &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                    let q = UInt32(1 + (j * 31 + Int(random >> 60)) % 12 * 7)
                    let second = tree.child(of: first.node, table: hints[first.node] ?? .unknown, probe: q)
                    if let known = reference[[p, q]] {
                        #expect(second.node == known, "round \(round): \(p)/\(q)")
                    } else {
                        reference[[p, q]] = second.node
                    }
                    #expect(tree.parent(Int(second.node)) == first.node && tree.probe(Int(second.node)) == q)
                }
            }
        }
        // Every node was made once, and the tree holds exactly those.
        #expect(tree.count == reference.count)
        #expect(Set(reference.values).count == reference.count)
        for (path, node) in reference where !path.isEmpty {
            #expect(tree.probe(Int(node)) == path.last!)
            #expect(tree.parent(Int(node)) == (path.count == 1 ? 0 : reference[Array(path.dropLast())]!))
        }
    }

    @Test func countersAddUpAndSnapshotsCopyThem() {
        let tree = CallTree()
        let a = tree.child(of: 0, probe: 7)
        let b = tree.child(of: a, probe: 8)
        tree.addCall(b, own: 100)
        tree.addCall(b, own: 50)
        tree.addOwn(a, 30)
        let snapshot = tree.snapshot()
        tree.addCall(a, own: 1)
        #expect(snapshot[Int(b)] == Measurements(calls: 2, wall: 150))
        #expect(snapshot[Int(a)] == Measurements(calls: 0, wall: 30))
        #expect(tree.calls(Int(a)) == 1 && tree.own(Int(a)) == 31)
    }

    @Test func aTreeGrowsPastItsFirstAllocations() {
        let tree = CallTree()
        var parent: Int32 = 0
        for i in 0..<100_000 {
            // A chain with a side branch at each level: 200k nodes, beyond every initial capacity.
            let side = tree.child(of: parent, probe: UInt32(2 + i % 5))
            tree.addCall(side, own: UInt64(i))
            parent = tree.child(of: parent, probe: 1)
        }
        #expect(tree.count == 200_001)
        var node = 0
        var depth = 0
        while let next = (1..<tree.count).first(where: { tree.parent($0) == Int32(node) && tree.probe($0) == 1 }),
            depth < 3
        {
            node = next
            depth += 1
        }
        #expect(depth == 3)
    }
}
