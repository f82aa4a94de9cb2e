#if canImport(Glibc)
import Glibc
#endif

/// The calling-context tree: one node per distinct call path, with monotone counters.
///
/// Node 0 is the root (no probe); every other node is (parent, probe). Nodes are only ever
/// added, each after its parent, so indices are a topological order and a window is two
/// snapshots of the counters and a subtraction.
///
/// Folding looks a child up on every enter and updates a node's counters on every exit, so the
/// layout serves those two:
/// - the counters (calls, own time) sit in their own array, 16 bytes a node, and a snapshot
///   copies it whole;
/// - a node's links are one 64-byte cache line: its parent and probe, and its first
///   `inlineChildren` children's probes and nodes, so looking up a child of a node with few
///   children (most have one to four) reads that one line;
/// - a node with more children gets an open-addressing table of its own, keyed by probe, in a
///   shared pool; a slot holds the child's own table too, so a frame that found a node knows
///   where to look its children up without reading the node's line (a cache miss in a large
///   tree). Per-node tables keep a lookup to one parent's slots, where one global table keyed
///   by (parent, probe) would scatter them over all of memory.
///
/// Storage is raw memory grown by doubling: a Swift array would check uniqueness and bounds on
/// every update, which costs more than the update.
///
/// The tree holds at most `nodeLimit` nodes (`PPROF_MAX_NODES`), so that a program making call
/// paths without end (deep recursion in scopes, runtime names from data) cannot grow it without
/// bound. Past the limit, a call path not yet in the tree is counted under a `(call tree full)`
/// child of its deepest known frame, and everything called inside it is folded into that node:
/// its calls and time stay in the profile, under the caller where the tree ran out. Those
/// overflow nodes come from a small reserve beyond the limit; when the reserve is spent, one
/// `(call tree full)` node under the root takes the rest.
final class CallTree {
    /// What the fold adds to on every exit: completed calls along the path, and clock ticks in
    /// its own frame. 16 bytes, so that a large tree's counters stay few cache lines; what is
    /// measured more rarely (allocations, CPU samples) sits in an array beside it. A snapshot
    /// gives both as `Measurements`.
    struct Counters {
        var calls: UInt64 = 0
        var wall: UInt64 = 0
    }

    /// What is measured in a node's own frame more rarely than calls: the blocks PprofMemory's
    /// hooks counted and their bytes, and the CPU samples that fell in it and their time.
    struct Sparse {
        var objects: UInt64 = 0
        var bytes: UInt64 = 0
        var cpuSamples: UInt64 = 0
        var cpuNanoseconds: UInt64 = 0
    }

    /// Where a node's child table is in `pool`: `mask + 1` slots from `offset`; `offset` is -1
    /// while the node has inline children only, and -2 where a caller does not know.
    struct TableRef: Equatable {
        var offset: Int32
        var mask: Int32

        static let none = TableRef(offset: -1, mask: 0)
        static let unknown = TableRef(offset: -2, mask: 0)
    }

    /// One slot of a child table: a probe, its node and the node's own table, or `node == -1`
    /// when empty.
    struct Slot {
        var probe: UInt32
        var node: Int32
        var table: TableRef
    }

    /// A node found or added, with its table as it was then; a frame keeps it. A table rebuilt
    /// since (bigger, elsewhere in the pool) is abandoned but left as it was: a stale reference
    /// finds fewer children, never a wrong one, and a miss is checked against the node's links
    /// before anything is added.
    struct Found {
        var node: Int32
        var table: TableRef
    }

    /// Children kept in the node's own line; past this, a table holds them all.
    static let inlineChildren = 4

    // A node's line, as 16 words.
    fileprivate static let wordsPerNode = 16
    fileprivate static let parentWord = 0
    fileprivate static let probeWord = 1
    fileprivate static let childCountWord = 2
    fileprivate static let tableOffsetWord = 3
    fileprivate static let tableMaskWord = 4
    fileprivate static let childProbesWord = 5  // ... 8
    fileprivate static let childNodesWord = 9  // ... 12

    private(set) var count = 1
    /// The most nodes added for call paths; see the type's summary.
    var nodeLimit: Int
    /// The default limit: about 100 MB of tree (80 bytes a node, plus child tables).
    static let defaultNodeLimit = 1 << 20
    /// Whether a call path was refused because the tree was full.
    private(set) var isFull = false
    /// The node of each async path seen so far (`CallPaths`), -1 where not resolved yet.
    private var pathNodes: [Int32] = [0]
    private var capacity = 1024
    private(set) var counters: UnsafeMutablePointer<Counters>
    private var sparse: UnsafeMutablePointer<Sparse>
    private var lines: UnsafeMutablePointer<UInt32>
    private var pool: UnsafeMutablePointer<Slot>
    private var poolCount = 0
    private var poolCapacity = 1024

    /// The async call paths that `context` and `asyncFrame` records name (its recorder's).
    let paths: CallPaths

    /// - Parameters:
    ///   - paths: The table the records' path ids refer to; a tree of its own by default (tests).
    ///   - nodeLimit: The most call paths it keeps (see above).
    init(paths: CallPaths = CallPaths(), nodeLimit: Int = CallTree.defaultNodeLimit) {
        self.paths = paths
        self.nodeLimit = nodeLimit
        counters = Self.allocate(Counters.self, capacity)
        sparse = Self.allocate(Sparse.self, capacity)
        lines = Self.allocate(UInt32.self, capacity * Self.wordsPerNode)
        pool = Self.allocate(Slot.self, poolCapacity)
        counters[0] = Counters()
        sparse[0] = Sparse()
        initializeLine(0, parent: -1, probe: 0)
    }

    deinit {
        Self.deallocate(counters, capacity)
        Self.deallocate(sparse, capacity)
        Self.deallocate(lines, capacity * Self.wordsPerNode)
        Self.deallocate(pool, poolCapacity)
    }

    private static func allocate<T>(_ type: T.Type, _ count: Int) -> UnsafeMutablePointer<T> {
        guard let memory = TreeMemory.allocate(count * MemoryLayout<T>.stride) else {
            fatalError("swift-pprof: out of memory for the call tree (\(count) \(T.self))")
        }
        return memory.bindMemory(to: T.self, capacity: count)
    }

    private static func deallocate<T>(_ pointer: UnsafeMutablePointer<T>, _ count: Int) {
        TreeMemory.deallocate(UnsafeMutableRawPointer(pointer), count * MemoryLayout<T>.stride)
    }

    // MARK: Reading

    func parent(_ node: Int) -> Int32 { Int32(bitPattern: line(node)[Self.parentWord]) }
    func probe(_ node: Int) -> UInt32 { line(node)[Self.probeWord] }
    func calls(_ node: Int) -> UInt64 { counters[node].calls }
    func own(_ node: Int) -> UInt64 { counters[node].wall }

    /// Every node's measurements now, for a window's edge.
    func snapshot() -> [Measurements] {
        (0..<count).map { node in
            Measurements(
                calls: counters[node].calls,
                wall: counters[node].wall,
                allocObjects: sparse[node].objects,
                allocBytes: sparse[node].bytes,
                cpuSamples: sparse[node].cpuSamples,
                cpuNanoseconds: sparse[node].cpuNanoseconds
            )
        }
    }

    /// The fold's counters now, as one copy (the aggregation benchmark's window edge).
    func copyCounters() -> [Counters] {
        Array(UnsafeBufferPointer(start: counters, count: count))
    }

    /// Bytes this tree holds, for the memory benchmark.
    var bytesAllocated: Int {
        capacity * (MemoryLayout<Counters>.stride + MemoryLayout<Sparse>.stride + Self.wordsPerNode * 4)
            + poolCapacity * MemoryLayout<Slot>.stride
    }

    // MARK: Folding

    @inline(__always)
    func addCall(_ node: Int32, own ticks: UInt64) {
        counters[Int(node)].calls &+= 1
        counters[Int(node)].wall &+= ticks
    }

    @inline(__always)
    func addOwn(_ node: Int32, _ ticks: UInt64) {
        counters[Int(node)].wall &+= ticks
    }

    /// Blocks allocated in `node`'s own frame, and their bytes.
    func addAllocations(_ node: Int32, objects: UInt64, bytes: UInt64) {
        sparse[Int(node)].objects &+= objects
        sparse[Int(node)].bytes &+= bytes
    }

    /// CPU samples in `node`'s own frame (timer periods), standing for `nanoseconds` of CPU time.
    func addCPUSamples(_ node: Int32, _ samples: UInt64, nanoseconds: UInt64) {
        sparse[Int(node)].cpuSamples &+= samples
        sparse[Int(node)].cpuNanoseconds &+= nanoseconds
    }

    /// The node for `probe` called from `parent`, created on first use.
    func child(of parentNode: Int32, probe p: UInt32) -> Int32 {
        child(of: parentNode, table: .unknown, probe: p).node
    }

    /// The node for `probe` called from `parent`, created on first use, looked up in `table`
    /// when the caller knows the parent's table (`.unknown` otherwise).
    @inline(__always)
    func child(of parentNode: Int32, table hint: TableRef, probe p: UInt32) -> Found {
        storage.child(of: parentNode, table: hint, probe: p) ?? findOrAdd(parentNode, p)
    }

    /// The tree's memory as it is now, for a loop that looks nodes up and counts without going
    /// through the tree object each time. Valid until the next node is added (`findOrAdd` may
    /// move it).
    struct Storage {
        let counters: UnsafeMutablePointer<Counters>
        let lines: UnsafeMutablePointer<UInt32>
        let pool: UnsafeMutablePointer<Slot>

        /// The node for `probe` under `parent`, or nil when it is not found this way (new, or
        /// the hint was stale): then `findOrAdd` decides.
        @inline(__always)
        func child(of parentNode: Int32, table hint: TableRef, probe p: UInt32) -> Found? {
            if hint.offset >= 0 { return lookUp(p, in: hint) }
            let parentLine = lines + Int(parentNode) &* CallTree.wordsPerNode
            let offset = Int32(bitPattern: parentLine[CallTree.tableOffsetWord])
            if offset >= 0 {
                return lookUp(
                    p,
                    in: TableRef(offset: offset, mask: Int32(bitPattern: parentLine[CallTree.tableMaskWord]))
                )
            }
            let n = Int(parentLine[CallTree.childCountWord])
            var k = 0
            while k < n {
                if parentLine[CallTree.childProbesWord + k] == p {
                    return Found(node: Int32(bitPattern: parentLine[CallTree.childNodesWord + k]), table: .unknown)
                }
                k += 1
            }
            return nil
        }

        @inline(__always)
        func lookUp(_ p: UInt32, in table: TableRef) -> Found? {
            let slots = pool + Int(table.offset)
            let mask = Int(table.mask)
            var i = CallTree.hash(p) & mask
            while true {
                let slot = slots[i]
                if slot.node < 0 { return nil }
                if slot.probe == p { return Found(node: slot.node, table: slot.table) }
                i = (i + 1) & mask
            }
        }
    }

    var storage: Storage { Storage(counters: counters, lines: lines, pool: pool) }

    private func lookUp(_ p: UInt32, in table: TableRef) -> Found? {
        storage.lookUp(p, in: table)
    }

    @inline(__always)
    fileprivate static func hash(_ probe: UInt32) -> Int {
        // Fibonacci hashing: probes are small consecutive integers, and the multiply spreads
        // them over the table's bits.
        Int(truncatingIfNeeded: (UInt64(probe) &* 0x9E37_79B9_7F4A_7C15) >> 32)
    }

    @inline(__always)
    private func line(_ node: Int) -> UnsafeMutablePointer<UInt32> {
        lines + node &* Self.wordsPerNode
    }

    private func table(of node: Int) -> TableRef {
        TableRef(
            offset: Int32(bitPattern: line(node)[Self.tableOffsetWord]),
            mask: Int32(bitPattern: line(node)[Self.tableMaskWord])
        )
    }

    private func setTable(_ table: TableRef, of node: Int) {
        line(node)[Self.tableOffsetWord] = UInt32(bitPattern: table.offset)
        line(node)[Self.tableMaskWord] = UInt32(bitPattern: table.mask)
    }

    // MARK: Adding

    /// The node of an async frame's path: its parent path's node, then the child of its probe.
    /// Iterative: a path may be as deep as a program's async recursion.
    func node(forPath path: UInt32) -> Int32 {
        func known(_ p: UInt32) -> Int32? {
            let i = Int(p)
            return i < pathNodes.count && pathNodes[i] >= 0 ? pathNodes[i] : nil
        }
        if let node = known(path) { return node }
        // The unresolved paths from this one up to the first resolved ancestor (the root is).
        var chain: [UInt32] = []
        var p = path
        while known(p) == nil {
            chain.append(p)
            let parent = paths.parent(of: p)
            p = parent == p ? 0 : parent
        }
        var node = known(p)!
        for q in chain.reversed() {
            node = child(of: node, probe: paths.probe(of: q))
            let i = Int(q)
            if i >= pathNodes.count { pathNodes.append(contentsOf: repeatElement(-1, count: i + 1 - pathNodes.count)) }
            pathNodes[i] = node
        }
        return node
    }

    /// A lookup missed: look again in the parent's current children (the caller's table may be
    /// stale), and add the node if it really is new.
    @inline(never)
    func findOrAdd(_ parentNode: Int32, _ p: UInt32) -> Found {
        let pi = Int(parentNode)
        let parentTable = table(of: pi)
        if parentTable.offset >= 0 {
            if let found = lookUp(p, in: parentTable) { return found }
        } else {
            let n = Int(line(pi)[Self.childCountWord])
            for k in 0..<n where line(pi)[Self.childProbesWord + k] == p {
                return Found(node: Int32(bitPattern: line(pi)[Self.childNodesWord + k]), table: .none)
            }
        }
        if _slowPath(count >= nodeLimit) { return overflow(under: parentNode) }
        return add(parentNode, p, parentTable: parentTable)
    }

    /// The node that takes a call path the full tree has no room for: the parent itself when it
    /// is an overflow node, else its `(call tree full)` child, else the root's.
    private func overflow(under parentNode: Int32) -> Found {
        isFull = true
        let full = ProbeRegistry.treeFullProbe
        if probe(Int(parentNode)) == full { return Found(node: parentNode, table: .none) }
        // The root's overflow node first, so that it exists whatever the reserve holds.
        let rootOverflow = storage.child(of: 0, table: .unknown, probe: full) ?? add(0, full, parentTable: table(of: 0))
        if parentNode == 0 { return rootOverflow }
        if let found = storage.child(of: parentNode, table: .unknown, probe: full) { return found }
        if count - nodeLimit < Self.overflowReserve(nodeLimit) {
            return add(parentNode, full, parentTable: table(of: Int(parentNode)))
        }
        return rootOverflow
    }

    /// Overflow nodes allowed beyond the limit, besides the root's.
    static func overflowReserve(_ limit: Int) -> Int { min(limit / 16, 4096) + 1 }

    /// Adds the node (parent, probe), known to be new.
    private func add(_ parentNode: Int32, _ p: UInt32, parentTable: TableRef) -> Found {
        let pi = Int(parentNode)
        if count == capacity { grow() }
        let node = count
        count += 1
        counters[node] = Counters()
        sparse[node] = Sparse()
        initializeLine(node, parent: parentNode, probe: p)
        let n = Int(line(pi)[Self.childCountWord])
        line(pi)[Self.childCountWord] = UInt32(n + 1)
        if n < Self.inlineChildren {
            line(pi)[Self.childProbesWord + n] = p
            line(pi)[Self.childNodesWord + n] = UInt32(bitPattern: Int32(node))
        } else if parentTable.offset < 0 || (n + 1) * 2 > Int(parentTable.mask) + 1 {
            // The fifth child, or a table over half full: a new table holding every child.
            rebuildTable(of: pi, adding: p, Int32(node))
        } else {
            place(p, Int32(node), .none, in: parentTable)
        }
        return Found(node: Int32(node), table: .none)
    }

    private func initializeLine(_ node: Int, parent: Int32, probe: UInt32) {
        let words = line(node)
        words.initialize(repeating: 0, count: Self.wordsPerNode)
        words[Self.parentWord] = UInt32(bitPattern: parent)
        words[Self.probeWord] = probe
        words[Self.tableOffsetWord] = UInt32(bitPattern: TableRef.none.offset)
    }

    /// Gives node `pi` a table with every child it has and `probe`/`node`, twice as many slots
    /// as children at least, and tells its parent's table where it is. The old table, if any,
    /// is abandoned, not reused: frames may still read it.
    private func rebuildTable(of pi: Int, adding probe: UInt32, _ node: Int32) {
        let children = Int(line(pi)[Self.childCountWord])
        var slots = 16
        while slots < children * 2 { slots *= 2 }
        let old = table(of: pi)
        let new = TableRef(offset: Int32(allocateSlots(slots)), mask: Int32(slots - 1))
        if old.offset >= 0 {
            let oldSlots = pool + Int(old.offset)
            for i in 0...Int(old.mask) where oldSlots[i].node >= 0 {
                place(oldSlots[i].probe, oldSlots[i].node, oldSlots[i].table, in: new)
            }
        } else {
            for k in 0..<Self.inlineChildren {
                let child = Int(line(pi)[Self.childNodesWord + k])
                place(line(pi)[Self.childProbesWord + k], Int32(child), table(of: child), in: new)
            }
        }
        place(probe, node, .none, in: new)
        setTable(new, of: pi)
        // The parent's slot for this node carries this node's table.
        let parent = Int(parent(pi))
        if parent >= 0 {
            let parentTable = table(of: parent)
            if parentTable.offset >= 0 {
                let parentSlots = pool + Int(parentTable.offset)
                var i = Self.hash(self.probe(pi)) & Int(parentTable.mask)
                while parentSlots[i].node != Int32(pi) { i = (i + 1) & Int(parentTable.mask) }
                parentSlots[i].table = new
            }
        }
    }

    private func place(_ p: UInt32, _ node: Int32, _ nodeTable: TableRef, in table: TableRef) {
        let slots = pool + Int(table.offset)
        let mask = Int(table.mask)
        var i = Self.hash(p) & mask
        while slots[i].node >= 0 { i = (i + 1) & mask }
        slots[i] = Slot(probe: p, node: node, table: nodeTable)
    }

    private func grow() {
        let newCapacity = capacity * 2
        let newCounters = Self.allocate(Counters.self, newCapacity)
        newCounters.moveInitialize(from: counters, count: count)
        Self.deallocate(counters, capacity)
        counters = newCounters
        let newSparse = Self.allocate(Sparse.self, newCapacity)
        newSparse.moveInitialize(from: sparse, count: count)
        Self.deallocate(sparse, capacity)
        sparse = newSparse
        let newLines = Self.allocate(UInt32.self, newCapacity * Self.wordsPerNode)
        newLines.moveInitialize(from: lines, count: count * Self.wordsPerNode)
        Self.deallocate(lines, capacity * Self.wordsPerNode)
        lines = newLines
        capacity = newCapacity
    }

    private func allocateSlots(_ slots: Int) -> Int {
        if poolCount + slots > poolCapacity {
            var newCapacity = poolCapacity * 2
            while poolCount + slots > newCapacity { newCapacity *= 2 }
            let newPool = Self.allocate(Slot.self, newCapacity)
            newPool.moveInitialize(from: pool, count: poolCount)
            Self.deallocate(pool, poolCapacity)
            pool = newPool
            poolCapacity = newCapacity
        }
        let offset = poolCount
        (pool + offset).initialize(repeating: Slot(probe: 0, node: -1, table: .none), count: slots)
        poolCount += slots
        return offset
    }
}
