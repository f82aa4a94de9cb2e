import Foundation
import Pprof
import PprofHTTP
import PprofTestKit
import PprofTestSupport
import Testing

/// `profile?debug=1` (issue 13): the text report over HTTP, as a user opens it. eprof is one
/// flat table, not callers and callees under a `(root)`; fprof has its shares and time per call.
@Suite(.serialized, .recorderExclusive)
struct ReportEndpointTests {
    @Test func eprofsTextReportIsAFlatTable() async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1&type=eprof&debug=1")
            #expect(answer.status == 200, "\(answer.text)")
            let text = answer.text
            #expect(text.hasPrefix("mode: eprof (flat per function; calls and own wall time)\n"), "\(text)")
            #expect(!text.contains("(root)") && !text.contains("ACC") && !text.contains("* "), "\(text)")
            let words = { (line: Substring) in line.split(separator: " ").map(String.init) }
            // The window took CPU samples (PPROF_CPU_HZ's default): a CPU column last.
            let header = ["CNT", "OWN", "(ms)", "OWN", "%", "OWN/CALL", "(µs)", "CPU", "(ms)"]
            #expect(text.split(separator: "\n").contains { words($0) == header }, "\(text)")
            // One row per function: its calls, own time, share and own time per call (100 µs sleeps).
            let leaf = try #require(text.split(separator: "\n").first { $0.hasSuffix("   http.leaf") }, "\(text)")
            let cells = leaf.split(separator: " ")
            #expect(cells.count == 6, "\(leaf)")
            let perCall = Double(cells[3]) ?? 0
            #expect(perCall >= 100, "\(leaf)")
            #expect((Int(cells[0]) ?? 0) > 10, "\(leaf)")
        }
    }

    @Test func fprofsTextReportHasSharesAndTimePerCall() async throws {
        let workload = Workload()
        defer { workload.stop() }
        try await withServer { _, port in
            let answer = try await HTTPClient.get(port, "/debug/pprof/profile?seconds=1&debug=1")
            #expect(answer.status == 200, "\(answer.text)")
            let header = [
                "CNT", "ACC", "(ms)", "ACC", "%", "OWN", "(ms)", "OWN", "%", "ACC/CALL", "(µs)", "CPU", "(ms)",
            ]
            let lines = answer.text.split(separator: "\n").map { $0.split(separator: " ").map(String.init) }
            #expect(lines.contains(header), "\(answer.text)")
            // (root) → http.work: its share of the total own time and ACC per call, 100 µs sleeps.
            let root = try #require(lines.first { $0.first == "(root)" }, "\(answer.text)")
            #expect(root.count == 8 && root[3].hasSuffix("%") && (Double(root[6]) ?? 0) >= 100, "\(root)")
            // The workload sleeps: its CPU is a small part of its wall time.
            #expect((Double(root[7]) ?? .infinity) < 0.5 * (Double(root[2]) ?? 0), "\(root)")
        }
    }
}
