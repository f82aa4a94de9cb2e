import CPprof
import PprofTestKit
import PprofTestSupport
import Testing

@testable import Pprof

/// The recorder's side of memory profiles, with PprofMemory's hooks played by the test: it
/// writes the counts a hook would write into the thread's header and publishes sampled blocks
/// in the table, and the profile must charge them to the frames open at the time, exactly.
/// (The hooks themselves are tested in a child process: `MemoryHooksTests`.)
@Suite(.serialized, .recorderExclusive)
struct MemoryAttributionTests {
    typealias Trace = Pprof.Trace

    /// What a hook does on the calling thread for `objects` allocations of `bytes` in all.
    static func allocate(_ objects: UInt64, bytes: UInt64) {
        guard let raw = CPprof_getThreadState() else {
            Issue.record("the thread has no recorder state")
            return
        }
        let counts = (raw + Int(CPPROF_HEADER_ALLOC_OFFSET)).assumingMemoryBound(to: UInt64.self)
        counts[0] &+= objects
        counts[1] &+= bytes
    }

    /// What a hook does for a sampled block of `size` bytes (after counting it), with the
    /// calling thread's stack as its frames. Returns its slot.
    @inline(never)
    static func sample(size: UInt64) throws -> UInt32 {
        let raw = try #require(CPprof_getThreadState())
        let index = CPprof_sampleAcquire()
        try #require(index != UInt32.max)
        let slot = try #require(CPprof_sampleSlot(index))
        slot.pointee.thread = raw.load(fromByteOffset: Int(CPPROF_HEADER_THREAD_ID_OFFSET), as: UInt32.self)
        slot.pointee.seq = raw.load(fromByteOffset: Int(CPPROF_HEADER_ALLOC_OFFSET), as: UInt64.self)
        slot.pointee.size = size
        slot.pointee.offset = 16
        let count = withUnsafeMutableBytes(of: &slot.pointee.frames) { raw in
            let frames = raw.bindMemory(to: UnsafeMutableRawPointer?.self)
            return Int(CPprof_backtrace(frames.baseAddress!, Int32(CPPROF_SAMPLE_FRAMES)))
        }
        slot.pointee.frameCount = UInt32(count)
        CPprof_samplePublish(index)
        return index
    }

    static func values(_ profile: MemoryProfile, _ path: [String]) -> Measurements {
        let nodes = profile.paths.nodes
        var sum = Measurements()
        for (i, node) in nodes.enumerated() {
            var names: [String] = []
            var index = i
            while index >= 0 {
                names.append(profile.paths.functions[Int(nodes[index].function)].name)
                index = Int(nodes[index].parent)
            }
            if names.reversed() == path { sum += node.values }
        }
        return sum
    }

    @Test func allocationsCountInTheFrameOpenWhenTheyWereMade() throws {
        let window = Profiler.start(mode: .cprof)
        defer { _ = window.stop() }
        // Register the thread first, so the baseline sees it.
        Trace.scope("mem.warm") {}
        let baseline = MemoryProfile.baseline()
        Trace.scope("mem.outer") {
            Self.allocate(10, bytes: 640)
            Trace.scope("mem.inner") { Self.allocate(5, bytes: 100) }
            Self.allocate(2, bytes: 20)
            // Allocations with no event after them until the profile: the frame open now.
        }
        Self.allocate(7, bytes: 70)
        let profile = MemoryProfile.since(baseline)
        #expect(Self.values(profile, ["mem.outer"]).allocObjects == 12)
        #expect(Self.values(profile, ["mem.outer"]).allocBytes == 660)
        #expect(Self.values(profile, ["mem.outer", "mem.inner"]).allocObjects == 5)
        #expect(Self.values(profile, ["mem.outer", "mem.inner"]).allocBytes == 100)
        // Outside every scope: charged when the profile is taken.
        #expect(Self.values(profile, ["(no scope)"]).allocObjects >= 7)
        // Go's shape, which pprof-lint's memory rules check too.
        let decoded = try DecodedProfile.decode(profile.pprof(defaultSampleType: "alloc_space"))
        #expect(
            decoded.sampleTypeNames == [
                "alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes",
            ]
        )
        #expect(decoded.periodTypeName == "space/bytes")
        #expect(decoded.defaultSampleType == "alloc_space")
        #expect(decoded.violations().isEmpty, "\(decoded.violations())")
        #expect(decoded.value(path: ["mem.outer", "mem.inner"], type: "alloc_objects") == 5)
    }

    @Test func aSampledBlockIsInUseUnderItsScopeWithItsNativeFramesUntilFreed() throws {
        let window = Profiler.start(mode: .cprof)
        defer { _ = window.stop() }
        Trace.scope("mem.warm") {}
        var slot: UInt32 = 0
        try Trace.scope("mem.sampled") {
            Self.allocate(1, bytes: 4096)
            slot = try Self.sample(size: 4096)
        }
        let live = MemoryProfile.now()
        // The block's node: its scope, then its native frames, leaf last.
        let inUse = live.paths.nodes.filter { $0.values.inuseBytes != 0 }
        let scoped = inUse.filter { node in
            var index = Int(node.parent)
            while index >= 0 {
                if live.paths.functions[Int(live.paths.nodes[index].function)].name == "mem.sampled" { return true }
                index = Int(live.paths.nodes[index].parent)
            }
            return false
        }
        try #require(scoped.count == 1, "\(inUse)")
        #expect(scoped[0].values.inuseObjects == 1)
        #expect(scoped[0].values.inuseBytes == 4096)
        // The native frames, leaf first, up to the scope: the function that made the block is
        // among them, named as Swift writes it.
        var native: [String] = []
        var index = live.paths.nodes.firstIndex(of: scoped[0]).map { Int($0) } ?? -1
        while index >= 0, live.paths.functions[Int(live.paths.nodes[index].function)].name != "mem.sampled" {
            native.append(live.paths.functions[Int(live.paths.nodes[index].function)].name)
            index = Int(live.paths.nodes[index].parent)
        }
        #expect(native.contains("MemoryAttributionTests.sample(size:)"), "\(native)")
        // Freed: in use no more, allocated still.
        CPprof_sampleFreed(slot)
        let freed = MemoryProfile.now()
        #expect(Self.values(freed, ["mem.sampled"]).allocObjects == 1)
        #expect(
            freed.paths.nodes.allSatisfy { node in node.values.inuseBytes == 0 || node.function != scoped[0].function }
        )
    }

    /// Allocations records are for the fold: a timeline neither keeps them nor counts them
    /// against its bytes, so a window of 2048 bytes holds as many slices as without them.
    @Test func allocationsRecordsCostATimelineNothing() throws {
        Trace.scope("mem.warm") {}
        let window = TimelineWindow.start(bytes: 2048)
        for _ in 0..<100 { Trace.scope("mem.timeline") { Self.allocate(1, bytes: 8) } }
        let timeline = window.stop()
        let trace = try DecodedPerfettoTrace(timeline.perfetto)
        let kept = trace.slices.filter { $0.name == "mem.timeline" }.count
        // 2048 bytes at 16 an event: 64 slices, one fewer after a context record.
        #expect(kept == 64 || kept == 63, "\(kept)")
    }
}
