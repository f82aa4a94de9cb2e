import Testing

@testable import Pprof

/// The ring and the folder on their own (a private ring, a private tree): what happens when a
/// ring fills, exactly.
struct DropTests {
    /// Paths of a private tree, as probe lists root..leaf, with calls.
    static func paths(_ tree: CallTree) -> [[UInt32]: UInt64] {
        var pathOf: [[UInt32]] = [[]]
        var result: [[UInt32]: UInt64] = [:]
        for node in 1..<tree.count {
            let path = pathOf[Int(tree.parent(node))] + [tree.probe(node)]
            pathOf.append(path)
            result[path, default: 0] += tree.calls(node)
        }
        return result
    }

    @Test func aFullRingDropsCountsAndResumesAfterAMarker() throws {
        let state = try #require(ThreadState.allocate(capacity: 1024, threadID: 9))
        defer { state.deallocate() }
        let folder = ThreadFolder(threadID: 9, state: state)
        let tree = CallTree()
        let a = state.enter(probe: 10, mode: ModeFlag.counting)
        for _ in 0..<600 {
            let b = state.enter(probe: 11, mode: ModeFlag.counting)
            state.exit(b, timestamp: 0)
        }
        // 1 + 1200 events into 1024 slots, nothing drained.
        #expect(state.counter(.dropped).pointee.load(ordering: .relaxed) == 1 + 1200 - 1024)
        folder.drain(into: tree)
        let c = state.enter(probe: 12, mode: ModeFlag.counting)
        state.exit(c, timestamp: 0)
        state.exit(a, timestamp: 0)
        folder.drain(into: tree)
        let paths = DropTests.paths(tree)
        #expect(paths[[10]] == 1)
        // 511 pairs kept whole, and the one whose exit was the first event dropped: the marker
        // (low water 1) shows it ended in the gap.
        #expect(paths[[10, 11]] == 512)
        #expect(paths[[10, 12]] == 1)
        #expect(paths.keys.count == 3)
        #expect(folder.counts.gaps == 1)
        #expect(folder.counts.folded + 177 == 1 + 1200 + 3)
    }

    @Test func framesEnteredInAGapStandUnderAPlaceholder() throws {
        let state = try #require(ThreadState.allocate(capacity: 1024, threadID: 9))
        defer { state.deallocate() }
        let folder = ThreadFolder(threadID: 9, state: state)
        let tree = CallTree()
        var filler: [Trace.Token] = []
        let a = state.enter(probe: 10, mode: ModeFlag.counting)
        for _ in 0..<1023 {
            let t = state.enter(probe: 11, mode: ModeFlag.counting)
            state.exit(t, timestamp: 0)
            if filler.isEmpty { filler.append(t) }
        }
        // Ring full. B and C are entered in the gap; D is entered after space is made.
        let b = state.enter(probe: 20, mode: ModeFlag.counting)
        let c = state.enter(probe: 21, mode: ModeFlag.counting)
        folder.drain(into: tree)
        let d = state.enter(probe: 22, mode: ModeFlag.counting)
        state.exit(d, timestamp: 0)
        state.exit(c, timestamp: 0)
        state.exit(b, timestamp: 0)
        state.exit(a, timestamp: 0)
        folder.drain(into: tree)
        let paths = DropTests.paths(tree)
        let dropped = ProbeRegistry.droppedProbe
        #expect(paths[[10, dropped, 22]] == 1)
        #expect(paths[[10, dropped]] == 0)
        #expect(paths[[10]] == 1)
        #expect(paths[[10, 20]] == nil)
        #expect(paths[[10, 22]] == nil)
        #expect(folder.stack.isEmpty)
    }

    /// A random, well-nested program of enters and exits on one private ring, drained at random
    /// moments: what it produced, and the true calls per call path.
    struct RandomProgram {
        var truth: [[UInt32]: UInt64] = [:]
        var produced: UInt64 = 0

        /// Runs `steps` hooks (probes 10..<10+probes, depth at most `maxDepth`), draining with
        /// probability 1/`drainOdds` after each, then drains, unwinds what is open, and drains.
        init(
            seed: UInt64,
            steps: Int,
            maxDepth: Int,
            probes: UInt64,
            drainOdds: UInt64,
            state: ThreadState,
            folder: ThreadFolder,
            tree: CallTree
        ) {
            var rng = SplitMix64(seed: seed)
            var stack: [(token: Trace.Token, probe: UInt32)] = []
            for _ in 0..<steps {
                let r = rng.next()
                if stack.isEmpty || (r % 100 < 50 && stack.count < maxDepth) {
                    let probe = UInt32(10 + (r >> 8) % probes)
                    stack.append((state.enter(probe: probe, mode: ModeFlag.counting), probe))
                } else {
                    truth[stack.map(\.probe), default: 0] += 1
                    state.exit(stack.removeLast().token, timestamp: 0)
                }
                produced += 1
                if (r >> 20) % drainOdds == 0 { folder.drain(into: tree) }
            }
            folder.drain(into: tree)  // room for the unwinding: no gap is left without a marker after it
            while let top = stack.popLast() {
                truth[stack.map(\.probe) + [top.probe], default: 0] += 1
                state.exit(top.token, timestamp: 0)
                produced += 1
            }
            folder.drain(into: tree)
        }
    }

    /// A random program on a small ring drained at random moments: drops happen, and still every
    /// path in the tree is a real path of the program (a placeholder standing for one or more
    /// real frames), no count exceeds the truth, and recorded + dropped = produced.
    @Test(arguments: [1, 2, 3, 4])
    func underRandomOverflowEveryPathIsReal(seed: UInt64) throws {
        let state = try #require(ThreadState.allocate(capacity: 1024, threadID: 9))
        defer { state.deallocate() }
        let folder = ThreadFolder(threadID: 9, state: state)
        let tree = CallTree()
        let program = RandomProgram(
            seed: seed,
            steps: 60_000,
            maxDepth: 7,
            probes: 3,
            drainOdds: 2000,
            state: state,
            folder: folder,
            tree: tree
        )
        let dropped = UInt64(state.counter(.dropped).pointee.load(ordering: .relaxed))
        #expect(dropped > 0)
        #expect(folder.counts.folded + dropped == program.produced)
        #expect(folder.stack.isEmpty)
        for (path, calls) in DropTests.paths(tree) {
            if path.contains(ProbeRegistry.droppedProbe) {
                #expect(program.truth.keys.contains { matches(path[...], $0[...]) }, "no real path for \(path)")
            } else {
                let real = try #require(program.truth[path], "no real path for \(path)")
                #expect(calls <= real, "\(path): \(calls) > \(real)")
            }
        }
    }

    /// Whether `pattern` (with the placeholder standing for one or more frames) matches `path`.
    func matches(_ pattern: ArraySlice<UInt32>, _ path: ArraySlice<UInt32>) -> Bool {
        guard let first = pattern.first else { return path.isEmpty }
        if first == ProbeRegistry.droppedProbe {
            guard !path.isEmpty else { return false }
            return (1...path.count).contains { matches(pattern.dropFirst(), path.dropFirst($0)) }
        }
        return path.first == first && matches(pattern.dropFirst(), path.dropFirst())
    }

    @Test func withoutDropsTheFoldIsExact() throws {
        let state = try #require(ThreadState.allocate(capacity: 1 << 16, threadID: 9))
        defer { state.deallocate() }
        let folder = ThreadFolder(threadID: 9, state: state)
        let tree = CallTree()
        let program = RandomProgram(
            seed: 42,
            steps: 100_000,
            maxDepth: 10,
            probes: 4,
            drainOdds: 1000,
            state: state,
            folder: folder,
            tree: tree
        )
        #expect(state.counter(.dropped).pointee.load(ordering: .relaxed) == 0)
        #expect(folder.counts.folded == program.produced)
        #expect(DropTests.paths(tree).filter { $0.value > 0 } == program.truth)
    }

    /// Records (a task context, an async frame's end) in a private ring: folded without moving a
    /// frame or charging time, dropped whole when the ring is full (counted, one event each), and
    /// a dropped context is written again by the next outermost scope.
    @Test func recordsFoldWholeAndAreDroppedWhole() throws {
        let state = try #require(ThreadState.allocate(capacity: 1024, threadID: 9))
        defer { state.deallocate() }
        let folder = ThreadFolder(threadID: 9, state: state)
        let paths = CallPaths()
        let tree = CallTree(paths: paths)
        let path = paths.path(parent: 0, probe: 20)
        #expect(state.pushRecord(.context, path: path, payload: 0, timestamp: 0))
        let a = state.enter(probe: 21, mode: ModeFlag.counting)
        state.exit(a, timestamp: 0)
        #expect(state.pushRecord(.asyncFrame, path: path, payload: 0, timestamp: 0))
        folder.drain(into: tree)
        var found = DropTests.paths(tree)
        #expect(found[[20]] == 1)  // the async frame's call
        // This code runs in no task context: the outermost scope says so (a context record of
        // path 0) before its enter, and hangs at the root, not under the stale context.
        #expect(found[[21]] == 1)
        #expect(found[[20, 21]] == nil)
        #expect(folder.counts.folded == 5)  // three records, an enter and an exit

        // Fill the ring: the next records are dropped, whole, and counted.
        for _ in 0..<1024 { state.push(timestamp: 0, word: Event.word(probe: 22, depth: 1, exit: false)) }
        let dropped = state.counter(.dropped).pointee.load(ordering: .relaxed)
        #expect(!state.pushRecord(.asyncFrame, path: path, payload: 5, timestamp: 0))
        #expect(!state.pushRecord(.context, path: 0, payload: 0, timestamp: 0))
        #expect(state.counter(.dropped).pointee.load(ordering: .relaxed) == dropped + 2)
        #expect(state.contextPath == ThreadState.unknownContext)
        found = DropTests.paths(tree)
        #expect(found[[20]] == 1)
    }
}
