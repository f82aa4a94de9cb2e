import Foundation
import PprofTestKit
import Testing

@testable import Pprof

/// `PPROF_TRACE_OUTPUT` writes Perfetto's protobuf unless the path ends in `.json`, bounded by
/// `PPROF_TRACE_BYTES` (the fixture's `workload`: 4 threads, 160 outer and 480 inner scopes).
@Suite struct TimelineExitDumpTests {
    @Test func aWholeRunTimelineIsAPerfettoTraceUnlessTheFileIsJSON() throws {
        let dir = try ExitDumpTests.temporaryDirectory()
        defer { try? FileManager.default.removeItem(at: dir) }
        let run = try ExitDumpTests.run("workload", environment: ["PPROF_TRACE_OUTPUT": dir.path + "/trace-%p.pftrace"])
        #expect(run.reason == .exit && run.status == 0, "\(run.stderr)")
        let name = try #require(try FileManager.default.contentsOfDirectory(atPath: dir.path).first)
        #expect(run.stderr.contains("wrote a timeline of 640 events to \(dir.path)/\(name)"), "\(run.stderr)")
        let bytes = try [UInt8](Data(contentsOf: dir.appendingPathComponent(name)))
        let trace = try DecodedPerfettoTrace(bytes)
        #expect(trace.slices.filter { $0.name == "fixture.outer" }.count == 160)
        #expect(trace.slices.filter { $0.name == "fixture.inner" }.count == 480)
        let tids = Set(trace.slices.filter { $0.name == "fixture.outer" }.compactMap { trace.tracks[$0.track]?.tid })
        #expect(tids.count == 4)
        // Kernel ids: the process's own threads, not serial numbers 1, 2, 3, 4.
        #expect(tids.allSatisfy { $0 > 4 }, "\(tids)")

        let cut = try ExitDumpTests.run(
            "workload",
            environment: ["PPROF_TRACE_OUTPUT": dir.path + "/cut.pftrace", "PPROF_TRACE_BYTES": "2048"]
        )
        #expect(cut.status == 0)
        #expect(cut.stderr.contains("(cut at its limit of bytes); "), "\(cut.stderr)")
        let cutTrace = try DecodedPerfettoTrace([UInt8](Data(contentsOf: dir.appendingPathComponent("cut.pftrace"))))
        #expect(cutTrace.tracks.values.contains { $0.name == "timeline cut" })
        let bad = try ExitDumpTests.run(
            "workload",
            environment: ["PPROF_TRACE_OUTPUT": dir.path + "/b.pftrace", "PPROF_TRACE_BYTES": "10"]
        )
        #expect(bad.status == 0)
        #expect(bad.stderr.contains("PPROF_TRACE_BYTES=10 is not a number from 1024"), "\(bad.stderr)")
    }
}
