/// The aggregator's and the encoders' inner loops, fed synthetic input without the recorder's
/// threads, for the nested `Benchmarks/` package. Not API: reachable only through
/// `@_spi(Benchmarks) import Pprof`, and free to change with the benchmarks.
///
/// ```swift
/// @_spi(Benchmarks) import Pprof
///
/// let stream = BenchmarkSupport.EventStream.balancedTree(depth: 8, fanout: 2, events: 1 << 20)
/// let folding = BenchmarkSupport.Folding()
/// let folded = folding.fold(stream)       // events folded into the call tree
/// ```
@_spi(Benchmarks)
public enum BenchmarkSupport {
    /// One thread's events, in the order its ring would hold them: every enter one deeper than
    /// the frame on top, every exit closing it, timestamps increasing.
    public struct EventStream: Sendable {
        private(set) var events: [Event]
        /// Distinct call paths the stream visits (the nodes it adds to an empty tree).
        public let paths: Int

        public var count: Int { events.count }

        /// The sum of every event's words: the cost of reading the stream and nothing more.
        public func checksum() -> UInt64 {
            events.withUnsafeBufferPointer { events in
                var sum: UInt64 = 0
                for event in events { sum &+= event.timestamp ^ event.word }
                return sum
            }
        }

        /// Moves every timestamp past the last one, so that folding the stream again continues
        /// in time, as a ring's next drain does. Without it, a second pass's timestamps are all
        /// behind the folder's last one and no own time is charged (less work than a real fold).
        public mutating func advanceClock() {
            guard let first = events.first, let last = events.last else { return }
            let shift = last.timestamp &- first.timestamp &+ 13
            events.withUnsafeMutableBufferPointer { events in
                for i in events.indices { events[i].timestamp &+= shift }
            }
        }

        /// Depth-first walks of a complete tree, `fanout` children per frame down to `depth`,
        /// repeated until `events` events: a program whose loops call the same few functions
        /// in the same order, as most hot code does.
        public static func balancedTree(depth: Int, fanout: Int, events: Int) -> EventStream {
            var builder = Builder()
            var paths = 0
            func walk(_ level: Int) {
                for child in 0..<fanout where builder.events.count < events {
                    builder.enter(probe: UInt32(16 + level * fanout + child))
                    if builder.passes == 0 { paths += 1 }
                    if level + 1 < depth { walk(level + 1) }
                    builder.exit()
                }
            }
            while builder.events.count < events {
                walk(0)
                builder.passes += 1
            }
            return EventStream(events: builder.events, paths: paths)
        }

        /// One chain of `depth` nested calls, repeated: recursion, or a deep framework stack.
        public static func chain(depth: Int, events: Int) -> EventStream {
            var builder = Builder()
            while builder.events.count < events {
                for level in 0..<depth { builder.enter(probe: UInt32(16 + level)) }
                for _ in 0..<depth { builder.exit() }
            }
            return EventStream(events: builder.events, paths: depth)
        }

        /// Paths chosen at random among `leaves` (rounded up to a power of `fanout`), each walked
        /// from the root to its leaf and back: a tree of about `leaves * fanout / (fanout - 1)`
        /// nodes once the stream has visited most of them, each lookup on a wide parent.
        public static func randomPaths(fanout: Int, depth: Int, events: Int, seed: UInt64 = 1) -> EventStream {
            var builder = Builder()
            var random = seed | 1
            var visited = Set<[UInt32]>()
            var path: [UInt32] = []
            while builder.events.count < events {
                // xorshift: the same stream in every run.
                random ^= random << 13
                random ^= random >> 7
                random ^= random << 17
                var choice = random
                path.removeAll(keepingCapacity: true)
                for level in 0..<depth {
                    let child = UInt32(choice % UInt64(fanout))
                    choice /= UInt64(fanout)
                    path.append(UInt32(16 + level * fanout) + child)
                }
                for (level, probe) in path.enumerated() {
                    builder.enter(probe: probe)
                    if visited.count < 4_000_000 { visited.insert(Array(path[...level])) }
                }
                for _ in path { builder.exit() }
            }
            return EventStream(events: builder.events, paths: visited.count)
        }

        struct Builder {
            var events: [Event] = []
            var stack: [UInt32] = []
            var time: UInt64 = 1_000
            var passes = 0

            mutating func enter(probe: UInt32) {
                stack.append(probe)
                time &+= 13
                events.append(
                    Event(timestamp: time, word: Event.word(probe: probe, depth: UInt32(stack.count), exit: false))
                )
            }

            mutating func exit() {
                let probe = stack.removeLast()
                time &+= 13
                events.append(
                    Event(timestamp: time, word: Event.word(probe: probe, depth: UInt32(stack.count + 1), exit: true))
                )
            }
        }
    }

    /// A call tree and one folder per simulated thread: the aggregator's work on a drained ring.
    public final class Folding {
        /// Unlimited: the benchmarks fold trees larger than the default limit on purpose.
        let tree = CallTree(nodeLimit: .max)
        private var folders: [ThreadFolder] = []

        public init(threads: Int = 1) {
            folders = (0..<max(1, threads)).map { ThreadFolder(threadID: UInt32($0)) }
        }

        /// Nodes in the tree, the root included.
        public var nodes: Int { tree.count }

        /// Bytes the tree holds (counters, node lines and the child-table pool, at their
        /// capacities, which grow by doubling).
        public var treeBytes: Int { tree.bytesAllocated }

        /// Folds `stream` as thread `thread`'s events; returns how many were folded.
        @discardableResult
        public func fold(_ stream: EventStream, thread: Int = 0, range: Range<Int>? = nil) -> Int {
            let folder = folders[thread]
            let tree = self.tree
            let range = range ?? stream.events.indices
            stream.events.withUnsafeBufferPointer { events in
                // A mask of all ones: the buffer as a ring that never wraps.
                folder.fold(
                    ring: events.baseAddress!,
                    mask: -1,
                    from: range.lowerBound,
                    to: range.upperBound,
                    into: tree
                )
            }
            return range.count
        }
    }

    /// A window opened and closed on a call tree of a given size, as `Aggregator.open` and
    /// `close` do it (snapshots of the tree's counters, then their difference built into a
    /// profile), without the aggregator's lock, drain and recording flag, which cost the same
    /// whatever the tree's size.
    public final class Windows {
        let folding = Folding()
        private let touch: EventStream
        /// One function per probe the walk uses, as a registry would hold them.
        private let functions: [Profile.Function]

        /// Grows a tree to about `nodes` nodes; each window then sees `touchedPaths` calls.
        public init(nodes: Int, touchedPaths: Int = 1_000) {
            let fanout = 16
            var depth = 1
            var leaves = fanout
            while leaves * fanout / (fanout - 1) < nodes {
                depth += 1
                leaves *= fanout
            }
            // A pass that visits every leaf once, in order, makes the tree exactly.
            var builder = EventStream.Builder()
            func walk(_ level: Int, _ budget: inout Int) {
                for child in 0..<fanout where budget > 0 {
                    builder.enter(probe: UInt32(16 + level * fanout + child))
                    budget -= 1
                    if level + 1 < depth { walk(level + 1, &budget) }
                    builder.exit()
                }
            }
            var budget = nodes - 1
            walk(0, &budget)
            folding.fold(EventStream(events: builder.events, paths: nodes - 1))
            touch = Self.touches(fanout: fanout, depth: depth, nodes: nodes, paths: touchedPaths)
            functions = (0..<(16 + depth * fanout)).map { Profile.Function(name: "f\($0)", file: "", line: $0) }
        }

        /// `paths` calls down random paths of the tree the walk above made, each as deep as the
        /// tree goes there: a window that sees calls all over the tree and adds no node to it,
        /// so that every window finds the same tree.
        private static func touches(fanout: Int, depth: Int, nodes: Int, paths: Int) -> EventStream {
            // below[level]: the nodes in the subtree of a node at `level`, itself included; the
            // walk numbers nodes in the order it enters them, and made those numbered below
            // `nodes - 1`.
            var below = [Int](repeating: 1, count: depth)
            for level in stride(from: depth - 2, through: 0, by: -1) { below[level] = 1 + fanout * below[level + 1] }
            var builder = EventStream.Builder()
            var random: UInt64 = 1
            for _ in 0..<paths {
                // xorshift: the same paths in every run.
                random ^= random << 13
                random ^= random >> 7
                random ^= random << 17
                var choice = random
                var position = -1
                var entered = 0
                for level in 0..<depth {
                    let child = Int(choice % UInt64(fanout))
                    choice /= UInt64(fanout)
                    let next = position + 1 + child * below[level]
                    if next >= nodes - 1 { break }
                    position = next
                    builder.enter(probe: UInt32(16 + level * fanout + child))
                    entered += 1
                }
                for _ in 0..<entered { builder.exit() }
            }
            return EventStream(events: builder.events, paths: 0)
        }

        public var nodes: Int { folding.nodes }

        /// Bytes the tree holds; see `Folding.treeBytes`.
        public var treeBytes: Int { folding.treeBytes }

        /// Copies the tree's counters once into a new Array, as a snapshot does, and nothing else:
        /// what a window's edge cannot be cheaper than. Returns the copy's count.
        @discardableResult
        public func copyCounters() -> Int {
            folding.tree.snapshot().count
        }

        /// Bytes of the tree's counters: what `copyCounters(into:)` copies.
        public var counterBytes: Int { folding.nodes * MemoryLayout<CallTree.Counters>.stride }

        /// Copies the tree's counters into `buffer` (at least `counterBytes`): the copy alone,
        /// without a snapshot's allocation and first touch of fresh pages.
        public func copyCounters(into buffer: UnsafeMutableRawPointer) {
            buffer.copyMemory(from: folding.tree.counters, byteCount: counterBytes)
        }

        /// Opens a window, folds a few events into the tree, closes it; returns the profile's
        /// node count.
        @discardableResult
        public func openAndClose() -> Int {
            let tree = folding.tree
            let window = Aggregator.Window(
                mode: .fprof,
                startTicks: 0,
                start: tree.snapshot(),
                startTotals: Aggregator.Totals()
            )
            folding.fold(touch)
            let profile = ProfileBuilder.build(
                window: window,
                tree: tree,
                now: tree.snapshot(),
                nanosPerTick: 1,
                durationNanoseconds: 1_000_000,
                statistics: Profile.Statistics(),
                functions: functions,
                labelSets: [:]
            )
            return profile.nodes.count
        }
    }

    // MARK: Memory

    /// The ring capacity a thread gets when `PPROF_RING_EVENTS` is not set.
    public static var defaultRingEvents: Int { Environment(variables: [:]).ringCapacity }

    /// Bytes mapped for one registered thread's state: the header (depth, counters, open
    /// scopes, probe cache) and a ring of `ringEvents` events, in one `mmap`ed block.
    public static func threadStateBytes(ringEvents: Int = defaultRingEvents) -> Int {
        ThreadState.mappedBytes(capacity: ringEvents)
    }

    /// The aggregator's side of a registered thread: its folder's initial frame stack (the
    /// object itself aside), which doubles only for threads deeper than 64 frames.
    public static var threadFolderStackBytes: Int {
        64 * MemoryLayout<ThreadFolder.Frame>.stride
    }

    // MARK: Encoding, in parts

    /// The uncompressed pprof message that `pprof()` gzips.
    public static func pprofMessage(_ profile: Profile) -> [UInt8] {
        profile.pprofMessage()
    }

    /// `bytes` gzipped as `pprof()` does it.
    public static func gzip(_ bytes: [UInt8]) -> [UInt8] {
        Gzip.compress(bytes)
    }

    /// A profile of `nodes` call paths (a tree of fanout 8 filled level by level), with calls
    /// and own time on each, for the encoders.
    public static func profile(nodes: Int, mode: Profile.Mode = .fprof) -> Profile {
        let fanout = 8
        var functions: [Profile.Function] = [
            Profile.Function(name: "(none)", file: "", line: 0)
        ]
        let distinctFunctions = 512
        for f in 1..<distinctFunctions {
            functions.append(
                Profile.Function(name: "Module.Type.function\(f)(_:)", file: "Module/File\(f % 37).swift", line: f)
            )
        }
        var list: [Profile.Node] = []
        list.reserveCapacity(nodes)
        for i in 0..<nodes {
            let parent = i < fanout ? -1 : Int32(i / fanout - 1)
            list.append(
                Profile.Node(
                    parent: parent,
                    function: Int32(1 + (i * 7919) % (distinctFunctions - 1)),
                    calls: UInt64(1 + i % 1000),
                    ownNanoseconds: mode == .cprof ? 0 : UInt64(1_000 + (i * 104_729) % 1_000_000)
                )
            )
        }
        var statistics = Profile.Statistics()
        statistics.eventsRecorded = UInt64(nodes) * 2
        return Profile(
            mode: mode,
            startWallNanoseconds: 1_700_000_000_000_000_000,
            durationNanoseconds: 10_000_000_000,
            functions: functions,
            nodes: list,
            statistics: statistics
        )
    }
}
