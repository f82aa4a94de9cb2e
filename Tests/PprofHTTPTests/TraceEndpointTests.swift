import Foundation
import PprofHTTP
import PprofTestSupport
import Testing

/// `/debug/pprof/trace`: a timeline over real loopback sockets, its JSON loaded and its slices
/// checked, its bound, and its bad input.
@Suite(.serialized, .recorderExclusive)
struct TraceEndpointTests {
    @Test func aTimelineOfTheWorkloadLoadsAndItsSlicesPairUp() async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/trace?seconds=1")
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
        let answer = try await HTTPClient.get(port, "/debug/pprof/trace?seconds=1")
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

    @Test func badSecondsAreA400() async throws {
        try await withServer(maxSeconds: 5) { _, port in
            for query in ["seconds=0", "seconds=6", "seconds=abc", "seconds=1&seconds=2"] {
                let answer = try await HTTPClient.get(port, "/debug/pprof/trace?\(query)")
                #expect(answer.status == 400, "\(query): \(answer.text)")
            }
        }
    }
}
