import Foundation
import PprofTestKit
import PprofTestSupport
import Testing

@testable import Pprof

/// Memory profiles end to end: pprof-memory-fixture (which links PprofMemory, as this bundle
/// must not) makes known allocations in named scopes and writes its profile, or serves it; the
/// values must be exact where they are counted, within bounds where they are sampled, and the
/// real `go tool pprof` must read `/allocs` and `/heap` by URL with each sample type.
@Suite(.serialized) struct MemoryProfileTests {
    static var fixture: String { MemoryFixture.path }

    /// Runs `profile` at `rate` and decodes what it wrote.
    static func profile(rate: String) throws -> (DecodedProfile, String) {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("memory-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let path = directory.appendingPathComponent("memory.pb.gz").path
        let run = try ChildProcess.run(
            fixture,
            ["profile", path],
            environment: ["PPROF_MEMORY_RATE": rate],
            mergingStreams: true
        )
        #expect(run.exited && run.status == 0, "\(run.stdout)")
        let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: path)))
        return (try DecodedProfile.decode(bytes), run.stdout)
    }

    /// The sum of `type` over the samples whose stack begins (root first) with `prefix`.
    static func total(_ profile: DecodedProfile, under prefix: [String], _ type: String) -> Int64 {
        let index = profile.sampleTypeIndex(type)!
        return profile.stacks.filter { $0.frames.starts(with: prefix) }.reduce(0) { $0 + $1.values[index] }
    }

    @Test func countsAreExactPerScopeAndInUseIsEveryLiveBlockAtRateOne() throws {
        let (profile, output) = try Self.profile(rate: "1")
        #expect(profile.violations().isEmpty, "\(profile.violations())")
        #expect(
            profile.sampleTypeNames == [
                "alloc_objects/count", "alloc_space/bytes", "inuse_objects/count", "inuse_space/bytes",
            ]
        )
        #expect(profile.periodTypeName == "space/bytes")
        if activeSanitizer != nil {
            #expect(profile.comments.contains { $0.contains("standing aside") }, "\(profile.comments)")
            #expect(Self.total(profile, under: [], "alloc_objects") == 0)
            return
        }
        #expect(output.contains("ok profile hooks active"), "\(output)")
        // Exact, at the scope's own path: 10 000 instances of 32 bytes, one block each.
        #expect(profile.value(path: ["memory.instances"], type: "alloc_objects") == 10_000)
        #expect(profile.value(path: ["memory.instances"], type: "alloc_space") == 320_000)
        #expect(profile.value(path: ["memory.live"], type: "alloc_objects") == 1000)
        #expect(profile.value(path: ["memory.live"], type: "alloc_space") == 1_000_000)
        #expect(profile.value(path: ["memory.freed"], type: "alloc_objects") == 1000)
        #expect(profile.value(path: ["memory.labelled"], type: "alloc_objects") == 100)
        // Every block sampled: in use is exact too, below each scope with its native frames.
        #expect(Self.total(profile, under: ["memory.instances"], "inuse_objects") == 10_000)
        #expect(Self.total(profile, under: ["memory.instances"], "inuse_space") == 320_000)
        #expect(Self.total(profile, under: ["memory.live"], "inuse_space") == 1_000_000)
        #expect(Self.total(profile, under: ["memory.freed"], "inuse_space") == 0)
        #expect(Self.total(profile, under: ["memory.freed"], "inuse_objects") == 0)
        // Leaf first, as pprof reads a sample: the native frames, then the scope.
        let live = profile.stacks.filter { $0.frames.first == "memory.live" && $0.values[3] != 0 }
        #expect(live.contains { $0.frames.contains("allocateLiveBlocks(_:_:size:)") }, "\(live.map(\.frames))")
        let instances = profile.stacks.filter { $0.frames.first == "memory.instances" && $0.values[3] != 0 }
        #expect(instances.contains { $0.frames.contains("makeInstances(_:into:)") }, "\(instances.map(\.frames))")
        // Exact and sampled values are apart: no sample carries both.
        #expect(
            profile.stacks.allSatisfy {
                ($0.values[0] == 0 && $0.values[1] == 0) || ($0.values[2] == 0 && $0.values[3] == 0)
            }
        )
        // Labels are labels.
        let labelled = profile.stacks.filter { $0.frames.first == "memory.labelled" }
        #expect(!labelled.isEmpty && labelled.allSatisfy { $0.labels["route"] == "/users/:id" }, "\(labelled)")
        #expect(profile.comments.contains { $0.contains("exact per call path") }, "\(profile.comments)")
    }

    /// At a rate of 4096 bytes, 1 000 blocks of 1 000 bytes give about 244 samples: the scaled
    /// estimate of their bytes is within 25 % (four standard errors) of 1 000 000.
    @Test func inUseIsEstimatedWithinBoundsWhenSampling() throws {
        guard activeSanitizer == nil else { return }
        let (profile, _) = try Self.profile(rate: "4096")
        #expect(profile.violations().isEmpty, "\(profile.violations())")
        #expect(profile.value(path: ["memory.live"], type: "alloc_space") == 1_000_000)
        let live = Self.total(profile, under: ["memory.live"], "inuse_space")
        #expect(abs(Double(live) - 1_000_000) <= 250_000, "\(live)")
        #expect(Self.total(profile, under: ["memory.freed"], "inuse_space") == 0)
        // The exact counts do not depend on the rate.
        #expect(profile.value(path: ["memory.instances"], type: "alloc_objects") == 10_000)
    }

    @Test(.enabled(if: GoTool.path != nil || GoTool.requiredByCI, "go is not on PATH"))
    func goToolPprofReadsAllocsAndHeapByURLWithEverySampleType() async throws {
        guard let go = GoTool.path else {
            Issue.record("CI=true but go is not on PATH: the real pprof check cannot run")
            return
        }
        let scratch = FileManager.default.temporaryDirectory.appendingPathComponent("memory-go-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: scratch, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: scratch) }
        try await MemoryFixture.serving(environment: ["PPROF_MEMORY_RATE": "1"]) { port in
            for (path, types) in [
                ("allocs", ["alloc_space", "alloc_objects"]), ("heap", ["inuse_space", "inuse_objects"]),
            ] {
                for type in types {
                    let url = "http://127.0.0.1:\(port)/debug/pprof/\(path)"
                    let arguments = ["-top", "-nodefraction=0", "-nodecount=1000", "-sample_index=\(type)", url]
                    let (status, report) = try GoTool.pprof(go, arguments, scratch: scratch.path)
                    #expect(status == 0, "go tool pprof -sample_index=\(type) \(url): \(report)")
                    #expect(report.contains("Type: \(type)"), "\(report)")
                    if activeSanitizer == nil {
                        let expected = type.hasPrefix("alloc") ? "memory.instances" : "makeInstances"
                        #expect(report.contains(expected), "\(type): \(report)")
                    }
                }
            }
        }
    }
}
