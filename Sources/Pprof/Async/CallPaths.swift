import Synchronization

#if canImport(Glibc)
import Glibc
#endif

/// Interns the call paths of async frames: (parent path, probe) → path id. Path 0 is the root.
///
/// A task carries its path as one small integer, so that an async scope, a span, or a sync scope
/// that starts inside a task knows where it hangs without walking anything; the aggregator turns
/// a path into a node of its tree once per path (`CallTree.node(forPath:)`). A path's parent,
/// probe and depth are in fixed arrays written before the path is published, so anyone holding
/// a path id reads them without a lock.
///
/// ```swift
/// let paths = Recorder.shared.paths
/// let handler = paths.path(parent: 0, probe: handlerProbe)
/// let query = paths.path(parent: handler, probe: queryProbe)
/// paths.parent(of: query)   // handler
/// ```
final class CallPaths: @unchecked Sendable {
    /// Paths beyond this many are not made: a frame there takes its parent's path (counted in
    /// `refused`), so that a program that makes paths without end cannot exhaust memory.
    static let capacity = 1 << 20

    private let table = InternTable(capacityLog2: 21)
    private let parents: UnsafeMutablePointer<UInt32>
    private let probes: UnsafeMutablePointer<UInt32>
    private let depths: UnsafeMutablePointer<UInt32>
    private var count: UInt32 = 1  // guarded by the table's lock (only `makeID` touches it)
    private let refusedCount = Atomic<Int>(0)
    /// Frames that took their parent's path because the table was full (any thread may read it).
    var refused: Int { refusedCount.load(ordering: .relaxed) }

    /// How many paths the arrays hold: `capacity`, or 1 (the root alone) if they could not be
    /// mapped, in which case every frame takes its parent's path, the root.
    private let limit: Int

    init() {
        let bytes = CallPaths.capacity * MemoryLayout<UInt32>.stride
        if let p = InternTable.map(bytes), let q = InternTable.map(bytes), let r = InternTable.map(bytes) {
            parents = p.assumingMemoryBound(to: UInt32.self)
            probes = q.assumingMemoryBound(to: UInt32.self)
            depths = r.assumingMemoryBound(to: UInt32.self)
            limit = CallPaths.capacity
        } else {
            warn("cannot map the async path table; async frames will stand at the root")
            parents = .allocate(capacity: 1)
            probes = .allocate(capacity: 1)
            depths = .allocate(capacity: 1)
            parents.initialize(to: 0)
            probes.initialize(to: 0)
            depths.initialize(to: 0)
            limit = 1
        }
    }

    /// The path of a frame of `probe` whose parent path is `parent`.
    func path(parent: UInt32, probe: UInt32) -> UInt32 {
        let key = UInt64(parent) << 32 | UInt64(probe)
        if let id = table.find(key) { return id }
        return table.insert(key) {
            guard Int(count) < limit else {
                refusedCount.add(1, ordering: .relaxed)
                return parent
            }
            let id = count
            count += 1
            parents[Int(id)] = parent
            probes[Int(id)] = probe
            depths[Int(id)] = parent == 0 ? 1 : depths[Int(parent)] &+ 1
            return id
        }
    }

    func parent(of path: UInt32) -> UInt32 { parents[Int(path)] }
    func probe(of path: UInt32) -> UInt32 { probes[Int(path)] }
    /// Frames on the path: 0 for the root.
    func depth(of path: UInt32) -> UInt32 { path == 0 ? 0 : depths[Int(path)] }
}
