import Foundation
import PprofHTTP
import PprofTestKit
import PprofTestSupport
import Testing

/// `/debug/pprof/trace`: a timeline over real loopback sockets, Perfetto's protobuf by default
/// and JSON with `format=json`, decoded and its slices checked, its bounds, and its bad input.
@Suite(.serialized, .recorderExclusive)
struct TraceEndpointTests {
    @Test func aTimelineOfTheWorkloadLoadsAndItsSlicesPairUp() async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/trace?seconds=1&format=json")
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.header("Content-Type") == "application/json")
            #expect(answer.header("Content-Disposition") == "attachment; filename=\"trace.json\"")
            let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
            let events = try #require(object["traceEvents"] as? [[String: Any]])
            let slices = events.filter { $0["ph"] as? String == "X" }
            let works = slices.filter { $0["name"] as? String == "http.work" }
            let leaves = slices.filter { $0["name"] as? String == "http.leaf" }
            #expect(works.count >= 100, "a usleep(100) loop for a second: \(works.count)")
            // Every work holds exactly one leaf, but for the ones cut by the window's edges.
            #expect(abs(works.count - leaves.count) <= 2)
            let names = events.filter { $0["ph"] as? String == "M" }
            #expect(!names.isEmpty)
            #expect((object["otherData"] as? [String: Any])?["cut"] as? String == "false")
        }
    }

    @Test func aTimelineIsBoundedAndSaysItWasCut() async throws {
        let workload = Workload()
        defer { workload.stop() }
        let server = PprofServer(port: 0, maxTraceEvents: 50)
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let port = try await waitForPort(of: server)
        let answer = try await HTTPClient.get(port, "/debug/pprof/trace?seconds=1&format=json")
        #expect(answer.status == 200)
        let object = try #require(try JSONSerialization.jsonObject(with: Data(answer.body)) as? [String: Any])
        let other = try #require(object["otherData"] as? [String: Any])
        #expect(other["cut"] as? String == "true")
        #expect(other["eventLimit"] as? String == "50")
        let slices = (object["traceEvents"] as? [[String: Any]] ?? []).filter { $0["ph"] as? String == "X" }
        #expect(slices.count <= 50)
        running.cancel()
        try await running.value
    }

    @Test func theDefaultIsAPerfettoTraceWhoseSlicesPairAndNest() async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/trace?seconds=1")
            #expect(answer.status == 200, "\(answer.text)")
            #expect(answer.header("Content-Type") == "application/octet-stream")
            #expect(answer.header("Content-Disposition") == "attachment; filename=\"trace.pftrace\"")
            let trace = try DecodedPerfettoTrace(answer.body)
            let works = trace.slices.filter { $0.name == "http.work" }
            let leaves = trace.slices.filter { $0.name == "http.leaf" }
            #expect(works.count >= 100, "a usleep(100) loop for a second: \(works.count)")
            #expect(abs(works.count - leaves.count) <= 2)
            // Each leaf lies in a work on its thread's track, one deeper.
            for leaf in leaves.prefix(50) {
                #expect(works.contains { $0.track == leaf.track && $0.start <= leaf.start && leaf.end <= $0.end })
            }
            let work = try #require(works.first)
            let thread = try #require(trace.tracks[work.track])
            #expect(thread.tid != nil && !(thread.threadName ?? "").isEmpty)
            #expect(!trace.tracks.values.contains { $0.name == "timeline cut" })
        }
    }

    @Test func bytesBoundsTheTimelineAndACutIsANamedTrack() async throws {
        let workload = Workload()
        defer { workload.stop() }
        var configuration = PprofServer.Configuration(port: 0)
        configuration.maxTraceBytes = 1 << 20
        let server = PprofServer(configuration: configuration)
        let running = Task { try await server.run() }
        defer { running.cancel() }
        let port = try await waitForPort(of: server)
        let answer = try await HTTPClient.get(port, "/debug/pprof/trace?seconds=1&bytes=4096")
        #expect(answer.status == 200, "\(answer.text)")
        let trace = try DecodedPerfettoTrace(answer.body)
        let cut = try #require(trace.tracks.values.first { $0.name == "timeline cut" })
        let slice = try #require(trace.slices.first { $0.track == cut.uuid })
        #expect(slice.name.contains("events not kept"), "\(slice.name)")
        #expect(slice.name.contains("4096 bytes"), "\(slice.name)")
        #expect(answer.body.count <= 4096 + 1024, "\(answer.body.count) bytes")
        // Up to the server's bound, not past it.
        let most = try await HTTPClient.get(port, "/debug/pprof/trace?seconds=1&bytes=1048576")
        #expect(most.status == 200)
        let past = try await HTTPClient.get(port, "/debug/pprof/trace?seconds=1&bytes=1048577")
        #expect(past.status == 400, "\(past.text)")
        #expect(past.text.contains("bytes must be from 1024 to 1048576"), "\(past.text)")
        running.cancel()
        try await running.value
    }

    @Test func badSecondsAreA400() async throws {
        try await withServer(maxSeconds: 5) { _, port in
            for query in [
                "seconds=0", "seconds=6", "seconds=abc", "seconds=1&seconds=2", "format=pprof", "format=",
                "format=json&format=perfetto", "bytes=1023", "bytes=-1", "bytes=1k", "bytes=1024&bytes=2048",
            ] {
                let answer = try await HTTPClient.get(port, "/debug/pprof/trace?\(query)")
                #expect(answer.status == 400, "\(query): \(answer.text)")
            }
        }
    }
}
