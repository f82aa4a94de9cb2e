import Foundation
import PprofTestKit
import PprofTestSupport
import Testing

/// `/debug/pprof/allocs` and `/heap` of a program that links PprofMemory (pprof-memory-fixture
/// `serve`, found beside this bundle, which must not link it), over real loopback sockets:
/// cumulative by default, a delta with `seconds=N`, `gc` accepted, `debug=1` text, bad
/// parameters refused with their reason; and `PPROF_MEMORY_OUTPUT` at exit.
@Suite(.serialized) struct MemoryEndpointTests {
    @Test func allocsAndHeapAreGosShapeCumulativeOrOverAWindow() async throws {
        try await MemoryFixture.serving { port in
            let allocs = try await HTTPClient.get(port, "/debug/pprof/allocs")
            #expect(allocs.status == 200)
            let cumulative = try DecodedProfile.decode(allocs.body)
            #expect(cumulative.violations().isEmpty, "\(cumulative.violations())")
            #expect(cumulative.defaultSampleType == "alloc_space")
            #expect(cumulative.sampleTypeNames.count == 4)
            let heap = try DecodedProfile.decode(try await HTTPClient.get(port, "/debug/pprof/heap?gc=1").body)
            #expect(heap.defaultSampleType == "inuse_space")
            if activeSanitizer == nil {
                #expect(cumulative.value(path: ["memory.instances"], type: "alloc_objects") == 10_000)
            }
            // Over a window: the scopes ran before it, so their allocations are not in it, but
            // what they keep is still in use at its end.
            let window = try await HTTPClient.get(port, "/debug/pprof/allocs?seconds=1")
            #expect(window.status == 200)
            let delta = try DecodedProfile.decode(window.body)
            #expect(delta.violations().isEmpty, "\(delta.violations())")
            #expect((delta.value(path: ["memory.instances"], type: "alloc_objects") ?? 0) == 0)
            let text = try await HTTPClient.get(port, "/debug/pprof/heap?debug=1")
            #expect(text.status == 200)
            #expect(text.text.contains("heap profile:"), "\(text.text)")
            if activeSanitizer == nil { #expect(text.text.contains("memory.instances"), "\(text.text)") }
            for (query, reason) in [
                ("seconds=0", "seconds must be"), ("gc=2", "gc must be"), ("debug=3", "debug must be"),
            ] {
                let bad = try await HTTPClient.get(port, "/debug/pprof/allocs?\(query)")
                #expect(bad.status == 400, "\(query)")
                #expect(bad.text.contains(reason), "\(query): \(bad.text)")
            }
            let index = try await HTTPClient.get(port, "/debug/pprof/")
            #expect(index.text.contains("href=\"allocs\""))
            #expect(index.text.contains("href=\"heap\""))
        }
    }

    @Test func memoryOutputWritesTheHeapProfileAtExit() throws {
        let directory = FileManager.default.temporaryDirectory.appendingPathComponent("memory-out-\(UUID().uuidString)")
        try FileManager.default.createDirectory(at: directory, withIntermediateDirectories: false)
        defer { try? FileManager.default.removeItem(at: directory) }
        let run = try ChildProcess.run(
            MemoryFixture.path,
            ["scoped-churn", "20"],
            environment: ["PPROF_MEMORY_OUTPUT": directory.path + "/mem-%p.pb.gz"],
            mergingStreams: true
        )
        #expect(run.exited && run.status == 0, "\(run.stdout)")
        let files = try FileManager.default.contentsOfDirectory(atPath: directory.path)
        // %p is the process id; the file was renamed into place (no temporary left).
        try #require(files.count == 1 && files[0].hasPrefix("mem-") && files[0].hasSuffix(".pb.gz"), "\(files)")
        #expect(run.stdout.contains("wrote memory profile to \(directory.path)/\(files[0])"), "\(run.stdout)")
        let bytes = try [UInt8](Data(contentsOf: directory.appendingPathComponent(files[0])))
        let profile = try DecodedProfile.decode(bytes)
        #expect(profile.violations().isEmpty, "\(profile.violations())")
        if activeSanitizer == nil {
            #expect(profile.value(path: ["churn.thread"], type: "alloc_objects") == 1000)
        } else {
            #expect(profile.comments.contains { $0.contains("standing aside") }, "\(profile.comments)")
        }
    }
}
