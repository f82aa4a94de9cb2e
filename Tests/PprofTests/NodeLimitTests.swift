import Foundation
import PprofTestKit
import Testing

@testable import Pprof

/// The call tree's node limit: past it, new call paths are counted under `(call tree full)`, with
/// every call kept, and the tree stops growing.
struct NodeLimitTests {
    /// Calls the path `probes` once: looks each frame up from the root and counts a call at the
    /// leaf, as the fold does at an exit.
    static func call(_ probes: [UInt32], in tree: CallTree) {
        var node: Int32 = 0
        for probe in probes { node = tree.child(of: node, probe: probe) }
        tree.addCall(node, own: 1)
    }

    /// Calls per path of the tree, as probe lists root..leaf.
    static func paths(_ tree: CallTree) -> [[UInt32]: UInt64] {
        DropTests.paths(tree)
    }

    static let full = ProbeRegistry.treeFullProbe

    static func at(_ paths: [[UInt32]: UInt64], _ path: UInt32...) -> UInt64? { paths[path] }

    @Test func pathsPastTheLimitGoUnderTheirDeepestKnownFrame() {
        let tree = CallTree(nodeLimit: 64)
        // [10], then [10, i] and [10, i, 500] for 200 values of i: two nodes each.
        var exits: UInt64 = 0
        for i in 0..<200 {
            Self.call([10, UInt32(100 + i)], in: tree)
            Self.call([10, UInt32(100 + i), 500], in: tree)
            exits += 2
        }
        Self.call([10], in: tree)
        exits += 1
        let paths = Self.paths(tree)
        // 1 + 1 + 2 x 31 = 64 nodes fit; then the root's overflow node and [10]'s.
        #expect(tree.count == 66)
        #expect(tree.isFull)
        for i in 0..<31 {
            #expect(Self.at(paths, 10, UInt32(100 + i)) == 1)
            #expect(Self.at(paths, 10, UInt32(100 + i), 500) == 1)
        }
        #expect(Self.at(paths, 10, UInt32(100 + 31)) == nil)
        // The other 169 paths and their leaves, every call of them, under [10]'s overflow node.
        #expect(Self.at(paths, 10, Self.full) == 169 * 2)
        #expect(Self.at(paths, Self.full) == 0)
        #expect(Self.at(paths, 10) == 1)
        let total: UInt64 = paths.values.reduce(0, +)
        #expect(total == exits)
    }

    @Test func whenTheReserveIsSpentTheRootsOverflowNodeTakesTheRest() {
        let tree = CallTree(nodeLimit: 64)
        // 21 tops with a child each (43 nodes), then 21 more children of top 10: 64 nodes.
        for top in 10..<31 { Self.call([UInt32(top), 500], in: tree) }
        for k in 0..<21 { Self.call([10, UInt32(600 + k)], in: tree) }
        #expect(tree.count == 64 && !tree.isFull)
        // Each top now calls something new: room for the root's overflow node and four more.
        for top in 10..<31 { Self.call([UInt32(top), 501, 502], in: tree) }
        #expect(CallTree.overflowReserve(64) == 5)
        #expect(tree.count == 64 + 5)
        let paths = Self.paths(tree)
        for top in 10..<14 { #expect(Self.at(paths, UInt32(top), Self.full) == 1) }
        for top in 14..<31 { #expect(Self.at(paths, UInt32(top), Self.full) == nil) }
        #expect(Self.at(paths, Self.full) == 17)
        let total: UInt64 = paths.values.reduce(0, +)
        #expect(total == 63)  // 21 tops x 3 calls
        // Later calls of known paths still find their own nodes.
        Self.call([10, 600], in: tree)
        #expect(Self.at(Self.paths(tree), 10, 600) == 2)
        #expect(tree.count == 64 + 5)
    }

    @Test func aDeepRecursionStopsGrowingTheTree() {
        let tree = CallTree(nodeLimit: 1000)
        var node: Int32 = 0
        for _ in 0..<100_000 { node = tree.child(of: node, probe: 7) }
        tree.addCall(node, own: 1)
        #expect(tree.count <= 1000 + CallTree.overflowReserve(1000))
        #expect(tree.probe(Int(node)) == Self.full)
    }

    /// PPROF_MAX_NODES end to end: a child process makes 1000 named paths under a tree of 64
    /// nodes; the profile keeps every call, says the tree was full, and passes the checks.
    @Test func pprofMaxNodesBoundsTheTreeOfAWholeRun() throws {
        let dir = try ExitDumpTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("paths.pb.gz")
        let run = try ExitDumpTests.run(
            "paths",
            ["1000"],
            // No CPU samples: their leaves (the functions they interrupted) would take some of
            // the 64 nodes, at places no test can know.
            environment: ["PPROF_OUTPUT": output.path, "PPROF_MAX_NODES": "64", "PPROF_CPU_HZ": "0"]
        )
        #expect(run.reason == .exit && run.status == 0, "\(run.stderr)")
        let profile = try ExitDumpTests.decode(output)
        #expect(profile.violations() == [])
        // Root, fixture.many, then 31 paths of two nodes fit; the other 969 are counted whole.
        #expect(profile.value(path: ["fixture.many"], type: "calls") == 1)
        #expect(profile.value(path: ["fixture.many", "fixture.path.30"], type: "calls") == 1)
        #expect(profile.value(path: ["fixture.many", "fixture.path.30", "fixture.leaf"], type: "calls") == 1)
        #expect(profile.value(path: ["fixture.many", "fixture.path.31"], type: "calls") == nil)
        // 969 paths x 2 calls
        #expect(profile.value(path: ["fixture.many", "(call tree full)"], type: "calls") == 1938)
        let total = profile.samples.reduce(Int64(0)) { $0 + $1.values[0] }
        #expect(total == 1 + 2000)
        #expect(
            profile.comments.contains { $0.hasPrefix("call tree full: 66 nodes, limit 64 (") },
            "\(profile.comments)"
        )
    }

    @Test func aBadPprofMaxNodesIsOneLineAndTheDefault() throws {
        let dir = try ExitDumpTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let output = dir.appendingPathComponent("paths.pb.gz")
        let run = try ExitDumpTests.run(
            "paths",
            ["100"],
            environment: ["PPROF_OUTPUT": output.path, "PPROF_MAX_NODES": "12", "PPROF_CPU_HZ": "0"]
        )
        #expect(run.status == 0)
        #expect(run.stderr.contains("PPROF_MAX_NODES=12 is not a number from 64"))
        let profile = try ExitDumpTests.decode(output)
        #expect(profile.value(path: ["fixture.many", "fixture.path.99", "fixture.leaf"], type: "calls") == 1)
        #expect(profile.comments.first?.contains("call tree 202 of \(CallTree.defaultNodeLimit) nodes") == true)
        #expect(!profile.comments.contains { $0.hasPrefix("call tree full") }, "\(profile.comments)")
    }
}
