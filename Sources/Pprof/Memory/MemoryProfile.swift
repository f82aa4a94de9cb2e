import CPprof

#if canImport(Glibc)
import Glibc
#endif

/// A memory profile in Go's format: per call path (with its labels), the blocks allocated and
/// their bytes, **exactly**, counted by PprofMemory's `malloc` hooks since the program started
/// (or over a window); and the blocks in use now, **estimated** from sampled ones as Go samples
/// them, with the native functions that called `malloc` below the scope.
///
/// Link the product `PprofMemory` to get the hooks; without them every value is 0 and `hooks`
/// says so.
///
/// ```swift
/// let profile = MemoryProfile.now()
/// for top in profile.topAllocating(3) { print(top.path, top.objects, top.bytes) }
/// try profile.write(to: "mem.pb.gz")   // go tool pprof -sample_index=alloc_space mem.pb.gz
/// ```
public struct MemoryProfile: Sendable {
    /// What the allocation hooks were doing.
    public enum Hooks: String, Sendable {
        /// Counting every allocation, sampling blocks in use.
        case active
        /// PprofMemory is not linked into the program.
        case notLinked = "not linked"
        /// Linked, but another malloc is the program's (a sanitizer's, or libc.a's in a static
        /// executable), so they stand aside.
        case standingAside =
            "standing aside: another malloc is in use (a sanitizer's, or libc.a's in a static executable)"
        /// Linked, but switched off with `PPROF_MEMORY=0`.
        case switchedOff = "switched off (PPROF_MEMORY=0)"

        /// What the hooks are doing now.
        public static var current: Hooks {
            switch CPprof_getMemoryHooks() {
            case 1: .active
            case 2: .standingAside
            case 3: .switchedOff
            default: .notLinked
            }
        }
    }

    /// What the hooks were doing when the profile was taken.
    public let hooks: Hooks
    /// The mean bytes between sampled blocks (`PPROF_MEMORY_RATE`); 1 samples every block.
    public let rate: Int
    /// When the profile's span began (the program's start for a cumulative profile), in
    /// nanoseconds since the Unix epoch.
    public let startWallNanoseconds: UInt64
    /// How long it covers, in nanoseconds.
    public let durationNanoseconds: UInt64
    /// Sampled blocks that found no free slot in the table (their blocks are not in `inuse_*`).
    public let samplesLost: UInt64
    /// The call paths, with the memory members of their measurements.
    package let paths: Profile

    package init(
        hooks: Hooks,
        rate: Int,
        startWallNanoseconds: UInt64,
        durationNanoseconds: UInt64,
        samplesLost: UInt64,
        paths: Profile
    ) {
        self.hooks = hooks
        self.rate = rate
        self.startWallNanoseconds = startWallNanoseconds
        self.durationNanoseconds = durationNanoseconds
        self.samplesLost = samplesLost
        self.paths = paths
    }

    /// The profile since the program started: every allocation so far, and what is in use now.
    public static func now() -> MemoryProfile {
        Recorder.initializeIfNeeded()
        return Recorder.shared.aggregator.memoryProfile(since: nil)
    }

    /// Blocks allocated, exactly, over the profile's span.
    public var allocatedObjects: UInt64 { paths.nodes.reduce(0) { $0 &+ $1.values.allocObjects } }
    /// Their requested bytes.
    public var allocatedBytes: UInt64 { paths.nodes.reduce(0) { $0 &+ $1.values.allocBytes } }
    /// Blocks in use at the profile's end, estimated.
    public var inUseObjects: UInt64 { paths.nodes.reduce(0) { $0 &+ $1.values.inuseObjects } }
    /// Their bytes, estimated.
    public var inUseBytes: UInt64 { paths.nodes.reduce(0) { $0 &+ $1.values.inuseBytes } }

    /// The call paths that allocated most bytes in their own frames, most first: each path's
    /// frames outermost first joined by " > ", its blocks and bytes.
    public func topAllocating(_ count: Int) -> [(path: String, objects: UInt64, bytes: UInt64)] {
        let nodes = paths.nodes
        var byPath: [String: (UInt64, UInt64)] = [:]
        for (i, node) in nodes.enumerated() where node.values.allocObjects != 0 {
            let path = pathName(i)
            let sum = byPath[path] ?? (0, 0)
            byPath[path] = (sum.0 &+ node.values.allocObjects, sum.1 &+ node.values.allocBytes)
        }
        return byPath.sorted { ($0.value.1, $0.key) > ($1.value.1, $1.key) }.prefix(count).map {
            (path: $0.key, objects: $0.value.0, bytes: $0.value.1)
        }
    }

    /// Node `index`'s frames, outermost first, joined by " > ".
    private func pathName(_ index: Int) -> String {
        var names: [String] = []
        var node = index
        while node >= 0 {
            names.append(paths.functions[Int(paths.nodes[node].function)].name)
            node = Int(paths.nodes[node].parent)
        }
        return names.reversed().joined(separator: " > ")
    }

    /// The comments: what is exact and what is estimated, at which rate, and the hooks' state.
    package var commentLines: [String] {
        var lines = [
            "memory profile: alloc_objects and alloc_space exact per call path (every allocation counted); "
                + "inuse_objects and inuse_space estimated from blocks sampled every \(rate) bytes on average"
                + (rate <= 1 ? " (every block sampled: exact)" : " (scaled as Go scales them)"),
            "swift-pprof: mode=memory hooks=\(CPprof_getMemoryHooks()) rate=\(rate) samples_lost=\(samplesLost)"
                + " alloc_objects=\(allocatedObjects) alloc_bytes=\(allocatedBytes)",
        ]
        if hooks != .active { lines.append("allocation hooks: \(hooks.rawValue); every value is 0") }
        if samplesLost > 0 {
            lines.append("sampled blocks lost: \(samplesLost) (the table of sampled blocks was full)")
        }
        return lines
    }

    /// The profile as gzipped pprof, as Go's `/debug/pprof/heap` and `/allocs` serve it: the
    /// sample types `alloc_objects/count`, `alloc_space/bytes`, `inuse_objects/count`,
    /// `inuse_space/bytes` in that order, period type `space/bytes`, period the rate.
    ///
    /// - Parameter defaultSampleType: the type pprof shows first: Go's `allocs` sets
    ///   `alloc_space`; its `heap` leaves it unset (nil), so pprof shows the last, `inuse_space`.
    public func pprof(defaultSampleType: String? = nil) -> [UInt8] {
        Gzip.compress(pprofMessage(defaultSampleType: defaultSampleType))
    }

    package func pprofMessage(defaultSampleType: String? = nil) -> [UInt8] {
        paths.pprofMessage(
            sampleTypes: Profile.SampleType.memory,
            periodType: PprofBuilder.ValueType(type: "space", unit: "bytes"),
            period: Int64(max(rate, 1)),
            defaultSampleType: defaultSampleType,
            comments: commentLines
        )
    }

    /// Writes `pprof()` to `path` atomically (a temporary file, fsync, rename).
    public func write(to path: String) throws {
        try Profile.writeAtomically(pprof(), to: path, what: "memory profile")
    }

    /// A text form (`debug=1`): the totals, then one line per call path with allocations or
    /// blocks in use, most bytes first, its frames outermost first.
    public func text() -> String {
        var lines = commentLines.map { "# " + $0 }
        lines.append(
            "heap profile: \(inUseObjects): \(inUseBytes) [\(allocatedObjects): \(allocatedBytes)] @ heap/\(rate)"
        )
        let nodes = paths.nodes
        var rows: [(values: Measurements, path: String)] = []
        for (i, node) in nodes.enumerated()
        where node.values.allocObjects != 0 || node.values.inuseObjects != 0 {
            var path = pathName(i)
            if node.labels >= 0 {
                let labels = paths.labelSets[Int(node.labels)].sorted { $0.key < $1.key }
                path += " {" + labels.map { "\($0.key)=\($0.value)" }.joined(separator: ",") + "}"
            }
            rows.append((node.values, path))
        }
        rows.sort {
            ($0.values.allocBytes, $0.values.inuseBytes, $0.path) > (
                $1.values.allocBytes, $1.values.inuseBytes, $1.path
            )
        }
        for row in rows {
            let v = row.values
            lines.append("\(v.inuseObjects): \(v.inuseBytes) [\(v.allocObjects): \(v.allocBytes)] @ \(row.path)")
        }
        return lines.joined(separator: "\n") + "\n"
    }
}

/// Where the counts stood when a memory window began (`/debug/pprof/allocs?seconds=N`).
///
/// ```swift
/// let baseline = MemoryProfile.baseline()
/// try await Task.sleep(for: .seconds(5))
/// let delta = MemoryProfile.since(baseline)   // allocations in those 5 s, in use at the end
/// ```
package struct MemoryBaseline: Sendable {
    let window: Aggregator.Window
}

extension MemoryProfile {
    package static func baseline() -> MemoryBaseline {
        Recorder.initializeIfNeeded()
        return MemoryBaseline(window: Recorder.shared.aggregator.memoryBaseline())
    }

    /// Allocations since `baseline`, and what is in use now.
    package static func since(_ baseline: MemoryBaseline) -> MemoryProfile {
        Recorder.shared.aggregator.memoryProfile(since: baseline.window)
    }
}
